//! The warm-pool demand of a pod subnet: the addresses the warm pools of the
//! nodes selecting it want, as aws-node's settings ([`ClusterSettings`])
//! size them.
//!
//! Per node: under prefix delegation (the subnet has a CNI ENI holding a
//! prefix), `WARM_PREFIX_TARGET` /28 blocks of 16 addresses; otherwise
//! `WARM_IP_TARGET` addresses if set, else `WARM_ENI_TARGET` ENIs of
//! (IPv4 per ENI − 1) addresses (the ENI's primary address takes no pod).
//! The addresses per ENI come from the embedded instance table, else from
//! what EC2 said of types missing from it; a type known to neither makes the
//! demand unknown, and the detail names it.
//!
//! [`ClusterSettings`]: crate::model::ClusterSettings

use std::collections::BTreeSet;

use eniwatch_core::instance_limits;
use eniwatch_core::model::SubnetId;

use super::context::{Context, PodSubnet};

/// One pod subnet's demand.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Demand {
    /// Addresses; None when some node's could not be sized.
    pub addresses: Option<u64>,
    /// Free /28 blocks the warm pools want (prefix subnets only).
    pub prefixes: Option<u64>,
    /// Why the demand is unknown, when it is.
    pub unknown: Option<String>,
}

/// The addresses one ENI gives pods on an instance type.
fn pod_ips_per_eni(ctx: &Context<'_>, instance_type: &str) -> Option<u64> {
    let per_eni = match instance_limits::lookup(instance_type) {
        Some(l) => l.pod_limits().ipv4_per_eni,
        None => match ctx.snapshot.vpc.instance_types.get(instance_type) {
            Some(Ok(facts)) => facts.limits.ipv4_per_eni,
            _ => return None,
        },
    };
    Some(u64::from(per_eni.saturating_sub(1)))
}

pub(crate) fn subnet_demand(ctx: &Context<'_>, id: &SubnetId, pod: &PodSubnet<'_>) -> Demand {
    let settings = &ctx.snapshot.settings;
    if let Err(why) = &ctx.nodes {
        return Demand {
            unknown: Some(format!("the warm-pool demand is unknown (Nodes: {why})")),
            ..Demand::default()
        };
    }
    let nodes = ctx.pod_subnet_nodes(pod);
    let prefixes = match &ctx.prefix_subnets {
        Ok(set) => set.contains(id),
        Err(why) => {
            return Demand {
                unknown: Some(format!(
                    "the warm-pool demand is unknown (whether the subnet uses prefixes: {why})"
                )),
                ..Demand::default()
            }
        }
    };
    if prefixes {
        let blocks = u64::from(settings.warm_prefix_target).saturating_mul(nodes.len() as u64);
        return Demand {
            addresses: Some(blocks.saturating_mul(16)),
            prefixes: Some(blocks),
            unknown: None,
        };
    }
    if let Some(t) = settings.warm_ip_target {
        return Demand {
            addresses: Some(u64::from(t).saturating_mul(nodes.len() as u64)),
            ..Demand::default()
        };
    }
    let mut total = 0u64;
    let mut missing: BTreeSet<String> = BTreeSet::new();
    for n in nodes {
        let Some(ty) = n.node.instance_type.as_deref() else {
            missing.insert(format!("{} (no instance-type label)", n.name()));
            continue;
        };
        match pod_ips_per_eni(ctx, ty) {
            Some(per) => {
                total = total.saturating_add(u64::from(settings.warm_eni_target) * per);
            }
            None => {
                missing.insert(format!("{ty} (not in eniwatch's table, and not from EC2)"));
            }
        }
    }
    if missing.is_empty() {
        return Demand {
            addresses: Some(total),
            ..Demand::default()
        };
    }
    let listed: Vec<String> = missing.into_iter().take(5).collect();
    Demand {
        unknown: Some(format!(
            "the warm-pool demand is unknown: the addresses per ENI of {} are unknown",
            listed.join(", ")
        )),
        ..Demand::default()
    }
}
