//! What `eniwatch status` lists, reduced to the fields the view needs (a
//! 5,000-node, 100,000-pod cluster must fit in a few hundred MiB).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::model::{EniConfig, NodeInfo, Observed, SelectionSettings};
use crate::published::PublishedFacts;

/// Everything listed, at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusInput {
    pub nodes: Vec<StatusNode>,
    /// Pods not in phase Succeeded or Failed.
    pub pods: Vec<StatusPod>,
    /// None: the ENIConfig CRD is not installed.
    pub eni_configs: Observed<Option<Vec<EniConfig>>>,
    /// EKS Auto Mode NodeClasses (`eks.amazonaws.com/v1`); None: the CRD is
    /// not installed (not an Auto Mode cluster).
    pub node_classes: Observed<Option<Vec<NodeClassInfo>>>,
    /// eniwatch-cluster's published facts; None: the ConfigMap does not exist.
    pub facts: Observed<Option<PublishedFacts>>,
    /// How nodes select their ENIConfig (`ENI_CONFIG_LABEL_DEF`, ...).
    pub selection: SelectionSettings,
}

/// One Node, reduced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusNode {
    /// Name, labels, annotations (only the ENIConfig annotation is kept)
    /// and `status.capacity.pods`.
    pub info: NodeInfo,
    /// `status.allocatable.pods`, when given (else `info.capacity_pods`).
    pub allocatable_pods: Option<u32>,
    /// `status.addresses` of type InternalIP (an IPv6 one marks an IPv6 node).
    pub internal_ips: Vec<IpAddr>,
    /// The Ready condition's status: Some(true) only for `True`.
    pub ready: Option<bool>,
    /// `spec.unschedulable` (cordoned, e.g. while draining).
    pub unschedulable: bool,
    /// The `CustomNetworkingReady` condition the node agent writes; None
    /// when the node has none (no agent there).
    pub condition: Option<NodeCondition>,
}

/// A node condition as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCondition {
    /// `True`, `False` or `Unknown` (anything else is kept as given).
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    /// `lastHeartbeatTime` (RFC 3339), when given.
    pub last_heartbeat: Option<String>,
}

/// One Pod, reduced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusPod {
    pub namespace: String,
    pub name: String,
    /// `spec.nodeName`; None while pending.
    pub node_name: Option<String>,
    /// `status.podIP` when it is an IPv4 address.
    pub ip: Option<Ipv4Addr>,
    pub host_network: bool,
    /// The controller owner's kind (`ReplicaSet`, `DaemonSet`, ...): a
    /// DaemonSet's pods do not move with a migration, they come with nodes.
    pub owner_kind: Option<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

/// An EKS Auto Mode NodeClass as listed (its resolution to subnets is in
/// the published facts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeClassInfo {
    pub name: String,
    /// `spec.podSubnetSelectorTerms` is set and non-empty.
    pub has_pod_subnet_terms: bool,
    /// `spec.podSecurityGroupSelectorTerms` is set and non-empty.
    pub has_pod_security_group_terms: bool,
}

/// Labels kept on a [`StatusNode`]: all of them (group, zone, type and
/// platform labels are among them); annotations are reduced by the lister
/// to the ENIConfig annotation of [`SelectionSettings::annotation_def`].
pub type Labels = BTreeMap<String, String>;
