//! `pod-subnet-routes`: pods leave the VPC the way their nodes do.
//!
//! A subnet's route table is its explicit association, else the VPC's main
//! table. Its default route is an *active* `0.0.0.0/0` to a NAT or transit
//! gateway (an internet gateway gives private pod addresses no way out).
//! - `PodSubnetNoDefaultRoute`: the pod subnet's table has none.
//! - `PodSubnetRouteDiffers`: it has one, but the node subnets of the same
//!   zone (by zone id; by name only without ids) send their default route
//!   elsewhere. Node subnets with no such route (public ones) are not
//!   compared against.

use std::collections::{BTreeMap, BTreeSet};

use eniwatch_core::checks::{Finding, Reason, Subject};
use eniwatch_core::model::{RouteTable, RouteTarget, SubnetId};

use super::context::{Context, Zone};
use super::Outcome;

/// One pod subnet's default route, as judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteVerdict {
    Ok(RouteTarget),
    NoDefaultRoute {
        table: String,
    },
    Differs {
        target: RouteTarget,
        node_targets: BTreeSet<RouteTarget>,
    },
    Unknown(String),
}

impl RouteVerdict {
    /// The value of [`super::SubnetSummary::route`].
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteVerdict::Ok(_) => "ok",
            RouteVerdict::NoDefaultRoute { .. } => "no_default_route",
            RouteVerdict::Differs { .. } => "differs",
            RouteVerdict::Unknown(_) => "unknown",
        }
    }
}

fn table_of<'t>(tables: &'t [RouteTable], id: &SubnetId) -> Option<&'t RouteTable> {
    tables
        .iter()
        .find(|t| t.subnets.contains(id))
        .or_else(|| tables.iter().find(|t| t.main))
}

fn default_target(table: &RouteTable) -> Option<&RouteTarget> {
    table
        .routes
        .iter()
        .find(|r| {
            r.active
                && r.destination.is_some_and(|d| d.prefix_len() == 0)
                && r.target.is_private_egress()
        })
        .map(|r| &r.target)
}

/// The verdict of every pod subnet that exists; Err when route tables or
/// subnets are unavailable.
pub(crate) fn verdicts<'s>(
    ctx: &Context<'s>,
) -> Result<BTreeMap<&'s SubnetId, RouteVerdict>, String> {
    let tables = ctx
        .snapshot
        .vpc
        .route_tables
        .as_ref()
        .map_err(|u| format!("EC2 route tables: {}", u.reason))?;
    ctx.subnets
        .as_ref()
        .map_err(|why| format!("EC2 subnets: {why}"))?;
    let mut out = BTreeMap::new();
    for id in ctx.pod_subnets.keys() {
        let Some(subnet) = ctx.subnet(id) else {
            continue;
        };
        let Some(table) = table_of(tables, id) else {
            let why = format!("no route table is associated with {id} and the VPC has no main one");
            out.insert(*id, RouteVerdict::Unknown(why));
            continue;
        };
        let Some(target) = default_target(table) else {
            out.insert(
                *id,
                RouteVerdict::NoDefaultRoute {
                    table: table.id.clone(),
                },
            );
            continue;
        };
        let zone = Zone::of_subnet(subnet);
        let node_targets: BTreeSet<RouteTarget> = ctx
            .node_subnets
            .keys()
            .filter(|n| !ctx.pod_subnets.contains_key(*n))
            .filter_map(|n| ctx.subnet(n))
            .filter(|n| Zone::of_subnet(n).same(&zone) == Some(true))
            .filter_map(|n| table_of(tables, &n.facts.id).and_then(default_target))
            .cloned()
            .collect();
        let verdict = if node_targets.is_empty() || node_targets.contains(target) {
            RouteVerdict::Ok(target.clone())
        } else {
            RouteVerdict::Differs {
                target: target.clone(),
                node_targets,
            }
        };
        out.insert(*id, verdict);
    }
    Ok(out)
}

pub(crate) fn pod_subnet_routes(
    ctx: &Context<'_>,
    verdicts: &Result<BTreeMap<&SubnetId, RouteVerdict>, String>,
) -> Outcome {
    let verdicts = match verdicts {
        Err(why) => return Outcome::unknown(why.clone()),
        Ok(_) if ctx.pod_subnets.is_empty() => {
            return Outcome::not_applicable("no ENIConfig names a subnet")
        }
        Ok(v) => v,
    };
    let mut out = Outcome::ok(format!(
        "{} pod subnet(s) route 0.0.0.0/0 as their zone's node subnets do",
        verdicts
            .values()
            .filter(|v| matches!(v, RouteVerdict::Ok(_)))
            .count()
    ));
    for (id, verdict) in verdicts {
        let Some(pod) = ctx.pod_subnets.get(id) else {
            continue;
        };
        let subject = Subject::eniconfig(pod.subject());
        let zone = ctx
            .subnet(id)
            .map(|s| Zone::of_subnet(s).label())
            .unwrap_or_default();
        match verdict {
            RouteVerdict::Ok(_) => {}
            RouteVerdict::Unknown(why) => out.unknown.push(why.clone()),
            RouteVerdict::NoDefaultRoute { table } => out.findings.push(Finding::new(
                "",
                Reason::PodSubnetNoDefaultRoute,
                subject,
                format!(
                    "pod subnet {id} ({zone}, named by {}) uses route table {table}, which has \
                     no active 0.0.0.0/0 route to a NAT or transit gateway: pods cannot leave \
                     the VPC; associate it with the node subnets' private route table",
                    pod.named_by()
                ),
            )),
            RouteVerdict::Differs {
                target,
                node_targets,
            } => {
                let theirs: Vec<String> = node_targets.iter().map(|t| t.to_string()).collect();
                out.findings.push(Finding::new(
                    "",
                    Reason::PodSubnetRouteDiffers,
                    subject,
                    format!(
                        "pod subnet {id} ({zone}, named by {}) sends 0.0.0.0/0 to {target}, but \
                         the node subnets of its zone send it to {}: associate it with their \
                         route table",
                        pod.named_by(),
                        theirs.join(", ")
                    ),
                ));
            }
        }
    }
    out
}
