//! The API sinks' task: events and the node condition, written from the
//! cycles the loop queues (see [`super::sinks`] for the queue's policy).
//!
//! The task also wakes on its own when something is due between cycles: an
//! aggregate event or a resolution waiting for budget
//! (`events_budget.rs`), a held condition turning `Unknown`
//! ([`super::condition`]). Failed writes are logged once per streak
//! ([`super::write_log`]) and retried by the next cycle or wake.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use super::condition::{outage, ConditionSink};
use super::events::EventSink;
use super::settle::Transition;
use super::write_log::{log_failure, log_success, WriteStreak};
use super::CycleOutcome;

/// Cycles waiting for the API sinks before new ones are dropped.
pub const API_QUEUE: usize = 32;

/// The API sinks and the last cycle they were given.
pub struct ApiSinks {
    events: Option<EventSink>,
    condition: Option<ConditionSink>,
    last: Option<Arc<CycleOutcome>>,
    /// Failed writes are logged once per streak, not once per retry.
    event_writes: WriteStreak,
    condition_writes: WriteStreak,
}

impl ApiSinks {
    pub fn new(events: Option<EventSink>, condition: Option<ConditionSink>) -> ApiSinks {
        ApiSinks {
            events,
            condition,
            last: None,
            event_writes: WriteStreak::default(),
            condition_writes: WriteStreak::default(),
        }
    }
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
        // Out of scope (IPv6, Windows, hybrid, Fargate, no VPC CNI): eniwatch
        // has nothing to say on the API, neither events nor a condition.
        if outcome.report.not_applicable.is_some() {
            self.last = None;
            return;
        }
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
        c.set_mode(outcome.report.mode.words.clone());
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
pub async fn run(mut rx: mpsc::Receiver<Arc<CycleOutcome>>, mut sinks: ApiSinks) {
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
