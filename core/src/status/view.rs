//! The judged migration view: what [`super::judge`] decides once from a
//! [`super::input::StatusInput`], and what the text and JSON renderings show.
//! Every number that could not be known is an [`Amount::Unknown`] with the
//! words saying why, never a guess.

use serde::Serialize;

use crate::model::node_kind::{GroupSource, NodeGroup};

/// The JSON schema version of [`super::render_json`].
pub const SCHEMA_VERSION: u32 = 1;

/// A count that is known, or unknown with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Amount {
    Known(u64),
    Unknown { unknown: String },
}

impl Amount {
    pub fn unknown(why: impl Into<String>) -> Amount {
        Amount::Unknown {
            unknown: why.into(),
        }
    }

    pub fn known(&self) -> Option<u64> {
        match self {
            Amount::Known(n) => Some(*n),
            Amount::Unknown { .. } => None,
        }
    }
}

/// The whole view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub schema_version: u32,
    /// Nodes and pods listed (pods: not Succeeded or Failed).
    pub nodes_listed: usize,
    pub pods_listed: usize,
    /// Pods with no node yet (pending): in no zone, not planned.
    pub pods_pending: usize,
    /// Inputs that could not be read or are absent, in words.
    pub inputs: Vec<String>,
    /// The filters the view was cut to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    pub nodegroups: Vec<GroupRow>,
    pub zones: Vec<ZoneRow>,
    pub verdicts: Vec<Verdict>,
    pub nodes: Vec<NodeRow>,
}

/// `--nodegroup` / `--zone`, as applied by [`StatusView::filtered`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodegroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// The node's networking mode as far as the cluster view can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeMode {
    /// The ENIConfig the node selects exists and names a subnet.
    CustomNetworking { eni_config: String, subnet: String },
    /// No ENIConfig applies (the one it selects does not exist, or the CRD
    /// is not installed): standard networking.
    Standard { why: String },
    /// EKS Auto Mode: pod subnets come from the NodeClass.
    EksAutoMode {
        #[serde(skip_serializing_if = "Option::is_none")]
        node_class: Option<String>,
    },
    /// Custom networking does not apply: `ipv6`, `windows`, `fargate`, `hybrid`.
    NotApplicable { not_applicable: String },
    /// The ENIConfigs could not be listed, or the one selected is malformed.
    Unknown { why: String },
}

/// The node's `CustomNetworkingReady` condition, as judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Readiness {
    True,
    False {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Unknown,
    /// No condition: no node agent there.
    NoAgent,
    /// A heartbeat far older than the median one: the agent stopped.
    Stale {
        last_heartbeat: String,
    },
}

/// Where a node stands in the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Migration {
    /// An ENIConfig applies and the agent says True, or (without a fresh
    /// condition) some pod address is in the ENIConfig's subnet.
    Migrated,
    /// Migrated as above but the agent says False: drift on a migrated node.
    Drift,
    /// No ENIConfig applies, or pods are only outside its subnet.
    NotMigrated,
    /// Nothing tells (no agent, no pod address, subnet CIDR unknown).
    Unknown,
    /// Auto Mode or out of scope: not part of the ENIConfig migration.
    NotInPlan,
}

/// Pods on a node (or summed over a row); pods being deleted are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PodCounts {
    /// All pods counted against max-pods.
    pub total: u64,
    /// Pod-network pods with an address in the ENIConfig's subnet.
    pub on_eniconfig_subnet: u64,
    /// Pod-network pods with an address outside it.
    pub elsewhere: u64,
    /// Pod-network pods whose place is unknown (no address yet, no CIDR).
    pub unknown_place: u64,
    pub host_network: u64,
    pub daemonset: u64,
    /// Pods that still have to move.
    pub to_move: u64,
    /// Pods that would move if their node is not migrated (its state is unknown).
    pub undecided: u64,
}

impl PodCounts {
    pub fn add(&mut self, o: &PodCounts) {
        self.total += o.total;
        self.on_eniconfig_subnet += o.on_eniconfig_subnet;
        self.elsewhere += o.elsewhere;
        self.unknown_place += o.unknown_place;
        self.host_network += o.host_network;
        self.daemonset += o.daemonset;
        self.to_move += o.to_move;
        self.undecided += o.undecided;
    }
}

/// `CustomNetworkingReady` over a row's nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadyCounts {
    pub r#true: u64,
    pub r#false: u64,
    pub unknown: u64,
    pub no_agent: u64,
    pub stale: u64,
    /// Reasons of False conditions, most frequent first (at most 3).
    pub top_reasons: Vec<ReasonCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    pub reason: String,
    pub nodes: u64,
}

/// One node, judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub name: String,
    pub nodegroup: NodeGroup,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The kubelet's max-pods (allocatable, else capacity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<u32>,
    pub mode: NodeMode,
    pub ready: Readiness,
    pub migration: Migration,
    pub pods: PodCounts,
    /// Pods it can still take under custom networking (migrated nodes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_slots: Option<Amount>,
}

/// Where a nodegroup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    Migrated,
    /// Migrated, some nodes report False.
    Drift,
    /// Some nodes migrated, some not (a rolling replacement).
    Migrating,
    NotMigrated,
    Unknown,
    /// Auto Mode or out of scope only.
    NotInPlan,
}

impl GroupState {
    pub fn words(self) -> &'static str {
        match self {
            GroupState::Migrated => "migrated",
            GroupState::Drift => "drift",
            GroupState::Migrating => "migrating",
            GroupState::NotMigrated => "not migrated",
            GroupState::Unknown => "unknown",
            GroupState::NotInPlan => "not in plan",
        }
    }
}

/// One nodegroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRow {
    pub name: String,
    pub source: GroupSource,
    pub nodes: u64,
    pub zones: Vec<String>,
    pub ready: ReadyCounts,
    pub pods: PodCounts,
    pub state: GroupState,
}

/// One zone and its migration plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneRow {
    pub zone: String,
    pub nodes: u64,
    pub ready: ReadyCounts,
    pub pods: PodCounts,
    pub plan: ZonePlan,
}

/// The plan of one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZonePlan {
    /// Pods that still have to move in the zone.
    pub pods_to_move: u64,
    /// Free custom-networking pod slots on the zone's migrated nodes.
    pub free_slots: Amount,
    /// Pods that do not fit on the migrated nodes (to_move − free, at least 0).
    pub shortfall: Amount,
    /// Nodes that provision on demand here (Karpenter NodePools, Auto Mode).
    pub on_demand: Vec<String>,
    /// Nodes to add, when there is a shortfall and an instance type to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes_to_add: Vec<NodesToAdd>,
    /// Addresses the added nodes' warm pools hold (WARM_ENI_TARGET=1: one
    /// ENI's addresses per added node; prefix delegation: one /28).
    pub warm_pool_addresses: Amount,
    /// The pod subnets (of the zone's ENIConfigs) and their room.
    pub subnets: Vec<SubnetRoom>,
}

/// "about `count` more `instance_type`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodesToAdd {
    pub instance_type: String,
    pub count: u64,
    /// Pods each added node takes (its max-pods under custom networking,
    /// less the DaemonSet pods every node runs).
    pub pods_per_node: u64,
}

/// A pod subnet against the pods moving in and the warm pools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetRoom {
    pub subnet: String,
    pub free_addresses: Amount,
    pub prefix_delegation: bool,
}

/// How bad a verdict is (and what it does to the exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    /// A step of the migration still to take (exit 1: not done).
    ToDo,
    /// Nodes or pods not as their ENIConfig says (exit 1).
    Drift,
    /// Capacity or addresses will not hold the pods that move (exit 1).
    Blocking,
    /// Cannot tell (exit 2 when nothing else is wrong).
    Unknown,
}

/// One sentence of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub severity: Severity,
    /// `nodegroup old-ng`, `zone eu-west-1b`, `subnet subnet-…`, `cluster`.
    pub subject: String,
    /// The zone and nodegroup it is about, for the filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodegroup: Option<String>,
    pub text: String,
}

impl StatusView {
    /// 0 done; 1 drift, migration not done, or a blocking capacity problem;
    /// 2 inconclusive (something unknown and nothing wrong found).
    pub fn exit_code(&self) -> i32 {
        let worst = |s: Severity| self.verdicts.iter().any(|v| v.severity == s);
        if worst(Severity::Blocking) || worst(Severity::Drift) || worst(Severity::ToDo) {
            1
        } else if worst(Severity::Unknown) {
            2
        } else {
            0
        }
    }
}
