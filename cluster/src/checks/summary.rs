//! The per-subnet summaries the metrics and the report show: every pod
//! subnet and node subnet, with the figures the checks judged from (never
//! recomputed by a sink).

use std::collections::BTreeMap;

use eniwatch_core::model::SubnetId;

use super::context::Context;
use super::routes::RouteVerdict;
use super::SubnetSummary;

pub(crate) fn summaries(
    ctx: &Context<'_>,
    routes: &Result<BTreeMap<&SubnetId, RouteVerdict>, String>,
) -> Vec<SubnetSummary> {
    let mut out = Vec::new();
    for (id, pod) in &ctx.pod_subnets {
        let figures = ctx.figures.get(id);
        let route = match routes {
            Ok(v) => v.get(id).map_or("unknown", RouteVerdict::as_str),
            Err(_) => "unknown",
        };
        let mut s = summary(ctx, id, "pod", pod.nodes.len());
        s.free_prefixes = figures
            .and_then(|f| f.free_prefixes.as_ref().ok().copied().flatten())
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        s.warm_demand = figures.and_then(|f| f.demand.addresses);
        s.route = Some(route);
        s.eniconfigs = pod.eniconfigs.iter().map(|n| n.to_string()).collect();
        out.push(s);
    }
    for (id, count) in &ctx.node_subnets {
        if !ctx.pod_subnets.contains_key(id) {
            out.push(summary(ctx, id, "node", *count as usize));
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id).then(a.role.cmp(b.role)));
    out
}

fn summary(ctx: &Context<'_>, id: &SubnetId, role: &'static str, nodes: usize) -> SubnetSummary {
    let facts = ctx.subnet(id).map(|s| &s.facts);
    SubnetSummary {
        id: id.clone(),
        role,
        availability_zone: facts.and_then(|f| f.availability_zone.clone()),
        availability_zone_id: facts.and_then(|f| f.availability_zone_id.clone()),
        size: facts
            .and_then(|f| f.cidr)
            .map(|c| 1u64 << (32 - u32::from(c.prefix_len()))),
        free_addresses: facts.and_then(|f| f.available_ips),
        free_prefixes: None,
        nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
        warm_demand: None,
        route: None,
        eniconfigs: Vec::new(),
    }
}
