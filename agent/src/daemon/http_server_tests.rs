use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;

use super::*;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

fn app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                "slow\n"
            }),
        )
}

async fn start(limits: Limits, tls: Option<TlsAcceptor>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app(), limits, tls, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

/// Sends `request` on `s` and reads until the server closes or 2 s pass.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, request: &str) -> String {
    s.write_all(request.as_bytes()).await.unwrap();
    read_some(s).await
}

async fn read_some<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("an answer within 2 s")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).to_string()
}

const GET: &str = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";

/// Whether the server has closed `s` (EOF or reset) within `within`.
async fn closed(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[test]
fn the_table_evicts_the_longest_idle_never_a_busy_one_nor_the_newest() {
    let table = Table {
        started: Instant::now(),
        slots: Mutex::new(HashMap::new()),
    };
    let a = table.admit(1, 3).unwrap();
    let b = table.admit(2, 3).unwrap();
    let c = table.admit(3, 3).unwrap();
    // 1 is mid-request; 3 finished a request after 2 was accepted.
    a.busy.store(true, Ordering::Release);
    a.idle_since.store(0, Ordering::Release);
    b.idle_since.store(10, Ordering::Release);
    c.idle_since.store(20, Ordering::Release);
    let d = table.admit(4, 3).unwrap();
    assert_eq!(table.ids(), vec![1, 3, 4]);
    // 2 is told to go; the others are not.
    assert!(futures::FutureExt::now_or_never(b.evict.notified()).is_some());
    assert!(futures::FutureExt::now_or_never(c.evict.notified()).is_none());
    d.idle_since.store(30, Ordering::Release);
    table.admit(5, 3).unwrap();
    assert_eq!(table.ids(), vec![1, 4, 5]);
    // All busy: the new one is refused, nobody evicted.
    d.busy.store(true, Ordering::Release);
    let five = table.slots.lock().unwrap()[&5].clone();
    five.busy.store(true, Ordering::Release);
    assert!(table.admit(6, 3).is_none());
    assert_eq!(table.ids(), vec![1, 4, 5]);
}

#[tokio::test]
async fn a_full_server_still_answers_a_new_connection_by_closing_the_longest_idle() {
    let limits = Limits {
        max_connections: 4,
        ..Limits::default()
    };
    let server = start(limits, None).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut fresh = TcpStream::connect(server.addr).await.unwrap();
    assert!(exchange(&mut fresh, GET).await.starts_with("HTTP/1.1 200"));
    assert!(
        closed(&mut idle[0], Duration::from_secs(2)).await,
        "the oldest goes"
    );
    for s in &mut idle[1..] {
        assert!(
            !closed(s, Duration::from_millis(100)).await,
            "the others stay"
        );
    }
    // A connection mid-request is not evicted: its response comes.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..6 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        assert!(exchange(&mut s, GET).await.starts_with("HTTP/1.1 200"));
    }
    assert!(read_some(&mut slow).await.contains("slow\n"));
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_or_trickling_connection_is_closed_after_the_header_timeout() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start(limits, None).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut trickle = TcpStream::connect(server.addr).await.unwrap();
    for b in b"GET /healthz HTTP/1.1\r\nx-a: " {
        let _ = trickle.write_all(&[*b]).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(closed(&mut silent, Duration::from_secs(2)).await, "silent");
    assert!(
        closed(&mut trickle, Duration::from_secs(2)).await,
        "trickle"
    );
    // Kept alive after a request, then silent: closed as well.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    assert!(exchange(&mut kept, GET).await.starts_with("HTTP/1.1 200"));
    assert!(
        closed(&mut kept, Duration::from_secs(2)).await,
        "keep-alive"
    );
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout_whatever_hyper_does() {
    // The header timeout longer than the idle one: this loop's own watch.
    let limits = Limits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start(limits, None).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed(&mut silent, Duration::from_secs(2)).await);
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_oversized_head_is_refused_and_the_server_goes_on() {
    let server = start(Limits::default(), None).await;
    let mut big = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let answer = read_some(&mut big).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    let mut next = TcpStream::connect(server.addr).await.unwrap();
    assert!(exchange(&mut next, GET).await.starts_with("HTTP/1.1 200"));
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish_and_closes_idle_ones() {
    let server = start(Limits::default(), None).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.send(()).unwrap();
    assert!(read_some(&mut slow).await.contains("slow\n"));
    assert!(closed(&mut idle, Duration::from_secs(2)).await);
    tokio::time::timeout(Duration::from_secs(2), server.task)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "not listening"
    );
}

fn tls_pair() -> (TlsAcceptor, tokio_rustls::TlsConnector) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        TlsAcceptor::from(Arc::new(server)),
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    )
}

#[tokio::test]
async fn tls_is_served_and_a_stalled_handshake_counts_and_times_out() {
    let (acceptor, connector) = tls_pair();
    let limits = Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let server = start(limits, Some(acceptor)).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut tls = connector.connect(name.clone(), tcp).await.unwrap();
    assert!(exchange(&mut tls, GET).await.starts_with("HTTP/1.1 200"));
    drop(tls);

    // Two connections that never start a handshake fill the table; a
    // third, real client is still served (the oldest stalled one goes).
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.push(TcpStream::connect(server.addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    assert!(exchange(&mut tls, GET).await.starts_with("HTTP/1.1 200"));
    assert!(
        closed(&mut stalled[0], Duration::from_millis(300)).await,
        "evicted"
    );
    // The other stalled one is closed by the handshake timeout.
    assert!(
        closed(&mut stalled[1], Duration::from_secs(2)).await,
        "timed out"
    );
    server.stop.send(()).unwrap();
    server.task.await.unwrap().unwrap();
}
