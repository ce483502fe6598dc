//! Settling a cycle's findings, and the checks re-judged after it.
//!
//! A finding counts as drift only once it has persisted for the grace
//! period ([`crate::daemon::settle`]); a check whose findings are all still
//! settling reads `ok` (its detail says `settling`). Pod findings about to
//! come of age are first confirmed against the API server
//! ([`super::confirm`]): the mirror of the pods may lag it. The transitions
//! (`began`, `resolved`) are logged here, once each, and go on to the sinks
//! in the cycle's outcome.

use std::time::Duration;

use super::{confirm, now, Looper};
use crate::daemon::Transition;
use eniwatch_core::checks::{CheckResult, CheckStatus, Evaluation, Finding, Reason};

impl Looper {
    /// Settles this cycle's findings into transitions (and logs them).
    pub(super) async fn settle(
        &mut self,
        evaluation: &Evaluation,
        limit: Duration,
    ) -> Vec<Transition> {
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
                confirm::confirm(w, settler, found, &unjudged, limit, now()).await
            }
            None => evaluation.findings.clone(),
        };
        let transitions = self.settler.observe(&findings, &unjudged, now());
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

/// The findings say the node wants addresses (the witnesses then read the
/// pod subnet's free addresses too).
pub(super) fn wants_addresses(evaluation: &Evaluation) -> bool {
    evaluation.findings.iter().any(|f| {
        matches!(
            f.reason,
            Reason::WarmPoolBelowTarget | Reason::WarmPoolExhausted | Reason::SubnetNearlyExhausted
        )
    })
}

/// Check statuses after settling: drift only where a finding is past the
/// grace period; a check whose findings are all settling is still ok.
pub(super) fn settled_checks(raw: &[CheckResult], active: &[Finding]) -> Vec<CheckResult> {
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
