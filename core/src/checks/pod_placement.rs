//! Do pod IPs come from the ENIConfig subnet, and does an ENI carry them?
//!
//! When the ENIConfig subnet's CIDR is unknown (no attached ENI is in it), a
//! pod can still be proven outside it: subnets of a VPC never overlap, so an IP
//! inside another known subnet (the node subnet, another ENI's) is outside the
//! ENIConfig subnet. Only pods in no known subnet stay unknown.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::context::{Context, EniRole};
use super::imds_integrity::ProblemKind;
use super::{no_expectation_detail, Finding, Outcome, Reason, Subject};
use crate::model::PodInfo;

pub(crate) fn pod_subject(pod: &PodInfo) -> Subject {
    match (&pod.name, pod.ip) {
        (Some(name), _) => Subject::pod(pod.namespace.clone(), name.clone()),
        (None, Some(ip)) => Subject::pod(None, ip.to_string()),
        (None, None) => Subject::pod(None, "unknown"),
    }
}

/// Pods the CNI would route whose `status.podIP` is not an IPv4 address,
/// named, for an *unknown* status (None when there are none).
pub(crate) fn unplaceable(ctx: &Context) -> Option<String> {
    const SHOWN: usize = 5;
    let pods = ctx.pods.as_ref().ok()?;
    let bad: Vec<String> = pods
        .iter()
        .filter(|p| !p.host_network && !p.terminal && p.branch.is_none())
        .filter_map(|p| {
            let text = p.ip_text.as_deref()?;
            let what = if text.trim().parse::<Ipv6Addr>().is_ok() {
                "an IPv6 address, but this node's pod networking is IPv4"
            } else {
                "not an IPv4 address"
            };
            Some(format!(
                "pod {} has status.podIP {text:?}, which is {what}",
                p.display_name()
            ))
        })
        .collect();
    if bad.is_empty() {
        return None;
    }
    let mut text = bad[..bad.len().min(SHOWN)].join("; ");
    if bad.len() > SHOWN {
        text.push_str(&format!("; and {} more such pods", bad.len() - SHOWN));
    }
    Some(format!(
        "{text} (the API's answer; the pod cannot be placed)"
    ))
}

/// Adds `more` to an outcome's unknown part.
fn also_unknown(out: &mut Outcome, more: Option<String>) {
    if let Some(more) = more {
        out.unknown = Some(match out.unknown.take() {
            Some(u) => format!("{u}; {more}"),
            None => more,
        });
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
    also_unknown(&mut out, unplaceable(ctx));
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
    // An ENI IMDS shows without addresses may be the one carrying the IP.
    let addressless: Vec<&str> = ctx
        .imds_problems
        .iter()
        .filter(|p| p.kind == ProblemKind::NoAddresses)
        .map(|p| p.message.as_str())
        .collect();
    let mut uncertain = 0usize;
    for (pod, ip) in pods {
        if ctx.owner_of(ip).is_none() && !addressless.is_empty() {
            uncertain += 1;
        } else if ctx.owner_of(ip).is_none() {
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
    if uncertain > 0 {
        out.unknown = Some(format!(
            "{uncertain} pod IP(s) are on no ENI IMDS lists with addresses: {}",
            addressless.join("; ")
        ));
    }
    also_unknown(&mut out, unplaceable(ctx));
    out
}
