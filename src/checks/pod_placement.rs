//! Do pod IPs come from the ENIConfig subnet, and does an ENI carry them?
//!
//! When the ENIConfig subnet's CIDR is unknown (no attached ENI is in it), a
//! pod can still be proven outside it: subnets of a VPC never overlap, so an IP
//! inside another known subnet (the node subnet, another ENI's) is outside the
//! ENIConfig subnet. Only pods in no known subnet stay unknown.

use std::net::Ipv4Addr;

use super::context::{Context, EniRole};
use super::{no_expectation_detail, Finding, Outcome, Reason, Subject};
use crate::model::PodInfo;

pub(crate) fn pod_subject(pod: &PodInfo) -> Subject {
    match (&pod.name, pod.ip) {
        (Some(name), _) => Subject::pod(pod.namespace.clone(), name.clone()),
        (None, Some(ip)) => Subject::pod(None, ip.to_string()),
        (None, None) => Subject::pod(None, "unknown"),
    }
}

/// Where an IP outside the ENIConfig subnet is, for the finding's message.
fn locate(ctx: &Context, ip: Ipv4Addr) -> Option<String> {
    if let Some(owner) = ctx.owner_of(ip) {
        let subnet = owner
            .meta
            .subnet_id
            .as_ref()
            .map_or("an unknown subnet".to_string(), |s| s.to_string());
        return Some(match owner.role {
            EniRole::Primary => format!(
                "in the node subnet {subnet} via the primary ENI {}",
                owner.display_name()
            ),
            _ => format!("on ENI {} in {subnet}", owner.display_name()),
        });
    }
    let containing = ctx
        .enis
        .iter()
        .find(|e| e.meta.subnet_cidr.is_some_and(|c| c.contains(&ip)))?;
    let subnet = containing
        .meta
        .subnet_id
        .as_ref()
        .map_or("an unknown subnet".to_string(), |s| s.to_string());
    Some(match containing.role {
        EniRole::Primary => format!("in the node subnet {subnet} (not carried by any ENI)"),
        _ => format!(
            "in {subnet} of ENI {} (not carried by any ENI)",
            containing.display_name()
        ),
    })
}

pub(crate) fn pod_subnet(ctx: &Context) -> Outcome {
    let expected = match &ctx.expected {
        Ok(e) => e,
        Err(ne) => return Outcome::unknown(no_expectation_detail(ne)),
    };
    if let Err(reason) = &ctx.pods {
        return Outcome::unknown(format!("pods: {reason}"));
    }
    let pods = ctx.routed_pods();
    let mut inside = 0usize;
    let mut undecided = Vec::new();
    let mut out = Outcome::ok(String::new());
    for (pod, ip) in &pods {
        let verdict = match expected.subnet_cidr {
            Some(cidr) if cidr.contains(ip) => None,
            Some(cidr) => Some(locate(ctx, *ip).unwrap_or_else(|| {
                format!("in no subnet this node knows (ENIConfig subnet is {cidr})")
            })),
            // CIDR unknown: outside only if provably inside another subnet.
            None => match locate(ctx, *ip) {
                Some(place) if !place_is_expected(ctx, *ip, expected) => Some(place),
                _ => {
                    undecided.push(pod.display_name());
                    continue;
                }
            },
        };
        match verdict {
            None => inside += 1,
            Some(place) => out.findings.push(Finding::new(
                "",
                Reason::PodIPOutsideENIConfigSubnet,
                pod_subject(pod),
                format!(
                    "pod IP {ip} is outside the ENIConfig subnet {}: it is {place}",
                    expected.subnet
                ),
            )),
        }
    }
    out.ok_detail = format!("{inside} pod IPs in {}", expected.subnet);
    if !undecided.is_empty() {
        out.unknown = Some(format!(
            "the CIDR of {} is unknown (no attached ENI is in it), so {} pod IP(s) could not be placed",
            expected.subnet,
            undecided.len()
        ));
    }
    out
}

/// Whether the subnet that `locate` found for `ip` is the expected one.
fn place_is_expected(ctx: &Context, ip: Ipv4Addr, expected: &super::Expected) -> bool {
    let subnet = ctx
        .owner_of(ip)
        .or_else(|| {
            ctx.enis
                .iter()
                .find(|e| e.meta.subnet_cidr.is_some_and(|c| c.contains(&ip)))
        })
        .and_then(|e| e.meta.subnet_id.as_ref());
    // An unknown subnet id proves nothing either way.
    subnet.is_none_or(|s| *s == expected.subnet)
}

pub(crate) fn pod_ip_on_eni(ctx: &Context) -> Outcome {
    if let Err(reason) = &ctx.imds {
        return Outcome::unknown(format!("IMDS: {reason}"));
    }
    if let Err(reason) = &ctx.pods {
        return Outcome::unknown(format!("pods: {reason}"));
    }
    let pods = ctx.routed_pods();
    let mut out = Outcome::ok(format!("{} pod IPs, each carried by an ENI", pods.len()));
    for (pod, ip) in pods {
        if ctx.owner_of(ip).is_none() {
            out.findings.push(Finding::new(
                "",
                Reason::PodIPNotOnAnyENI,
                pod_subject(pod),
                format!(
                    "pod IP {ip} is not among any ENI's secondary addresses or delegated prefixes in IMDS"
                ),
            ));
        }
    }
    out
}
