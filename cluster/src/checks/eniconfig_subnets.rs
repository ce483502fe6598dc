//! `eniconfig-subnets`: every ENIConfig's subnet exists, and is in the zone
//! of the nodes that select the ENIConfig.
//!
//! A subnet is missing only when EC2 was asked and left it out of its answer
//! (`subnets_not_found`); one neither listed nor asked is not judged. Zones
//! are compared by id (`topology.k8s.aws/zone-id` against the subnet's
//! `AvailabilityZoneId`), by name only when a side has no id.

use std::collections::BTreeMap;

use eniwatch_core::checks::{Finding, Reason, Subject};

use super::context::{Context, Zone};
use super::Outcome;

pub(crate) fn eniconfig_subnets(ctx: &Context<'_>) -> Outcome {
    let configs = match &ctx.eni_configs {
        Err(why) => return Outcome::unknown(format!("ENIConfigs: {why}")),
        Ok(None) => return Outcome::not_applicable("the ENIConfig CRD is not installed"),
        Ok(Some(c)) if c.is_empty() => return Outcome::not_applicable("no ENIConfig exists"),
        Ok(Some(c)) => c,
    };
    if let Err(why) = &ctx.subnets {
        return Outcome::unknown(format!("EC2 subnets: {why}"));
    }
    let mut out = Outcome::default();
    let mut judged = 0;
    for (name, cfg) in configs {
        let Some(id) = &cfg.subnet else {
            // Malformed: the node agents' `eniconfig` check says so.
            continue;
        };
        let Some(subnet) = ctx.subnet(id) else {
            if ctx.snapshot.vpc.subnets_not_found.contains(id) {
                out.findings.push(Finding::new(
                    "",
                    Reason::ENIConfigSubnetNotFound,
                    Subject::eniconfig(*name),
                    format!(
                        "ENIConfig {name:?} names subnet {id}, which EC2 does not know in this \
                         account and region"
                    ),
                ));
            } else {
                out.unknown
                    .push(format!("EC2 was not asked about {id} yet"));
            }
            continue;
        };
        judged += 1;
        let subnet_zone = Zone::of_subnet(subnet);
        // Zone label -> (nodes, first node), for the nodes in another zone.
        let mut elsewhere: BTreeMap<String, (u32, &str)> = BTreeMap::new();
        let mut unjudged = 0u32;
        for n in ctx.nodes.iter().flatten() {
            if n.selection.name != *name {
                continue;
            }
            match n.zone.same(&subnet_zone) {
                Some(true) => {}
                Some(false) => {
                    let e = elsewhere.entry(n.zone.label()).or_insert((0, n.name()));
                    e.0 += 1;
                }
                None => unjudged += 1,
            }
        }
        if unjudged > 0 {
            out.unknown.push(format!(
                "{unjudged} node(s) selecting {name:?} or subnet {id} have no zone to compare"
            ));
        }
        if elsewhere.is_empty() {
            continue;
        }
        let zones: Vec<String> = elsewhere
            .iter()
            .map(|(z, (count, first))| format!("{count} node(s) in {z} (e.g. {first})"))
            .collect();
        out.findings.push(Finding::new(
            "",
            Reason::ENIConfigSubnetZoneMismatch,
            Subject::eniconfig(*name),
            format!(
                "ENIConfig {name:?} names subnet {id} in {}, but it is selected by {}: the CNI \
                 cannot create ENIs there; point it at a subnet of the nodes' zone",
                subnet_zone.label(),
                zones.join(", ")
            ),
        ));
    }
    if let Err(why) = &ctx.nodes {
        out.unknown
            .push(format!("zones not compared: Nodes: {why}"));
    }
    out.ok_detail = format!("{judged} ENIConfig subnet(s) exist, in their nodes' zones");
    out
}
