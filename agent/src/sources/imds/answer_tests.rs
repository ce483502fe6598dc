//! What the IMDS client makes of answers no real IMDS sends, and of no
//! answer at all: bounded bodies, and errors phrased for an operator.

use std::time::Duration;

use axum::routing::put;
use axum::Router;

use super::client::MAX_BODY;
use super::*;
use eniwatch_lab::test_servers::{answering, answering_huge, closed_port, huge, serve};

fn client(endpoint: String) -> ImdsClient {
    ImdsClient::new(ImdsConfig {
        endpoint,
        request_timeout: Duration::from_millis(500),
        attempts: 2,
        backoff: Duration::from_millis(10),
        ..ImdsConfig::default()
    })
    .expect("client")
}

/// An IMDS that issues tokens and answers every GET with a 2 MiB body.
async fn bloated(chunked: bool) -> ImdsClient {
    let app = Router::new()
        .route("/latest/api/token", put(|| async { "token" }))
        .fallback(move || async move { huge(2 * MAX_BODY, chunked) });
    client(serve(app).await)
}

#[tokio::test]
async fn an_answer_over_one_mib_fails_the_read_by_its_length() {
    let c = bloated(false).await;
    let e = c.get("/latest/meta-data/mac").await.expect_err("too large");
    assert!(matches!(e, ImdsError::TooLarge { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "IMDS answered more than 1 MiB for /latest/meta-data/mac: not a real instance metadata answer"
    );
    assert_eq!(e.kind(), "invalid");
}

#[tokio::test]
async fn a_streamed_answer_over_one_mib_is_cut_off() {
    let c = bloated(true).await;
    let e = read_instance_metadata(&c).await.expect_err("too large");
    assert!(matches!(e, ImdsError::TooLarge { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("IMDS answered more than 1 MiB for /latest/meta-data/"),
        "{e}"
    );
}

#[tokio::test]
async fn a_huge_token_is_refused_too() {
    let c = client(serve(answering_huge(2 * MAX_BODY, true)).await);
    let e = c.get("/latest/meta-data/mac").await.expect_err("too large");
    assert_eq!(
        e.to_string(),
        "IMDS answered more than 1 MiB for /latest/api/token: not a real instance metadata answer"
    );
}

#[tokio::test]
async fn a_closed_port_says_connection_refused_and_where() {
    let endpoint = closed_port().await;
    let c = client(endpoint.clone());
    let e = c.get("/latest/meta-data/mac").await.expect_err("refused");
    let text = e.to_string();
    assert_eq!(e.kind(), "unreachable", "{text}");
    assert!(text.contains(&endpoint), "{text}");
    assert!(
        text.contains("cannot connect: connection refused"),
        "{text}"
    );
    assert!(
        !text.contains('{') && !text.contains("error sending"),
        "{text}"
    );
}

#[tokio::test]
async fn a_503_says_what_imds_answered() {
    let c = client(serve(answering(503, "busy")).await);
    let e = c.get("/latest/meta-data/mac").await.expect_err("503");
    assert_eq!(
        e.to_string(),
        format!(
            "IMDS {}/latest/api/token (token for /latest/meta-data/mac): no usable answer after 2 attempt(s); the last: answered HTTP 503 Service Unavailable",
            c.endpoint()
        )
    );
}
