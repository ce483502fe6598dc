//! One cycle: read IMDS if its schedule says so, read the kernel and the
//! expectation, let the witnesses observe, judge once, settle, and hand the
//! outcome to the sinks and the debug endpoint.
//!
//! Each read is bounded by the gather timeout; a source that fails or runs
//! out of time is an *unknown* part of the snapshot, never the end of the
//! cycle.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::pacing::Read;
use super::settled::{settled_checks, wants_addresses};
use super::{now, outages, Looper};
use crate::config::KubeMode;
use crate::daemon::sinks::Sinks;
use crate::daemon::{CycleOutcome, Transition};
use crate::gather::assemble;
use crate::sources::imds;
use crate::sources::netlink;
use eniwatch_core::checks::Evaluation;
use eniwatch_core::model::{Expectation, Snapshot, Unavailable, Witness};
use eniwatch_core::report::Report;
use eniwatch_core::sources::bounded::bounded;

impl Looper {
    /// One cycle. `timer_only`: woken by a timer alone (IMDS or idle); when
    /// IMDS then says nothing new, there is nothing new to judge: kernel and
    /// API changes wake the loop themselves.
    pub(super) async fn cycle<S: Sinks>(&mut self, sinks: &mut S, timer_only: bool) {
        let started = Instant::now();
        let limit = self.sources.gather_timeout;
        if let Some(read) = self.schedule.due(tokio::time::Instant::now()) {
            let unchanged = self.read_imds(read, limit).await;
            let idle_due = self
                .last_full
                .is_none_or(|t| t.elapsed() >= self.pace.idle_cycle);
            if timer_only && unchanged && self.state.ready() && !idle_due {
                return;
            }
        }
        self.last_full = Some(tokio::time::Instant::now());
        let snapshot = self.gather(limit).await;
        let (evaluation, report) = Report::judge(&snapshot);
        self.wants_addresses = wants_addresses(&evaluation);
        outages::log(&self.outages.observe(&report.sources, now()));
        let transitions = self.settle(&evaluation, limit).await;
        // A finding that is new may only mean IMDS moved on since it was
        // read: read it again before the finding can come of age.
        if !self.settler.settling().is_empty() {
            self.schedule.recheck(tokio::time::Instant::now());
        }
        let outcome = self.outcome(started, report, &evaluation, transitions, snapshot);
        let outcome = Arc::new(outcome);
        sinks.cycle(&outcome, &self.counts).await;
        self.state.publish(outcome);
    }

    /// Reads IMDS as the schedule asks and schedules the next read; true
    /// when the read brought nothing new (false without a client: then
    /// there is nothing to read, ever).
    async fn read_imds(&mut self, read: Read, limit: Duration) -> bool {
        let Some(client) = &self.imds else {
            self.schedule.skip(tokio::time::Instant::now());
            return false;
        };
        let (read, result) = match (&self.last_imds, read) {
            (Ok(prev), Read::Light) => (
                Read::Light,
                bounded("imds", limit, imds::refresh_addresses(client, prev)).await,
            ),
            _ => (
                Read::Full,
                bounded("imds", limit, imds::read_instance_metadata(client)).await,
            ),
        };
        let ok = result.is_ok();
        let unchanged = result == self.last_imds;
        self.last_imds = result;
        let at = tokio::time::Instant::now();
        self.schedule.done(read, ok, at, &mut fastrand::Rng::new());
        unchanged
    }

    /// The snapshot: IMDS as last read, the kernel now, the expectation
    /// (flags, or the watches' view), and what the witnesses observe.
    async fn gather(&mut self, limit: Duration) -> Snapshot {
        let kernel = bounded("kernel", limit, netlink::read_kernel_state()).await;
        let expectation = match (&self.sources.kube, &self.cluster) {
            (KubeMode::Flags(f), _) => Expectation::Flags(f.clone()),
            (KubeMode::Api { .. }, Some(w)) => Expectation::Kubernetes(
                w.view(self.sources.node_name.as_deref().unwrap_or_default()),
            ),
            (KubeMode::Api { .. }, None) => {
                Expectation::Kubernetes(Err(Unavailable::new("kubernetes", "no client")))
            }
        };
        let mut snapshot = assemble(&self.sources, self.last_imds.clone(), kernel, expectation);
        snapshot.cluster_facts = match (&self.sources.cluster_facts, &self.cluster) {
            (None, _) => Witness::Off,
            (Some(_), Some(w)) => Witness::On(w.facts()),
            (Some(_), None) => Witness::On(Err(Unavailable::new(
                crate::sources::cluster_facts::SOURCE,
                "no Kubernetes client",
            )
            .with_kind("dependency"))),
        };
        snapshot.ipamd = self.witnesses.ipamd(limit).await;
        snapshot
    }

    /// What the cycle decided, for the sinks.
    fn outcome(
        &self,
        started: Instant,
        report: Report,
        evaluation: &Evaluation,
        transitions: Vec<Transition>,
        snapshot: Snapshot,
    ) -> CycleOutcome {
        let active: Vec<_> = self.settler.active().into_iter().cloned().collect();
        let checks = settled_checks(&evaluation.checks, &active);
        CycleOutcome {
            at: SystemTime::now(),
            duration: started.elapsed(),
            report,
            checks,
            settling: self.settler.settling().into_iter().cloned().collect(),
            active,
            transitions,
            snapshot,
        }
    }
}
