//! Tiny HTTP servers on loopback for the sources' tests: a closed port, an
//! endpoint answering a fixed status, and one answering a huge body.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Serves `app` on 127.0.0.1 and returns its base URL, `http://127.0.0.1:port`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A base URL where nothing listens (a port just bound and released).
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// Every request answered `status` with `body`.
pub fn answering(status: u16, body: &'static str) -> Router {
    Router::new().fallback(move || async move {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
        (status, body).into_response()
    })
}

/// A body of `len` bytes: with a `Content-Length`, or streamed in 64 KiB
/// chunks without one (`chunked`), so both of the reader's checks are met.
pub fn huge(len: usize, chunked: bool) -> Response {
    if !chunked {
        return vec![b'x'; len].into_response();
    }
    let chunk = vec![b'x'; 64 * 1024];
    let chunks = len.div_ceil(chunk.len());
    let stream =
        futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(bytes_of(&chunk))));
    Body::from_stream(stream).into_response()
}

fn bytes_of(v: &[u8]) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(v)
}

/// Every request answered with [`huge`].
pub fn answering_huge(len: usize, chunked: bool) -> Router {
    Router::new().fallback(move || async move { huge(len, chunked) })
}
