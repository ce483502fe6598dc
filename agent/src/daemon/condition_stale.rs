//! Riding out short outages: while checks are unknown because a source is
//! unavailable (an IMDS blip, an API server restart), the condition keeps
//! the status last judged, saying since when it is stale, for at most
//! `--condition-stale-after` (5 min); `Unknown` after that. Without a status
//! judged before (start-up), or when checks are unknown for another reason,
//! `Unknown` as the checks say. Pure: the caller passes the clock.

use std::time::{Duration, Instant, SystemTime};

use super::{rfc3339, ConditionError, ConditionStatus, Verdict};
use eniwatch_core::model::{Expectation, Snapshot, Unavailable, Witness};

pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(5 * 60);

/// The sources that could not be read, in words ("IMDS unreachable"), or
/// None when every source answered. A stable text (no changing details):
/// it goes into the condition's message, and a message change costs a node
/// status write.
pub fn outage(snapshot: &Snapshot) -> Option<String> {
    let mut down: Vec<&Unavailable> = Vec::new();
    down.extend(snapshot.imds.as_ref().err());
    down.extend(snapshot.kernel.as_ref().err());
    if let Expectation::Kubernetes(Err(u)) = &snapshot.expectation {
        down.push(u);
    }
    if let Witness::On(Err(u)) = &snapshot.cluster_facts {
        down.push(u);
    }
    if let Witness::On(Err(u)) = &snapshot.ipamd {
        down.push(u);
    }
    // A source not asked because another failed: the other one says why.
    let causes: Vec<&Unavailable> = down
        .iter()
        .copied()
        .filter(|u| u.kind != "dependency")
        .collect();
    let shown = if causes.is_empty() { down } else { causes };
    let words: Vec<String> = shown
        .iter()
        .map(|u| format!("{} {}", source_name(u.source), kind_words(u.kind)))
        .collect();
    (!words.is_empty()).then(|| words.join(", "))
}

fn source_name(source: &str) -> &str {
    match source {
        "imds" => "IMDS",
        "kubernetes" => "Kubernetes API",
        "cluster_facts" => "eniwatch-cluster's facts",
        other => other,
    }
}

fn kind_words(kind: &str) -> &str {
    match kind {
        "timeout" => "timed out",
        "not_found" => "not found",
        "invalid" => "answered invalid data",
        "dependency" => "not asked",
        "error" => "failed",
        // unreachable, throttled, unauthorized, forbidden: words already.
        other => other,
    }
}

/// The last judged verdict and the outage since then.
#[derive(Debug, Clone)]
pub struct Hold {
    bound: Duration,
    /// The last `True` or `False` verdict.
    judged: Option<Verdict>,
    /// When the current outage began (monotonic, and as shown).
    since: Option<(Instant, String)>,
    /// The bound has passed: the condition says `Unknown`.
    expired: bool,
}

impl Hold {
    pub fn new(bound: Duration) -> Hold {
        Hold {
            bound,
            judged: None,
            since: None,
            expired: false,
        }
    }

    /// What the condition says, given the checks' `fresh` verdict and the
    /// sources down (see [`outage`]).
    pub fn apply(
        &mut self,
        fresh: Verdict,
        outage: Option<&str>,
        now_instant: Instant,
        now: SystemTime,
    ) -> Result<Verdict, ConditionError> {
        let outage = match outage {
            Some(o) if fresh.status == ConditionStatus::Unknown => o,
            _ => {
                // Judged (or unknown for a reason no waiting cures).
                self.judged = (fresh.status != ConditionStatus::Unknown).then(|| fresh.clone());
                self.since = None;
                self.expired = false;
                return Ok(fresh);
            }
        };
        let Some(judged) = &self.judged else {
            return Ok(fresh);
        };
        let (at, shown) = match &self.since {
            Some(since) => since.clone(),
            None => {
                let stamp = rfc3339(now)?;
                // The time of day: the condition's heartbeat gives the date.
                let shown = stamp
                    .split_once('T')
                    .map_or(stamp.clone(), |(_, t)| t.to_string());
                self.since = Some((now_instant, shown.clone()));
                (now_instant, shown)
            }
        };
        if now_instant.saturating_duration_since(at) >= self.bound {
            self.expired = true;
            return Ok(fresh);
        }
        Ok(Verdict {
            status: judged.status,
            reason: judged.reason.clone(),
            message: format!("{} (stale since {shown}: {outage})", judged.message),
        })
    }

    /// When a held status turns `Unknown` if nothing changes before.
    pub fn deadline(&self) -> Option<Instant> {
        match (&self.judged, &self.since) {
            (Some(_), Some((at, _))) if !self.expired => at.checked_add(self.bound),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "condition_stale_tests.rs"]
mod tests;
