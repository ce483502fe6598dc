//! The checks: pure functions from a [`Snapshot`] to statuses and findings.
//!
//! No I/O, no clock, no globals. Each check returns a [`CheckResult`] and its
//! findings; a check that lacks an input says *unknown* and why, never *ok* and
//! never a drift it cannot prove. The list of checks and the reasons each can
//! raise:
//!
//! | check | reasons |
//! |---|---|
//! | `eniconfig` | `ENIConfigNotFound` |
//! | `eni-subnet` | `CustomNetworkingNotApplied`, `SecondaryENIWrongSubnet` |
//! | `eni-security-groups` | `SecondaryENIWrongSecurityGroups` |
//! | `eni-configured` | `ENINotConfigured` |
//! | `pod-subnet` | `PodIPOutsideENIConfigSubnet` |
//! | `pod-ip-on-eni` | `PodIPNotOnAnyENI` |
//! | `pod-routes` | `PodRouteMissing` |
//! | `pod-rules` | `PodRuleMissing`, `PodRuleWrongTable` |
//! | `cni-settings` | `CustomNetworkingDisabled`, `ENIConfigMismatch` (ipamd) |
//! | `eniconfig-subnet` | `ENIConfigSubnetNotFound`, `ENIConfigSubnetZoneMismatch` (EC2) |
//! | `subnet-headroom` | `SubnetNearlyExhausted` (EC2) |
//! | `max-pods` | `MaxPodsExceedsCapacity` (EC2) |
//! | `warm-pool` | `WarmPoolBelowTarget`, `WarmPoolExhausted`, `ENILimitReached` (informational) |
//! | `eni-attachment` | `ENINotAttached` (EC2) |
//! | `ipamd-state` | `IPAMDStateMismatch` (ipamd) |
//! | `pod-traffic` | `PodTrafficShadowed` |
//!
//! A check that needs a witness switched off (`--no-ec2`, `--no-ipamd`) is
//! *skipped*; an informational finding leaves its check *ok*.

pub mod capacity;
mod cni_rules;
pub mod context;
mod dataplane;
mod eni_placement;
mod eniconfig;
pub mod finding;
#[cfg(test)]
pub(crate) mod fixture;
mod ipamd_addresses;
#[cfg(test)]
mod ipamd_addresses_tests;
mod pod_placement;
mod pod_traffic;
#[cfg(test)]
mod pod_traffic_tests;
pub mod pool;
#[cfg(test)]
mod pool_tests;
mod rule_text;
pub mod selection;
pub mod subnet;
#[cfg(test)]
mod tests;
mod witness;
#[cfg(test)]
mod witness_tests;

pub use context::{Context, EniRole, EniView, Expected, NoExpectation};
pub use finding::{CheckResult, CheckStatus, Finding, Reason, Severity, Subject, SubjectKind};
pub use pool::PoolFacts;

use crate::model::Snapshot;

/// Every check's status and every finding, for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evaluation {
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
}

impl Evaluation {
    /// The worst status over all checks.
    pub fn overall(&self) -> CheckStatus {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Unknown)
    }
}

/// What one check produced.
pub(crate) struct Outcome {
    pub findings: Vec<Finding>,
    /// Some: part of the check could not be judged, and why.
    pub unknown: Option<String>,
    /// One line for an ok (or skipped) result.
    pub ok_detail: String,
    /// Not run: the witness it needs is off.
    pub skipped: bool,
}

impl Outcome {
    pub fn unknown(reason: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: Some(reason.into()),
            ok_detail: String::new(),
            skipped: false,
        }
    }

    pub fn ok(detail: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: None,
            ok_detail: detail.into(),
            skipped: false,
        }
    }

    pub fn skipped(why: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: None,
            ok_detail: why.into(),
            skipped: true,
        }
    }

    fn into_result(self, name: &'static str) -> (CheckResult, Vec<Finding>) {
        let drift = self
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .count();
        let (status, detail) = if drift > 0 {
            let n = drift;
            let mut detail = format!("{n} finding{}", if n == 1 { "" } else { "s" });
            if let Some(u) = &self.unknown {
                detail.push_str(&format!("; also not judged: {u}"));
            }
            (CheckStatus::Drift, detail)
        } else if let Some(u) = self.unknown {
            (CheckStatus::Unknown, u)
        } else if self.skipped {
            (CheckStatus::Skipped, self.ok_detail)
        } else if !self.findings.is_empty() {
            let notes: Vec<&str> = self.findings.iter().map(|f| f.reason.as_str()).collect();
            (
                CheckStatus::Ok,
                format!("{}; noted: {}", self.ok_detail, notes.join(", ")),
            )
        } else {
            (CheckStatus::Ok, self.ok_detail)
        };
        (
            CheckResult {
                name,
                status,
                detail,
            },
            self.findings,
        )
    }
}

type CheckFn = fn(&Context) -> Outcome;

/// The checks in report order.
const CHECKS: &[(&str, CheckFn)] = &[
    ("eniconfig", eniconfig::eniconfig_selected),
    ("eni-subnet", eni_placement::eni_subnet),
    ("eni-security-groups", eni_placement::eni_security_groups),
    ("eni-configured", dataplane::eni_configured),
    ("pod-subnet", pod_placement::pod_subnet),
    ("pod-ip-on-eni", pod_placement::pod_ip_on_eni),
    ("pod-routes", dataplane::pod_routes),
    ("pod-rules", dataplane::pod_rules),
    ("cni-settings", witness::cni_settings),
    ("eniconfig-subnet", subnet::eniconfig_subnet),
    ("subnet-headroom", subnet::subnet_headroom),
    ("max-pods", capacity::max_pods_fit),
    ("warm-pool", pool::warm_pool),
    ("eni-attachment", witness::eni_attachment),
    ("ipamd-state", witness::ipamd_state),
    ("pod-traffic", pod_traffic::pod_traffic),
];

/// The names of all checks, in report order.
pub fn check_names() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|(name, _)| *name)
}

/// Runs every check on the snapshot.
pub fn evaluate(snapshot: &Snapshot) -> Evaluation {
    let ctx = Context::new(snapshot);
    let mut checks = Vec::with_capacity(CHECKS.len());
    let mut findings = Vec::new();
    for (name, check) in CHECKS {
        let (result, mut found) = check(&ctx).into_result(name);
        for f in &mut found {
            f.check = name;
        }
        checks.push(result);
        findings.append(&mut found);
    }
    Evaluation { checks, findings }
}

/// Why the expectation is missing, in one line, for unknown statuses.
pub(crate) fn no_expectation_detail(ne: &NoExpectation) -> String {
    match ne {
        NoExpectation::NotFound { selection, .. } => format!(
            "ENIConfig {:?} (selected by {}) does not exist, so there is no subnet to compare with",
            selection.name, selection.selected_by
        ),
        NoExpectation::InvalidSubnet { selection } => {
            format!("ENIConfig {:?} has no valid spec.subnet", selection.name)
        }
        NoExpectation::Unavailable { reason } => format!("Kubernetes API: {reason}"),
    }
}
