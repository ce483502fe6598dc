//! A cluster in the middle of a migration to custom networking, to build
//! tests and the golden outputs on (feature `fixture`; never shipped).
//!
//! Three zones (eu-west-1a/b/c), ENIConfigs named after the zones
//! (`ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone`), 60 nodes:
//!
//! | nodegroup | kind | type, max-pods | a | b | c | app pods per node |
//! |---|---|---|---|---|---|---|
//! | old-ng | managed, not migrated (node subnet) | m5.large, 29 | 8 | 8 | 8 | 20 |
//! | new-ng | managed, migrated | m5.large, 20 | 14 | 2 | 6 | 3 |
//! | general | Karpenter NodePool, migrated | m5.4xlarge, 58 | – | – | 14 | 55 |
//!
//! Every node runs three DaemonSet pods (aws-node and kube-proxy on the
//! host network, fluent-bit on the pod network). On old-ng-a-0 two app pods
//! use the host network; on old-ng-b-0 three are being deleted; old-ng-c-7
//! has no agent; general-c-13's heartbeat is two hours old; 4 pods are
//! pending. 180 + 480 + 66 + 770 + 4 = 1,500 pods.
//!
//! The plan, by hand (docs/status.md gives the formulas):
//! - a: 8×20 − 2 host-network = 158 to move; new-ng 14 × (20 − 6) = 196
//!   free: fits; subnet-0poda 7,000 free ≥ 158.
//! - b: 160 − 3 deleting = 157 to move; 2 × 14 = 28 free; 129 short. An
//!   added m5.large takes 20 − 3 DaemonSet = 17 → ⌈129/17⌉ = 8; an
//!   m5.xlarge (3×14+2 = 44) takes 41 → ⌈129/41⌉ = 4. Warm pools 8 × 10
//!   = 80; subnet-0podb 8,000 ≥ 157 + 80.
//! - c: 160 to move (old-ng-c-7 has no agent, its pods are in the node
//!   subnet); new-ng 6 × 14 = 84 free, general full (58 − 58 = 0): 76
//!   short, Karpenter provisions on demand (m5.4xlarge, 58 − 3 = 55 pods:
//!   2 nodes, warm pools 2 × 30 = 60); subnet-0podc has 150 free for
//!   160 + 60 = 220: 70 short, blocked.
//! - old-ng cannot be deleted (zones b and c); new-ng and general are migrated.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::input::{NodeCondition, StatusInput, StatusNode, StatusPod};
use crate::model::node_kind::{
    INSTANCE_TYPE_LABEL, KARPENTER_NODEPOOL_LABEL, MANAGED_NODEGROUP_LABEL, ZONE_LABEL,
};
use crate::model::{EniConfig, NodeInfo, SelectionSettings};
use crate::published::{PublishedFacts, PublishedSubnet};

const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const NOW: &str = "2026-12-01T21:00:00Z";
const STALE: &str = "2026-12-01T19:00:00Z";

struct Group {
    name: &'static str,
    karpenter: bool,
    instance_type: &'static str,
    max_pods: u32,
    per_zone: [usize; 3],
    apps: usize,
    migrated: bool,
}

const GROUPS: [Group; 3] = [
    Group {
        name: "old-ng",
        karpenter: false,
        instance_type: "m5.large",
        max_pods: 29,
        per_zone: [8, 8, 8],
        apps: 20,
        migrated: false,
    },
    Group {
        name: "new-ng",
        karpenter: false,
        instance_type: "m5.large",
        max_pods: 20,
        per_zone: [14, 2, 6],
        apps: 3,
        migrated: true,
    },
    Group {
        name: "general",
        karpenter: true,
        instance_type: "m5.4xlarge",
        max_pods: 58,
        per_zone: [0, 0, 14],
        apps: 55,
        migrated: true,
    },
];

fn ip(base: [u8; 4], n: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::from(base)).wrapping_add(n as u32))
}

struct Addresses {
    node: [usize; 3],
    pod_subnet: [usize; 3],
}

impl Addresses {
    /// Node subnets 10.0.0.0/20, 10.0.16.0/20, 10.0.32.0/20.
    fn node_subnet(&mut self, z: usize) -> Ipv4Addr {
        self.node[z] += 1;
        ip([10, 0, (16 * z) as u8, 10], self.node[z])
    }

    /// Pod subnets 100.64.0.0/19, 100.64.32.0/19, 100.64.64.0/21.
    fn pod_subnet(&mut self, z: usize) -> Ipv4Addr {
        self.pod_subnet[z] += 1;
        ip([100, 64, (32 * z) as u8, 10], self.pod_subnet[z])
    }
}

fn pod(node: &str, name: String, ip: Option<Ipv4Addr>, owner: &str) -> StatusPod {
    StatusPod {
        namespace: if owner == "DaemonSet" {
            "kube-system"
        } else {
            "shop"
        }
        .into(),
        name,
        node_name: Some(node.to_string()),
        ip,
        host_network: false,
        owner_kind: Some(owner.to_string()),
        deleting: false,
    }
}

fn node(g: &Group, z: usize, i: usize, node_ip: Ipv4Addr) -> StatusNode {
    let name = format!("{}-{}-{i}", g.name, &ZONES[z][9..]);
    let mut labels = BTreeMap::new();
    labels.insert(ZONE_LABEL.to_string(), ZONES[z].to_string());
    labels.insert(INSTANCE_TYPE_LABEL.to_string(), g.instance_type.to_string());
    labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
    let group_label = if g.karpenter {
        KARPENTER_NODEPOOL_LABEL
    } else {
        MANAGED_NODEGROUP_LABEL
    };
    labels.insert(group_label.to_string(), g.name.to_string());
    let condition = match (g.migrated, name.as_str()) {
        (false, "old-ng-c-7") => None,
        (false, _) => Some(("False", Some("PodIPOutsideENIConfigSubnet"), NOW)),
        (true, "general-c-13") => Some(("True", Some("Ready"), STALE)),
        (true, _) => Some(("True", Some("Ready"), NOW)),
    };
    StatusNode {
        info: NodeInfo {
            name,
            labels,
            annotations: BTreeMap::new(),
            capacity_pods: Some(g.max_pods),
        },
        allocatable_pods: Some(g.max_pods),
        internal_ips: vec![IpAddr::V4(node_ip)],
        ready: Some(true),
        unschedulable: false,
        condition: condition.map(|(status, reason, at)| NodeCondition {
            status: status.into(),
            reason: reason.map(Into::into),
            message: None,
            last_heartbeat: Some(at.into()),
        }),
    }
}

fn pods_of(n: &StatusNode, g: &Group, z: usize, addr: &mut Addresses, out: &mut Vec<StatusPod>) {
    let name = n.info.name.as_str();
    let node_ip = match n.internal_ips.first() {
        Some(IpAddr::V4(v4)) => Some(*v4),
        _ => None,
    };
    for ds in ["aws-node", "kube-proxy"] {
        let mut p = pod(name, format!("{ds}-{name}"), node_ip, "DaemonSet");
        p.host_network = true;
        out.push(p);
    }
    let next = |addr: &mut Addresses| {
        if g.migrated {
            addr.pod_subnet(z)
        } else {
            addr.node_subnet(z)
        }
    };
    out.push(pod(
        name,
        format!("fluent-bit-{name}"),
        Some(next(addr)),
        "DaemonSet",
    ));
    for k in 0..g.apps {
        let mut p = pod(
            name,
            format!("app-{name}-{k}"),
            Some(next(addr)),
            "ReplicaSet",
        );
        if name == "old-ng-a-0" && k < 2 {
            p.host_network = true;
            p.ip = node_ip;
        }
        p.deleting = name == "old-ng-b-0" && k < 3;
        out.push(p);
    }
}

fn subnet(id: &str, cidr: &str, z: usize, free: u32) -> Option<PublishedSubnet> {
    Some(PublishedSubnet {
        id: id.parse().ok()?,
        cidr: cidr.parse().ok(),
        availability_zone: Some(ZONES[z].to_string()),
        availability_zone_id: Some(format!("euw1-az{}", z + 1)),
        free_addresses: Some(free),
        free_prefixes: None,
        observed_at: NOW.to_string(),
    })
}

const POD_SUBNETS: [(&str, &str, u32); 3] = [
    ("subnet-0poda", "100.64.0.0/19", 7000),
    ("subnet-0podb", "100.64.32.0/19", 8000),
    ("subnet-0podc", "100.64.64.0/21", 150),
];

/// The cluster described in the module docs.
pub fn migration_cluster() -> StatusInput {
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    let mut addr = Addresses {
        node: [0; 3],
        pod_subnet: [0; 3],
    };
    for g in &GROUPS {
        for (z, count) in g.per_zone.iter().enumerate() {
            for i in 0..*count {
                let n = node(g, z, i, addr.node_subnet(z));
                pods_of(&n, g, z, &mut addr, &mut pods);
                nodes.push(n);
            }
        }
    }
    for k in 0..4 {
        let mut p = pod("", format!("app-pending-{k}"), None, "ReplicaSet");
        p.node_name = None;
        pods.push(p);
    }
    let eni_configs = ZONES
        .iter()
        .zip(POD_SUBNETS)
        .map(|(zone, (id, _, _))| EniConfig {
            name: zone.to_string(),
            subnet: id.parse().ok(),
            security_groups: "sg-0pods".parse().into_iter().collect(),
            problems: Vec::new(),
        })
        .collect();
    let mut subnets: Vec<PublishedSubnet> = POD_SUBNETS
        .iter()
        .enumerate()
        .filter_map(|(z, (id, cidr, free))| subnet(id, cidr, z, *free))
        .collect();
    subnets.extend((0..3).filter_map(|z| {
        subnet(
            &format!("subnet-0node{}", &ZONES[z][9..]),
            &format!("10.0.{}.0/20", 16 * z),
            z,
            3900,
        )
    }));
    StatusInput {
        nodes,
        pods,
        eni_configs: Ok(Some(eni_configs)),
        node_classes: Ok(None),
        facts: Ok(Some(PublishedFacts {
            schema_version: 1,
            vpc_id: "vpc-0migration".parse().ok(),
            subnets,
            subnets_not_found: Vec::new(),
            enis_observed_at: Some(NOW.to_string()),
            nodes: Vec::new(),
            nodes_truncated: false,
            cni_subnets: Some(Vec::new()),
            node_classes: Vec::new(),
        })),
        selection: SelectionSettings {
            label_def: ZONE_LABEL.to_string(),
            ..SelectionSettings::default()
        },
    }
}
