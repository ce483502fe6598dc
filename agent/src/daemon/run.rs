//! The daemon loop: wait for a trigger, gather, judge, settle, report.
//!
//! Triggers: kernel changes (netlink multicast, debounced), Kubernetes watch
//! events, the IMDS timer, the moment a settling finding comes of age, and a
//! slow heartbeat tick. Every cycle re-reads the kernel (a dump takes
//! milliseconds); IMDS is re-read only when its timer is due or a non-pod link
//! came or went, so a steady node makes one IMDS read per interval.
//!
//! Source failures never end the loop: they become *unknown* parts of the
//! snapshot (and metrics), and the next trigger tries again. Each source's
//! outage is logged once when it begins and once when it ends
//! ([`outages`]). The loop ends when `shutdown` resolves; the caller bounds
//! the rest of the shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::time::sleep_until;

mod confirm;
#[cfg(test)]
mod imds_retry_tests;
pub mod outages;

use super::cluster_watch::ClusterWatch;
use super::kernel_watch::{self, KernelChange};
use super::settle::Settler;
use super::{CycleOutcome, SharedState, Transition};
use crate::config::{KubeMode, SourceConfig};
use crate::gather::assemble;
use crate::sources::imds::{self, ImdsClient};
use crate::sources::netlink;
use crate::witnesses::WitnessSources;
use eniwatch_core::backoff::{Backoff, Draw};
use eniwatch_core::checks::{CheckResult, CheckStatus, Evaluation, Reason};
use eniwatch_core::model::{Expectation, InstanceMetadata, Observed, Unavailable};
use eniwatch_core::report::Report;
use eniwatch_core::sources::bounded::bounded;
use eniwatch_core::sources::requests::RequestCounts;
use outages::OutageLog;

/// Timer reads between two full IMDS reads: the light ones see address
/// changes (the warm pool); a full one also sees security groups edited on
/// an ENI, so such a change is seen within this many intervals.
const FULL_READ_EVERY: u32 = 10;

/// The first retry delay after a failed IMDS read.
const IMDS_RETRY: Duration = Duration::from_secs(5);

/// The wait after `failures` failed IMDS reads in a row: 5 s, 10 s, 20 s,
/// ... each plus up to 20 % ([`eniwatch_core::backoff`]), and never past the
/// interval (a failing IMDS is not read less often than a healthy one).
fn imds_retry_wait(failures: u32, interval: Duration, draw: &mut impl Draw) -> Duration {
    Backoff::new(IMDS_RETRY, 2, interval)
        .with_jitter_percent(20)
        .delay(failures, draw)
        .min(interval)
}

/// The least age of IMDS data before a new finding makes the loop re-read it.
const IMDS_RECHECK: Duration = Duration::from_secs(5);

/// How the loop paces itself.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub imds_interval: Duration,
    pub grace: Duration,
    pub debounce: Duration,
    /// Upper bound between two cycles even when nothing changes.
    pub idle_cycle: Duration,
}

/// Request counters: every outside system's requests by target and outcome,
/// and EC2's calls by operation and outcome.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub requests: RequestCounts,
    pub ec2: RequestCounts,
}

/// Outside effects of a cycle: metrics, events, condition. Implemented by
/// the daemon's sinks; a test can pass its own.
pub trait Sinks: Send {
    fn cycle(
        &mut self,
        outcome: &Arc<CycleOutcome>,
        counts: &Counters,
    ) -> impl Future<Output = ()> + Send;
}

/// The loop's own state between cycles.
pub struct Looper {
    sources: SourceConfig,
    pace: LoopConfig,
    imds: Option<ImdsClient>,
    last_imds: Observed<InstanceMetadata>,
    imds_next: tokio::time::Instant,
    /// When IMDS was last read (successfully or not).
    imds_read_at: Option<Instant>,
    /// Timer reads since the last full read.
    light_reads: u32,
    /// The next IMDS read must be a full one (a link came or went).
    imds_full: bool,
    /// Failed IMDS reads in a row (for the retry backoff).
    imds_failures: u32,
    settler: Settler,
    /// Which sources are down, for one log line per outage.
    outages: OutageLog,
    cluster: Option<ClusterWatch>,
    witnesses: WitnessSources,
    /// The last cycle's findings say the node wants addresses.
    wants_addresses: bool,
    /// When the last full cycle (kernel, witnesses, checks) began: ipamd
    /// and EC2 announce no changes, so one runs at least every idle cycle.
    last_full: Option<tokio::time::Instant>,
    counts: Counters,
    state: SharedState,
}

impl Looper {
    pub fn new(
        sources: SourceConfig,
        pace: LoopConfig,
        cluster: Option<ClusterWatch>,
        counts: Counters,
        state: SharedState,
    ) -> Looper {
        let imds =
            ImdsClient::new(sources.imds.clone()).map(|c| c.with_counts(counts.requests.clone()));
        let witnesses = WitnessSources::new(&sources, counts.ec2.clone(), counts.requests.clone())
            .defer_first_ec2();
        let last_imds = match &imds {
            Ok(_) => Err(Unavailable::new("imds", "not read yet")),
            Err(e) => Err(Unavailable::new("imds", e.to_string()).with_kind("invalid")),
        };
        Looper {
            settler: Settler::new(pace.grace),
            outages: OutageLog::new(Instant::now()),
            sources,
            pace,
            imds: imds.ok(),
            last_imds,
            imds_next: tokio::time::Instant::now(),
            imds_read_at: None,
            light_reads: 0,
            imds_full: true,
            imds_failures: 0,
            cluster,
            witnesses,
            wants_addresses: true,
            last_full: None,
            counts,
            state,
        }
    }

    /// Runs until `shutdown` resolves.
    pub async fn run<S: Sinks>(
        mut self,
        sinks: &mut S,
        mut wake: mpsc::Receiver<()>,
        shutdown: impl Future<Output = ()>,
    ) {
        let (kernel_tx, mut kernel_rx) = mpsc::channel::<KernelChange>(64);
        if let Err(e) = kernel_watch::spawn(kernel_tx, self.sources.veth_prefix.clone()) {
            tracing::warn!(error = %e, "cannot subscribe to netlink changes; the kernel is re-read on other triggers only");
        }
        let mut shutdown = std::pin::pin!(shutdown);
        let mut timer_only = false;
        loop {
            self.cycle(sinks, timer_only).await;
            self.state.heartbeat();
            // The first report went out without EC2: ask it now, not at the next trigger.
            let ec2_now = self.witnesses.take_deferred();
            let settle_at = self
                .settler
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            // From the last full cycle: IMDS timer wakes that find nothing
            // new end early and must not push the idle cycle out for ever.
            let idle_at =
                self.last_full.unwrap_or_else(tokio::time::Instant::now) + self.pace.idle_cycle;
            let now = ec2_now.then(tokio::time::Instant::now);
            let wake_at = [Some(self.imds_next), settle_at, Some(idle_at), now]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(idle_at);
            timer_only = false;
            tokio::select! {
                _ = &mut shutdown => return,
                Some(change) = kernel_rx.recv() => self.note(change),
                Some(()) = wake.recv() => {}
                _ = sleep_until(wake_at) => timer_only = !ec2_now && settle_at.is_none_or(|t| t > wake_at),
            }
            // Debounce: let the burst that woke us finish, then read once.
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.pace.debounce) => {}
            }
            while let Ok(change) = kernel_rx.try_recv() {
                self.note(change);
                timer_only = false;
            }
            while wake.try_recv().is_ok() {
                timer_only = false;
            }
        }
    }

    /// A link came or went: re-read IMDS in the next cycle.
    fn note(&mut self, change: KernelChange) {
        if change == KernelChange::Link {
            self.imds_next = tokio::time::Instant::now();
            self.imds_full = true;
        }
    }

    /// One cycle. `timer_only`: woken by a timer alone (IMDS or idle); when
    /// IMDS then says nothing new, there is nothing new to judge: kernel and
    /// API changes wake the loop themselves.
    async fn cycle<S: Sinks>(&mut self, sinks: &mut S, timer_only: bool) {
        let started = Instant::now();
        let limit = self.sources.gather_timeout;
        if tokio::time::Instant::now() >= self.imds_next {
            if let Some(client) = &self.imds {
                let light = !self.imds_full && self.light_reads < FULL_READ_EVERY;
                let read = match (&self.last_imds, light) {
                    (Ok(prev), true) => {
                        self.light_reads += 1;
                        bounded("imds", limit, imds::refresh_addresses(client, prev)).await
                    }
                    _ => {
                        self.light_reads = 0;
                        bounded("imds", limit, imds::read_instance_metadata(client)).await
                    }
                };
                self.imds_full = read.is_err();
                // A failed read is retried sooner, with exponential backoff
                // (5 s, 10 s, 20 s, ... up to the interval; see imds_retry_wait).
                self.imds_failures = if read.is_err() {
                    self.imds_failures.saturating_add(1)
                } else {
                    0
                };
                let wait = match self.imds_failures {
                    0 => self.pace.imds_interval,
                    n => imds_retry_wait(n, self.pace.imds_interval, &mut fastrand::Rng::new()),
                };
                let unchanged = read == self.last_imds;
                self.last_imds = read;
                self.imds_read_at = Some(Instant::now());
                self.imds_next = tokio::time::Instant::now() + wait;
                let idle_due = self
                    .last_full
                    .is_none_or(|t| t.elapsed() >= self.pace.idle_cycle);
                if timer_only && unchanged && self.state.ready() && !idle_due {
                    return;
                }
            } else {
                // No client (bad endpoint): nothing to read, ever.
                self.imds_next = tokio::time::Instant::now() + self.pace.imds_interval;
            }
        }
        self.last_full = Some(tokio::time::Instant::now());
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
        self.witnesses
            .observe(&mut snapshot, self.wants_addresses, limit, Instant::now())
            .await;
        let (evaluation, report) = Report::judge(&snapshot);
        self.wants_addresses = evaluation.findings.iter().any(|f| {
            matches!(
                f.reason,
                Reason::WarmPoolBelowTarget
                    | Reason::WarmPoolExhausted
                    | Reason::SubnetNearlyExhausted
            )
        });
        outages::log(&self.outages.observe(&report.sources, Instant::now()));
        let transitions = self.settle(&evaluation, limit).await;
        // A finding that is new may only mean IMDS moved on since it was read
        // (IPs added to the warm pool, an ENI attached): read it again before
        // the finding can come of age, at most once per IMDS_RECHECK.
        let imds_stale = self
            .imds_read_at
            .is_none_or(|t| t.elapsed() >= IMDS_RECHECK);
        if !self.settler.settling().is_empty() && imds_stale {
            self.imds_next = tokio::time::Instant::now();
        }
        let active: Vec<_> = self.settler.active().into_iter().cloned().collect();
        let checks = settled_checks(&evaluation.checks, &active);
        let outcome = Arc::new(CycleOutcome {
            at: SystemTime::now(),
            duration: started.elapsed(),
            report,
            checks,
            settling: self.settler.settling().into_iter().cloned().collect(),
            active,
            transitions,
            snapshot,
        });
        sinks.cycle(&outcome, &self.counts).await;
        self.state.publish(outcome);
    }
}

impl Looper {
    /// Settles this cycle's findings into transitions (and logs them). Pod
    /// findings about to come of age are confirmed first (see [`confirm`]):
    /// the mirror of the pods may lag the API server.
    async fn settle(&mut self, evaluation: &Evaluation, limit: Duration) -> Vec<Transition> {
        let unknown: Vec<&str> = evaluation
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Unknown)
            .map(|c| c.name)
            .collect();
        let unjudged = |check: &str| unknown.contains(&check);
        let findings = match &self.cluster {
            Some(w) => {
                let (settler, found) = (&mut self.settler, &evaluation.findings);
                confirm::confirm(w, settler, found, &unjudged, limit, Instant::now()).await
            }
            None => evaluation.findings.clone(),
        };
        let transitions = self.settler.observe(&findings, &unjudged, Instant::now());
        for t in &transitions {
            let f = t.finding();
            match t {
                Transition::Began(_) => {
                    tracing::warn!(reason = %f.reason, subject = %f.subject, message = %f.message, "drift began")
                }
                Transition::Resolved(_) => {
                    tracing::info!(reason = %f.reason, subject = %f.subject, "drift resolved")
                }
            }
        }
        transitions
    }
}

/// Check statuses after settling: drift only where a finding is past the
/// grace period; a check whose findings are all settling is still ok.
fn settled_checks(
    raw: &[CheckResult],
    active: &[eniwatch_core::checks::Finding],
) -> Vec<CheckResult> {
    raw.iter()
        .map(|c| {
            let n = active
                .iter()
                .filter(|f| f.check == c.name && f.is_drift())
                .count();
            let mut c = c.clone();
            if n > 0 {
                c.status = CheckStatus::Drift;
                c.detail = format!("{n} drift finding{}", if n == 1 { "" } else { "s" });
            } else if c.status == CheckStatus::Drift {
                c.status = CheckStatus::Ok;
                c.detail = format!("settling: {}", c.detail);
            }
            c
        })
        .collect()
}
