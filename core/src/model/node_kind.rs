//! What kind of node this is and which group it belongs to, read from the
//! labels kubelet, EKS and the provisioners put on a Node. Pure, shared by
//! the node agent (its networking mode), eniwatch-cluster (which nodes it
//! counts) and `eniwatch status` (the rows of the migration view), so the
//! three always put a node in the same group.
//!
//! Label values are trimmed; an empty value counts as absent.

use std::collections::BTreeMap;

use serde::Serialize;

pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const ZONE_ID_LABEL: &str = "topology.k8s.aws/zone-id";
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
pub const OS_LABEL: &str = "kubernetes.io/os";
/// `auto` (EKS Auto Mode), `fargate`, `hybrid`; absent on EC2 nodes.
pub const COMPUTE_TYPE_LABEL: &str = "eks.amazonaws.com/compute-type";
/// EKS Auto Mode: the `NodeClass` (`eks.amazonaws.com/v1`) the node was made from.
pub const NODECLASS_LABEL: &str = "eks.amazonaws.com/nodeclass";
pub const MANAGED_NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
pub const KARPENTER_NODEPOOL_LABEL: &str = "karpenter.sh/nodepool";
/// Karpenter before v1beta1 (Provisioner, not NodePool).
pub const KARPENTER_PROVISIONER_LABEL: &str = "karpenter.sh/provisioner-name";
pub const EKSCTL_NODEGROUP_LABEL: &str = "alpha.eksctl.io/nodegroup-name";
/// The group name of a node no group label names.
pub const UNLABELLED: &str = "unlabelled";

/// Node labels naming the node's group, in order of preference, with the
/// kind of group each names.
pub const NODEGROUP_LABELS: [(&str, GroupSource); 4] = [
    (MANAGED_NODEGROUP_LABEL, GroupSource::ManagedNodegroup),
    (KARPENTER_NODEPOOL_LABEL, GroupSource::KarpenterNodePool),
    (KARPENTER_PROVISIONER_LABEL, GroupSource::KarpenterNodePool),
    (EKSCTL_NODEGROUP_LABEL, GroupSource::Eksctl),
];

/// Who made the node's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSource {
    /// `eks.amazonaws.com/nodegroup`: an EKS managed nodegroup.
    ManagedNodegroup,
    /// `karpenter.sh/nodepool` (or the older `provisioner-name`).
    KarpenterNodePool,
    /// `alpha.eksctl.io/nodegroup-name`: an eksctl (often self-managed) nodegroup.
    Eksctl,
    /// No group label.
    Unlabelled,
}

impl GroupSource {
    /// Words for an operator: "managed nodegroup", "Karpenter NodePool", ...
    pub fn words(self) -> &'static str {
        match self {
            GroupSource::ManagedNodegroup => "managed nodegroup",
            GroupSource::KarpenterNodePool => "Karpenter NodePool",
            GroupSource::Eksctl => "eksctl nodegroup",
            GroupSource::Unlabelled => "no group label",
        }
    }
}

/// The node's group: its name and who made it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeGroup {
    pub name: String,
    pub source: GroupSource,
}

/// A label's value, trimmed; None when absent or empty.
pub fn label<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    labels.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The node's group from its labels; [`UNLABELLED`] when none names one.
pub fn node_group(labels: &BTreeMap<String, String>) -> NodeGroup {
    NODEGROUP_LABELS
        .iter()
        .find_map(|(key, source)| {
            label(labels, key).map(|name| NodeGroup {
                name: name.to_string(),
                source: *source,
            })
        })
        .unwrap_or_else(|| NodeGroup {
            name: UNLABELLED.to_string(),
            source: GroupSource::Unlabelled,
        })
}

/// Where the node runs, as far as its labels tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A Linux EC2 instance running the VPC CNI (aws-node) as far as labels tell.
    Ec2,
    /// `eks.amazonaws.com/compute-type: auto`: EKS Auto Mode.
    AutoMode,
    /// `eks.amazonaws.com/compute-type: fargate`.
    Fargate,
    /// `eks.amazonaws.com/compute-type: hybrid`: EKS Hybrid Nodes, outside the VPC.
    Hybrid,
    /// `kubernetes.io/os: windows`.
    Windows,
}

impl Platform {
    /// Why custom networking (and eniwatch) does not apply on this platform;
    /// None for EC2 Linux and Auto Mode nodes, which eniwatch judges.
    pub fn out_of_scope(self) -> Option<&'static str> {
        match self {
            Platform::Ec2 | Platform::AutoMode => None,
            Platform::Fargate => Some("a Fargate node: the VPC CNI does not run there"),
            Platform::Hybrid => Some("an EKS hybrid node: it is not in the VPC's subnets"),
            Platform::Windows => Some("a Windows node: custom networking is Linux only"),
        }
    }
}

/// The node's platform from its labels.
pub fn platform(labels: &BTreeMap<String, String>) -> Platform {
    match label(labels, COMPUTE_TYPE_LABEL) {
        Some("auto") => return Platform::AutoMode,
        Some("fargate") => return Platform::Fargate,
        Some("hybrid") => return Platform::Hybrid,
        _ => {}
    }
    if labels.contains_key("eks.amazonaws.com/fargate-profile") {
        return Platform::Fargate;
    }
    if label(labels, OS_LABEL) == Some("windows") {
        return Platform::Windows;
    }
    Platform::Ec2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn group_prefers_managed_then_karpenter_then_eksctl() {
        let all = labels(&[
            (EKSCTL_NODEGROUP_LABEL, "e"),
            (KARPENTER_NODEPOOL_LABEL, "k"),
            (MANAGED_NODEGROUP_LABEL, "m"),
        ]);
        assert_eq!(node_group(&all).name, "m");
        let g = node_group(&labels(&[
            (EKSCTL_NODEGROUP_LABEL, "e"),
            (KARPENTER_NODEPOOL_LABEL, " k "),
        ]));
        assert_eq!(
            (g.name.as_str(), g.source),
            ("k", GroupSource::KarpenterNodePool)
        );
        let g = node_group(&labels(&[(MANAGED_NODEGROUP_LABEL, " ")]));
        assert_eq!(
            (g.name.as_str(), g.source),
            (UNLABELLED, GroupSource::Unlabelled)
        );
    }

    #[test]
    fn platform_from_labels() {
        assert_eq!(platform(&labels(&[])), Platform::Ec2);
        assert_eq!(
            platform(&labels(&[(COMPUTE_TYPE_LABEL, "auto")])),
            Platform::AutoMode
        );
        assert_eq!(
            platform(&labels(&[(COMPUTE_TYPE_LABEL, "fargate")])),
            Platform::Fargate
        );
        assert_eq!(
            platform(&labels(&[(COMPUTE_TYPE_LABEL, "hybrid")])),
            Platform::Hybrid
        );
        assert_eq!(
            platform(&labels(&[(OS_LABEL, "windows")])),
            Platform::Windows
        );
        assert_eq!(platform(&labels(&[(OS_LABEL, "linux")])), Platform::Ec2);
        assert!(Platform::Windows.out_of_scope().is_some());
        assert!(Platform::AutoMode.out_of_scope().is_none());
    }
}
