//! `eniwatch run`: the node daemon.
//!
//! The loop gathers a snapshot when something changes (netlink multicast,
//! Kubernetes watch events, the IMDS timer), runs the same pure checks as
//! `check`, settles the findings (a finding must persist for the grace period
//! before it counts as drift, see [`settle`]), and hands one [`CycleOutcome`]
//! per cycle to the sinks: metrics, events, the node condition and the debug
//! endpoint. Sinks never re-judge: they render what the cycle decided.

pub mod agent;
pub mod cluster_watch;
pub mod condition;
pub mod events;
pub mod http;
pub mod kernel_watch;
pub mod metrics;
pub mod metrics_pool;
pub mod run;
pub mod settle;
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
