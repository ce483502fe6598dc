//! The node's networking mode, decided once from the snapshot: what the
//! checks judge the node against, what the report, the `eniwatch_info`
//! metric and the node condition say the node is.
//!
//! In order:
//!
//! 1. `--expect-subnet` flags: custom networking (the flags say it is meant).
//! 2. Windows, hybrid and Fargate nodes (labels, [`node_kind::platform`]):
//!    not applicable, the VPC CNI does not place their pods.
//! 3. An EKS Auto Mode node (`eks.amazonaws.com/compute-type: auto`): pod
//!    subnets and groups from its NodeClass (`eks.amazonaws.com/nodeclass`).
//! 4. An IPv6 node (ipamd reports `ENABLE_IPv6`, or every routed pod's IP is
//!    IPv6): not applicable, custom networking is IPv4 only.
//! 5. ENIConfigs exist, or ipamd runs custom networking: custom networking
//!    (with ipamd on and no ENIConfig, that is drift: `ENIConfigNotFound`).
//! 6. No ENIConfig, ipamd unreachable and no aws-node pod on the node: not
//!    applicable, the node has no VPC CNI.
//! 7. Otherwise standard mode: custom networking off, pods in the node's
//!    subnet (or, with enhanced subnet discovery, CNI-tagged subnets of the
//!    node's zone).
//!
//! With the API unreadable, the node's labels and ENIConfigs are unknown:
//! custom networking is assumed (as before the API answered), and the checks
//! that need the API say unknown.

use std::net::Ipv6Addr;

use serde::Serialize;

use crate::model::node_kind::{self, Platform};
use crate::model::{ClusterView, Expectation, Snapshot, Witness};

pub use crate::model::node_kind::{COMPUTE_TYPE_LABEL, KARPENTER_NODEPOOL_LABEL, NODECLASS_LABEL};

/// The namespace and name prefix of the VPC CNI's DaemonSet pods.
pub const AWS_NODE_NAMESPACE: &str = "kube-system";
pub const AWS_NODE_POD_PREFIX: &str = "aws-node-";

/// How pods get their addresses on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetworkingMode {
    /// An ENIConfig applies (or `--expect-subnet` flags): pods in its subnet.
    CustomNetworking {
        /// `karpenter` on a node of a Karpenter NodePool.
        #[serde(skip_serializing_if = "Option::is_none")]
        provisioner: Option<&'static str>,
    },
    /// Custom networking off: pods in the node's subnet, or in CNI-tagged
    /// subnets of its zone (enhanced subnet discovery).
    Standard,
    /// EKS Auto Mode: pod subnets and groups from the NodeClass.
    EksAutoMode {
        /// From the node label `eks.amazonaws.com/nodeclass`.
        node_class: Option<String>,
    },
    /// eniwatch has nothing to judge on this node.
    NotApplicable(NotApplicable),
}

/// Why the node is out of scope, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfScope {
    Ipv6,
    Windows,
    Hybrid,
    Fargate,
    NoVpcCni,
}

impl OutOfScope {
    /// CamelCase, for the report's `not_applicable.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            OutOfScope::Ipv6 => "IPv6Node",
            OutOfScope::Windows => "WindowsNode",
            OutOfScope::Hybrid => "HybridNode",
            OutOfScope::Fargate => "FargateNode",
            OutOfScope::NoVpcCni => "NoVPCCNI",
        }
    }
}

/// Why nothing is judged on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotApplicable {
    /// `ipv6`, `windows`, `hybrid`, `fargate`, `no_vpc_cni`.
    pub cause: OutOfScope,
    /// CamelCase and stable: [`OutOfScope::reason`].
    pub reason: &'static str,
    /// The explanation, for an operator.
    pub message: String,
}

impl NotApplicable {
    fn new(cause: OutOfScope, message: impl Into<String>) -> NotApplicable {
        NotApplicable {
            cause,
            reason: cause.reason(),
            message: message.into(),
        }
    }

    /// One line for each check: the same message.
    pub fn summary(&self) -> String {
        format!("not applicable: {}", self.message)
    }
}

impl NetworkingMode {
    /// The `mode` label value of `eniwatch_info`.
    pub fn as_str(&self) -> &'static str {
        match self {
            NetworkingMode::CustomNetworking { .. } => "custom_networking",
            NetworkingMode::Standard => "standard",
            NetworkingMode::EksAutoMode { .. } => "eks_auto_mode",
            NetworkingMode::NotApplicable(_) => "not_applicable",
        }
    }

    /// Every label value, in order.
    pub const LABELS: [&'static str; 4] = [
        "custom_networking",
        "standard",
        "eks_auto_mode",
        "not_applicable",
    ];

    /// In words, for the text report and the node condition's message.
    pub fn words(&self) -> String {
        match self {
            NetworkingMode::CustomNetworking {
                provisioner: Some(p),
            } => format!("custom networking ({p} node)"),
            NetworkingMode::CustomNetworking { provisioner: None } => {
                "custom networking".to_string()
            }
            NetworkingMode::Standard => "standard mode (custom networking off)".to_string(),
            NetworkingMode::EksAutoMode {
                node_class: Some(c),
            } => format!("EKS Auto Mode (NodeClass {c})"),
            NetworkingMode::EksAutoMode { node_class: None } => {
                "EKS Auto Mode (no NodeClass label)".to_string()
            }
            NetworkingMode::NotApplicable(na) => format!("not applicable ({})", na.message),
        }
    }

    pub fn is_custom_networking(&self) -> bool {
        matches!(self, NetworkingMode::CustomNetworking { .. })
    }

    pub fn is_karpenter(&self) -> bool {
        matches!(
            self,
            NetworkingMode::CustomNetworking {
                provisioner: Some("karpenter")
            }
        )
    }

    /// Whether aws-node's ipamd belongs on the node: not on EKS Auto Mode
    /// nodes or nodes out of scope, where nothing answering on its port is
    /// no failure.
    pub fn expects_ipamd(&self) -> bool {
        !matches!(
            self,
            NetworkingMode::EksAutoMode { .. } | NetworkingMode::NotApplicable(_)
        )
    }

    pub fn not_applicable(&self) -> Option<&NotApplicable> {
        match self {
            NetworkingMode::NotApplicable(na) => Some(na),
            _ => None,
        }
    }
}

/// The node's networking mode.
pub fn decide(snapshot: &Snapshot) -> NetworkingMode {
    let cluster = match &snapshot.expectation {
        Expectation::Flags(_) => return custom(None),
        Expectation::Kubernetes(Ok(c)) => Some(c),
        Expectation::Kubernetes(Err(_)) => None,
    };
    let labels = cluster.map(|c| &c.node.labels);
    let platform = labels.map_or(Platform::Ec2, node_kind::platform);
    if let Some(why) = platform.out_of_scope() {
        let cause = match platform {
            Platform::Windows => OutOfScope::Windows,
            Platform::Hybrid => OutOfScope::Hybrid,
            _ => OutOfScope::Fargate,
        };
        return NetworkingMode::NotApplicable(NotApplicable::new(cause, why));
    }
    if platform == Platform::AutoMode {
        return NetworkingMode::EksAutoMode {
            node_class: labels
                .and_then(|l| node_kind::label(l, NODECLASS_LABEL))
                .map(str::to_string),
        };
    }
    if let Some(why) = ipv6(snapshot, cluster) {
        return NetworkingMode::NotApplicable(NotApplicable::new(
            OutOfScope::Ipv6,
            format!("an IPv6 node ({why}): custom networking is IPv4 only"),
        ));
    }
    let Some(cluster) = cluster else {
        return custom(None);
    };
    let karpenter = node_kind::label(&cluster.node.labels, KARPENTER_NODEPOOL_LABEL)
        .is_some()
        .then_some("karpenter");
    if cluster.eni_configs.as_ref().is_some_and(|l| !l.is_empty()) {
        return custom(karpenter);
    }
    match &snapshot.ipamd {
        Witness::On(Ok(v)) if v.custom_networking == Some(true) => custom(karpenter),
        Witness::On(Err(_)) if !runs_aws_node(cluster) => {
            NetworkingMode::NotApplicable(NotApplicable::new(
                OutOfScope::NoVpcCni,
                "no VPC CNI on this node: no ENIConfig exists, ipamd does not answer and no \
                 aws-node pod runs here",
            ))
        }
        _ => NetworkingMode::Standard,
    }
}

fn custom(provisioner: Option<&'static str>) -> NetworkingMode {
    NetworkingMode::CustomNetworking { provisioner }
}

/// Whether an aws-node pod (the VPC CNI's DaemonSet) runs on the node.
pub fn runs_aws_node(cluster: &ClusterView) -> bool {
    cluster.pods.iter().any(|p| {
        p.namespace.as_deref() == Some(AWS_NODE_NAMESPACE)
            && p.name
                .as_deref()
                .is_some_and(|n| n.starts_with(AWS_NODE_POD_PREFIX))
            && !p.completed
    })
}

/// Why the node is an IPv6 node, or None.
fn ipv6(snapshot: &Snapshot, cluster: Option<&ClusterView>) -> Option<&'static str> {
    if snapshot.ipamd.data().and_then(|v| v.ipv6) == Some(true) {
        return Some("ipamd reports ENABLE_IPv6=true");
    }
    let pods = &cluster?.pods;
    let routed = pods
        .iter()
        .filter(|p| !p.host_network && !p.completed && (p.ip.is_some() || p.ip_text.is_some()));
    let (mut v4, mut v6) = (0usize, 0usize);
    for p in routed {
        if p.ip.is_some() {
            v4 += 1;
        } else if p
            .ip_text
            .as_deref()
            .is_some_and(|t| t.trim().parse::<Ipv6Addr>().is_ok())
        {
            v6 += 1;
        }
    }
    (v6 > 0 && v4 == 0).then_some("every pod's IP is IPv6")
}
