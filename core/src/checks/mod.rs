//! The checks: pure functions from a [`Snapshot`] to statuses and findings.
//!
//! Judged once, rendered many times: [`evaluate`] builds the one [`Context`]
//! of a snapshot (expectation, ENI roles, pods), runs every check on it, and
//! returns an [`Evaluation`] that carries, next to the statuses and findings,
//! the [`Facts`] the checks judged from: the expectation, the pods'
//! [`placement`] (one classification, which `pod-subnet` turns into
//! findings), the ENIs and the pool and capacity ([`PoolFacts`]). The report,
//! the metrics, the node condition and the settler read those and
//! [`Finding::is_drift`]; none of them builds a `Context` or classifies
//! again, so what they show cannot disagree with what the checks decided.
//!
//! No I/O, no clock, no globals. Each check returns a [`CheckResult`] and its
//! findings; a check that lacks an input says *unknown* and why, never *ok* and
//! never a drift it cannot prove. The list of checks and the reasons each can
//! raise ([`checks_and_reasons`]; a test keeps this table equal to it):
//!
//! | check | reasons |
//! |---|---|
//! | `eniconfig` | `ENIConfigNotFound`, `ENIConfigInvalid` |
//! | `eni-subnet` | `CustomNetworkingNotApplied`, `SecondaryENIWrongSubnet`, `SecondaryENIUnexpectedSubnet` |
//! | `eni-security-groups` | `SecondaryENIWrongSecurityGroups` |
//! | `eni-configured` | `ENINotConfigured` |
//! | `pod-subnet` | `PodIPOutsideENIConfigSubnet`, `PodIPUnexpectedSubnet` |
//! | `pod-ip-on-eni` | `PodIPNotOnAnyENI` |
//! | `pod-routes` | `PodRouteMissing` |
//! | `pod-rules` | `PodRuleMissing`, `PodRuleWrongTable` |
//! | `cni-settings` | `CustomNetworkingDisabled`, `ENIConfigMismatch` (ipamd) |
//! | `eniconfig-subnet` | `ENIConfigSubnetNotFound`, `ENIConfigSubnetZoneMismatch` (published facts) |
//! | `subnet-headroom` | `SubnetNearlyExhausted` (published facts) |
//! | `max-pods` | `MaxPodsExceedsCapacity` (embedded instance limits) |
//! | `warm-pool` | `WarmPoolBelowTarget`, `WarmPoolExhausted`, `ENILimitReached` (informational) |
//! | `eni-attachment` | `ENINotAttached` (published facts) |
//! | `ipamd-state` | `IPAMDStateMismatch` (ipamd) |
//! | `pod-traffic` | `PodTrafficShadowed` |
//!
//! A check that needs a witness switched off (`--no-cluster-facts`, `--no-ipamd`)
//! or eniwatch-cluster's facts where it is not installed is *skipped*; an
//! informational finding leaves its check *ok*. The node's networking mode
//! ([`mode`]: custom networking, standard, EKS Auto Mode, not applicable)
//! decides what the placement checks compare with and which checks do not
//! run. Where IMDS says what cannot be true ([`imds_integrity`]), the checks
//! resting on it are *unknown*.

pub mod capacity;
mod cni_rules;
pub mod context;
mod dataplane;
mod eni_placement;
mod eniconfig;
pub mod facts;
pub mod finding;
#[cfg(any(test, feature = "fixture"))]
pub mod fixture;
pub mod imds_integrity;
mod ipamd_addresses;
#[cfg(test)]
mod ipamd_addresses_tests;
pub mod mode;
pub mod placement;
mod pod_placement;
mod pod_traffic;
#[cfg(test)]
mod pod_traffic_tests;
pub mod pool;
#[cfg(test)]
mod pool_tests;
mod rule_text;
/// The ENIConfig selection, kept at its old path.
pub use crate::expectation::selection;
pub mod subnet;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_applicability;
#[cfg(test)]
mod tests_auto_mode;
#[cfg(test)]
mod tests_declared;
#[cfg(test)]
mod tests_impossible;
#[cfg(test)]
mod tests_placement;
mod witness;
#[cfg(test)]
mod witness_tests;

pub use context::{Context, EniRole, EniView, Expected, NoExpectation};
pub use facts::{EniFacts, Facts};
pub use finding::{CheckResult, CheckStatus, Finding, Reason, Severity, Subject, SubjectKind};
pub use mode::{NetworkingMode, NotApplicable};
pub use placement::{Place, Placement, PodPlacement};
pub use pool::{Addresses, PoolFacts};

use crate::model::Snapshot;
use Reason as R;

/// Every check's status and every finding, for one snapshot, with the facts
/// they were judged from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    /// The node's networking mode, decided once from the snapshot.
    pub mode: NetworkingMode,
    /// Some: the node is out of scope (IPv6, Windows, hybrid, Fargate, no
    /// VPC CNI), and why; every check is then `not_applicable`.
    pub not_applicable: Option<NotApplicable>,
    /// What the checks derived from the snapshot: consumers render these.
    pub facts: Facts,
}

impl Evaluation {
    /// The findings that are drift (not informational).
    pub fn drift(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_drift())
    }

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
    /// Not run: the node does not use what the check judges.
    pub not_applicable: bool,
}

impl Outcome {
    pub fn unknown(reason: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: Some(reason.into()),
            ok_detail: String::new(),
            skipped: false,
            not_applicable: false,
        }
    }

    pub fn ok(detail: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: None,
            ok_detail: detail.into(),
            skipped: false,
            not_applicable: false,
        }
    }

    pub fn skipped(why: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: None,
            ok_detail: why.into(),
            skipped: true,
            not_applicable: false,
        }
    }

    pub fn not_applicable(why: impl Into<String>) -> Outcome {
        Outcome {
            findings: Vec::new(),
            unknown: None,
            ok_detail: why.into(),
            skipped: false,
            not_applicable: true,
        }
    }

    fn into_result(self, name: &'static str) -> (CheckResult, Vec<Finding>) {
        let drift = self.findings.iter().filter(|f| f.is_drift()).count();
        let (status, detail) = if drift > 0 {
            let n = drift;
            let mut detail = format!("{n} finding{}", if n == 1 { "" } else { "s" });
            if let Some(u) = &self.unknown {
                detail.push_str(&format!("; also not judged: {u}"));
            }
            (CheckStatus::Drift, detail)
        } else if self.not_applicable {
            (CheckStatus::NotApplicable, self.ok_detail)
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

/// The checks in report order, each with every reason it can raise: the one
/// list the report, the metrics and the README's table follow.
const CHECKS: &[(&str, CheckFn, &[Reason])] = &[
    (
        "eniconfig",
        eniconfig::eniconfig_selected,
        &[R::ENIConfigNotFound, R::ENIConfigInvalid],
    ),
    (
        "eni-subnet",
        eni_placement::eni_subnet,
        &[
            R::CustomNetworkingNotApplied,
            R::SecondaryENIWrongSubnet,
            R::SecondaryENIUnexpectedSubnet,
        ],
    ),
    (
        "eni-security-groups",
        eni_placement::eni_security_groups,
        &[R::SecondaryENIWrongSecurityGroups],
    ),
    (
        "eni-configured",
        dataplane::eni_configured,
        &[R::ENINotConfigured],
    ),
    (
        "pod-subnet",
        pod_placement::pod_subnet,
        &[R::PodIPOutsideENIConfigSubnet, R::PodIPUnexpectedSubnet],
    ),
    (
        "pod-ip-on-eni",
        pod_placement::pod_ip_on_eni,
        &[R::PodIPNotOnAnyENI],
    ),
    ("pod-routes", dataplane::pod_routes, &[R::PodRouteMissing]),
    (
        "pod-rules",
        dataplane::pod_rules,
        &[R::PodRuleMissing, R::PodRuleWrongTable],
    ),
    (
        "cni-settings",
        witness::cni_settings,
        &[R::CustomNetworkingDisabled, R::ENIConfigMismatch],
    ),
    (
        "eniconfig-subnet",
        subnet::eniconfig_subnet,
        &[R::ENIConfigSubnetNotFound, R::ENIConfigSubnetZoneMismatch],
    ),
    (
        "subnet-headroom",
        subnet::subnet_headroom,
        &[R::SubnetNearlyExhausted],
    ),
    (
        "max-pods",
        capacity::max_pods_fit,
        &[R::MaxPodsExceedsCapacity],
    ),
    (
        "warm-pool",
        pool::warm_pool,
        &[
            R::WarmPoolBelowTarget,
            R::WarmPoolExhausted,
            R::ENILimitReached,
        ],
    ),
    (
        "eni-attachment",
        witness::eni_attachment,
        &[R::ENINotAttached],
    ),
    (
        "ipamd-state",
        witness::ipamd_state,
        &[R::IPAMDStateMismatch],
    ),
    (
        "pod-traffic",
        pod_traffic::pod_traffic,
        &[R::PodTrafficShadowed],
    ),
];

/// The cluster component's checks (eniwatch-cluster), in report order, with
/// the reasons each can raise: what belongs to a subnet or the VPC, judged
/// once per cluster instead of on every node. The functions are in the
/// `eniwatch-cluster` crate; the declaration is here, beside the node's, so
/// that the one reasons table covers both programs. A reason the node agent
/// also raises for its own node (from the published facts) is declared by one
/// check of each program; every other reason by one check of one program.
pub const CLUSTER_CHECKS: &[(&str, &[Reason])] = &[
    (
        "eniconfig-subnets",
        &[R::ENIConfigSubnetNotFound, R::ENIConfigSubnetZoneMismatch],
    ),
    ("zone-coverage", &[R::ENIConfigMissingForZone]),
    (
        "eniconfig-security-groups",
        &[R::ENIConfigSecurityGroupNotFound],
    ),
    (
        "subnet-headroom",
        &[R::SubnetNearlyExhausted, R::PrefixFragmentation],
    ),
    (
        "pod-subnet-routes",
        &[R::PodSubnetNoDefaultRoute, R::PodSubnetRouteDiffers],
    ),
    ("pod-subnet-tags", &[R::PodSubnetTaggedForLoadBalancers]),
    ("eni-attachment", &[R::ENINotAttached, R::LeakedENI]),
];

/// Whether the cluster component raises this reason: the node agent then
/// leaves the Event to it (one per subnet or ENI, not one per node).
pub fn raised_by_cluster(reason: Reason) -> bool {
    CLUSTER_CHECKS.iter().any(|(_, rs)| rs.contains(&reason))
}

/// The names of all checks, in report order.
pub fn check_names() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|(name, _, _)| *name)
}

/// Every check, in report order, with the reasons it can raise. Each reason
/// belongs to exactly one check.
pub fn checks_and_reasons() -> impl Iterator<Item = (&'static str, &'static [Reason])> {
    CHECKS.iter().map(|(name, _, reasons)| (*name, *reasons))
}

/// The node's networking mode: the same answer [`Evaluation::mode`] carries.
pub fn networking_mode(snapshot: &Snapshot) -> NetworkingMode {
    mode::decide(snapshot)
}

/// Not run in the node's mode: not applicable, or unknown (not confirmed).
fn preempted(name: &str, ctx: &Context) -> Option<Outcome> {
    mode::preempted(name, &ctx.mode).map(|p| match p {
        mode::Preempted::NotApplicable(why) => Outcome::not_applicable(why),
        mode::Preempted::Unknown(why) => Outcome::unknown(why),
    })
}

/// A check that ran on an impossible IMDS answer it rests on is unknown,
/// whatever it found (a skipped check stays skipped).
fn spoiled(name: &str, ctx: &Context, outcome: Outcome) -> Outcome {
    let why: Vec<&str> = ctx
        .imds_problems
        .iter()
        .filter(|p| imds_integrity::spoils(p.kind, name))
        .map(|p| p.message.as_str())
        .collect();
    if why.is_empty() || outcome.skipped {
        return outcome;
    }
    Outcome::unknown(why.join("; "))
}

/// Runs every check on the snapshot: the one place a [`Context`] is built.
pub fn evaluate(snapshot: &Snapshot) -> Evaluation {
    evaluate_in(&Context::new(snapshot))
}

/// Runs every check on an already derived context, and hands out its facts.
pub fn evaluate_in(ctx: &Context) -> Evaluation {
    let mut checks = Vec::with_capacity(CHECKS.len());
    let mut findings = Vec::new();
    for (name, check, _) in CHECKS {
        let outcome = preempted(name, ctx).unwrap_or_else(|| spoiled(name, ctx, check(ctx)));
        let (result, mut found) = outcome.into_result(name);
        for f in &mut found {
            f.check = name;
        }
        checks.push(result);
        findings.append(&mut found);
    }
    Evaluation {
        checks,
        findings,
        mode: ctx.mode.clone(),
        not_applicable: ctx.mode.not_applicable().cloned(),
        facts: Facts::new(ctx),
    }
}

/// Why the expectation is missing, in one line, for unknown statuses.
pub(crate) fn no_expectation_detail(ne: &NoExpectation) -> String {
    match ne {
        NoExpectation::NotFound { selection, .. } => format!(
            "ENIConfig {:?} (selected by {}) does not exist, so there is no subnet to compare with",
            selection.name, selection.selected_by
        ),
        NoExpectation::Invalid {
            selection,
            problems,
        } => format!(
            "ENIConfig {:?} is invalid ({}), so there is nothing to compare with",
            selection.name,
            problems.join("; ")
        ),
        NoExpectation::Unavailable { reason } => format!("Kubernetes API: {reason}"),
        NoExpectation::Unresolved { reason } => reason.clone(),
        NoExpectation::NotApplicable => "the node is out of scope".to_string(),
    }
}
