//! Wires the daemon together: HTTP server, metrics, the Kubernetes watches,
//! the loop, and the API sinks (events, node condition).
//!
//! The API sinks run in their own task, fed through a bounded channel: a slow
//! or unreachable API server must never stall the loop (and so detection and
//! metrics). When the channel is full, a cycle's API work is dropped and
//! counted (`eniwatch_requests_total{target="kubernetes",outcome="dropped"}`):
//! the next cycle carries the current state anyway, only individual
//! transitions' events can be lost, and only during an API outage.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::cluster_watch::ClusterWatch;
use super::condition::{outage, ConditionSink};
use super::events::{EventConfig, EventSink};
use super::http;
use super::metrics::Metrics;
use super::run::{Counters, LoopConfig, Looper, Sinks};
use super::settle::Transition;
use super::write_log::{log_failure, log_success, WriteStreak};
use super::{CycleOutcome, SharedState};
use crate::config::{KubeMode, SourceConfig};
use eniwatch_core::model::{Ec2View, Expectation, Observed, Witness};
use eniwatch_core::sources::kube::{self, KubeError};
use eniwatch_core::sources::requests::RequestCounts;

/// Everything `eniwatch run` needs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub sources: SourceConfig,
    pub listen: SocketAddr,
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
        "cannot listen on {addr}: {source} (is another process using the port? change --listen)"
    )]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// Cycles waiting for the API sinks before new ones are dropped.
const API_QUEUE: usize = 32;

struct AgentSinks {
    metrics: Arc<Metrics>,
    api: Option<mpsc::Sender<Arc<CycleOutcome>>>,
    counts: RequestCounts,
    /// Cycles dropped because the API sinks are behind, logged once per streak.
    behind: WriteStreak,
}

fn observe<T>(metrics: &Metrics, name: &str, o: &Observed<T>, at: SystemTime) {
    match o {
        Ok(_) => metrics.observe_source(name, true, None, at),
        Err(u) => metrics.observe_source(name, false, Some(u.kind), at),
    }
}

impl Sinks for AgentSinks {
    async fn cycle(&mut self, outcome: &Arc<CycleOutcome>, counts: &Counters) {
        let s = &outcome.snapshot;
        observe(&self.metrics, "imds", &s.imds, outcome.at);
        observe(&self.metrics, "kernel", &s.kernel, outcome.at);
        if let Expectation::Kubernetes(c) = &s.expectation {
            observe(&self.metrics, "kubernetes", c, outcome.at);
        }
        if let Witness::On(c) = &s.ipamd {
            observe(&self.metrics, "ipamd", c, outcome.at);
        }
        if let Witness::On(c) = &s.ec2 {
            observe(&self.metrics, "ec2", &ec2_health(c), outcome.at);
        }
        self.metrics.observe_cycle(outcome);
        if let Some(api) = &self.api {
            let what = "handing cycles to the API sinks (events, condition)";
            match api.try_send(outcome.clone()) {
                Ok(()) => log_success(&mut self.behind, what),
                Err(_) => {
                    self.counts.add("kubernetes", "dropped");
                    let why = "the sinks are behind (the API server is slow or away); \
                               this cycle's events and condition update are skipped";
                    log_failure(&mut self.behind, what, &why);
                }
            }
        }
        self.metrics.observe_requests(&counts.requests);
        self.metrics.pool.observe_ec2_calls(&counts.ec2);
    }
}

/// EC2 is up when every call it answered this cycle succeeded.
fn ec2_health(view: &Observed<Ec2View>) -> Observed<()> {
    let v = view.as_ref().map_err(Clone::clone)?;
    v.first_error().map_or(Ok(()), |u| Err(u.clone()))
}

/// The API sinks and the last cycle they were given.
struct ApiSinks {
    events: Option<EventSink>,
    condition: Option<ConditionSink>,
    last: Option<Arc<CycleOutcome>>,
    /// Failed writes are logged once per streak, not once per retry.
    event_writes: WriteStreak,
    condition_writes: WriteStreak,
}

impl ApiSinks {
    /// When a sink has something to write without a new cycle: a due
    /// aggregate or a resolution waiting for budget, a held condition
    /// turning `Unknown`.
    fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        let events = self.events.as_mut().and_then(|e| e.next_wake(now));
        let condition = self.condition.as_ref().and_then(ConditionSink::next_wake);
        match (events, condition) {
            (Some(e), Some(c)) => Some(e.min(c)),
            (e, c) => e.or(c),
        }
    }

    async fn cycle(&mut self, outcome: Arc<CycleOutcome>) {
        if !outcome.transitions.is_empty() {
            self.publish(&outcome.transitions).await;
        }
        self.last = Some(outcome);
        self.update_condition().await;
    }

    /// Woken without a cycle: writes what is due.
    async fn due(&mut self) {
        self.publish(&[]).await;
        self.update_condition().await;
    }

    async fn publish(&mut self, transitions: &[Transition]) {
        let Some(ev) = self.events.as_mut() else {
            return;
        };
        match ev.publish(transitions, Instant::now()).await {
            Ok(0) => {}
            Ok(_) => log_success(&mut self.event_writes, "writing drift events"),
            Err(e) => log_failure(&mut self.event_writes, "writing drift events", &e),
        }
    }

    async fn update_condition(&mut self) {
        let (Some(c), Some(outcome)) = (self.condition.as_mut(), &self.last) else {
            return;
        };
        let outage = outage(&outcome.snapshot);
        let now = (Instant::now(), SystemTime::now());
        let what = "patching the node condition";
        match c
            .update(
                &outcome.active,
                &outcome.checks,
                outage.as_deref(),
                now.0,
                now.1,
            )
            .await
        {
            Ok(false) => {}
            Ok(true) => log_success(&mut self.condition_writes, what),
            Err(e) => log_failure(&mut self.condition_writes, what, &e),
        }
    }
}

/// Drains cycles into the event and condition sinks, and wakes on its own
/// when something is due between cycles (a quiet node may see no cycle for
/// minutes, and an aggregate must not wait for the next drift).
async fn api_sinks(mut rx: mpsc::Receiver<Arc<CycleOutcome>>, mut sinks: ApiSinks) {
    loop {
        let wake = sinks.next_wake(Instant::now());
        let due = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            got = rx.recv() => match got {
                Some(outcome) => sinks.cycle(outcome).await,
                None => break,
            },
            () = due => sinks.due().await,
        }
    }
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
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    // The loop beats at least once per IMDS interval (or idle cycle, if
    // shorter); three of them without a beat means it is stuck.
    let liveness =
        config.pace.idle_cycle.min(config.pace.imds_interval) * 3 + config.sources.gather_timeout;
    let router = http::router(state.clone(), metrics.clone(), liveness);
    let server = tokio::spawn(http::serve(listener, router, stopped(stop_rx.clone())));
    tracing::info!(listen = %config.listen, "serving /metrics, /healthz, /readyz, /debug/snapshot");

    let (wake_tx, wake_rx) = mpsc::channel(1);
    let mut api = None;
    let cluster = match &config.sources.kube {
        KubeMode::Flags(_) => None,
        KubeMode::Api { kubeconfig } => {
            let node = config.sources.node_name.clone().unwrap_or_default();
            let client = kube::client(kubeconfig.as_ref()).await?;
            let watch_client =
                kube::client_with_timeout(kubeconfig.as_ref(), kube::WATCH_READ_TIMEOUT).await?;
            let watch = ClusterWatch::default();
            watch.spawn(watch_client, client.clone(), &node, counts.clone(), wake_tx);
            let events = config
                .events
                .then(|| EventSink::new(client.clone(), node.clone(), EventConfig::default()));
            let condition = config.condition.map(|beat| {
                ConditionSink::new(client.clone(), node.clone(), beat)
                    .with_stale_after(config.condition_stale_after)
            });
            if events.is_some() || condition.is_some() {
                let (tx, rx) = mpsc::channel(API_QUEUE);
                let sinks = ApiSinks {
                    events,
                    condition,
                    last: None,
                    event_writes: WriteStreak::default(),
                    condition_writes: WriteStreak::default(),
                };
                tokio::spawn(api_sinks(rx, sinks));
                api = Some(tx);
            }
            Some(watch)
        }
    };
    let mut sinks = AgentSinks {
        metrics,
        api,
        counts: counts.clone(),
        behind: WriteStreak::default(),
    };
    let looper = Looper::new(
        config.sources.clone(),
        config.pace.clone(),
        cluster,
        counters,
        state,
    );
    looper.run(&mut sinks, wake_rx, shutdown).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(())
}
