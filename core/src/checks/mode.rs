//! Which checks do not apply where custom networking does not (decided in
//! [`crate::expectation::mode`]): those that compare with an ENIConfig are
//! *not applicable* there, never drift and never unknown; the checks of the
//! data plane, the ENIs and the warm pool still run.

use super::{CheckResult, CheckStatus};
pub use crate::expectation::mode::{
    not_applicable, NotApplicable, AUTO_MODE, COMPUTE_TYPE_LABEL, NOT_CONFIGURED,
};

/// Checks that compare the node with its ENIConfig (or rest on custom
/// networking's capacity formula): not applicable when custom networking is not.
pub const NEEDS_CUSTOM_NETWORKING: [&str; 7] = [
    "eniconfig",
    "eni-subnet",
    "eni-security-groups",
    "pod-subnet",
    "eniconfig-subnet",
    "subnet-headroom",
    "max-pods",
];

/// Checks that ask aws-node's ipamd, which an Auto Mode node does not run.
pub const NEEDS_AWS_NODE: [&str; 2] = ["cni-settings", "ipamd-state"];

/// Whether `check` applies to the node; None when it does.
pub fn check_not_applicable<'n>(
    check: &str,
    na: Option<&'n NotApplicable>,
) -> Option<&'n NotApplicable> {
    let na = na?;
    let moot = NEEDS_CUSTOM_NETWORKING.contains(&check)
        || ((na.reason == AUTO_MODE || na.ipamd_unread) && NEEDS_AWS_NODE.contains(&check));
    moot.then_some(na)
}

/// The same answer read back from check results alone (as settled by the
/// daemon): the `eniconfig` check is `not_applicable` exactly when custom
/// networking does not apply. The message is the check's one-line detail.
pub fn not_applicable_in(checks: &[CheckResult]) -> Option<NotApplicable> {
    let c = checks
        .iter()
        .find(|c| c.name == "eniconfig" && c.status == CheckStatus::NotApplicable)?;
    let reason = if c.detail.starts_with("EKS Auto Mode") {
        AUTO_MODE
    } else {
        NOT_CONFIGURED
    };
    Some(NotApplicable {
        reason,
        message: c.detail.clone(),
        ipamd_unread: false,
    })
}
