//! `eniwatch run`: the node daemon.
//!
//! The loop ([`run`]) gathers a snapshot when something changes (netlink
//! multicast, Kubernetes watch events, the IMDS timer), runs the same pure
//! checks as `check`, settles the findings, and hands one [`CycleOutcome`]
//! per cycle to the [`sinks`]: metrics, events, the node condition and the
//! debug endpoint. Sinks never re-judge: they render what the cycle decided.
//!
//! # How a finding becomes an event
//!
//! 1. **A cycle judges** (`run/cycle.rs`): the snapshot goes through
//!    `Report::judge` once; its `Evaluation` holds every finding, including
//!    those seen for the first time.
//! 2. **The settler ages it** (`run/settled.rs`, [`settle`]): a finding is
//!    identified by reason and subject; it counts as drift only after it has
//!    persisted for the grace period (or its reason's floor). Until then it
//!    is *settling*: listed in the outcome's `settling`, its check still
//!    `ok`. A finding whose check could not judge this cycle (a source down)
//!    neither ages nor resolves. Pod findings about to come of age are first
//!    confirmed with one GET of the pod (`run/confirm.rs`): a pod already
//!    gone is no drift. The loop wakes itself at the settler's next
//!    deadline, so a finding comes of age on time even on a quiet node.
//! 3. **Transitions** ([`Transition`]): the cycle in which a finding comes
//!    of age yields `Began`, the cycle in which an active finding is gone
//!    yields `Resolved`, each exactly once. They are logged
//!    (`run/settled.rs`) and carried in [`CycleOutcome::transitions`].
//! 4. **Sinks** (`sinks.rs`, [`sinks::Sinks`] declared and implemented
//!    there as [`sinks::AgentSinks`]): metrics render the outcome in the
//!    loop (transition counters, findings, check statuses: [`metrics`]).
//!    The outcome is queued, bounded, to the API sinks' task
//!    (`api_sinks.rs`); when the queue is full the cycle's API work is
//!    dropped and counted, never waited for.
//! 5. **Events** (`events.rs`, `events_budget.rs`): each transition is one
//!    Kubernetes Event (`Warning` with the reason for `Began`, `Normal`
//!    `<Reason>Resolved` for `Resolved`), about the Pod or the Node,
//!    deduplicated within a window and rate-limited by a token bucket;
//!    transitions beyond the budget are summed into one `DriftAggregated`
//!    event at most once a minute, and a written Warning's resolution is
//!    owed ahead of new Warnings. The API sinks' task wakes on its own when
//!    an aggregate or an owed resolution is due.
//! 6. **The condition** (`condition.rs`, `condition_stale.rs`): the node
//!    condition `CustomNetworkingReady` is the current verdict from the
//!    outcome's active findings and checks (not the transitions), patched
//!    when it changes or its heartbeat is due, held through a short outage.
//! 7. **Failed writes** (`write_log.rs`): logged once per streak; Kubernetes
//!    errors are put in words and kinds by the one mapping,
//!    `eniwatch_core::sources::kube` (`core/src/sources/kube_errors.rs`).
//!
//! The inputs: the watches of the node, its pods and the ENIConfigs are a
//! source, [`crate::sources::kube_watch`]; kernel changes come from
//! [`kernel_watch`]. [`agent`] wires it all together.

pub mod agent;
pub mod api_sinks;
pub mod condition;
pub mod events;
pub mod http;
pub mod http_auth;
pub mod http_server;
pub mod http_tls;
pub mod kernel_watch;
pub mod metrics;
pub mod metrics_pool;
pub mod run;
pub mod settle;
pub mod sinks;
pub mod write_log;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use eniwatch_core::checks::{CheckResult, Finding};
use eniwatch_core::model::Snapshot;
use eniwatch_core::report::Report;
pub use settle::{Settler, Transition};

/// What one cycle observed and decided.
#[derive(Debug, Clone, Serialize)]
pub struct CycleOutcome {
    /// When the cycle ended.
    #[serde(with = "unix_seconds")]
    pub at: SystemTime,
    /// How long gathering and judging took.
    pub duration: Duration,
    /// The raw report: all findings, including those still settling.
    pub report: Report,
    /// Check statuses after settling: `drift` only for findings past the grace period.
    pub checks: Vec<CheckResult>,
    /// Findings that count as drift now.
    pub active: Vec<Finding>,
    /// Findings seen but still within the grace period.
    pub settling: Vec<Finding>,
    /// What changed this cycle.
    pub transitions: Vec<Transition>,
    /// The snapshot the cycle judged.
    pub snapshot: Snapshot,
}

mod unix_seconds {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        s.serialize_f64(secs)
    }
}

/// State shared between the loop and the HTTP server.
#[derive(Debug, Clone)]
pub struct SharedState {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug)]
struct Inner {
    latest: Option<Arc<CycleOutcome>>,
    last_beat: Instant,
}

impl Default for SharedState {
    fn default() -> Self {
        SharedState::new()
    }
}

impl SharedState {
    pub fn new() -> SharedState {
        SharedState {
            inner: Arc::new(RwLock::new(Inner {
                latest: None,
                last_beat: Instant::now(),
            })),
        }
    }

    /// Publishes a finished cycle (and counts as a heartbeat).
    pub fn publish(&self, outcome: Arc<CycleOutcome>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.latest = Some(outcome);
        inner.last_beat = Instant::now();
    }

    /// The loop is alive (it beats at least once per loop turn, even idle).
    pub fn heartbeat(&self) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .last_beat = Instant::now();
    }

    pub fn latest(&self) -> Option<Arc<CycleOutcome>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .latest
            .clone()
    }

    /// Whether the loop beat within `within`.
    pub fn alive(&self, within: Duration) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last_beat
            .elapsed()
            <= within
    }

    /// Whether a first full cycle is done.
    pub fn ready(&self) -> bool {
        self.latest().is_some()
    }
}
