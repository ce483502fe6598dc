//! The endpoints on `--listen`:
//!
//! - `GET /metrics`: Prometheus text format.
//! - `GET /healthz`: 200 while the loop beat within [`LIVENESS_WINDOW`],
//!   else 503 with a one-line reason (the loop wakes at least every
//!   [`super::MAX_IDLE`], so a few of those without a beat is a hung loop).
//! - `GET /readyz`: 200 once the first refresh was judged, else 503.
//!
//! Any other path is 404. The endpoints only read what the loop published:
//! they never ask the API server or EC2.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

/// The Prometheus text exposition format, version 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const LIVENESS_WINDOW: Duration = Duration::from_secs(300);

/// What the loop tells the endpoints.
#[derive(Debug, Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    beat: Arc<Mutex<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            ready: Arc::default(),
            beat: Arc::new(Mutex::new(Instant::now())),
        }
    }
}

impl Health {
    pub fn beat(&self) {
        *self.beat.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn alive(&self, window: Duration) -> bool {
        self.beat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            <= window
    }
}

#[derive(Clone)]
struct Endpoints {
    health: Health,
    metrics: Arc<Metrics>,
}

pub fn router(health: Health, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(Endpoints { health, metrics })
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

async fn metrics_text(State(e): State<Endpoints>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        e.metrics.render(),
    )
        .into_response()
}

async fn healthz(State(e): State<Endpoints>) -> Response {
    if e.health.alive(LIVENESS_WINDOW) {
        text(StatusCode::OK, "ok\n")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the loop has not run for more than {}s\n",
                LIVENESS_WINDOW.as_secs()
            ),
        )
    }
}

async fn readyz(State(e): State<Endpoints>) -> Response {
    if e.health.ready() {
        text(StatusCode::OK, "ok\n")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "no refresh yet\n")
    }
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n")
}
