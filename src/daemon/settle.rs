//! Settling: a finding counts as drift only once it has persisted for the
//! grace period, because the CNI, IMDS and the API server do not change in
//! the same instant (a pod's route appears milliseconds before its IP shows
//! in IMDS; a new ENI is in IMDS before the CNI configures it).
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
            let t = self.tracked.entry(k).or_insert_with(|| Tracked {
                finding: f.clone(),
                first_seen: now,
                active: false,
            });
            t.finding = f.clone();
            if !t.active && now.saturating_duration_since(t.first_seen) >= self.grace {
                t.active = true;
                out.push(Transition::Began(f.clone()));
            }
        }
        out
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
            .map(|t| t.first_seen + self.grace)
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
