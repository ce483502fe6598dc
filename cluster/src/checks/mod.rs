//! The cluster component's checks: pure functions from a [`ClusterSnapshot`]
//! to check results, findings and per-subnet summaries, judged once per
//! refresh and rendered many times (metrics, events, `check`, the published
//! facts). The check names and the reasons each raises are declared in
//! [`eniwatch_core::checks::CLUSTER_CHECKS`].

use eniwatch_core::checks::{CheckResult, Finding};
use eniwatch_core::model::SubnetId;
use serde::Serialize;

use crate::model::ClusterSnapshot;

/// One judgement of the cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterEvaluation {
    /// One per entry of `CLUSTER_CHECKS`, in that order.
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    /// Every pod subnet (an ENIConfig's) and node subnet, sorted by id.
    pub subnets: Vec<SubnetSummary>,
    /// Leaked ENIs by subnet (for the metric).
    pub leaked_enis: Vec<(Option<SubnetId>, u32)>,
}

/// What the metrics and the report show of one subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetSummary {
    pub id: SubnetId,
    /// `pod` (an ENIConfig names it) or `node` (a node's address is in it).
    pub role: &'static str,
    pub availability_zone: Option<String>,
    pub availability_zone_id: Option<String>,
    /// Addresses in the CIDR.
    pub size: Option<u64>,
    pub free_addresses: Option<u32>,
    /// Free aligned /28 blocks (pod subnets using prefix delegation).
    pub free_prefixes: Option<u32>,
    /// Nodes whose ENIConfig names it (pod) or whose address is in it (node).
    pub nodes: u32,
    /// Addresses the warm pools of those nodes want (pod subnets).
    pub warm_demand: Option<u64>,
    /// The default route's verdict for pod subnets: `ok`, `no_default_route`,
    /// `differs`, `unknown`; None for node subnets.
    pub route: Option<&'static str>,
    /// The ENIConfigs that name it.
    pub eniconfigs: Vec<String>,
}

/// Judges the snapshot.
pub fn judge(_snapshot: &ClusterSnapshot) -> ClusterEvaluation {
    ClusterEvaluation::default()
}
