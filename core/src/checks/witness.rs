//! The third and fourth witnesses: ipamd's settings and datastore, and the
//! attachment state eniwatch-cluster publishes from EC2, against what IMDS
//! and the kernel say.
//!
//! `IPAMDStateMismatch` compares, per ENI the CNI manages (not the trunk, not
//! EFA-only, not unmanaged): the ENI sets of ipamd and IMDS, the addresses
//! ipamd holds against the ENI's addresses in IMDS, and the reverse: the
//! addresses IMDS lists that ipamd lost entirely (see [`super::ipamd_addresses`]).
//! Then the pod addresses in use: an address routed to a pod veth in the
//! kernel that ipamd holds as free (it would hand it out twice), and an
//! address ipamd assigned to a pod that neither the kernel routes nor the API
//! knows (a leak). Pods the API knows without a route are `PodRouteMissing`'s,
//! not this check's. An ENI gets one finding for all its address
//! disagreements; a pod address one of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::context::{is_host_veth, Context, EniRole};
use super::ipamd_addresses::{lost_addresses, mismatch, Lost};
use super::pod_placement::pod_subject;
use super::{Finding, Outcome, Reason, Subject};
use crate::model::{IpamdView, KernelState, Witness, MAIN_TABLE};

fn ipamd_view<'c>(ctx: &'c Context) -> Result<&'c IpamdView, Outcome> {
    match &ctx.snapshot.ipamd {
        Witness::Off => Err(Outcome::skipped("needs ipamd (--no-ipamd)")),
        Witness::On(Err(u)) => Err(Outcome::unknown(u.reason.clone())),
        Witness::On(Ok(v)) => Ok(v),
    }
}

/// `cni-settings`: ipamd runs custom networking, with the ENIConfig the node implies.
pub(crate) fn cni_settings(ctx: &Context) -> Outcome {
    let view = match ipamd_view(ctx) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let node = Subject::node(ctx.node_name.clone());
    let mut out = Outcome::ok("ipamd runs custom networking with the node's ENIConfig");
    let eniconfigs_exist = match &ctx.snapshot.expectation {
        crate::model::Expectation::Kubernetes(Ok(c)) => {
            c.eni_configs.as_ref().is_some_and(|l| !l.is_empty())
        }
        // --expect-subnet says custom networking is intended.
        crate::model::Expectation::Flags(_) => true,
        crate::model::Expectation::Kubernetes(Err(_)) => {
            if view.custom_networking == Some(false) {
                return Outcome::unknown(
                    "custom networking is off in ipamd; whether ENIConfigs exist is unknown \
                     (the API cannot be read)",
                );
            }
            false
        }
    };
    match view.custom_networking {
        Some(false) if eniconfigs_exist => {
            out.findings.push(Finding::new(
                "",
                Reason::CustomNetworkingDisabled,
                node.clone(),
                "ipamd reports AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=false while ENIConfigs exist: \
                 new ENIs and pod addresses come from the node subnet"
                    .to_string(),
            ));
            return out;
        }
        Some(false) => {
            return Outcome::ok("custom networking is off in ipamd, and no ENIConfig exists")
        }
        Some(true) => {}
        None => {
            out.unknown = Some("ipamd did not report AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG".into())
        }
    }
    let ours = ctx.selection().map(|s| s.name.clone());
    match (&view.selected_eniconfig, ours) {
        (Some(theirs), Some(ours)) if *theirs != ours => out.findings.push(Finding::new(
            "",
            Reason::ENIConfigMismatch,
            node,
            format!(
                "ipamd selected ENIConfig {theirs:?}, but the node's labels and annotations \
                 select {ours:?}"
            ),
        )),
        (None, Some(_)) if out.unknown.is_none() => {
            out.unknown = Some("ipamd did not say which ENIConfig it selected".into())
        }
        _ => {}
    }
    out
}

/// `eni-attachment`: eniwatch-cluster saw no ENI of this node's that EC2
/// says is not attached to it. Only ENIs IMDS lists are judged (IMDS is the
/// node's present; the published list is EC2's at `enis_observed_at`).
pub(crate) fn eni_attachment(ctx: &Context) -> Outcome {
    let facts = match super::subnet::published(ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let Some(observed_at) = &facts.enis_observed_at else {
        return Outcome::unknown(
            "eniwatch-cluster could not list the CNI's ENIs (no enis_observed_at in its facts)",
        );
    };
    let Ok(imds) = &ctx.imds else {
        return Outcome::unknown("IMDS unknown");
    };
    let listed = ctx
        .enis
        .iter()
        .filter(|e| e.meta.interface_id.is_some())
        .count();
    let Some(node) = facts.node(Some(&imds.instance_id), Some(&ctx.node_name)) else {
        if facts.nodes_truncated {
            return Outcome::unknown(
                "eniwatch-cluster published only some of the nodes with unattached ENIs \
                 (nodes_truncated), and not this one",
            );
        }
        return Outcome::ok(format!(
            "{listed} ENIs: eniwatch-cluster saw none unattached at {observed_at}"
        ));
    };
    let mut out = Outcome::ok(format!(
        "{listed} ENIs: eniwatch-cluster saw none unattached at {observed_at}"
    ));
    for e in &ctx.enis {
        let Some(id) = &e.meta.interface_id else {
            continue;
        };
        let Some(theirs) = node.enis_not_attached.iter().find(|p| &p.id == id) else {
            continue;
        };
        let state = match &theirs.attached_to {
            Some(other) => format!("attached to {other}"),
            None => format!(
                "attachment {} (status {})",
                theirs.attachment_status.as_deref().unwrap_or("none"),
                theirs.status.as_deref().unwrap_or("unknown")
            ),
        };
        out.findings.push(Finding::new(
            "",
            Reason::ENINotAttached,
            Subject::eni(id.to_string()),
            format!(
                "IMDS lists ENI {id} (device {}), but eniwatch-cluster saw at {observed_at} \
                 that EC2 says it is not attached to this instance: {state}",
                e.meta.device_number
            ),
        ));
    }
    out
}

/// `ipamd-state`: ipamd, IMDS and the kernel agree on ENIs and addresses.
pub(crate) fn ipamd_state(ctx: &Context) -> Outcome {
    let view = match ipamd_view(ctx) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let Ok(_) = &ctx.imds else {
        return Outcome::unknown("IMDS unknown");
    };
    let mut out = Outcome::ok(format!(
        "ipamd agrees with IMDS on {} ENIs",
        view.enis.len()
    ));
    let kernel = ctx.kernel.as_ref().ok();
    let routed: BTreeSet<Ipv4Addr> = kernel.map_or_else(BTreeSet::new, |k| routed_to_veths(ctx, k));
    let mut lost = lost_addresses(ctx, view, &routed);
    out.findings.extend(eni_disagreements(ctx, view, &mut lost));
    out.findings.append(&mut lost.pods);
    for theirs in &view.enis {
        if theirs.trunk || theirs.efa {
            continue;
        }
        if !ctx
            .enis
            .iter()
            .any(|e| e.meta.interface_id.as_ref() == Some(&theirs.id))
        {
            out.findings.push(mismatch(
                Subject::eni(theirs.id.to_string()),
                format!(
                    "ipamd has ENI {} in its datastore, but IMDS does not list it",
                    theirs.id
                ),
            ));
        }
    }
    if kernel.is_none() {
        out.unknown = Some("kernel unknown: pod addresses not compared".into());
        return out;
    }
    let assigned: BTreeMap<Ipv4Addr, Option<&str>> = view
        .enis
        .iter()
        .flat_map(|e| e.assigned.iter().map(|(ip, who)| (*ip, who.as_deref())))
        .collect();
    // One finding per address, named after its pod where known: pods come
    // and go between the reads of the kernel and ipamd, and such a passing
    // address must not renew a node-wide finding that then never settles.
    let api_pods = ctx.pods.as_ref().ok();
    let pod_of = |ip: &Ipv4Addr, recorded: Option<&str>| -> Subject {
        let known = api_pods.and_then(|pods| pods.iter().find(|p| p.ip == Some(*ip)));
        match (known, recorded.and_then(|r| r.split_once('/'))) {
            (Some(p), _) => pod_subject(p),
            (None, Some((ns, name))) => Subject::pod(Some(ns.to_string()), name),
            (None, None) => Subject::pod(None, ip.to_string()),
        }
    };
    for ip in &routed {
        let held = view
            .enis
            .iter()
            .any(|e| e.ipv4_addresses.contains(ip) || e.prefixes.iter().any(|p| p.contains(ip)));
        if held && !assigned.contains_key(ip) {
            out.findings.push(mismatch(
                pod_of(ip, None),
                format!(
                    "the kernel routes {ip} to a pod veth, but ipamd holds it as free and may hand it out again"
                ),
            ));
        }
    }
    if let Some(pods) = api_pods {
        let known: BTreeSet<Ipv4Addr> = pods.iter().filter_map(|p| p.ip).collect();
        for (ip, recorded) in &assigned {
            if routed.contains(ip) || known.contains(ip) {
                continue;
            }
            let whose = recorded.map_or(String::new(), |r| format!(" (to {r})"));
            out.findings.push(mismatch(
                pod_of(ip, *recorded),
                format!(
                    "ipamd has {ip} assigned to a pod{whose} that neither the kernel routes nor the API knows (leaked)"
                ),
            ));
        }
    }
    out
}

/// Per ENI: ENIs ipamd lacks, and one finding for the addresses ipamd holds
/// beyond IMDS together with those it lost.
fn eni_disagreements(ctx: &Context, view: &IpamdView, lost: &mut Lost) -> Vec<Finding> {
    let mut out = Vec::new();
    let managed: Vec<_> = ctx
        .enis
        .iter()
        .filter(|e| matches!(e.role, EniRole::Primary | EniRole::Secondary))
        .collect();
    for e in &managed {
        let Some(id) = &e.meta.interface_id else {
            continue;
        };
        let Some(theirs) = view.enis.iter().find(|i| &i.id == id) else {
            if e.role == EniRole::Secondary {
                out.push(mismatch(
                    Subject::eni(id.to_string()),
                    format!("IMDS lists ENI {id} with pod addresses, but ipamd does not know it"),
                ));
            }
            continue;
        };
        let foreign: Vec<String> = theirs
            .ipv4_addresses
            .iter()
            .filter(|ip| !e.meta.carries(**ip))
            .map(Ipv4Addr::to_string)
            .collect();
        // One finding per ENI: what ipamd holds beyond IMDS, and what it lacks.
        let mut clauses = Vec::new();
        if !foreign.is_empty() {
            clauses.push(format!(
                "ipamd holds {} on ENI {id}, which IMDS does not list on it",
                foreign.join(", ")
            ));
        }
        clauses.extend(lost.enis.remove(id).unwrap_or_default());
        if !clauses.is_empty() {
            out.push(mismatch(Subject::eni(id.to_string()), clauses.join("; ")));
        }
    }
    out
}

/// Main-table /32 routes through a host veth: the addresses the kernel gives pods.
fn routed_to_veths(ctx: &Context, kernel: &KernelState) -> BTreeSet<Ipv4Addr> {
    kernel
        .routes
        .iter()
        .filter(|r| r.table == MAIN_TABLE && r.destination.prefix_len() == 32)
        .filter(|r| {
            let link = r
                .out_link
                .and_then(|i| kernel.links.iter().find(|l| l.index == i));
            link.is_some_and(|l| is_host_veth(l, &ctx.snapshot.veth_prefix))
        })
        .map(|r| r.destination.addr())
        .collect()
}
