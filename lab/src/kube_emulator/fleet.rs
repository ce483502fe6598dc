//! Nodes at cluster scale: the other Nodes of the cluster the scenario's
//! node belongs to, for clients that watch every Node (the cluster
//! component). A fleet node carries what kubelet and the AWS cloud
//! provider put on an EKS Node and what such a client reads: the
//! well-known labels (hostname, instance type, zone, zone id, region,
//! plus any extra), `spec.providerID` (`aws:///ZONE/INSTANCE`),
//! `status.addresses` (InternalIP, InternalDNS, Hostname) and a Ready
//! condition.
//!
//! Fleet nodes are kept apart from the scenario's rendering, so
//! [`KubeState::apply_scenario`] keeps them, and loading thousands costs
//! one store write each (5,000 in a few milliseconds in release builds).
//! Watchers see ADDED / MODIFIED / DELETED as for any Node; loading more
//! nodes than `EmulatorOptions::history_limit` compacts the history, as a
//! busy etcd would.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::resources::Kind;
use super::store::ObjKey;
use super::KubeState;

/// One Node of the cluster besides the scenario's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetNode {
    pub name: String,
    pub instance_id: String,
    pub instance_type: String,
    pub availability_zone: String,
    /// `topology.k8s.aws/zone-id`; None leaves the label off.
    pub availability_zone_id: Option<String>,
    pub internal_ip: Ipv4Addr,
    /// Extra labels (e.g. `k8s.amazonaws.com/eniConfig`), over the defaults.
    pub labels: BTreeMap<String, String>,
    /// The Ready condition's status is `True` (else `False`).
    pub ready: bool,
}

impl FleetNode {
    /// Node number `index` of a fleet spread round-robin over `zones`
    /// (`(name, id)` pairs, e.g. `("us-west-2a", "usw2-az1")`): a distinct
    /// InternalIP (`10.(1+zone).x.y`), instance id and EC2-style name.
    /// With no zones, everything is in `us-west-2a`.
    pub fn numbered(index: usize, zones: &[(&str, &str)]) -> FleetNode {
        let (zone, zone_id) = match zones.len() {
            0 => ("us-west-2a", "usw2-az1"),
            n => zones[index % n],
        };
        let zone_no = match zones.len() {
            0 => 0,
            n => index % n,
        };
        let within = index / zones.len().max(1);
        let octet = |v: usize| u8::try_from(v % 256).unwrap_or(0);
        let ip = Ipv4Addr::new(
            10,
            octet(1 + zone_no),
            octet(within / 250),
            octet(within % 250 + 4),
        );
        let region = zone.trim_end_matches(|c: char| c.is_ascii_lowercase());
        let [_, b, c, d] = ip.octets();
        FleetNode {
            name: format!("ip-10-{b}-{c}-{d}.{region}.compute.internal"),
            instance_id: format!("i-0f1ee7{index:011x}"),
            instance_type: "m5.large".to_string(),
            availability_zone: zone.to_string(),
            availability_zone_id: Some(zone_id.to_string()),
            internal_ip: ip,
            labels: BTreeMap::new(),
            ready: true,
        }
    }

    /// The Node object as the API server holds it (identity metadata is
    /// the store's).
    pub(crate) fn render(&self) -> Value {
        let region = self
            .availability_zone
            .trim_end_matches(|c: char| c.is_ascii_lowercase());
        let mut labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), self.name.clone()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
            ("kubernetes.io/arch".to_string(), "amd64".to_string()),
            (
                "node.kubernetes.io/instance-type".to_string(),
                self.instance_type.clone(),
            ),
            (
                "topology.kubernetes.io/zone".to_string(),
                self.availability_zone.clone(),
            ),
            (
                "topology.kubernetes.io/region".to_string(),
                region.to_string(),
            ),
        ]);
        if let Some(id) = &self.availability_zone_id {
            labels.insert("topology.k8s.aws/zone-id".to_string(), id.clone());
        }
        labels.extend(self.labels.clone());
        let (status, reason) = if self.ready {
            ("True", "KubeletReady")
        } else {
            ("Unknown", "NodeStatusUnknown")
        };
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
            "spec": {"providerID": format!("aws:///{}/{}", self.availability_zone, self.instance_id)},
            "status": {
                "conditions": [{"type": "Ready", "status": status, "reason": reason}],
                "addresses": [
                    {"type": "InternalIP", "address": self.internal_ip.to_string()},
                    {"type": "InternalDNS", "address": self.name},
                    {"type": "Hostname", "address": self.name},
                ],
                "nodeInfo": {"kubeletVersion": "v1.33.0-eks-lab", "architecture": "amd64",
                             "operatingSystem": "linux"},
            },
        })
    }
}

/// `count` nodes numbered 0.. over `zones` (see [`FleetNode::numbered`]).
pub fn fleet(count: usize, zones: &[(&str, &str)]) -> Vec<FleetNode> {
    (0..count).map(|i| FleetNode::numbered(i, zones)).collect()
}

impl KubeState {
    /// Add Nodes besides the scenario's (a fleet node of the same name is
    /// replaced, an unchanged one not rewritten; one named as the
    /// scenario's node is ignored: the scenario renders that one). They
    /// stay across [`KubeState::apply_scenario`] until
    /// [`KubeState::remove_nodes`].
    pub fn add_nodes(&self, nodes: impl IntoIterator<Item = FleetNode>) {
        let mut inner = self.lock();
        for node in nodes {
            if node.name == inner.node_name {
                continue;
            }
            let obj = node.render();
            inner.fleet.insert(node.name.clone(), obj.clone());
            let key = ObjKey::new(Kind::Node, "", &node.name);
            inner.store.upsert(key, obj);
        }
    }

    /// Remove fleet nodes by name (watchers see DELETED); the scenario's
    /// own node is not affected.
    pub fn remove_nodes<S: AsRef<str>>(&self, names: &[S]) {
        let mut inner = self.lock();
        for name in names {
            let name = name.as_ref();
            if inner.fleet.remove(name).is_some() && name != inner.node_name {
                inner.store.remove(&ObjKey::new(Kind::Node, "", name));
            }
        }
    }

    /// Every Node object, the scenario's included, in name order.
    pub fn nodes(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .store
            .objects(Kind::Node)
            .map(|(_, v)| v.clone())
            .collect()
    }
}
