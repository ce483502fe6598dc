//! The daemon loop: wait for a trigger, then run one cycle (gather, judge,
//! settle, hand the outcome to the sinks).
//!
//! Triggers ([`Triggers`]): kernel changes (netlink multicast), Kubernetes
//! watch events, the IMDS timer, the moment a settling finding comes of
//! age, and the idle cycle (ipamd announces no changes, so a full
//! cycle runs at least that often). A burst of triggers is debounced into
//! one cycle. Every cycle re-reads the kernel (a dump takes milliseconds);
//! IMDS is read when its schedule says so ([`pacing`]), so a steady node
//! makes one IMDS read per interval. A cycle woken by a timer alone whose
//! IMDS read brings nothing new ends there: kernel and API changes wake the
//! loop themselves.
//!
//! Each job has its own file: this loop; [`pacing`], the IMDS schedule;
//! `run/cycle.rs`, one cycle's gathering and outcome; `run/settled.rs`,
//! settling and the checks re-judged after it (with `run/confirm.rs`, the
//! pod look-up before a pod finding comes of age); [`outages`], the log of
//! source outages. The outcome's way on to events and the node condition is
//! told in [`super`].
//!
//! Source failures never end the loop: they become *unknown* parts of the
//! snapshot (and metrics), and the next trigger tries again. The loop ends
//! when `shutdown` resolves; the caller bounds the rest of the shutdown.
//!
//! Time is tokio's clock ([`tokio::time::Instant`]) throughout, so that the
//! loop runs on a paused clock in tests as it does on the real one.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::sleep_until;

mod confirm;
mod cycle;
pub mod outages;
pub mod pacing;
mod settled;

use super::kernel_watch::{self, KernelChange};
use super::settle::Settler;
use super::sinks::{Counters, Sinks};
use super::SharedState;
use crate::config::SourceConfig;
use crate::sources::imds::ImdsClient;
use crate::sources::kube_watch::ClusterWatch;
use crate::witnesses::WitnessSources;
use eniwatch_core::model::{InstanceMetadata, Observed, Unavailable};
use outages::OutageLog;
use pacing::ImdsSchedule;

/// How the loop paces itself.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub imds_interval: Duration,
    pub grace: Duration,
    pub debounce: Duration,
    /// Upper bound between two cycles even when nothing changes.
    pub idle_cycle: Duration,
}

/// What wakes the loop besides its own timers.
pub struct Triggers {
    /// The kernel changed (links, addresses, routes, rules).
    pub kernel: mpsc::Receiver<KernelChange>,
    /// The Kubernetes watches saw a change.
    pub wake: mpsc::Receiver<()>,
}

impl Triggers {
    /// Subscribes to the kernel's changes; `wake` is the watches' channel.
    /// Without a netlink subscription the kernel is re-read on the other
    /// triggers only.
    pub fn subscribe(wake: mpsc::Receiver<()>, veth_prefix: String) -> Triggers {
        let (kernel_tx, kernel) = mpsc::channel::<KernelChange>(64);
        if let Err(e) = kernel_watch::spawn(kernel_tx, veth_prefix) {
            tracing::warn!(error = %e, "cannot subscribe to netlink changes; the kernel is re-read on other triggers only");
        }
        Triggers { kernel, wake }
    }

    /// Takes what came in during the debounce; true if anything did.
    fn drain(&mut self, looper: &mut Looper) -> bool {
        let mut any = false;
        while let Ok(change) = self.kernel.try_recv() {
            looper.note(change);
            any = true;
        }
        while self.wake.try_recv().is_ok() {
            any = true;
        }
        any
    }
}

/// The loop's own state between cycles.
pub struct Looper {
    sources: SourceConfig,
    pace: LoopConfig,
    imds: Option<ImdsClient>,
    last_imds: Observed<InstanceMetadata>,
    schedule: ImdsSchedule,
    settler: Settler,
    /// Which sources are down, for one log line per outage.
    outages: OutageLog,
    cluster: Option<ClusterWatch>,
    witnesses: WitnessSources,
    /// The last cycle's findings say the node wants addresses.
    wants_addresses: bool,
    /// When the last full cycle (kernel, witnesses, checks) began: ipamd
    /// announces no changes, so one runs at least every idle cycle.
    last_full: Option<tokio::time::Instant>,
    counts: Counters,
    state: SharedState,
}

/// When the loop wakes next if no trigger comes, and whether that is a
/// timer alone (IMDS or idle, not a settle deadline).
struct Wake {
    at: tokio::time::Instant,
    timer_only: bool,
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
        let witnesses = WitnessSources::new(&sources, counts.requests.clone());
        let last_imds = match &imds {
            Ok(_) => Err(Unavailable::new("imds", "not read yet")),
            Err(e) => Err(Unavailable::new("imds", e.to_string()).with_kind("invalid")),
        };
        Looper {
            settler: Settler::new(pace.grace),
            outages: OutageLog::new(now()),
            schedule: ImdsSchedule::new(pace.imds_interval, tokio::time::Instant::now()),
            sources,
            pace,
            imds: imds.ok(),
            last_imds,
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
        mut triggers: Triggers,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut timer_only = false;
        loop {
            self.cycle(sinks, timer_only).await;
            self.state.heartbeat();
            let wake = self.next_wake();
            timer_only = false;
            tokio::select! {
                _ = &mut shutdown => return,
                Some(change) = triggers.kernel.recv() => self.note(change),
                Some(()) = triggers.wake.recv() => {}
                _ = sleep_until(wake.at) => timer_only = wake.timer_only,
            }
            // Debounce: let the burst that woke us finish, then read once.
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.pace.debounce) => {}
            }
            if triggers.drain(&mut self) {
                timer_only = false;
            }
        }
    }

    /// The earliest of: the IMDS schedule, a settling finding's deadline,
    /// and the idle cycle.
    fn next_wake(&mut self) -> Wake {
        let settle_at = self
            .settler
            .next_deadline()
            .map(tokio::time::Instant::from_std);
        // From the last full cycle: IMDS timer wakes that find nothing
        // new end early and must not push the idle cycle out for ever.
        let idle_at =
            self.last_full.unwrap_or_else(tokio::time::Instant::now) + self.pace.idle_cycle;
        let at = [Some(self.schedule.next()), settle_at, Some(idle_at)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(idle_at);
        Wake {
            at,
            timer_only: settle_at.is_none_or(|t| t > at),
        }
    }

    /// A link came or went: re-read IMDS, fully, in the next cycle.
    fn note(&mut self, change: KernelChange) {
        if change == KernelChange::Link {
            self.schedule.link_changed(tokio::time::Instant::now());
        }
    }
}

/// Now, on the loop's clock (tokio's: paused in tests), as the
/// `std::time::Instant` the settler and the outage log take.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
#[path = "run/loop_harness.rs"]
mod loop_harness;
#[cfg(test)]
#[path = "run/loop_tests.rs"]
mod loop_tests;
