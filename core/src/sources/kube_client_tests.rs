//! Which servers get TLS, and that both stacks really talk: a plain-HTTP
//! server on loopback (with a bearer token, through the auth layer), and an
//! `https://` server with a self-signed certificate (`openssl s_server`),
//! which must be refused unless the kubeconfig names it as its CA.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Router;

use super::*;
use crate::sources::kube::{check_client, read_node};
use eniwatch_lab::test_servers::serve;

fn kubeconfig(dir: &Path, server: &str, cluster_extra: &str, user: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {server}\n{cluster_extra}\
         contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n\
         current-context: lab\nusers:\n- name: lab\n  user: {user}\n"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

async fn config_for(server: &str, cluster_extra: &str) -> Config {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = kubeconfig(dir.path(), server, cluster_extra, "{}");
    let kc = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig");
    Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config")
}

#[tokio::test]
async fn only_plain_http_without_a_proxy_goes_without_tls() {
    assert!(!needs_tls(&config_for("http://127.0.0.1:6443", "").await));
    assert!(needs_tls(&config_for("https://127.0.0.1:6443", "").await));
    let proxied = config_for(
        "http://127.0.0.1:6443",
        "    proxy-url: http://127.0.0.1:3128\n",
    )
    .await;
    assert!(needs_tls(&proxied));
}

/// Answers the node `n1` only to the bearer token `sesame`, else 401.
fn node_for_token() -> Router {
    Router::new().fallback(|headers: HeaderMap| async move {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some("Bearer sesame") {
            let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#;
            return (StatusCode::UNAUTHORIZED, status).into_response();
        }
        let node = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"a":"b"}}}"#;
        ([("content-type", "application/json")], node).into_response()
    })
}

#[tokio::test]
async fn plain_http_client_sends_the_kubeconfig_token() {
    let server = serve(node_for_token()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let with = kubeconfig(dir.path(), &server, "", "\n    token: sesame");
    let (client, _) = check_client(Some(&with)).await.expect("client");
    let node = read_node(&client, "n1").await.expect("the node");
    assert_eq!(node.labels.get("a").map(String::as_str), Some("b"));
    let without = kubeconfig(dir.path(), &server, "", "{}");
    let (client, _) = check_client(Some(&without)).await.expect("client");
    let err = read_node(&client, "n1").await.expect_err("401").to_string();
    assert!(err.contains("401 Unauthorized"), "{err}");
}

/// `openssl s_server` with a fresh self-signed certificate for 127.0.0.1;
/// killed on drop.
struct SelfSigned {
    child: Child,
    port: u16,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn self_signed_server() -> SelfSigned {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args([
            "-subj",
            "/CN=eniwatch-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs (it comes with ca-certificates; scripts/setup.sh)");
    assert!(made.success(), "openssl req failed");
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = SelfSigned {
        child,
        port,
        cert,
        _dir: dir,
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[tokio::test]
async fn https_server_with_a_self_signed_certificate_is_refused() {
    let tls = self_signed_server();
    let url = format!("https://127.0.0.1:{}", tls.port);
    let dir = tempfile::tempdir().expect("tempdir");

    // The system's roots do not know this certificate: no request is sent.
    let path = kubeconfig(dir.path(), &url, "", "{}");
    let (client, _) = check_client(Some(&path)).await.expect("client");
    let err = read_node(&client, "n1").await.expect_err("refused");
    assert_eq!(err.kind(), "unreachable", "{err}");
    let text = err.to_string();
    assert!(text.contains("certificate"), "{text}");

    // Named as the CA, the same certificate is accepted: the handshake
    // passes and the answer (openssl's status page) is read, and is not
    // what the API sends.
    let ca = format!("    certificate-authority: {}\n", tls.cert.display());
    let path = kubeconfig(dir.path(), &url, &ca, "{}");
    let (client, _) = check_client(Some(&path)).await.expect("client");
    let err = read_node(&client, "n1")
        .await
        .expect_err("not an API server");
    assert_eq!(err.kind(), "invalid", "{err}");
}
