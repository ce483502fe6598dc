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

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::checks::{Finding, Reason, Subject};

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
/// - `ENINotAttached`: EC2's answers are eventually consistent and are asked
///   at most once a minute; two answers must agree.
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
    first_seen: Instant,
    active: bool,
}

/// Tracks findings across cycles and decides which count as drift.
#[derive(Debug, Clone)]
pub struct Settler {
    grace: Duration,
    tracked: BTreeMap<FindingKey, Tracked>,
}

impl Settler {
    pub fn new(grace: Duration) -> Settler {
        Settler {
            grace,
            tracked: BTreeMap::new(),
        }
    }

    /// Feeds one cycle's findings. `unjudged` says, per check name, whether
    /// the check could not run this cycle (its findings are then neither
    /// renewed nor resolved: a source outage must not resolve a drift, nor
    /// raise one). Returns the transitions.
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
        // their check could not judge this cycle.
        let gone: Vec<FindingKey> = self
            .tracked
            .iter()
            .filter(|(k, t)| !seen.contains_key(*k) && !unjudged(t.finding.check))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            if let Some(t) = self.tracked.remove(&k) {
                if t.active {
                    out.push(Transition::Resolved(t.finding));
                }
            }
        }
        for (k, f) in seen {
            let grace = self.grace_for(f.reason);
            let t = self.tracked.entry(k).or_insert_with(|| Tracked {
                finding: f.clone(),
                first_seen: now,
                active: false,
            });
            t.finding = f.clone();
            if !t.active && now.saturating_duration_since(t.first_seen) >= grace {
                t.active = true;
                out.push(Transition::Began(f.clone()));
            }
        }
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
    pub fn next_deadline(&self) -> Option<Instant> {
        self.tracked
            .values()
            .filter(|t| !t.active)
            .map(|t| t.first_seen + self.grace_for(t.finding.reason))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(reason: Reason, pod: &str) -> Finding {
        Finding::new(
            "pod-routes",
            reason,
            Subject::pod(Some("ns".into()), pod),
            format!("{pod} broken"),
        )
    }

    const NEVER: &dyn Fn(&str) -> bool = &|_| false;

    #[test]
    fn lagging_witnesses_settle_for_their_floor_even_with_no_grace() {
        let t0 = Instant::now();
        let mut s = Settler::new(Duration::ZERO);
        let lagging = Finding::new(
            "ipamd-state",
            Reason::IPAMDStateMismatch,
            Subject::pod(None, "100.64.1.13"),
            "leaked".into(),
        );
        let kernel = f(Reason::PodRouteMissing, "a");
        let both = [lagging.clone(), kernel.clone()];
        let began = s.observe(&both, NEVER, t0);
        assert_eq!(began, vec![Transition::Began(kernel)], "no floor: at once");
        assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(90)));
        assert!(s
            .observe(&both, NEVER, t0 + Duration::from_secs(89))
            .is_empty());
        assert_eq!(
            s.observe(&both, NEVER, t0 + Duration::from_secs(90)),
            vec![Transition::Began(lagging)]
        );
    }

    #[test]
    fn drift_begins_only_after_the_grace_period() {
        let t0 = Instant::now();
        let mut s = Settler::new(Duration::from_secs(10));
        let a = f(Reason::PodRouteMissing, "a");
        assert!(s.observe(std::slice::from_ref(&a), NEVER, t0).is_empty());
        assert!(s
            .observe(std::slice::from_ref(&a), NEVER, t0 + Duration::from_secs(5))
            .is_empty());
        assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(10)));
        let tr = s.observe(
            std::slice::from_ref(&a),
            NEVER,
            t0 + Duration::from_secs(10),
        );
        assert_eq!(tr, vec![Transition::Began(a.clone())]);
        assert_eq!(s.active().len(), 1);
        // Still there: no new transition.
        assert!(s
            .observe(
                std::slice::from_ref(&a),
                NEVER,
                t0 + Duration::from_secs(20)
            )
            .is_empty());
        // Gone: resolved.
        let tr = s.observe(&[], NEVER, t0 + Duration::from_secs(21));
        assert_eq!(tr, vec![Transition::Resolved(a)]);
        assert!(s.active().is_empty());
    }

    #[test]
    fn a_blip_shorter_than_the_grace_period_is_never_reported() {
        let t0 = Instant::now();
        let mut s = Settler::new(Duration::from_secs(10));
        let a = f(Reason::PodRuleMissing, "a");
        assert!(s.observe(std::slice::from_ref(&a), NEVER, t0).is_empty());
        assert!(s
            .observe(&[], NEVER, t0 + Duration::from_secs(3))
            .is_empty());
        assert!(s
            .observe(std::slice::from_ref(&a), NEVER, t0 + Duration::from_secs(4))
            .is_empty());
        assert_eq!(
            s.next_deadline(),
            Some(t0 + Duration::from_secs(14)),
            "the clock restarts"
        );
    }

    #[test]
    fn zero_grace_reports_at_once() {
        let t0 = Instant::now();
        let mut s = Settler::new(Duration::ZERO);
        let a = f(Reason::PodRouteMissing, "a");
        assert_eq!(s.observe(std::slice::from_ref(&a), NEVER, t0).len(), 1);
    }

    #[test]
    fn an_outage_neither_resolves_nor_raises() {
        let t0 = Instant::now();
        let mut s = Settler::new(Duration::ZERO);
        let a = f(Reason::PodRouteMissing, "a");
        s.observe(std::slice::from_ref(&a), NEVER, t0);
        let outage: &dyn Fn(&str) -> bool = &|check| check == "pod-routes";
        assert!(s
            .observe(&[], outage, t0 + Duration::from_secs(1))
            .is_empty());
        assert_eq!(s.active().len(), 1, "still active through the outage");
    }

    #[test]
    fn message_changes_do_not_restart_the_clock() {
        let t0 = Instant::now();
        let mut s = Settler::new(Duration::from_secs(10));
        let mut a = f(Reason::PodRouteMissing, "a");
        s.observe(std::slice::from_ref(&a), NEVER, t0);
        a.message = "other words".into();
        let tr = s.observe(
            std::slice::from_ref(&a),
            NEVER,
            t0 + Duration::from_secs(10),
        );
        assert_eq!(tr.len(), 1);
        assert_eq!(tr[0].finding().message, "other words");
    }
}
