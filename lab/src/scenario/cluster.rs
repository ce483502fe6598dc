//! The scenario's `cluster:` section: what the rest of the cluster says
//! about the node, beyond its own objects.
//!
//! ```yaml
//! cluster:
//!   cni_subnets:              # enhanced subnet discovery: subnets tagged
//!     ap-southeast-1a: [subnet-0pods1a]   # kubernetes.io/role/cni=1, per zone
//!   node_classes:             # EKS Auto Mode NodeClasses as eniwatch-cluster resolved them
//!   - name: default
//!     pod_subnet_selector_terms: [{id: subnet-0pods1a}]   # as written (for the reader)
//!     pod_subnets: {ap-southeast-1a: [subnet-0pods1a]}     # resolved, per zone
//!     pod_security_groups: [sg-0pods]
//!   ipv6_pods:                # pods whose status.podIP is IPv6 (an IPv6 cluster)
//!     shop/web-00: 2600:1f18::a1
//! ```
//!
//! `cni_subnets` and `node_classes` go into the facts ConfigMap
//! (`kube_emulator::cluster_facts`), which is published when either is set
//! or the scenario has an `ec2:` section.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Zone → subnet ids tagged `kubernetes.io/role/cni=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_subnets: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_classes: Vec<NodeClassSpec>,
    /// `namespace/name` → the pod's IPv6 `status.podIP` (its IPv4 `ip`, if
    /// any, is then not published).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ipv6_pods: BTreeMap<String, Ipv6Addr>,
}

impl ClusterSpec {
    /// Whether eniwatch-cluster's facts have something of this section.
    pub fn publishes(&self) -> bool {
        self.cni_subnets.is_some() || !self.node_classes.is_empty()
    }
}

/// A NodeClass (`eks.amazonaws.com/v1`) and its resolution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeClassSpec {
    pub name: String,
    /// `spec.podSubnetSelectorTerms` as written: `{id: ...}` or `{tags: {...}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_subnet_selector_terms: Vec<serde_json::Value>,
    /// `spec.podSecurityGroupSelectorTerms` as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_security_group_selector_terms: Vec<serde_json::Value>,
    /// Resolved: zone → subnet ids; absent without pod subnet terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnets: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}
