//! Settling: a finding counts as drift only once it has persisted for the
//! grace period, because the CNI, IMDS and the API server do not change in
//! the same instant (a pod's route appears milliseconds before its IP shows
//! in IMDS; a new ENI is in IMDS before the CNI configures it).
//!
//! Some reasons compare witnesses that lag one another by more than the
//! grace period, so they settle for at least a floor of their own
//! ([`settle_floor`]), whatever `--grace-period` says.
//!
//! Pure: the caller passes the clock. A finding is identified by its reason
//! and subject, not its message (which may carry changing numbers).
//!
//! Every finding of the evaluation settles, informational ones too (their
//! events and metrics also wait out the grace period); whether one is drift
//! is [`Finding::is_drift`], which the condition and the events ask.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use eniwatch_core::checks::{Finding, Reason, Subject};

/// Identity of a finding across cycles.
pub type FindingKey = (Reason, Subject);

pub fn key(f: &Finding) -> FindingKey {
    (f.reason, f.subject.clone())
}

/// The least time a finding of `reason` must persist, because the sources it
/// compares are known to disagree for a while in normal operation:
/// - `IPAMDStateMismatch`: ipamd's datastore changes the moment EC2 answers
///   it; IMDS shows new or removed addresses and ENIs tens of seconds later
///   (the CNI itself waits for IMDS to catch up).
/// - `ENINotAttached`: EC2's answers are eventually consistent, and
///   eniwatch-cluster publishes them at most once a minute (after its own
///   attach grace); IMDS may have moved on meanwhile.
/// - `WarmPoolBelowTarget`, `WarmPoolExhausted`: refilling the pool means
///   creating and attaching an ENI or assigning addresses, then waiting for
///   IMDS, which takes up to a minute or so at node start or under a burst.
pub fn settle_floor(reason: Reason) -> Duration {
    match reason {
        Reason::IPAMDStateMismatch | Reason::WarmPoolExhausted => Duration::from_secs(90),
        Reason::WarmPoolBelowTarget => Duration::from_secs(120),
        Reason::ENINotAttached => Duration::from_secs(150),
        _ => Duration::ZERO,
    }
}

/// A change in what counts as drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "transition", rename_all = "snake_case")]
pub enum Transition {
    /// The finding persisted past the grace period: a drift began.
    Began(Finding),
    /// A drift that had begun is gone.
    Resolved(Finding),
}

impl Transition {
    pub fn finding(&self) -> &Finding {
        match self {
            Transition::Began(f) | Transition::Resolved(f) => f,
        }
    }
}

#[derive(Debug, Clone)]
struct Tracked {
    finding: Finding,
    /// How long it has been judged present, summed over the stretches
    /// between consecutive cycles that could judge its check.
    present_for: Duration,
    /// The last cycle that judged it present; None once a cycle since could
    /// not judge its check (the clock is paused until one can again).
    last_judged: Option<Instant>,
    active: bool,
}

impl Tracked {
    fn present_at(&self, now: Instant) -> Duration {
        self.present_for
            + self
                .last_judged
                .map_or(Duration::ZERO, |l| now.saturating_duration_since(l))
    }
}

/// Tracks findings across cycles and decides which count as drift.
///
/// Only time *judged present* counts toward the grace period: while a
/// finding's check cannot run (a source is away), its clock is paused, so a
/// finding seen just before an outage does not come of age the moment the
/// source is back, on a view that may not have caught up yet.
#[derive(Debug, Clone)]
pub struct Settler {
    grace: Duration,
    tracked: BTreeMap<FindingKey, Tracked>,
    /// Findings that must not begin before the instant given (their subject
    /// could not be confirmed yet).
    held: BTreeMap<FindingKey, Instant>,
}

impl Settler {
    pub fn new(grace: Duration) -> Settler {
        Settler {
            grace,
            tracked: BTreeMap::new(),
            held: BTreeMap::new(),
        }
    }

    /// The findings of this cycle that would begin as drift if `observe`
    /// were called with the same arguments: the caller may confirm their
    /// subjects first (and leave out, or [`hold`](Self::hold), those it
    /// cannot confirm).
    pub fn due<'a>(
        &self,
        findings: &'a [Finding],
        unjudged: &dyn Fn(&str) -> bool,
        now: Instant,
    ) -> Vec<&'a Finding> {
        findings
            .iter()
            .filter(|f| !unjudged(f.check) && self.comes_of_age(&key(f), f.reason, now))
            .collect()
    }

    /// Keeps a finding from beginning before `until` (e.g. its pod could
    /// not be looked up): it stays settling, and the deadline moves there.
    pub fn hold(&mut self, finding: &Finding, until: Instant) {
        self.held.insert(key(finding), until);
    }

    fn comes_of_age(&self, k: &FindingKey, reason: Reason, now: Instant) -> bool {
        if self.held.get(k).is_some_and(|until| now < *until) {
            return false;
        }
        let present = match self.tracked.get(k) {
            Some(t) if t.active => return false,
            Some(t) => t.present_at(now),
            None => Duration::ZERO,
        };
        present >= self.grace_for(reason)
    }

    /// Feeds one cycle's findings. `unjudged` says, per check name, whether
    /// the check could not run this cycle (its findings are then neither
    /// renewed nor resolved, and their clocks pause: a source outage must
    /// not resolve a drift, nor raise one). Returns the transitions.
    pub fn observe(
        &mut self,
        findings: &[Finding],
        unjudged: &dyn Fn(&str) -> bool,
        now: Instant,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut seen: BTreeMap<FindingKey, &Finding> = BTreeMap::new();
        for f in findings {
            seen.insert(key(f), f);
        }
        // Gone findings: resolve active ones, forget settling ones, unless
        // their check could not judge this cycle (then their clocks pause).
        let mut gone = Vec::new();
        for (k, t) in self.tracked.iter_mut() {
            if unjudged(t.finding.check) {
                t.last_judged = None;
            } else if !seen.contains_key(k) {
                gone.push(k.clone());
            }
        }
        for k in gone {
            self.held.remove(&k);
            if let Some(t) = self.tracked.remove(&k) {
                if t.active {
                    out.push(Transition::Resolved(t.finding));
                }
            }
        }
        for (k, f) in seen {
            let judged = !unjudged(f.check);
            let begins = judged && self.comes_of_age(&k, f.reason, now);
            let t = self.tracked.entry(k.clone()).or_insert_with(|| Tracked {
                finding: f.clone(),
                present_for: Duration::ZERO,
                last_judged: None,
                active: false,
            });
            t.finding = f.clone();
            if !judged {
                continue;
            }
            t.present_for = t.present_at(now);
            t.last_judged = Some(now);
            if begins {
                t.active = true;
                self.held.remove(&k);
                out.push(Transition::Began(f.clone()));
            }
        }
        self.held.retain(|k, _| self.tracked.contains_key(k));
        out
    }

    fn grace_for(&self, reason: Reason) -> Duration {
        self.grace.max(settle_floor(reason))
    }

    /// Findings that count as drift now.
    pub fn active(&self) -> Vec<&Finding> {
        self.tracked
            .values()
            .filter(|t| t.active)
            .map(|t| &t.finding)
            .collect()
    }

    /// Findings seen but still within the grace period.
    pub fn settling(&self) -> Vec<&Finding> {
        self.tracked
            .values()
            .filter(|t| !t.active)
            .map(|t| &t.finding)
            .collect()
    }

    /// When the earliest settling finding comes of age, if any: the loop
    /// wakes then, so a drift is reported even if nothing else changes.
    /// Paused findings have no deadline: the cycle that judges their check
    /// again restarts their clocks.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.tracked
            .iter()
            .filter(|(_, t)| !t.active)
            .filter_map(|(k, t)| {
                let last = t.last_judged?;
                let left = self
                    .grace_for(t.finding.reason)
                    .saturating_sub(t.present_for);
                let due = last + left;
                Some(self.held.get(k).map_or(due, |h| due.max(*h)))
            })
            .min()
    }
}

#[cfg(test)]
#[path = "settle_tests.rs"]
mod tests;
