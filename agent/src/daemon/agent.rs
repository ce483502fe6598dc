//! Wires the daemon together: HTTP server, metrics, the Kubernetes watches,
//! the loop ([`super::run`]), and the sinks ([`super::sinks`]: metrics in
//! the loop, events and the node condition in their own task,
//! [`super::api_sinks`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::api_sinks::{self, ApiSinks, API_QUEUE};
use super::condition::ConditionSink;
use super::events::{EventConfig, EventSink};
use super::http;
use super::http_auth::{self, Authorizer};
use super::http_server::{self, Limits};
use super::http_tls::{self, SecureMetrics, SelfSigned, TlsError};
use super::metrics::Metrics;
use super::run::{LoopConfig, Looper, Triggers};
use super::sinks::{AgentSinks, Counters};
use super::{CycleOutcome, SharedState};
use crate::config::{KubeMode, SourceConfig};
use crate::sources::cluster_facts::FactsWatch;
use crate::sources::kube_watch::ClusterWatch;
use eniwatch_core::sources::kube::{self, KubeError};
use eniwatch_core::sources::requests::RequestCounts;

/// Everything `eniwatch run` needs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub sources: SourceConfig,
    pub listen: SocketAddr,
    /// `/debug/snapshot`'s listener; None: not served.
    pub debug_listen: Option<SocketAddr>,
    /// `--secure-metrics`: TLS on `listen`, /metrics behind TokenReview and
    /// SubjectAccessReview ([`http_auth`]); None: plain HTTP.
    pub secure_metrics: Option<SecureMetrics>,
    pub pace: LoopConfig,
    pub events: bool,
    /// Heartbeat of the node condition; None: no condition.
    pub condition: Option<Duration>,
    /// How long the condition keeps its judged status through a source
    /// outage before it says `Unknown`.
    pub condition_stale_after: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "cannot listen on {addr}: {source} (is another process using the port? change --listen or --debug-listen)"
    )]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(
        "--secure-metrics checks tokens with the Kubernetes API: it cannot be used with --no-kube"
    )]
    SecureMetricsWithoutKube,
}

/// Runs the daemon until `shutdown` resolves.
pub async fn run(
    config: DaemonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let metrics = Arc::new(Metrics::new()?);
    let state = SharedState::new();
    let counters = Counters::default();
    let counts = counters.requests.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    let servers = serve(&config, &state, &metrics, &counts, &stop_rx).await?;

    let (wake_tx, wake_rx) = mpsc::channel(1);
    let (cluster, api) = match &config.sources.kube {
        KubeMode::Flags(_) => (None, None),
        KubeMode::Api { kubeconfig } => {
            let (watch, api) = kubernetes(&config, kubeconfig.as_ref(), &counts, wake_tx).await?;
            (Some(watch), api)
        }
    };
    let mut sinks = AgentSinks::new(metrics, api, counts);
    let looper = Looper::new(
        config.sources.clone(),
        config.pace.clone(),
        cluster,
        counters,
        state,
    );
    let triggers = Triggers::subscribe(wake_rx, config.sources.veth_prefix.clone());
    looper.run(&mut sinks, triggers, shutdown).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    Ok(())
}

/// Binds `--listen` (behind `--secure-metrics` when asked) and
/// `--debug-listen`, and serves both until `stop` turns true.
async fn serve(
    config: &DaemonConfig,
    state: &SharedState,
    metrics: &Arc<Metrics>,
    counts: &RequestCounts,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<std::io::Result<()>>>, DaemonError> {
    let secure = secure_metrics(config, counts).await?;
    let listener = bind(config.listen).await?;
    let debug_listener = match config.debug_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    // The loop beats at least once per IMDS interval (or idle cycle, if
    // shorter); three of them without a beat means it is stuck.
    let liveness =
        config.pace.idle_cycle.min(config.pace.imds_interval) * 3 + config.sources.gather_timeout;
    let router = http::router(state.clone(), metrics.clone(), liveness);
    let (router, tls) = match secure {
        None => (router, None),
        Some((tls, authorizer)) => (http_auth::require_authorized(router, authorizer), Some(tls)),
    };
    let mut servers = vec![tokio::spawn(http_server::serve(
        listener,
        router,
        Limits::default(),
        tls,
        stopped(stop.clone()),
    ))];
    tracing::info!(
        listen = %config.listen,
        secure_metrics = config.secure_metrics.is_some(),
        "serving /metrics, /healthz, /readyz"
    );
    if let Some(listener) = debug_listener {
        let router = http::debug_router(state.clone(), liveness);
        servers.push(tokio::spawn(http_server::serve(
            listener,
            router,
            Limits::default(),
            None,
            stopped(stop.clone()),
        )));
    }
    log_debug_listen(config.debug_listen);
    Ok(servers)
}

/// The listen backlog: connections the kernel completes before the loop
/// accepts them. A client churning connections (each one it opens evicts
/// one it held) must not fill it, or the kernel drops new SYNs and a probe
/// waits out the 1 s SYN retransmission. Linux caps it at
/// `net.core.somaxconn` (4096 by default since 5.4).
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, DaemonError> {
    let listen = || {
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().map_err(|source| DaemonError::Listen { addr, source })
}

fn log_debug_listen(addr: Option<SocketAddr>) {
    match addr {
        None => tracing::info!("not serving /debug/snapshot (--debug-listen off)"),
        Some(a) if a.ip().is_loopback() => {
            tracing::info!(debug_listen = %a, "serving /debug/snapshot, /healthz")
        }
        Some(a) => tracing::warn!(
            debug_listen = %a,
            "serving /debug/snapshot on a non-loopback address: whoever reaches it sees the node's pod names and addresses, ENI, subnet and security-group ids"
        ),
    }
}

/// The TLS acceptor and the token checker for `--secure-metrics`.
async fn secure_metrics(
    config: &DaemonConfig,
    counts: &RequestCounts,
) -> Result<Option<(tokio_rustls::TlsAcceptor, Authorizer)>, DaemonError> {
    let Some(secure) = &config.secure_metrics else {
        return Ok(None);
    };
    let KubeMode::Api { kubeconfig } = &config.sources.kube else {
        return Err(DaemonError::SecureMetricsWithoutKube);
    };
    let names = SelfSigned {
        node_name: config.sources.node_name.clone(),
        listen_ip: Some(config.listen.ip()),
    };
    let tls = http_tls::acceptor_for(secure.cert.as_deref(), secure.key.as_deref(), &names)?;
    // kube's retry layer off: no retries in the request path.
    let (client, _) = kube::check_client(kubeconfig.as_ref()).await?;
    Ok(Some((tls, Authorizer::new(client, counts.clone()))))
}

/// Starts the Kubernetes side: the watches (which wake the loop through
/// `wake`) and, when events or the condition are on, the API sinks' task;
/// returns the watches and the queue to that task.
async fn kubernetes(
    config: &DaemonConfig,
    kubeconfig: Option<&std::path::PathBuf>,
    counts: &RequestCounts,
    wake: mpsc::Sender<()>,
) -> Result<(ClusterWatch, Option<mpsc::Sender<Arc<CycleOutcome>>>), DaemonError> {
    let node = config.sources.node_name.clone().unwrap_or_default();
    let client = kube::client(kubeconfig).await?;
    let watch_client = kube::client_with_timeout(kubeconfig, kube::WATCH_READ_TIMEOUT).await?;
    let mut watch = ClusterWatch::default();
    if let Some(at) = &config.sources.cluster_facts {
        let facts = FactsWatch::new(at.clone());
        facts.spawn(watch_client.clone(), counts.clone(), wake.clone());
        watch = watch.with_facts(facts);
    }
    watch.spawn(watch_client, client.clone(), &node, counts.clone(), wake);
    let events = config
        .events
        .then(|| EventSink::new(client.clone(), node.clone(), EventConfig::default()));
    let condition = config.condition.map(|beat| {
        ConditionSink::new(client.clone(), node.clone(), beat)
            .with_stale_after(config.condition_stale_after)
    });
    if events.is_none() && condition.is_none() {
        return Ok((watch, None));
    }
    let (tx, rx) = mpsc::channel(API_QUEUE);
    tokio::spawn(api_sinks::run(rx, ApiSinks::new(events, condition)));
    Ok((watch, Some(tx)))
}
