//! The migration plan of one zone: the pods that still have to move against
//! the free custom-networking slots of the zone's migrated nodes and against
//! the free addresses of its pod subnets (docs/status.md has the arithmetic).
//!
//! Assumptions, stated in the verdicts' words where they matter:
//! - Pods that move land in the same zone (volumes and spread constraints
//!   usually pin them; a plan across zones would guess).
//! - Each added node runs every DaemonSet: it takes as many DaemonSet pods
//!   as the zone's busiest node runs, out of its max-pods.
//! - Max-pods of an added node: that of a migrated node of the same type in
//!   the zone, else the custom-networking formula (capped at 110 under
//!   prefix delegation, the EKS AMI's default).
//! - Warm pools, WARM_ENI_TARGET=1 (the VPC CNI's default): each added node
//!   holds one whole ENI's addresses from the pod subnet (its own primary
//!   and the secondary ones) beyond its pods; under prefix delegation one
//!   /28 (WARM_PREFIX_TARGET=1). Nodes already there have theirs.
//! - Karpenter NodePools and EKS Auto Mode provision nodes on demand: a
//!   shortfall in a zone where they run is theirs to fill, not a number of
//!   nodes to add; the subnet must still hold the pods.

use std::collections::BTreeMap;

use super::judge::Inputs;
use super::view::{
    Amount, Migration, NodeMode, NodeRow, NodesToAdd, SubnetRoom, Verdict, ZonePlan,
};
use super::zone_verdicts::verdicts;
use crate::checks::capacity::{max_pods, AddressingMode};
use crate::model::node_kind::GroupSource;

/// What the plan says of a zone, for the nodegroups in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Fits,
    Short,
    Unknown(String),
}

/// Max-pods the EKS AMI gives a node under prefix delegation by default.
const PREFIX_DELEGATION_MAX_PODS: u64 = 110;

/// The zone's plan, its verdicts and its outcome.
pub(crate) fn zone_plan(
    zone: &str,
    rows: &[&NodeRow],
    inp: &Inputs,
) -> (ZonePlan, Vec<Verdict>, Outcome) {
    let in_cn = |r: &&&NodeRow| matches!(r.migration, Migration::Migrated | Migration::Drift);
    let pods_to_move: u64 = rows.iter().map(|r| r.pods.to_move).sum();
    let free_slots = rows
        .iter()
        .filter(in_cn)
        .try_fold(0u64, |acc, r| match &r.free_slots {
            Some(Amount::Known(n)) => Ok(acc.saturating_add(*n)),
            Some(Amount::Unknown { unknown }) => Err(unknown.clone()),
            None => Ok(acc),
        });
    let free_slots = match free_slots {
        Ok(n) => Amount::Known(n),
        Err(why) => Amount::unknown(why),
    };
    let shortfall = match free_slots {
        Amount::Known(f) => Amount::Known(pods_to_move.saturating_sub(f)),
        Amount::Unknown { ref unknown } => Amount::unknown(unknown.clone()),
    };
    let on_demand = on_demand(rows);
    let subnets = subnets(rows, inp);
    let pd = subnets.iter().any(|s| s.prefix_delegation);
    let nodes_to_add = match shortfall {
        Amount::Known(s) if s > 0 => nodes_to_add(rows, s, pd, !on_demand.is_empty()),
        _ => Vec::new(),
    };
    let warm = warm_pool(&shortfall, &nodes_to_add, pd);
    let plan = ZonePlan {
        pods_to_move,
        free_slots,
        shortfall,
        on_demand,
        nodes_to_add,
        warm_pool_addresses: warm,
        subnets,
    };
    let (verdicts, outcome) = verdicts(zone, rows, &plan, inp);
    (plan, verdicts, outcome)
}

fn on_demand(rows: &[&NodeRow]) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .filter_map(|r| match (&r.mode, r.nodegroup.source, r.migration) {
            (NodeMode::EksAutoMode { .. }, _, _) => {
                Some(format!("EKS Auto Mode ({})", r.nodegroup.name))
            }
            (_, GroupSource::KarpenterNodePool, Migration::Migrated | Migration::Drift) => {
                Some(format!("Karpenter NodePool {}", r.nodegroup.name))
            }
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn subnets(rows: &[&NodeRow], inp: &Inputs) -> Vec<SubnetRoom> {
    let mut ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| match &r.mode {
            NodeMode::CustomNetworking { subnet, .. } => Some(subnet.as_str()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let free = match &inp.facts {
                Ok(Some(f)) => match f.subnets.iter().find(|s| s.id.as_str() == id) {
                    Some(s) => s.free_addresses.map_or_else(
                        || Amount::unknown(format!("no free address count of {id} is published")),
                        |n| Amount::Known(u64::from(n)),
                    ),
                    None => Amount::unknown(format!("{id} is not in the published facts")),
                },
                Ok(None) => Amount::unknown("eniwatch-cluster's facts are not published"),
                Err(e) => Amount::unknown(e.clone()),
            };
            SubnetRoom {
                subnet: id.to_string(),
                free_addresses: free,
                prefix_delegation: inp.prefix_delegation(id) == Some(true),
            }
        })
        .collect()
}

/// The instance types to suggest: the most common one among the zone's
/// migrated nodes (those of on-demand groups when they will fill the gap,
/// else the others), else among its unmigrated ones; then the next size of
/// the same family in the table.
fn nodes_to_add(rows: &[&NodeRow], shortfall: u64, pd: bool, on_demand: bool) -> Vec<NodesToAdd> {
    let karpenter = |r: &&&NodeRow| r.nodegroup.source == GroupSource::KarpenterNodePool;
    let migrated = |r: &&&NodeRow| matches!(r.migration, Migration::Migrated | Migration::Drift);
    let pick = |f: &dyn Fn(&&&NodeRow) -> bool| most_common(rows.iter().filter(|r| f(r)));
    let primary = if on_demand {
        pick(&|r| migrated(r) && karpenter(r))
    } else {
        pick(&|r| migrated(r) && !karpenter(r)).or_else(|| pick(&|r| migrated(r)))
    }
    .or_else(|| pick(&|r| r.migration == Migration::NotMigrated));
    let Some(primary) = primary else {
        return Vec::new();
    };
    let overhead = rows
        .iter()
        .filter(|r| r.migration != Migration::NotInPlan)
        .map(|r| r.pods.daemonset)
        .max()
        .unwrap_or(0);
    let mut types = vec![primary.clone()];
    if !on_demand {
        types.extend(next_size(&primary));
    }
    types
        .into_iter()
        .filter_map(|t| {
            let per_node = per_node(rows, &t, pd)?.checked_sub(overhead)?;
            (per_node > 0).then(|| NodesToAdd {
                count: shortfall.div_ceil(per_node),
                instance_type: t,
                pods_per_node: per_node,
            })
        })
        .collect()
}

fn most_common<'a>(rows: impl Iterator<Item = &'a &'a NodeRow>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        if let Some(t) = &r.instance_type {
            *counts.entry(t.as_str()).or_default() += 1;
        }
    }
    // Most nodes first; the name breaks ties, so the answer is stable.
    let best = counts
        .iter()
        .map(|(t, n)| (*n, std::cmp::Reverse(*t)))
        .max()?;
    Some(best.1 .0.to_string())
}

/// Max-pods of an added node of type `t` under custom networking.
fn per_node(rows: &[&NodeRow], t: &str, pd: bool) -> Option<u64> {
    let limits = crate::instance_limits::lookup(t)?.pod_limits();
    let formula = max_pods(
        limits,
        AddressingMode {
            custom_networking: true,
            prefix_delegation: pd,
        },
    );
    let kubelet = rows
        .iter()
        .filter(|r| matches!(r.migration, Migration::Migrated | Migration::Drift))
        .filter(|r| r.instance_type.as_deref() == Some(t))
        .find_map(|r| r.max_pods)
        .map(u64::from);
    Some(match (kubelet, pd) {
        (Some(k), _) => formula.min(k),
        (None, true) => formula.min(PREFIX_DELEGATION_MAX_PODS),
        (None, false) => formula,
    })
}

const SIZES: [&str; 18] = [
    "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "3xlarge", "4xlarge",
    "6xlarge", "8xlarge", "9xlarge", "10xlarge", "12xlarge", "16xlarge", "18xlarge", "24xlarge",
    "32xlarge",
];

/// The next larger size of the same family that the table knows.
fn next_size(t: &str) -> Option<String> {
    let (family, size) = t.split_once('.')?;
    let at = SIZES.iter().position(|s| *s == size)?;
    SIZES[at + 1..]
        .iter()
        .map(|s| format!("{family}.{s}"))
        .find(|c| crate::instance_limits::lookup(c).is_some())
}

fn warm_pool(shortfall: &Amount, add: &[NodesToAdd], pd: bool) -> Amount {
    match (shortfall, add.first()) {
        (Amount::Unknown { unknown }, _) => Amount::unknown(unknown.clone()),
        (Amount::Known(0), _) => Amount::Known(0),
        (Amount::Known(_), None) => Amount::unknown("no instance type to add is known"),
        (Amount::Known(_), Some(a)) if pd => Amount::Known(a.count.saturating_mul(16)),
        (Amount::Known(_), Some(a)) => match crate::instance_limits::lookup(&a.instance_type) {
            Some(l) => Amount::Known(
                a.count
                    .saturating_mul(u64::from(l.pod_limits().ipv4_per_eni)),
            ),
            None => Amount::unknown(format!("{} is not in eniwatch's table", a.instance_type)),
        },
    }
}
