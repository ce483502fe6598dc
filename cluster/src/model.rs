//! The cluster as eniwatch-cluster sees it at one moment: the Nodes and
//! ENIConfigs from the API, and the VPC from EC2. Plain data, gathered by
//! the sources and judged by [`crate::checks`]; nothing here judges.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use eniwatch_core::model::{EniConfig, EniId, NodeInfo, Observed, SelectionSettings, VpcFacts};
use jiff::Timestamp;

/// Everything one judgement needs.
#[derive(Debug, Clone)]
pub struct ClusterSnapshot {
    /// When the snapshot was taken (ages of ENIs are measured from it).
    pub now: Timestamp,
    pub nodes: Observed<Vec<ClusterNode>>,
    /// None when the ENIConfig CRD is not installed.
    pub eni_configs: Observed<Option<Vec<EniConfig>>>,
    /// EKS Auto Mode NodeClasses; None when their CRD is not installed.
    /// Not judged: resolved for the published facts.
    pub node_classes: Observed<Option<Vec<crate::node_classes::NodeClass>>>,
    /// How nodes select their ENIConfig (aws-node's settings).
    pub selection: SelectionSettings,
    pub vpc: VpcFacts,
    /// What earlier refreshes saw (empty for the one-shot `check`).
    pub history: EniHistory,
    pub settings: ClusterSettings,
}

/// A Node, reduced to what the cluster checks need.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterNode {
    /// Name, labels, annotations (ENIConfig selection) and max-pods.
    pub info: NodeInfo,
    /// From `spec.providerID` (`aws:///<zone>/<instance id>`).
    pub instance_id: Option<String>,
    /// `node.kubernetes.io/instance-type`.
    pub instance_type: Option<String>,
    /// `topology.kubernetes.io/zone`.
    pub zone: Option<String>,
    /// `topology.k8s.aws/zone-id`.
    pub zone_id: Option<String>,
    /// `status.addresses` of type InternalIP.
    pub internal_ips: Vec<Ipv4Addr>,
    /// EKS managed nodegroup, Karpenter NodePool, eksctl nodegroup label,
    /// in that order; None when unlabelled.
    pub nodegroup: Option<String>,
    /// Why custom networking does not apply to the node (Fargate, Windows,
    /// hybrid, ...): such nodes are left out of every check.
    pub out_of_scope: Option<String>,
}

/// When each ENI was first seen in its current unattached state, by the
/// running component (the CNI's `createdAt` tag is used where present).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EniHistory {
    pub first_seen_unattached: BTreeMap<EniId, Timestamp>,
}

/// Thresholds and the warm-pool settings the cluster assumes for its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `SubnetNearlyExhausted` below the larger of this many free addresses...
    pub subnet_min_free: u32,
    /// ...and this percentage of the subnet's size.
    pub subnet_min_free_percent: u32,
    /// An unattached CNI ENI older than this is `LeakedENI`.
    pub leaked_eni_after: Duration,
    /// An ENI of a live node unattached for longer than this is `ENINotAttached`
    /// (shorter: the CNI is between creating and attaching it).
    pub attach_grace: Duration,
    /// aws-node's warm targets, for each zone's warm-pool demand.
    pub warm_eni_target: u32,
    pub warm_ip_target: Option<u32>,
    pub warm_prefix_target: u32,
    /// `CLUSTER_NAME` on aws-node: ENIs tagged for another cluster are not ours.
    pub cluster_name: Option<String>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            subnet_min_free: 32,
            subnet_min_free_percent: 10,
            leaked_eni_after: Duration::from_secs(15 * 60),
            attach_grace: Duration::from_secs(120),
            warm_eni_target: 1,
            warm_ip_target: None,
            warm_prefix_target: 1,
            cluster_name: None,
        }
    }
}
