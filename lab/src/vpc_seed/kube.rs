//! The Nodes and ENIConfigs the API server holds for a seeded cluster, in
//! the wire form (`v1` Node, `crd.k8s.amazonaws.com/v1alpha1` ENIConfig).
//! Identity metadata (uid, resourceVersion, creationTimestamp) is left to
//! whatever stores them.

use serde_json::{json, Value};

use super::{Seeded, SeededNode, INSTANCE_TYPE, REGION};

/// The label aws-node reads the ENIConfig name from by default.
pub const ENI_CONFIG_LABEL: &str = "k8s.amazonaws.com/eniConfig";

impl Seeded {
    /// One Node per seeded instance, as kubelet and the cloud provider label
    /// it on EKS: providerID `aws:///<zone>/<instance>`, zone, zone id,
    /// instance type, managed nodegroup, the ENIConfig label, InternalIP.
    pub fn node_objects(&self) -> Vec<Value> {
        self.nodes.iter().map(|n| self.node_object(n)).collect()
    }

    fn node_object(&self, n: &SeededNode) -> Value {
        let zone = &self.zones[n.zone];
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": n.name,
                "labels": {
                    "kubernetes.io/hostname": n.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node.kubernetes.io/instance-type": INSTANCE_TYPE,
                    "topology.kubernetes.io/region": REGION,
                    "topology.kubernetes.io/zone": zone.name,
                    "topology.k8s.aws/zone-id": zone.zone_id,
                    "eks.amazonaws.com/nodegroup": format!("ng-{}", zone.name),
                    ENI_CONFIG_LABEL: n.eni_config,
                },
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                },
            },
            "spec": {
                "providerID": format!("aws:///{}/{}", zone.name, n.instance_id),
            },
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": n.internal_ip.to_string()},
                    {"type": "InternalDNS", "address": n.name},
                    {"type": "Hostname", "address": n.name},
                ],
                "capacity": {"cpu": "2", "memory": "7926544Ki", "pods": "29"},
                "allocatable": {"cpu": "1930m", "memory": "7236368Ki", "pods": "29"},
                "conditions": [{
                    "type": "Ready", "status": "True",
                    "reason": "KubeletReady", "message": "kubelet is posting ready status",
                }],
                "nodeInfo": {
                    "operatingSystem": "linux", "architecture": "amd64",
                    "kubeletVersion": "v1.31.4-eks-aeac579",
                    "containerRuntimeVersion": "containerd://1.7.25",
                },
            },
        })
    }

    /// The ENIConfigs.
    pub fn eni_config_objects(&self) -> Vec<Value> {
        self.eni_configs
            .iter()
            .map(|c| {
                json!({
                    "apiVersion": "crd.k8s.amazonaws.com/v1alpha1",
                    "kind": "ENIConfig",
                    "metadata": {"name": c.name, "generation": 1},
                    "spec": {"subnet": c.subnet, "securityGroups": c.security_groups},
                })
            })
            .collect()
    }
}
