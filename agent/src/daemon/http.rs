//! The agent's HTTP endpoints:
//!
//! - `GET /metrics`: Prometheus text format ([`Metrics::render`]).
//! - `GET /healthz`: liveness. 200 while the loop beat within the liveness
//!   window, else 503 with a one-line reason. The window should be a few times
//!   the longest wait of one loop turn (e.g. 3 × the IMDS poll interval), so a
//!   slow cycle is not mistaken for a hung loop and the kubelet restarts a
//!   wedged agent within a few minutes.
//! - `GET /readyz`: 200 once a first full cycle has been published, else 503.
//!
//! The debug listener ([`debug_router`], `--debug-listen`, loopback by
//! default) serves `GET /debug/snapshot`: the latest [`CycleOutcome`] as
//! pretty JSON, 503 before the first cycle, and `/healthz`. It is not on the
//! main listener: with host networking that is the node's port, and the
//! snapshot names the node's pods, their addresses, ENI, subnet and
//! security-group ids. There `/debug/snapshot` is 404 with a line saying
//! where it is ([`DEBUG_ELSEWHERE`]).
//!
//! Both are served by [`super::http_server::serve`] (connection limits,
//! timeouts). Any other path is 404 (a known path with another method is 405, as HTTP
//! says). The endpoints only read what the loop published: they never gather
//! or judge.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::metrics::Metrics;
use super::SharedState;

/// The Prometheus text exposition format, version 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The main listener's answer to `/debug/snapshot`.
pub const DEBUG_ELSEWHERE: &str =
    "/debug/snapshot is served on --debug-listen (127.0.0.1:9743 by default) only\n";

#[derive(Clone)]
struct DebugEndpoints {
    state: SharedState,
    liveness_window: Duration,
}

#[derive(Clone)]
struct Endpoints {
    state: SharedState,
    metrics: Arc<Metrics>,
    liveness_window: Duration,
}

/// The routes, reading from `state` and `metrics`. `/healthz` fails once the
/// loop has not beaten for `liveness_window`.
pub fn router(state: SharedState, metrics: Arc<Metrics>, liveness_window: Duration) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/debug/snapshot", get(debug_elsewhere))
        .fallback(not_found)
        .with_state(Endpoints {
            state,
            metrics,
            liveness_window,
        })
}

/// The debug listener's routes: `/debug/snapshot` and `/healthz`.
pub fn debug_router(state: SharedState, liveness_window: Duration) -> Router {
    Router::new()
        .route("/debug/snapshot", get(debug_snapshot))
        .route("/healthz", get(debug_healthz))
        .fallback(not_found)
        .with_state(DebugEndpoints {
            state,
            liveness_window,
        })
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
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
    liveness(&e.state, e.liveness_window)
}

async fn debug_healthz(State(e): State<DebugEndpoints>) -> Response {
    liveness(&e.state, e.liveness_window)
}

fn liveness(state: &SharedState, window: Duration) -> Response {
    if state.alive(window) {
        text(StatusCode::OK, "ok\n".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the loop has not run for more than {}s\n",
                window.as_secs_f64()
            ),
        )
    }
}

async fn readyz(State(e): State<Endpoints>) -> Response {
    if e.state.ready() {
        text(StatusCode::OK, "ok\n".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no full cycle yet\n".into(),
        )
    }
}

async fn debug_snapshot(State(e): State<DebugEndpoints>) -> Response {
    let Some(outcome) = e.state.latest() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no full cycle yet\n".into(),
        );
    };
    match serde_json::to_string_pretty(&*outcome) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json + "\n").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot serialise the cycle outcome");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot serialise the cycle outcome: {err}\n"),
            )
        }
    }
}

async fn debug_elsewhere() -> Response {
    text(StatusCode::NOT_FOUND, DEBUG_ELSEWHERE.into())
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n".into())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::net::TcpListener;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::fixture::{cycle, healthy, settler};
    use super::*;
    use crate::daemon::http_server::{serve, Limits};

    struct Server {
        base: String,
        stop: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
        client: reqwest::Client,
    }

    async fn start(state: &SharedState, metrics: &Arc<Metrics>, window: Duration) -> Server {
        start_router(router(state.clone(), metrics.clone(), window)).await
    }

    async fn start_router(app: Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, Limits::default(), None, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Server {
            base: format!("http://{addr}"),
            stop,
            task,
            client,
        }
    }

    impl Server {
        async fn get(&self, path: &str) -> (u16, String, String) {
            let r = self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let content_type = r.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_string();
            (status, content_type, r.text().await.unwrap())
        }

        async fn stop(self) {
            self.stop.send(()).unwrap();
            self.task.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn routes_before_and_after_the_first_cycle() {
        let state = SharedState::new();
        let metrics = Arc::new(Metrics::new().unwrap());
        let server = start(&state, &metrics, Duration::from_secs(60)).await;
        let debug = start_router(debug_router(state.clone(), Duration::from_secs(60))).await;

        assert_eq!(server.get("/readyz").await.0, 503);
        assert_eq!(server.get("/readyz").await.2, "no full cycle yet\n");
        assert_eq!(debug.get("/debug/snapshot").await.0, 503);
        assert_eq!(debug.get("/healthz").await.0, 200);
        assert_eq!(server.get("/healthz").await.0, 200);
        let (status, content_type, body) = server.get("/metrics").await;
        assert_eq!((status, content_type.as_str()), (200, METRICS_CONTENT_TYPE));
        assert!(body.contains("eniwatch_build_info{"), "{body}");

        let outcome = cycle(healthy(), &mut settler());
        metrics.observe_cycle(&outcome);
        state.publish(Arc::new(outcome));

        assert_eq!(server.get("/readyz").await.0, 200);
        let (_, _, body) = server.get("/metrics").await;
        assert!(body.contains("\neniwatch_cycles_total 1\n"), "{body}");
        assert!(body.contains("eniwatch_findings{reason=\"PodRouteMissing\"} 0\n"));
        assert_eq!(
            server.get("/debug/snapshot").await,
            (
                404,
                "text/plain; charset=utf-8".to_string(),
                DEBUG_ELSEWHERE.to_string()
            )
        );
        let (status, content_type, body) = debug.get("/debug/snapshot").await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["report"]["node"]["name"], "ip-10-0-1-10.lab.internal");
        assert_eq!(
            json["checks"].as_array().unwrap().len(),
            eniwatch_core::checks::check_names().count()
        );
        assert!(json["snapshot"]["imds"]["Ok"]["enis"].is_array(), "{body}");
        assert!(body.contains("\n  \""), "pretty-printed");

        for path in ["/", "/nope", "/metrics/extra", "/debug"] {
            assert_eq!(server.get(path).await.0, 404, "{path}");
        }
        for path in ["/metrics", "/readyz", "/"] {
            assert_eq!(debug.get(path).await.0, 404, "{path}");
        }
        let post = server.client.post(format!("{}/metrics", server.base));
        assert_eq!(post.send().await.unwrap().status().as_u16(), 405);
        server.stop().await;
        debug.stop().await;
    }

    #[tokio::test]
    async fn healthz_fails_once_the_loop_stops_beating() {
        let state = SharedState::new();
        let metrics = Arc::new(Metrics::new().unwrap());
        // A window long enough that a loaded CI machine still answers within it.
        let window = Duration::from_millis(800);
        let server = start(&state, &metrics, window).await;
        state.heartbeat();
        assert_eq!(server.get("/healthz").await.2, "ok\n");
        tokio::time::sleep(window + Duration::from_millis(100)).await;
        let (status, _, body) = server.get("/healthz").await;
        assert_eq!(status, 503);
        assert_eq!(body.lines().count(), 1, "{body}");
        state.heartbeat();
        assert_eq!(server.get("/healthz").await.0, 200);
        server.stop().await;
    }
}

/// A node with custom networking, hand-built, and the outcome of one cycle
/// over it: shared by the tests of the daemon's sinks (the checks' own
/// fixture is private to `checks`).
#[cfg(test)]
pub(crate) mod fixture {
    use std::time::{Duration, Instant, SystemTime};

    use crate::daemon::{CycleOutcome, Settler};
    use eniwatch_core::model::Snapshot;
    use eniwatch_core::report::Report;

    /// The checks' healthy node: primary ENI in the node subnet; secondaries
    /// in the ENIConfig subnet on device 1 (3 pod addresses, 2 used) and
    /// device 2 (2 pod addresses, 1 used); three pods and one host-network
    /// pod; the kernel consistent with all of it.
    pub use eniwatch_core::checks::fixture::healthy;

    /// Takes the link of the ENI on `device` down: an `ENINotConfigured`.
    pub fn link_down(s: &mut Snapshot, device: u32) {
        let k = s.kernel.as_mut().unwrap();
        let name = format!("eth{device}");
        k.links
            .iter_mut()
            .find(|l| l.name == name)
            .unwrap()
            .admin_up = false;
    }

    /// Judges `snapshot` as one daemon cycle would. With the zero grace
    /// period of `settler()` the settled statuses are the evaluation's.
    pub fn cycle(snapshot: Snapshot, settler: &mut Settler) -> CycleOutcome {
        let (evaluation, report) = Report::judge(&snapshot);
        let transitions = settler.observe(&evaluation.findings, &|_| false, Instant::now());
        CycleOutcome {
            at: SystemTime::now(),
            duration: Duration::from_millis(12),
            report,
            checks: evaluation.checks.clone(),
            active: settler.active().into_iter().cloned().collect(),
            settling: settler.settling().into_iter().cloned().collect(),
            transitions,
            snapshot,
        }
    }

    pub fn settler() -> Settler {
        Settler::new(Duration::ZERO)
    }
}
