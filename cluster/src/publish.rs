//! The published facts ([`eniwatch_core::published`]) from one judgement:
//! what the node agents read instead of asking EC2.
//!
//! Written only when its content changes, so the document must not change
//! when the cluster does not:
//! - a subnet's `observed_at` is `snapshot.now` when its values (CIDR, zone,
//!   free addresses, free /28 blocks) differ from the published ones or it
//!   is new, else the published `observed_at`;
//! - `enis_observed_at` is kept while the set of ENIs not attached to their
//!   node stays the same (it dates that set), and is absent when the CNI's
//!   ENIs could not be listed;
//! - every list is sorted.
//!
//! `cni_subnets` and `node_classes` are resolved by [`crate::node_classes`]
//! from the VPC's subnets and groups; every subnet they name is also in
//! `subnets` (its CIDR and free addresses), after the ENIConfigs' pod
//! subnets and before the node subnets.
//!
//! Bounds: pod subnets, then the subnets `cni_subnets` and `node_classes`
//! name, then node subnets, up to [`MAX_SUBNETS`]; nodes by
//! name up to [`MAX_NODES`] (then `nodes_truncated`), each with at most
//! [`MAX_ENIS_PER_NODE`] ENIs. When EC2 could not list the subnets at all,
//! the published subnets are kept as they are, and `cni_subnets` with them:
//! their `observed_at` says how old they are, and the agents judge from them
//! rather than from nothing. NodeClasses are resolved afresh each time: with
//! EC2 unreadable, a class with pod terms carries the problem in words (its
//! nodes are unknown), never a guess.

use std::collections::{BTreeMap, BTreeSet};

use eniwatch_core::model::SubnetId;
use eniwatch_core::published::{
    PublishedEni, PublishedFacts, PublishedNode, PublishedNodeClass, PublishedSubnet, ZoneSubnets,
    MAX_ENIS_PER_NODE, MAX_NODES, MAX_SUBNETS, SCHEMA_VERSION,
};

use crate::checks::{ClusterEvaluation, UnattachedEni};
use crate::model::ClusterSnapshot;
use crate::node_classes::{cni_subnets, resolve_all};

/// The document to publish. `previous`: what is published now; a subnet
/// whose values did not change keeps its `observed_at`, so an unchanged
/// cluster produces an identical document (and no write).
pub fn published(
    snapshot: &ClusterSnapshot,
    evaluation: &ClusterEvaluation,
    previous: Option<&PublishedFacts>,
) -> PublishedFacts {
    let now = snapshot.now.to_string();
    let vpc = &snapshot.vpc;
    let vpc_id = vpc.vpc_id.as_ref().ok();
    let node_classes = resolve_all(
        &snapshot.node_classes,
        &vpc.subnets,
        &vpc.security_groups,
        vpc_id,
    );
    let (subnets, cni_subnets) = match (&vpc.subnets, previous) {
        (Err(_), Some(p)) => (p.subnets.clone(), p.cni_subnets.clone()),
        _ => {
            let cni = cni_subnets(&vpc.subnets, vpc_id);
            let named = named_subnets(cni.as_deref(), &node_classes);
            (subnets(snapshot, evaluation, previous, &named, &now), cni)
        }
    };
    let mut subnets_not_found = snapshot.vpc.subnets_not_found.clone();
    subnets_not_found.sort();
    subnets_not_found.dedup();
    let (nodes, nodes_truncated, enis_observed_at) = match &snapshot.vpc.cni_enis {
        Err(_) => (Vec::new(), false, None),
        Ok(_) => {
            let (nodes, truncated) = nodes(&evaluation.enis_not_attached);
            let kept = previous
                .filter(|p| p.nodes == nodes && p.nodes_truncated == truncated)
                .and_then(|p| p.enis_observed_at.clone());
            (nodes, truncated, Some(kept.unwrap_or_else(|| now.clone())))
        }
    };
    PublishedFacts {
        schema_version: SCHEMA_VERSION,
        vpc_id: snapshot.vpc.vpc_id.as_ref().ok().cloned(),
        subnets,
        subnets_not_found,
        enis_observed_at,
        nodes,
        nodes_truncated,
        cni_subnets,
        node_classes,
    }
}

/// The subnets `cni_subnets` and the NodeClasses name.
fn named_subnets(
    cni: Option<&[ZoneSubnets]>,
    classes: &[PublishedNodeClass],
) -> BTreeSet<SubnetId> {
    cni.into_iter()
        .flatten()
        .chain(classes.iter().flat_map(|c| c.pod_subnets.iter().flatten()))
        .flat_map(|z| z.subnet_ids.iter().cloned())
        .collect()
}

fn subnets(
    snapshot: &ClusterSnapshot,
    evaluation: &ClusterEvaluation,
    previous: Option<&PublishedFacts>,
    named: &BTreeSet<SubnetId>,
    now: &str,
) -> Vec<PublishedSubnet> {
    let known: BTreeMap<_, _> = snapshot
        .vpc
        .subnets
        .iter()
        .flatten()
        .map(|s| (&s.facts.id, &s.facts))
        .collect();
    // (rank, id, free /28 blocks): ENIConfig pod subnets first (what the
    // agents' checks judge), then the named ones, then node subnets.
    let mut best: BTreeMap<SubnetId, (u8, Option<u32>)> = BTreeMap::new();
    let mut offer = |id: &SubnetId, rank: u8, prefixes: Option<u32>| {
        let e = best.entry(id.clone()).or_insert((rank, prefixes));
        e.0 = e.0.min(rank);
        e.1 = e.1.or(prefixes);
    };
    for s in evaluation
        .subnets
        .iter()
        .filter(|s| known.contains_key(&s.id))
    {
        let rank = match (s.role == "pod", named.contains(&s.id)) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        };
        offer(&s.id, rank, s.free_prefixes);
    }
    for id in named.iter().filter(|id| known.contains_key(id)) {
        offer(id, 1, None);
    }
    let mut chosen: Vec<(u8, SubnetId, Option<u32>)> = best
        .into_iter()
        .map(|(id, (rank, prefixes))| (rank, id, prefixes))
        .collect();
    chosen.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    chosen.truncate(MAX_SUBNETS);
    let mut out: Vec<PublishedSubnet> = chosen
        .into_iter()
        .filter_map(|(_, id, free_prefixes)| {
            let facts = known.get(&id)?;
            let mut entry = PublishedSubnet {
                id: id.clone(),
                cidr: facts.cidr,
                availability_zone: facts.availability_zone.clone(),
                availability_zone_id: facts.availability_zone_id.clone(),
                free_addresses: facts.available_ips,
                free_prefixes,
                observed_at: now.to_string(),
            };
            if let Some(old) = previous.and_then(|p| p.subnet(&id)) {
                let same = PublishedSubnet {
                    observed_at: old.observed_at.clone(),
                    ..entry.clone()
                };
                if &same == old {
                    entry = same;
                }
            }
            Some(entry)
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The nodes with ENIs not attached to them, and whether some were left out.
fn nodes(enis: &[UnattachedEni]) -> (Vec<PublishedNode>, bool) {
    let mut by: BTreeMap<(&str, &str), Vec<&UnattachedEni>> = BTreeMap::new();
    for e in enis {
        by.entry((e.node.as_str(), e.instance_id.as_str()))
            .or_default()
            .push(e);
    }
    let truncated = by.len() > MAX_NODES;
    let nodes = by
        .into_iter()
        .take(MAX_NODES)
        .map(|((name, instance), mut list)| {
            list.sort_by(|a, b| a.id.cmp(&b.id));
            PublishedNode {
                name: name.to_string(),
                instance_id: instance.to_string(),
                enis_not_attached: list
                    .into_iter()
                    .take(MAX_ENIS_PER_NODE)
                    .map(|e| PublishedEni {
                        id: e.id.clone(),
                        status: e.status.clone(),
                        attachment_status: e.attachment_status.clone(),
                        attached_to: e.attached_to.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    (nodes, truncated)
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
