//! Which checks run in which networking mode (decided in
//! [`crate::expectation::mode`]):
//!
//! - custom networking: every check.
//! - standard: every check but those about an ENIConfig (`eniconfig`,
//!   `eniconfig-subnet`), which are *not applicable*; the others judge
//!   against the node's subnet (and CNI-tagged ones), max-pods by the
//!   standard formula.
//! - EKS Auto Mode: the ENIConfig checks are *not applicable*; ipamd's
//!   introspection, the kernel layout (routes, rules, links), the warm pool
//!   and the max-pods formula of Auto Mode nodes are not confirmed, so the
//!   checks resting on them are *unknown*, with a sentence saying so, rather
//!   than guessed. ENI and pod placement against the NodeClass is judged.
//! - not applicable: every check *not applicable*.

use super::{CheckResult, CheckStatus};
pub use crate::expectation::mode::{
    decide, NetworkingMode, NotApplicable, OutOfScope, COMPUTE_TYPE_LABEL,
};

/// Checks that compare the node with an ENIConfig.
pub const NEEDS_ENICONFIG: [&str; 2] = ["eniconfig", "eniconfig-subnet"];

/// Checks resting on what is not confirmed on EKS Auto Mode nodes.
pub const UNCONFIRMED_ON_AUTO_MODE: [&str; 8] = [
    "eni-configured",
    "pod-routes",
    "pod-rules",
    "cni-settings",
    "max-pods",
    "warm-pool",
    "ipamd-state",
    "pod-traffic",
];

/// What the checks resting on the unconfirmed parts say on Auto Mode.
pub const AUTO_MODE_UNCONFIRMED: &str = "not confirmed on EKS Auto Mode nodes: they run no \
     aws-node, so ipamd's introspection, its settings and warm pool, the kernel layout of pod \
     routes and rules, and the max-pods formula are not known to eniwatch; not judged";

/// How a check is preempted in this mode.
pub enum Preempted {
    NotApplicable(String),
    Unknown(&'static str),
}

/// Whether `check` runs in `mode`; None when it does.
pub fn preempted(check: &str, mode: &NetworkingMode) -> Option<Preempted> {
    match mode {
        NetworkingMode::CustomNetworking { .. } => None,
        NetworkingMode::NotApplicable(na) => Some(Preempted::NotApplicable(na.summary())),
        NetworkingMode::Standard => NEEDS_ENICONFIG.contains(&check).then(|| {
            Preempted::NotApplicable(
                "standard mode: custom networking is off and no ENIConfig applies".to_string(),
            )
        }),
        NetworkingMode::EksAutoMode { .. } => {
            if NEEDS_ENICONFIG.contains(&check) {
                Some(Preempted::NotApplicable(
                    "EKS Auto Mode: pod subnets come from the NodeClass, not from ENIConfigs"
                        .to_string(),
                ))
            } else if UNCONFIRMED_ON_AUTO_MODE.contains(&check) {
                Some(Preempted::Unknown(AUTO_MODE_UNCONFIRMED))
            } else {
                None
            }
        }
    }
}

/// Whether check results alone (as settled by the daemon) say the node is
/// out of scope: every check `not_applicable`.
pub fn out_of_scope_in(checks: &[CheckResult]) -> bool {
    !checks.is_empty()
        && checks
            .iter()
            .all(|c| c.status == CheckStatus::NotApplicable)
}
