//! `eniwatch-cluster run`: the Deployment's loop.
//!
//! Each turn: a copy of the Nodes and ENIConfigs the watches mirror
//! ([`crate::sources::watch`]), the question for EC2 from them, one
//! [`VpcReader::refresh`] (the reader asks only what is due and keeps the
//! rest cached: subnets and ENIs every `--subnet-refresh`, route tables and
//! groups every `--route-refresh`, both +0..20 % jitter, never more than
//! `--ec2-calls-per-minute` calls in any 60 s window, backoff on throttling
//! and access denied: see `eniwatch_ec2::vpc`), the ENI history, one
//! judgement ([`crate::checks::judge`]), then the sinks: metrics, Events
//! ([`events`]), the facts ConfigMap ([`facts_writer`]).
//!
//! When: at EC2's [`VpcReader::next_due`], and when a Node or ENIConfig
//! changes, debounced by [`DEBOUNCE`] and at most once per [`MIN_TURN`]
//! (a 5,000-node cluster's Nodes change every few seconds; judging is cheap
//! and EC2 is governed by the reader, but the sinks need not run that
//! often). At least every [`MAX_IDLE`] in any case.
//!
//! A second replica or a restart is harmless: everything read is read
//! only (EC2 Describe calls, Kubernetes lists and watches); the ConfigMap
//! is written only when its content differs and with optimistic
//! concurrency, so two writers converge on one document; Events are
//! observations (a duplicate is one extra line in `kubectl describe`). The
//! Deployment uses `Recreate` so that normally only one runs.
//!
//! SIGTERM: the loop stops at once (a refresh in flight is dropped), the
//! HTTP server finishes in-flight scrapes; the binary exits within 5 s
//! whatever happens.

pub mod events;
pub mod facts_writer;
pub mod http;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use eniwatch_core::sources::kube as core_kube;
use eniwatch_core::sources::requests::RequestCounts;
use eniwatch_ec2::{VpcAsk, VpcReader};

use crate::checks::{judge, ClusterEvaluation};
use crate::cli::Config;
use crate::metrics::Metrics;
use crate::model::{ClusterSnapshot, EniHistory};
use crate::publish::published;
use crate::snapshot::{self, ec2_error, ec2_up, update_history, vpc_ask, Parts};
use crate::sources::watch::Mirror;
use events::EventSink;
use facts_writer::FactsWriter;
use http::Health;

/// Wait after a Node or ENIConfig change before judging, so a burst is judged once.
pub const DEBOUNCE: Duration = Duration::from_secs(2);
/// The least time between two turns.
pub const MIN_TURN: Duration = Duration::from_secs(10);
/// The most time between two turns.
pub const MAX_IDLE: Duration = Duration::from_secs(60);
/// How long the first turn waits for the watches' first lists.
pub const FIRST_LIST_WAIT: Duration = Duration::from_secs(30);

/// What `run` is given.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub config: Config,
    pub listen: std::net::SocketAddr,
    pub events: bool,
    pub publish: bool,
    /// `reportingInstance` of the Events (the pod name).
    pub instance: String,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Kube(String),
    #[error("EC2: {0}")]
    Ec2(String),
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot create the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

struct Sinks {
    metrics: Arc<Metrics>,
    counts: RequestCounts,
    events: Option<EventSink>,
    facts: Option<FactsWriter>,
}

/// Runs until `shutdown` completes.
pub async fn run(cfg: DaemonConfig, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    let kubeconfig = cfg.config.kubeconfig.as_ref();
    let kube_err =
        |e: core_kube::KubeError| DaemonError::Kube(crate::sources::unavailable(&e).reason);
    let client = core_kube::client(kubeconfig).await.map_err(kube_err)?;
    let watch_client = core_kube::client_with_timeout(kubeconfig, core_kube::WATCH_READ_TIMEOUT)
        .await
        .map_err(kube_err)?;
    let counts = RequestCounts::new();
    let config = &cfg.config;
    let mut reader = VpcReader::new(config.ec2.clone(), config.policy.clone(), counts.clone())
        .await
        .map_err(|u| DaemonError::Ec2(u.reason))?;
    let metrics = Arc::new(Metrics::new(config.policy.calls_per_minute)?);
    let health = Health::default();
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|error| DaemonError::Listen {
            addr: cfg.listen,
            error,
        })?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        http::router(health.clone(), metrics.clone()),
        async move {
            let _ = http_stopped.await;
        },
    ));
    let (mirror, watches) = Mirror::start(&watch_client);
    let mut sinks = Sinks {
        metrics,
        counts,
        events: cfg
            .events
            .then(|| EventSink::new(client.clone(), cfg.instance.clone())),
        facts: cfg
            .publish
            .then(|| FactsWriter::new(client.clone(), &config.namespace, &config.facts_configmap)),
    };
    tracing::info!(listen = %cfg.listen, events = cfg.events, publish = cfg.publish, "eniwatch-cluster running");
    let work = turns(config, &mirror, &mut reader, &mut sinks, &health);
    tokio::select! {
        () = work => {}
        () = shutdown => tracing::info!("stopping"),
    }
    for w in watches {
        w.abort();
    }
    let _ = stop_http.send(());
    let _ = server.await;
    Ok(())
}

/// The loop; never returns.
async fn turns(
    config: &Config,
    mirror: &Mirror,
    reader: &mut VpcReader,
    sinks: &mut Sinks,
    health: &Health,
) {
    let started = Instant::now();
    while !mirror.listed() && started.elapsed() < FIRST_LIST_WAIT {
        let _ = tokio::time::timeout(Duration::from_secs(1), mirror.changed.notified()).await;
    }
    let mut history = EniHistory::default();
    let mut last_ask: Option<VpcAsk> = None;
    loop {
        let turn_start = Instant::now();
        health.beat();
        let ask = turn(
            config,
            mirror,
            reader,
            sinks,
            &mut history,
            last_ask.as_ref(),
        )
        .await;
        last_ask = Some(ask);
        health.set_ready();
        health.beat();
        // Until EC2 is due, a change comes, or MAX_IDLE.
        let idle = reader
            .next_due()
            .clamp(turn_start + MIN_TURN, turn_start + MAX_IDLE);
        let woken = tokio::select! {
            () = tokio::time::sleep_until(idle.into()) => false,
            () = mirror.changed.notified() => true,
        };
        if woken {
            let earliest = (Instant::now() + DEBOUNCE).max(turn_start + MIN_TURN);
            tokio::time::sleep_until(earliest.into()).await;
        }
    }
}

/// One turn; returns the question asked of EC2.
async fn turn(
    config: &Config,
    mirror: &Mirror,
    reader: &mut VpcReader,
    sinks: &mut Sinks,
    history: &mut EniHistory,
    last_ask: Option<&VpcAsk>,
) -> VpcAsk {
    let nodes = mirror.nodes();
    let eni_configs = mirror.eni_configs();
    let node_classes = mirror.node_classes();
    let ask = vpc_ask(config.vpc_id.as_ref(), &nodes, &eni_configs, &node_classes);
    if last_ask.is_some_and(|a| *a != ask) {
        tracing::info!("the ENIConfigs or Nodes changed what EC2 is asked about");
    }
    let vpc = reader.refresh(&ask, Instant::now()).await;
    let now = jiff::Timestamp::now();
    update_history(history, &vpc, now);
    let kube_up = nodes.is_ok() && eni_configs.is_ok();
    let up = ec2_up(&vpc);
    if let Some(e) = ec2_error(&vpc) {
        tracing::debug!(error = %e, "EC2 not fully read");
    }
    if let Err(e) = &node_classes {
        tracing::debug!(error = %e.reason, "NodeClasses not read; none published");
    }
    let parts = Parts {
        nodes,
        eni_configs,
        node_classes,
        vpc,
    };
    let snap = snapshot::snapshot(parts, config, history, now);
    let eval = judge(&snap);
    let m = &sinks.metrics;
    m.observe(&eval, SystemTime::now());
    m.observe_source("kubernetes", kube_up);
    m.observe_source("ec2", up);
    m.observe_requests(&sinks.counts.snapshot());
    m.observe_deferred(&reader.deferred());
    write_events(sinks, &snap, &eval, mirror).await;
    write_facts(sinks, &snap, &eval).await;
    ask
}

async fn write_events(
    sinks: &mut Sinks,
    snap: &ClusterSnapshot,
    eval: &ClusterEvaluation,
    mirror: &Mirror,
) {
    let Some(sink) = sinks.events.as_mut() else {
        return;
    };
    let nodes = snap.nodes.as_deref().unwrap_or_default();
    let configs = match &snap.eni_configs {
        Ok(Some(c)) => c.as_slice(),
        _ => &[],
    };
    let planned: Vec<_> = eval
        .findings
        .iter()
        .map(|f| {
            let to = events::regarding(f, nodes, &snap.vpc, configs, |n| mirror.eniconfig_uid(n));
            (f.clone(), to)
        })
        .collect();
    if let Err(e) = sink.publish(&planned, Instant::now()).await {
        tracing::warn!(error = %e, kind = e.kind, "event not written; tried again next refresh");
    }
}

async fn write_facts(sinks: &mut Sinks, snap: &ClusterSnapshot, eval: &ClusterEvaluation) {
    let Some(writer) = sinks.facts.as_ref() else {
        return;
    };
    match writer
        .publish(|previous| published(snap, eval, previous))
        .await
    {
        Ok((outcome, bytes)) => {
            if outcome == facts_writer::Outcome::Written {
                tracing::info!(bytes, "facts ConfigMap written");
            }
            sinks.metrics.observe_publish(outcome.as_str(), Some(bytes));
        }
        Err(e) => {
            tracing::warn!(error = %e, kind = e.kind, "facts ConfigMap not written");
            sinks.metrics.observe_publish("error", None);
        }
    }
}
