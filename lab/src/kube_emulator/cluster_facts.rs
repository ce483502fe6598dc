//! The facts eniwatch-cluster would publish for the lab node, rendered from
//! the scenario: a scenario with an `ec2:` section, or with CNI-tagged
//! subnets or NodeClasses in its `cluster:` section, has its subnets (the
//! ENIs it lists as `detached`, the `cni_subnets` and resolved
//! `node_classes`) published in the ConfigMap the node agent watches,
//! `kube-system/eniwatch-cluster-facts`, key `facts.json`, schema 1.
//!
//! The lab writes the document itself, from the schema in eniwatch's
//! docs/cluster.md, and depends on no eniwatch crate: a field the agent
//! reads under another name fails the tests instead of agreeing with itself.

use serde_json::{json, Value};

use std::collections::BTreeMap;

use crate::scenario::Scenario;

/// Zone → subnet ids as the document's per-zone lists (`availability_zone`,
/// the node's zone id for its own zone, `subnet_ids`).
fn zones(s: &Scenario, by_zone: &BTreeMap<String, Vec<String>>) -> Value {
    let list: Vec<Value> = by_zone
        .iter()
        .map(|(zone, ids)| {
            let mut v = json!({"availability_zone": zone, "subnet_ids": ids});
            if *zone == s.node.availability_zone {
                if let Some(id) = &s.node.availability_zone_id {
                    v["availability_zone_id"] = json!(id);
                }
            }
            v
        })
        .collect();
    json!(list)
}

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "eniwatch-cluster-facts";

/// The ConfigMap for the scenario, or None without an `ec2:` section or
/// CNI-tagged subnets or NodeClasses in its `cluster:` section.
pub fn config_map(s: &Scenario, now: &str) -> Option<Value> {
    if s.ec2.is_none() && !s.cluster.publishes() {
        return None;
    }
    let detached: &[String] = s.ec2.as_ref().map_or(&[], |e| e.detached.as_slice());
    let subnets: Vec<Value> = s
        .subnets
        .iter()
        .map(|sub| {
            let size = 1u64 << (32 - u32::from(sub.cidr.prefix_len()));
            let free = sub
                .available_ip_address_count
                .map_or(size.saturating_sub(5), u64::from);
            // Zone ids are the node's for its own zone; other zones' are not in the scenario.
            let zone_id = (sub.availability_zone == s.node.availability_zone)
                .then(|| s.node.availability_zone_id.clone())
                .flatten();
            let mut v = json!({
                "id": sub.id,
                "cidr": sub.cidr.to_string(),
                "availability_zone": sub.availability_zone,
                "free_addresses": free,
                "observed_at": now,
            });
            if let Some(id) = zone_id {
                v["availability_zone_id"] = json!(id);
            }
            v
        })
        .collect();
    let nodes: Vec<Value> = if detached.is_empty() {
        Vec::new()
    } else {
        let enis: Vec<Value> = detached
            .iter()
            .map(|id| json!({"id": id, "status": "available"}))
            .collect();
        vec![json!({
            "name": s.node.name,
            "instance_id": s.node.instance_id,
            "enis_not_attached": enis,
        })]
    };
    let mut facts = json!({
        "schema_version": 1,
        "vpc_id": s.vpc.id,
        "subnets": subnets,
        "subnets_not_found": [],
        "enis_observed_at": now,
        "nodes": nodes,
        "nodes_truncated": false,
    });
    if let Some(tagged) = &s.cluster.cni_subnets {
        facts["cni_subnets"] = zones(s, tagged);
    }
    if !s.cluster.node_classes.is_empty() {
        let classes: Vec<Value> = s
            .cluster
            .node_classes
            .iter()
            .map(|c| {
                let mut v = json!({"name": c.name});
                if let Some(p) = &c.pod_subnets {
                    v["pod_subnets"] = zones(s, p);
                }
                if let Some(g) = &c.pod_security_groups {
                    v["pod_security_groups"] = json!(g);
                }
                if !c.problems.is_empty() {
                    v["problems"] = json!(c.problems);
                }
                v
            })
            .collect();
        facts["node_classes"] = json!(classes);
    }
    Some(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {"facts.json": facts.to_string()},
    }))
}
