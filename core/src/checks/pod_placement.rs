//! Do pod IPs come from the ENIConfig subnet, and does an ENI carry them?
//!
//! Where each pod is comes from [`super::placement`], once per snapshot: the
//! report's `pods` block and the `eniwatch_pods` metric count the same
//! classification this check turns into findings. A pod whose IP cannot be
//! placed (the ENIConfig subnet's CIDR unknown and the IP in no other known
//! subnet) makes the check *unknown*, never *ok*.

use std::net::Ipv6Addr;

use super::context::{routes_through_the_node, Context};
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
        .filter(|p| routes_through_the_node(p))
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

/// `pod-subnet`: renders the snapshot's one [`Placement`](super::placement)
/// (the same the report and the metrics show) as findings.
pub(crate) fn pod_subnet(ctx: &Context) -> Outcome {
    let expected = match &ctx.expected {
        Ok(e) => e,
        Err(ne) => return Outcome::unknown(no_expectation_detail(ne)),
    };
    let pods = match &ctx.pods {
        Ok(pods) => pods,
        Err(reason) => return Outcome::unknown(format!("pods: {reason}")),
    };
    let custom = ctx.mode.is_custom_networking();
    let mut inside = 0usize;
    let mut undecided = 0usize;
    let mut out = Outcome::ok(String::new());
    for placed in &ctx.placement().pods {
        let Some(pod) = pods.get(placed.index) else {
            continue;
        };
        if !is_routed(pod) {
            continue;
        }
        match (placed.expected, &placed.outside, placed.ip) {
            (true, _, _) => inside += 1,
            (_, Some(place), Some(ip)) if custom => out.findings.push(Finding::new(
                "",
                Reason::PodIPOutsideENIConfigSubnet,
                pod_subject(pod),
                format!(
                    "pod IP {ip} is outside the ENIConfig subnet {}: it is {place}",
                    expected.subnet
                ),
            )),
            (_, Some(place), Some(ip)) => out.findings.push(Finding::new(
                "",
                Reason::PodIPUnexpectedSubnet,
                pod_subject(pod),
                format!(
                    "{}: pod IP {ip} is outside {} ({}): it is {place}",
                    ctx.mode.words(),
                    expected.source.words(),
                    expected.subnets_text()
                ),
            )),
            _ => undecided += 1,
        }
    }
    out.ok_detail = format!("{inside} pod IPs in {}", expected.subnets_text());
    if undecided > 0 && !expected.complete {
        out.unknown = Some(format!(
            "{undecided} pod IP(s) are outside {} ({}); whether their subnets are tagged \
             kubernetes.io/role/cni=1 (enhanced subnet discovery) is unknown without \
             eniwatch-cluster's facts",
            expected.source.words(),
            expected.subnets_text()
        ));
    } else if undecided > 0 {
        out.unknown = Some(format!(
            "the CIDR of {} is unknown (no attached ENI is in it), so {undecided} pod IP(s) could not be placed",
            expected.subnets_text(),
        ));
    }
    also_unknown(&mut out, unplaceable(ctx));
    out
}

/// A pod the VPC CNI routes through a host veth (see [`Context::routed_pods`]).
fn is_routed(pod: &PodInfo) -> bool {
    pod.ip.is_some() && routes_through_the_node(pod)
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
