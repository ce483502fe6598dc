//! Does custom networking apply to this node at all? Decided from the
//! snapshot alone.
//!
//! A cluster where it was never set up (no ENIConfig, and ipamd not running
//! it) and an EKS Auto Mode node (pod subnets come from its NodeClass, there
//! is no aws-node) have nothing to compare with an ENIConfig. With ipamd
//! reporting custom networking on and no ENIConfig, it is configured and
//! broken (`ENIConfigNotFound`): the CNI cannot allocate ENIs.

use serde::Serialize;

use crate::model::{Expectation, Snapshot, Witness};

pub use crate::model::node_kind::COMPUTE_TYPE_LABEL;

/// Condition reason: custom networking is not set up for this node.
pub const NOT_CONFIGURED: &str = "CustomNetworkingNotConfigured";
/// Condition reason: an EKS Auto Mode node.
pub const AUTO_MODE: &str = "EKSAutoModeNode";

/// Why custom networking is not judged on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotApplicable {
    /// CamelCase and stable, for the node condition's reason:
    /// [`NOT_CONFIGURED`] or [`AUTO_MODE`].
    pub reason: &'static str,
    /// The explanation, for an operator.
    pub message: String,
    /// Not configured, and ipamd could not be read either: most likely the
    /// node runs no aws-node at all, so ipamd's checks are not applicable
    /// rather than inconclusive (nothing custom networking needs is missing).
    #[serde(skip)]
    pub ipamd_unread: bool,
}

impl NotApplicable {
    /// One line for each check that does not apply (the full message is
    /// given once, in the report's `not_applicable`).
    pub fn summary(&self) -> &'static str {
        if self.reason == AUTO_MODE {
            "EKS Auto Mode node: pod subnets come from its NodeClass, not from ENIConfigs, \
             and there is no aws-node"
        } else if self.ipamd_unread {
            "custom networking is not configured on this node, and ipamd could not be read"
        } else {
            "custom networking is not configured on this node"
        }
    }
}

/// Why custom networking does not apply to this node, or None when it does
/// (or when that cannot be told: with `--no-kube` the flags say it is meant).
pub fn not_applicable(snapshot: &Snapshot) -> Option<NotApplicable> {
    let Expectation::Kubernetes(Ok(cluster)) = &snapshot.expectation else {
        return None;
    };
    if cluster
        .node
        .labels
        .get(COMPUTE_TYPE_LABEL)
        .is_some_and(|v| v.trim() == "auto")
    {
        return Some(NotApplicable {
            reason: AUTO_MODE,
            message: format!(
                "EKS Auto Mode node (label {COMPUTE_TYPE_LABEL}=auto): pod subnets come from its \
                 NodeClass, not from ENIConfigs, and there is no aws-node"
            ),
            ipamd_unread: false,
        });
    }
    let eniconfigs = match &cluster.eni_configs {
        None => "the ENIConfig CRD is not installed",
        Some(list) if list.is_empty() => "no ENIConfig exists",
        Some(_) => return None,
    };
    let ipamd = match &snapshot.ipamd {
        Witness::On(Ok(v)) => match v.custom_networking {
            Some(true) => return None,
            Some(false) => "ipamd reports AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG off",
            None => "ipamd does not report AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
        },
        Witness::On(Err(_)) => "ipamd could not be read (is aws-node running on this node?)",
        Witness::Off => "ipamd is not asked (--no-ipamd)",
    };
    Some(NotApplicable {
        reason: NOT_CONFIGURED,
        message: format!(
            "custom networking is not configured on this node: {eniconfigs}, and {ipamd}; \
             to use it, set AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true on aws-node and create \
             one ENIConfig per zone"
        ),
        ipamd_unread: matches!(snapshot.ipamd, Witness::On(Err(_))),
    })
}
