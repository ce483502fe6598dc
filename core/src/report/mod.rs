//! The report of one check: what `eniwatch check` prints, as text or JSON.
//!
//! [`Report`] is the JSON schema (documented in the README; `schema_version`
//! changes only when a field is removed or changes meaning). It is built from
//! the snapshot and the evaluation and never re-judges anything: the statuses
//! and findings are the checks' own.

mod text;

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

pub use text::render_text;

use crate::checks::{
    CheckResult, CheckStatus, Context, EniRole, Evaluation, Finding, NoExpectation, NotApplicable,
    PoolFacts,
};
use crate::model::{Expectation, SecurityGroupId, Snapshot, SubnetFacts, SubnetId, Witness};

pub const SCHEMA_VERSION: u32 = 1;

/// Exit codes of `eniwatch check`.
pub mod exit {
    /// Every check ok.
    pub const OK: i32 = 0;
    /// At least one drift finding.
    pub const DRIFT: i32 = 1;
    /// No drift, but at least one check could not be judged.
    pub const UNKNOWN: i32 = 2;
    /// Bad command line or configuration.
    pub const USAGE: i32 = 64;
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub eniwatch_version: &'static str,
    /// `ok`, `drift` or `unknown`: the worst check status (`not_applicable`
    /// or `skipped` only when no check could run at all).
    pub status: CheckStatus,
    pub exit_code: i32,
    /// Set when custom networking does not apply to this node: `reason`
    /// (`CustomNetworkingNotConfigured`, `EKSAutoModeNode`) and `message`.
    /// The checks that compare with an ENIConfig are then `not_applicable`.
    pub not_applicable: Option<NotApplicable>,
    pub node: NodeSummary,
    /// The expectation: the selected ENIConfig, or the `--expect-*` flags.
    pub eniconfig: EniConfigSummary,
    pub enis: Vec<EniRow>,
    pub pods: PodPlacement,
    /// Capacity and warm pool: instance limits, max-pods, free addresses and target.
    pub capacity: PoolFacts,
    /// The ENIConfig subnet as EC2 knows it (null when EC2 is off or did not answer).
    pub subnet: Option<SubnetFacts>,
    pub sources: Vec<SourceStatus>,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub name: String,
    pub instance_id: Option<String>,
    pub instance_type: Option<String>,
    pub region: Option<String>,
    pub availability_zone: Option<String>,
    pub availability_zone_id: Option<String>,
    /// kubelet max-pods (`status.capacity.pods`).
    pub max_pods: Option<u32>,
    /// The node's group, from the labels managed nodegroups, eksctl or Karpenter set.
    pub nodegroup: Option<String>,
}

/// Node labels naming the node's group, in order of preference.
pub const NODEGROUP_LABELS: [&str; 4] = [
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/provisioner-name",
];

#[derive(Debug, Clone, Serialize)]
pub struct EniConfigSummary {
    /// `kubernetes` or `flags`.
    pub source: &'static str,
    pub name: Option<String>,
    pub selected_by: Option<String>,
    /// Whether an ENIConfig of that name exists (always true for flags).
    pub found: Option<bool>,
    pub subnet: Option<SubnetId>,
    pub subnet_cidr: Option<Ipv4Net>,
    /// Explicit groups; null means "the primary ENI's".
    pub security_groups: Option<Vec<SecurityGroupId>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EniRow {
    pub device_number: u32,
    pub network_card: u32,
    pub mac: String,
    pub eni_id: Option<String>,
    /// The kernel link with this MAC.
    pub link: Option<String>,
    pub subnet_id: Option<String>,
    pub subnet_cidr: Option<Ipv4Net>,
    pub role: EniRole,
    pub security_groups: Vec<SecurityGroupId>,
    pub primary_ip: Option<Ipv4Addr>,
    /// Addresses for pods: secondary IPs plus 16 per delegated /28.
    pub ips_total: u64,
    /// Of those, held by pods on this node.
    pub ips_used: u64,
    pub ips_free: u64,
    pub prefixes: Vec<Ipv4Net>,
}

/// Where this node's pods' IPs are.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PodPlacement {
    pub total: usize,
    pub host_network: usize,
    pub eniconfig_subnet: usize,
    /// In the primary ENI's (the node's) subnet.
    pub node_subnet: usize,
    /// Security groups for pods: on a branch ENI, reported, not judged.
    pub branch_eni: usize,
    pub other: usize,
    /// No IP yet, being deleted, an IP that is not IPv4, or not placeable
    /// (CIDR unknown).
    pub unplaced: usize,
    /// Succeeded or Failed: off the node's network, not in `total`.
    pub completed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn exit_code(status: CheckStatus) -> i32 {
    match status {
        CheckStatus::Ok | CheckStatus::Skipped | CheckStatus::NotApplicable => exit::OK,
        CheckStatus::Drift => exit::DRIFT,
        CheckStatus::Unknown => exit::UNKNOWN,
    }
}

impl Report {
    pub fn build(snapshot: &Snapshot, evaluation: &Evaluation) -> Report {
        Report::from_context(&Context::new(snapshot), evaluation)
    }

    /// Judges `snapshot` once and renders the result: the checks and the
    /// report read the same derived facts (one [`Context`]).
    pub fn judge(snapshot: &Snapshot) -> (Evaluation, Report) {
        let ctx = Context::new(snapshot);
        let evaluation = crate::checks::evaluate_in(&ctx);
        let report = Report::from_context(&ctx, &evaluation);
        (evaluation, report)
    }

    /// The report of an evaluation made on `ctx`.
    pub fn from_context(ctx: &Context, evaluation: &Evaluation) -> Report {
        let snapshot = ctx.snapshot;
        let status = evaluation.overall();
        let imds = ctx.imds.as_ref().ok();
        let cluster = match &snapshot.expectation {
            Expectation::Kubernetes(Ok(c)) => Some(c),
            _ => None,
        };
        let node = NodeSummary {
            name: ctx.node_name.clone(),
            instance_id: imds.map(|m| m.instance_id.clone()),
            instance_type: imds.map(|m| m.instance_type.clone()),
            region: imds.and_then(|m| m.region.clone()),
            availability_zone: imds.map(|m| m.availability_zone.clone()),
            availability_zone_id: imds.and_then(|m| m.availability_zone_id.clone()),
            max_pods: cluster.and_then(|c| c.node.capacity_pods),
            nodegroup: cluster.and_then(|c| {
                NODEGROUP_LABELS
                    .iter()
                    .find_map(|l| c.node.labels.get(*l).cloned())
            }),
        };
        let subnet = match (&ctx.expected, snapshot.ec2.data()) {
            (Ok(e), Some(v)) => v
                .subnet(&e.subnet)
                .and_then(|f| f.as_ref().ok().cloned().flatten()),
            _ => None,
        };
        Report {
            schema_version: SCHEMA_VERSION,
            eniwatch_version: env!("CARGO_PKG_VERSION"),
            status,
            exit_code: exit_code(status),
            not_applicable: evaluation.not_applicable.clone(),
            node,
            eniconfig: eniconfig_summary(ctx),
            enis: eni_rows(ctx),
            pods: placement(ctx),
            capacity: ctx.pool().clone(),
            subnet,
            sources: sources(snapshot),
            checks: evaluation.checks.clone(),
            findings: evaluation.findings.clone(),
        }
    }
}

fn eniconfig_summary(ctx: &Context) -> EniConfigSummary {
    let source = match ctx.snapshot.expectation {
        Expectation::Kubernetes(_) => "kubernetes",
        Expectation::Flags(_) => "flags",
    };
    let selection = ctx.selection();
    let mut s = EniConfigSummary {
        source,
        name: selection.map(|x| x.name.clone()),
        selected_by: selection.map(|x| x.selected_by.clone()),
        found: None,
        subnet: None,
        subnet_cidr: None,
        security_groups: None,
    };
    match &ctx.expected {
        Ok(e) => {
            s.found = Some(true);
            s.subnet = Some(e.subnet.clone());
            s.subnet_cidr = e.subnet_cidr;
            s.security_groups = e.security_groups.clone();
        }
        Err(NoExpectation::NotFound { .. }) => s.found = Some(false),
        Err(NoExpectation::Invalid { .. }) => s.found = Some(true),
        Err(NoExpectation::Unavailable { .. }) => {}
    }
    s
}

fn eni_rows(ctx: &Context) -> Vec<EniRow> {
    let pods = ctx.routed_pods();
    ctx.enis
        .iter()
        .map(|e| {
            let total = e.meta.pod_capacity();
            let used = pods.iter().filter(|(_, ip)| e.meta.carries(*ip)).count() as u64;
            EniRow {
                device_number: e.meta.device_number,
                network_card: e.meta.network_card,
                mac: e.meta.mac.to_string(),
                eni_id: e.meta.interface_id.as_ref().map(|i| i.to_string()),
                link: e.link.map(|l| l.name.clone()),
                subnet_id: e.meta.subnet_id.as_ref().map(|s| s.to_string()),
                subnet_cidr: e.meta.subnet_cidr,
                role: e.role,
                security_groups: e.meta.security_groups.clone(),
                primary_ip: e.meta.primary_ip(),
                ips_total: total,
                ips_used: used,
                ips_free: total.saturating_sub(used),
                prefixes: e.meta.ipv4_prefixes.clone(),
            }
        })
        .collect()
}

fn placement(ctx: &Context) -> PodPlacement {
    let mut p = PodPlacement::default();
    let Ok(pods) = &ctx.pods else {
        return p;
    };
    let expected_cidr = ctx.expected.as_ref().ok().and_then(|e| e.subnet_cidr);
    let node_cidr = ctx.primary().and_then(|e| e.meta.subnet_cidr);
    for pod in pods {
        if pod.completed {
            p.completed += 1;
            continue;
        }
        p.total += 1;
        match (pod.host_network, &pod.branch, pod.ip, pod.terminal) {
            (true, _, _, _) => p.host_network += 1,
            (_, Some(_), _, _) => p.branch_eni += 1,
            (_, _, None, _) | (_, _, _, true) => p.unplaced += 1,
            (_, _, Some(ip), false) => {
                if expected_cidr.is_some_and(|c| c.contains(&ip)) {
                    p.eniconfig_subnet += 1
                } else if node_cidr.is_some_and(|c| c.contains(&ip)) {
                    p.node_subnet += 1
                } else if expected_cidr.is_some() || ctx.not_applicable.is_some() {
                    // Without custom networking there is no ENIConfig subnet
                    // to be unsure about: outside the node subnet is elsewhere.
                    p.other += 1
                } else {
                    p.unplaced += 1
                }
            }
        }
    }
    p
}

fn sources(snapshot: &Snapshot) -> Vec<SourceStatus> {
    let status = |name, r: Result<(), String>| SourceStatus {
        name,
        ok: r.is_ok(),
        error: r.err(),
    };
    let mut out = vec![
        status(
            "imds",
            snapshot
                .imds
                .as_ref()
                .map(|_| ())
                .map_err(|u| u.reason.clone()),
        ),
        status(
            "kernel",
            snapshot
                .kernel
                .as_ref()
                .map(|_| ())
                .map_err(|u| u.reason.clone()),
        ),
    ];
    if let Expectation::Kubernetes(c) = &snapshot.expectation {
        out.push(status(
            "kubernetes",
            c.as_ref().map(|_| ()).map_err(|u| u.reason.clone()),
        ));
    }
    if let Witness::On(i) = &snapshot.ipamd {
        out.push(status(
            "ipamd",
            i.as_ref().map(|_| ()).map_err(|u| u.reason.clone()),
        ));
    }
    if let Witness::On(e) = &snapshot.ec2 {
        // Each call fails on its own; the first failure is the one reported.
        let first_error = match e {
            Err(u) => Some(u.reason.clone()),
            Ok(v) => v.first_error().map(|u| u.reason.clone()),
        };
        out.push(status("ec2", first_error.map_or(Ok(()), Err)));
    }
    out
}
