//! The minimal shapes of listed Nodes, Pods and NodeClasses, and their
//! reduction to the status input.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use eniwatch_core::model::NodeInfo;
use eniwatch_core::status::input::{NodeClassInfo, NodeCondition, StatusNode, StatusPod};

use super::{RawMeta, CONDITION_TYPE};

#[derive(Deserialize)]
pub(super) struct RawNode {
    #[serde(default)]
    metadata: RawMeta,
    #[serde(default)]
    spec: RawNodeSpec,
    #[serde(default)]
    status: RawNodeStatus,
}

#[derive(Deserialize, Default)]
struct RawNodeSpec {
    #[serde(default)]
    unschedulable: bool,
}

#[derive(Deserialize, Default)]
struct RawNodeStatus {
    #[serde(default)]
    capacity: BTreeMap<String, String>,
    #[serde(default)]
    allocatable: BTreeMap<String, String>,
    #[serde(default)]
    addresses: Vec<RawAddress>,
    #[serde(default)]
    conditions: Vec<RawCondition>,
}

#[derive(Deserialize)]
struct RawAddress {
    #[serde(rename = "type")]
    kind: String,
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCondition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    reason: Option<String>,
    message: Option<String>,
    last_heartbeat_time: Option<String>,
}

/// A quantity of pods (`"110"`); anything else is not a count.
fn pods(map: &BTreeMap<String, String>) -> Option<u32> {
    map.get("pods").and_then(|q| q.trim().parse().ok())
}

impl RawNode {
    /// Reduced; of the annotations only `annotation` (the ENIConfig one) is kept.
    pub(super) fn reduce(self, annotation: &str) -> StatusNode {
        let RawNode {
            metadata,
            spec,
            status,
        } = self;
        let mut annotations = metadata.annotations;
        annotations.retain(|k, _| k == annotation);
        let internal_ips = status
            .addresses
            .iter()
            .filter(|a| a.kind == "InternalIP")
            .filter_map(|a| a.address.parse().ok())
            .collect();
        let find = |kind: &str| status.conditions.iter().find(|c| c.kind == kind);
        let ready = match find("Ready").map(|c| c.status.as_str()) {
            Some("True") => Some(true),
            Some("False") => Some(false),
            _ => None,
        };
        let condition = find(CONDITION_TYPE).map(|c| NodeCondition {
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_heartbeat: c.last_heartbeat_time.clone(),
        });
        StatusNode {
            info: NodeInfo {
                name: metadata.name,
                labels: metadata.labels,
                annotations,
                capacity_pods: pods(&status.capacity),
            },
            allocatable_pods: pods(&status.allocatable),
            internal_ips,
            ready,
            unschedulable: spec.unschedulable,
            condition,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawPod {
    #[serde(default)]
    metadata: RawMeta,
    #[serde(default)]
    spec: RawPodSpec,
    #[serde(default)]
    status: RawPodStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPodSpec {
    node_name: Option<String>,
    #[serde(default)]
    host_network: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPodStatus {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
}

impl RawPod {
    pub(super) fn reduce(self) -> StatusPod {
        let RawPod {
            metadata,
            spec,
            status,
        } = self;
        let owner_kind = metadata
            .owner_references
            .into_iter()
            .find(|o| o.controller == Some(true))
            .map(|o| o.kind);
        StatusPod {
            namespace: metadata.namespace,
            name: metadata.name,
            node_name: spec.node_name.filter(|n| !n.is_empty()),
            ip: status.pod_ip.and_then(|ip| ip.parse().ok()),
            host_network: spec.host_network,
            owner_kind,
            deleting: metadata.deletion_timestamp.is_some(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawNodeClass {
    #[serde(default)]
    metadata: RawMeta,
    #[serde(default)]
    spec: RawNodeClassSpec,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawNodeClassSpec {
    pod_subnet_selector_terms: Option<Vec<IgnoredAny>>,
    pod_security_group_selector_terms: Option<Vec<IgnoredAny>>,
}

impl RawNodeClass {
    pub(super) fn reduce(self) -> NodeClassInfo {
        let set = |terms: &Option<Vec<IgnoredAny>>| terms.as_ref().is_some_and(|t| !t.is_empty());
        NodeClassInfo {
            name: self.metadata.name,
            has_pod_subnet_terms: set(&self.spec.pod_subnet_selector_terms),
            has_pod_security_group_terms: set(&self.spec.pod_security_group_selector_terms),
        }
    }
}
