//! Where a cycle's outcome goes: the [`Sinks`] the loop hands each
//! [`CycleOutcome`] to, and the daemon's own, [`AgentSinks`].
//!
//! Metrics are rendered in the loop (cheap, and never blocked by anything
//! outside). The API sinks (events, the node condition) run in their own
//! task, fed through a bounded queue: a slow or unreachable API server must
//! never stall the loop (and so detection and metrics). When the queue is
//! full, a cycle's API work is dropped and counted
//! (`eniwatch_requests_total{target="kubernetes",outcome="dropped"}`): the
//! next cycle carries the current state anyway, only individual transitions'
//! events can be lost, and only during an API outage. Sinks never re-judge:
//! they render what the cycle decided.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::metrics::Metrics;
use super::write_log::{log_failure, log_success, WriteStreak};
use super::CycleOutcome;
use eniwatch_core::model::{Expectation, Observed, Witness};
use eniwatch_core::sources::requests::RequestCounts;

/// Request counters: every outside system's requests by target and outcome.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub requests: RequestCounts,
}

/// Outside effects of a cycle: metrics, events, condition. The daemon's are
/// [`AgentSinks`]; a test can pass its own to watch the loop.
pub trait Sinks: Send {
    fn cycle(
        &mut self,
        outcome: &Arc<CycleOutcome>,
        counts: &Counters,
    ) -> impl Future<Output = ()> + Send;
}

/// The daemon's sinks: metrics at once, in the loop; the API sinks (events,
/// condition) through a bounded queue to their own task ([`super::api_sinks`]).
pub struct AgentSinks {
    metrics: Arc<Metrics>,
    api: Option<mpsc::Sender<Arc<CycleOutcome>>>,
    counts: RequestCounts,
    /// Cycles dropped because the API sinks are behind, logged once per streak.
    behind: WriteStreak,
}

impl AgentSinks {
    /// `api`: the queue to the API sinks' task, if any runs.
    pub fn new(
        metrics: Arc<Metrics>,
        api: Option<mpsc::Sender<Arc<CycleOutcome>>>,
        counts: RequestCounts,
    ) -> AgentSinks {
        AgentSinks {
            metrics,
            api,
            counts,
            behind: WriteStreak::default(),
        }
    }
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
            // Where no aws-node runs, a failed read is no failing source
            // (EniwatchSourceFailing would fire on every such node).
            if outcome.report.mode.mode.expects_ipamd() || c.is_ok() {
                observe(&self.metrics, "ipamd", c, outcome.at);
            }
        }
        if let Witness::On(c) = &s.cluster_facts {
            observe(&self.metrics, "cluster_facts", c, outcome.at);
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
    }
}
