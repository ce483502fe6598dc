//! Kubernetes request errors as an operator reads them, from real requests
//! to tiny servers on loopback: what the server answered (once: no retries
//! for `check`), or why there was no answer, and where.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;

use super::*;
use eniwatch_lab::test_servers::{closed_port, serve};

/// A kubeconfig for `server`, and the check client built from it.
async fn check_client_for(server: &str) -> (Client, String, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {server}\n\
         contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n\
         current-context: lab\nusers:\n- name: lab\n  user: {{}}\n"
    );
    std::fs::write(file.path(), config).expect("write kubeconfig");
    let (client, url) = check_client(Some(&file.path().to_path_buf()))
        .await
        .expect("client");
    (client, url, file)
}

/// Answers every request with `status` and `body`, counting them.
fn answering(status: u16, body: &'static str, seen: Arc<AtomicU64>) -> Router {
    Router::new().fallback(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            (status, [("content-type", "application/json")], body).into_response()
        }
    })
}

async fn node_error(status: u16, body: &'static str) -> (KubeError, String, u64) {
    let seen = Arc::new(AtomicU64::new(0));
    let server = serve(answering(status, body, seen.clone())).await;
    let (client, url, _file) = check_client_for(&server).await;
    let e = read_node(&client, "n1").await.expect_err("error").at(&url);
    (e, server, seen.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_503_is_reported_as_answered_and_not_retried() {
    let (e, server, seen) = node_error(503, "upstream connect error").await;
    assert_eq!(
        e.to_string(),
        format!(
            "reading node n1 from the API server at {server}: the API server answered HTTP 503 Service Unavailable \
             (the body is not a Kubernetes Status; it begins \"upstream connect error\")"
        )
    );
    assert_eq!(e.kind(), "error");
    assert_eq!(seen, 1, "kube's retry layer is off for check");
}

#[tokio::test]
async fn a_429_status_is_throttled_with_the_servers_message() {
    let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too many requests, please try again later","reason":"TooManyRequests","code":429}"#;
    let (e, server, seen) = node_error(429, status).await;
    assert_eq!(
        e.to_string(),
        format!(
            "reading node n1 from the API server at {server}: the API server answered HTTP 429 Too Many Requests: \
             too many requests, please try again later (the API server is rate-limiting this client)"
        )
    );
    assert_eq!(e.kind(), "throttled");
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn junk_is_not_what_the_api_sends() {
    let (e, _, _) = node_error(200, "<html>hello</html>").await;
    let text = e.to_string();
    assert_eq!(e.kind(), "invalid", "{text}");
    assert!(
        text.contains("the answer is not what the API sends: "),
        "{text}"
    );
    assert!(
        !text.contains("SerdeError") && !text.contains('{'),
        "{text}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable_with_the_cause_in_words() {
    let server = closed_port().await;
    let (client, url, _file) = check_client_for(&server).await;
    let e = read_node(&client, "n1")
        .await
        .expect_err("refused")
        .at(&url);
    assert_eq!(
        e.to_string(),
        format!("reading node n1 from the API server at {server}: unreachable: connection refused")
    );
    assert_eq!(e.kind(), "unreachable");
}

#[tokio::test]
async fn a_watchers_error_is_in_words_too() {
    let seen = Arc::new(AtomicU64::new(0));
    let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes is forbidden","reason":"Forbidden","code":403}"#;
    let server = serve(answering(403, status, seen)).await;
    let (client, _, _file) = check_client_for(&server).await;
    let api: Api<Node> = Api::all(client);
    let e = api.list(&ListParams::default()).await.expect_err("403");
    assert!(
        e.to_string().contains("ErrorResponse") || e.to_string().contains('{'),
        "kube's own text: {e}"
    );
    let text = error_text(&e);
    assert_eq!(
        text,
        "the API server answered HTTP 403 Forbidden: nodes is forbidden \
         (the service account needs get/list/watch on this resource; see deploy/ RBAC)"
    );
    let w = kube::runtime::watcher::Error::InitialListFailed(e);
    assert_eq!(
        watch_error_text(&w),
        format!("the initial list failed: {text}")
    );
    assert_eq!(watch_error_kind(&w), "forbidden");
}

#[test]
fn an_expired_watch_is_said_plainly() {
    let gone = kube::core::Status::failure("too old resource version", "Expired").with_code(410);
    let w = kube::runtime::watcher::Error::WatchError(Box::new(gone));
    assert_eq!(
        watch_error_text(&w),
        "the watch's resourceVersion has expired (410 Gone)"
    );
}

#[tokio::test]
async fn a_refused_write_has_a_kind_and_the_hint_for_writes() {
    let seen = Arc::new(AtomicU64::new(0));
    let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"events is forbidden","reason":"Forbidden","code":403}"#;
    let server = serve(answering(403, status, seen)).await;
    let (client, _, _file) = check_client_for(&server).await;
    let api: Api<Node> = Api::all(client);
    let e = api.list(&ListParams::default()).await.expect_err("403");
    assert_eq!(write_error_kind(&e), "forbidden");
    assert_eq!(
        write_error_text(&e),
        "the API server answered HTTP 403 Forbidden: events is forbidden \
         (the service account may not write this resource; see deploy/ RBAC)"
    );
    let conflict =
        kube::core::Status::failure("the object has been modified", "Conflict").with_code(409);
    let conflict = kube::Error::Api(Box::new(conflict));
    assert_eq!(write_error_kind(&conflict), "conflict");
    assert_eq!(
        error_kind(&conflict),
        "error",
        "a read's kinds are ERROR_KINDS"
    );
}
