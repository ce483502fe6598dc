//! The node condition `CustomNetworkingReady`: the current verdict, where
//! `kubectl describe node`, node-condition alerts and remediation tooling
//! look. Events ([`super::events`]) tell the history; this tells the now.
//!
//! Policy:
//! - `True` (reason `NoDrift`): no active drift and every check could judge.
//! - `False`: at least one active drift. Drift outranks unknown checks: a
//!   proven break is worse than an unverified part. The reason is the top
//!   active reason (highest severity, then the first in [`Reason`]'s order);
//!   the message counts findings per reason in that same order, e.g.
//!   "3 drift findings: PodRouteMissing x2, ENINotConfigured x1".
//! - Not written at all on a node out of scope (IPv6, Windows, hybrid,
//!   Fargate, no VPC CNI): eniwatch has nothing to judge there. On standard
//!   and EKS Auto Mode nodes it is written like on any other, its message
//!   starting with the mode.
//! - `Unknown` (reason `ChecksInconclusive`): no drift, but some checks could
//!   not judge. The message names them, without their details: details carry
//!   changing values, and every message change costs a node status write.
//! - A short outage does not flap it: while checks are unknown because a
//!   source is unavailable, the status last judged stays, its message
//!   saying since when it is stale, for at most `--condition-stale-after`
//!   (5 min); see [`stale`].
//! - Written as a strategic-merge patch of `status.conditions` on
//!   `nodes/{name}/status`. The list merges by `type`, so kubelet's
//!   conditions (Ready, ...) are never touched, and there is no
//!   read-modify-write race with kubelet.
//! - Patched only when status, reason or message change, or when the
//!   heartbeat (default 5 min, like kubelet's status reports) has passed
//!   since the last successful patch: a node object is watched by many, so
//!   no write per cycle.
//! - `lastTransitionTime` moves only when `status` changes. The sink keeps
//!   it, seeded on the first update from the condition already on the node,
//!   so a restart of the daemon does not reset it.
//! - Failures are returned as [`ConditionError`] and leave the sink as it
//!   was, so the next update tries again (a condition is state: re-sending
//!   it is harmless, unlike an event).
//! - RBAC: `get` on nodes, `patch` on `nodes/status`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use super::events::{api_error_kind, api_error_message};
use eniwatch_core::checks::{CheckResult, CheckStatus, Finding, Reason, Severity};
use eniwatch_core::sources::kube as kube_source;
use stale::Hold;
pub use stale::{outage, DEFAULT_STALE_AFTER};

#[path = "condition_stale.rs"]
pub mod stale;

pub const CONDITION_TYPE: &str = "CustomNetworkingReady";
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5 * 60);
const FIELD_MANAGER: &str = "eniwatch";

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConditionError {
    #[error("reading node {node}: {message}")]
    Read {
        node: String,
        message: String,
        kind: &'static str,
    },
    #[error("patching the {CONDITION_TYPE} condition of node {node}: {message}")]
    Patch {
        node: String,
        message: String,
        kind: &'static str,
    },
    #[error("the clock is outside what RFC 3339 can say: {0}")]
    Clock(String),
}

impl ConditionError {
    /// A bounded classification, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ConditionError::Read { kind, .. } | ConditionError::Patch { kind, .. } => kind,
            ConditionError::Clock(_) => "clock",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }

    fn parse(s: &str) -> Option<ConditionStatus> {
        [Self::True, Self::False, Self::Unknown]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// What the condition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
}

/// The condition for the active findings and the settled check statuses.
pub fn verdict(active: &[Finding], checks: &[CheckResult]) -> Verdict {
    // Informational findings (a limit reached) are not drift.
    let active: Vec<&Finding> = active.iter().filter(|f| f.is_drift()).collect();
    // Highest severity first, then `Reason`'s order.
    let mut counts: BTreeMap<(std::cmp::Reverse<Severity>, Reason), usize> = BTreeMap::new();
    for f in &active {
        *counts
            .entry((std::cmp::Reverse(f.severity), f.reason))
            .or_insert(0) += 1;
    }
    if let Some(((_, top), _)) = counts.first_key_value() {
        let parts: Vec<String> = counts
            .iter()
            .map(|((_, reason), n)| format!("{reason} x{n}"))
            .collect();
        let noun = if active.len() == 1 {
            "finding"
        } else {
            "findings"
        };
        return Verdict {
            status: ConditionStatus::False,
            reason: top.as_str().into(),
            message: format!("{} drift {noun}: {}", active.len(), parts.join(", ")),
        };
    }
    // Out of scope (the sinks write no condition then; said for completeness).
    if eniwatch_core::checks::mode::out_of_scope_in(checks) {
        return Verdict {
            status: ConditionStatus::Unknown,
            reason: "NotApplicable".into(),
            message: "eniwatch has nothing to judge on this node".into(),
        };
    }
    let unknown: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Unknown)
        .map(|c| c.name)
        .collect();
    if !unknown.is_empty() {
        let noun = if unknown.len() == 1 {
            "check"
        } else {
            "checks"
        };
        return Verdict {
            status: ConditionStatus::Unknown,
            reason: "ChecksInconclusive".into(),
            message: format!(
                "{} {noun} could not judge: {}",
                unknown.len(),
                unknown.join(", ")
            ),
        };
    }
    Verdict {
        status: ConditionStatus::True,
        reason: "NoDrift".into(),
        message: format!("all {} checks pass", checks.len()),
    }
}

/// RFC 3339 in whole seconds, as the API server stores condition times.
fn rfc3339(t: SystemTime) -> Result<String, ConditionError> {
    let ts = Timestamp::try_from(t).map_err(|e| ConditionError::Clock(e.to_string()))?;
    Timestamp::from_second(ts.as_second())
        .map(|ts| ts.to_string())
        .map_err(|e| ConditionError::Clock(e.to_string()))
}

/// Keeps the node's `CustomNetworkingReady` condition current.
#[derive(Clone)]
pub struct ConditionSink {
    client: Client,
    node_name: String,
    heartbeat: Duration,
    /// Whether `since` was seeded from the node.
    seeded: bool,
    /// The status as last decided, and since when (RFC 3339).
    since: Option<(ConditionStatus, String)>,
    /// What the last successful patch said, and when.
    sent: Option<(Verdict, Instant)>,
    /// The status held through a short outage.
    hold: Hold,
    /// The node's networking mode in words, leading the message.
    mode: Option<String>,
}

impl ConditionSink {
    pub fn new(client: Client, node_name: String, heartbeat: Duration) -> ConditionSink {
        ConditionSink {
            client,
            node_name,
            heartbeat,
            seeded: false,
            since: None,
            sent: None,
            hold: Hold::new(DEFAULT_STALE_AFTER),
            mode: None,
        }
    }

    /// The networking mode the message starts with, from the next update on.
    pub fn set_mode(&mut self, words: String) {
        self.mode = Some(words);
    }

    /// How long a judged status is kept while a source is unavailable
    /// (default [`DEFAULT_STALE_AFTER`]; zero: not at all).
    pub fn with_stale_after(mut self, bound: Duration) -> ConditionSink {
        self.hold = Hold::new(bound);
        self
    }

    /// When the condition changes without a new cycle: a status held
    /// through an outage turns `Unknown`. Call [`ConditionSink::update`]
    /// again then.
    pub fn next_wake(&self) -> Option<Instant> {
        self.hold.deadline()
    }

    /// Brings the condition up to date; true when a patch was sent.
    /// `outage`: the sources that could not be read this cycle, in words
    /// ([`outage`]), None when all answered.
    pub async fn update(
        &mut self,
        active: &[Finding],
        checks: &[CheckResult],
        outage: Option<&str>,
        now_instant: Instant,
        now: SystemTime,
    ) -> Result<bool, ConditionError> {
        let mut fresh = verdict(active, checks);
        if let Some(mode) = &self.mode {
            fresh.message = format!("{mode}: {}", fresh.message);
        }
        let verdict = self.hold.apply(fresh, outage, now_instant, now)?;
        if let Some((last, at)) = &self.sent {
            if *last == verdict && now_instant.saturating_duration_since(*at) < self.heartbeat {
                return Ok(false);
            }
        }
        if !self.seeded {
            self.since = self.read_since().await?;
            self.seeded = true;
        }
        let stamp = rfc3339(now)?;
        let transition = match &self.since {
            Some((status, at)) if *status == verdict.status => at.clone(),
            _ => {
                self.since = Some((verdict.status, stamp.clone()));
                stamp.clone()
            }
        };
        let body = json!({"status": {"conditions": [{
            "type": CONDITION_TYPE,
            "status": verdict.status.as_str(),
            "reason": verdict.reason,
            "message": verdict.message,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": transition,
        }]}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        Api::<Node>::all(self.client.clone())
            .patch_status(&self.node_name, &params, &Patch::Strategic(&body))
            .await
            .map_err(|e| ConditionError::Patch {
                node: self.node_name.clone(),
                message: api_error_message(&e),
                kind: api_error_kind(&e),
            })?;
        let changed = self.sent.as_ref().is_none_or(|(last, _)| *last != verdict);
        if changed {
            tracing::info!(
                condition = CONDITION_TYPE,
                status = verdict.status.as_str(),
                reason = %verdict.reason,
                "node condition updated"
            );
        } else {
            tracing::debug!(condition = CONDITION_TYPE, "node condition heartbeat");
        }
        self.sent = Some((verdict, now_instant));
        Ok(true)
    }

    /// The status and lastTransitionTime of the condition already on the node.
    async fn read_since(&self) -> Result<Option<(ConditionStatus, String)>, ConditionError> {
        let node = Api::<Node>::all(self.client.clone())
            .get(&self.node_name)
            .await
            .map_err(|e| ConditionError::Read {
                node: self.node_name.clone(),
                message: kube_source::error_text(&e),
                kind: kube_source::error_kind(&e),
            })?;
        let condition = node
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == CONDITION_TYPE);
        Ok(condition.and_then(|c| {
            let status = ConditionStatus::parse(&c.status)?;
            let at = c.last_transition_time?.0;
            Some((
                status,
                Timestamp::from_second(at.as_second()).ok()?.to_string(),
            ))
        }))
    }
}

#[cfg(test)]
#[path = "condition_tests.rs"]
pub(super) mod tests;
