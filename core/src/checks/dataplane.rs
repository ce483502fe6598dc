//! Is the data plane the CNI builds really there? ENI links, addresses and
//! tables; per-pod routes and the 512/1536 policy rules.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::context::{is_host_veth, Context, EniRole};
use super::pod_placement::pod_subject;
use super::{Finding, Outcome, Reason};
use crate::model::{KernelState, MAIN_TABLE};

/// `to <pod> lookup main`.
pub const TO_POD_PRIORITY: u32 = 512;
/// `from <pod> lookup <ENI table>`.
pub const FROM_POD_PRIORITY: u32 = 1536;

fn host(ip: Ipv4Addr) -> Ipv4Net {
    Ipv4Net::from(ip)
}

pub(crate) fn eni_configured(ctx: &Context) -> Outcome {
    let kernel = match (&ctx.imds, &ctx.kernel) {
        (Err(r), _) => return Outcome::unknown(format!("IMDS: {r}")),
        (_, Err(r)) => return Outcome::unknown(format!("kernel: {r}")),
        (Ok(_), Ok(k)) => *k,
    };
    let mut judged = 0;
    let mut out = Outcome::ok(String::new());
    for eni in &ctx.enis {
        if matches!(eni.role, EniRole::EfaOnly | EniRole::Unmanaged) {
            continue;
        }
        judged += 1;
        let mut problems = Vec::new();
        match eni.link {
            None => problems.push(format!("no link has MAC {}", eni.meta.mac)),
            Some(link) => {
                if link.is_down() {
                    problems.push(format!(
                        "link {} is down (admin {}, oper {})",
                        link.name,
                        if link.admin_up { "up" } else { "down" },
                        link.oper_state
                    ));
                }
                // A trunk's own set-up is the VPC resource controller's business.
                if eni.role != EniRole::Trunk {
                    if let Some(ip) = eni.meta.primary_ip() {
                        let has = kernel
                            .addresses
                            .iter()
                            .any(|a| a.link_index == link.index && a.address == ip);
                        if !has {
                            problems
                                .push(format!("link {} lacks its primary address {ip}", link.name));
                        }
                    }
                }
            }
        }
        if eni.role == EniRole::Secondary {
            let table = eni.meta.route_table();
            let has_default = kernel
                .routes
                .iter()
                .any(|r| r.table == table && r.destination.prefix_len() == 0);
            if !has_default {
                problems.push(format!("route table {table} has no default route"));
            }
        }
        if !problems.is_empty() {
            out.findings.push(Finding::new(
                "",
                Reason::ENINotConfigured,
                super::Subject::eni(eni.display_name()),
                format!(
                    "{} ENI {} (device {}, card {}): {}",
                    eni.role.as_str(),
                    eni.display_name(),
                    eni.meta.device_number,
                    eni.meta.network_card,
                    problems.join("; ")
                ),
            ));
        }
    }
    out.ok_detail = format!("{judged} ENIs configured (link up, address, table)");
    out
}

pub(crate) fn pod_routes(ctx: &Context) -> Outcome {
    let kernel = match (&ctx.kernel, &ctx.pods) {
        (Err(r), _) => return Outcome::unknown(format!("kernel: {r}")),
        (_, Err(r)) => return Outcome::unknown(format!("pods: {r}")),
        (Ok(k), Ok(_)) => *k,
    };
    if ctx.pods_from_kernel {
        return Outcome::ok("pods were found from their routes (--no-kube)");
    }
    let pods = ctx.routed_pods();
    let mut out = Outcome::ok(format!("{} pod routes via host veths", pods.len()));
    for (pod, ip) in pods {
        if let Some(problem) = route_problem(kernel, ip, &ctx.snapshot.veth_prefix) {
            out.findings.push(Finding::new(
                "",
                Reason::PodRouteMissing,
                pod_subject(pod),
                problem,
            ));
        }
    }
    out
}

fn route_problem(kernel: &KernelState, ip: Ipv4Addr, veth_prefix: &str) -> Option<String> {
    let routes: Vec<_> = kernel
        .routes
        .iter()
        .filter(|r| r.table == MAIN_TABLE && r.destination == host(ip))
        .collect();
    if routes.is_empty() {
        return Some(format!("no route {ip}/32 in the main table"));
    }
    let via_veth = routes.iter().any(|r| {
        r.out_link
            .and_then(|i| kernel.links.iter().find(|l| l.index == i))
            .is_some_and(|l| is_host_veth(l, veth_prefix))
    });
    (!via_veth).then(|| format!("route {ip}/32 in the main table does not go through a host veth"))
}

pub(crate) fn pod_rules(ctx: &Context) -> Outcome {
    let kernel = match (&ctx.kernel, &ctx.pods) {
        (Err(r), _) => return Outcome::unknown(format!("kernel: {r}")),
        (_, Err(r)) => return Outcome::unknown(format!("pods: {r}")),
        (Ok(k), Ok(_)) => *k,
    };
    let pods = ctx.routed_pods();
    let mut out = Outcome::ok(format!("{} pods with their 512 and 1536 rules", pods.len()));
    let mut unjudged = 0usize;
    for (pod, ip) in pods {
        let to_main = kernel.rules.iter().any(|r| {
            r.priority == TO_POD_PRIORITY
                && r.destination == Some(host(ip))
                && r.source.is_none()
                && r.table == MAIN_TABLE
        });
        let mut missing = Vec::new();
        if !to_main {
            missing.push(format!("priority {TO_POD_PRIORITY} 'to {ip} lookup main'"));
        }
        let from_tables: Vec<u32> = kernel
            .rules
            .iter()
            .filter(|r| r.priority == FROM_POD_PRIORITY && r.source == Some(host(ip)))
            .map(|r| r.table)
            .collect();
        match (&ctx.imds, ctx.owner_of(ip)) {
            (Err(_), _) => unjudged += 1,
            // Pods on the primary ENI (before migration) get no 1536 rule; an
            // IP on no ENI is PodIPNotOnAnyENI's finding, not a rule problem.
            (Ok(_), None) => {}
            (Ok(_), Some(owner)) if owner.role == EniRole::Primary => {}
            (Ok(_), Some(owner)) => {
                let table = owner.meta.route_table();
                if from_tables.is_empty() {
                    missing.push(format!(
                        "priority {FROM_POD_PRIORITY} 'from {ip} lookup {table}'"
                    ));
                } else if !from_tables.contains(&table) {
                    out.findings.push(Finding::new(
                        "",
                        Reason::PodRuleWrongTable,
                        pod_subject(pod),
                        format!(
                            "rule {FROM_POD_PRIORITY} 'from {ip}' looks up table {}, but {ip} belongs to ENI {} (device {}, card {}) whose table is {table}",
                            join(&from_tables),
                            owner.display_name(),
                            owner.meta.device_number,
                            owner.meta.network_card
                        ),
                    ));
                }
            }
        }
        if !missing.is_empty() {
            out.findings.push(Finding::new(
                "",
                Reason::PodRuleMissing,
                pod_subject(pod),
                format!("missing rule {}", missing.join(" and ")),
            ));
        }
    }
    if unjudged > 0 {
        out.unknown = Some(format!(
            "IMDS is unavailable, so the 1536 rules of {unjudged} pod(s) could not be judged"
        ));
    }
    out
}

fn join(tables: &[u32]) -> String {
    tables
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
