//! The report of one check: what `eniwatch check` prints, as text or JSON.
//!
//! [`Report`] is the JSON schema (documented in the README; `schema_version`
//! changes only when a field is removed or changes meaning). It is built from
//! the evaluation and never re-judges or re-derives anything: the statuses
//! and findings are the checks' own, and the expectation, ENI roles, pod
//! placement and capacity are the evaluation's [`Facts`]. From the snapshot
//! it copies only what needs no judging (the node's identity, source health).

mod text;

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

pub use text::render_text;

use crate::checks::context::selection_of;
use crate::checks::NetworkingMode;
pub use crate::checks::PodPlacement;
use crate::checks::{
    CheckResult, CheckStatus, EniRole, Evaluation, Facts, Finding, NoExpectation, NotApplicable,
    PoolFacts,
};
use crate::expectation::{ExpectedSource, ExpectedSubnet};
use crate::model::{
    node_kind, Expectation, SecurityGroupId, Snapshot, SubnetFacts, SubnetId, Witness,
};
use crate::published::PublishedSubnet;

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
    /// Set when the node is out of scope: `cause` (`ipv6`, `windows`,
    /// `hybrid`, `fargate`, `no_vpc_cni`), `reason` (CamelCase) and
    /// `message`. Every check is then `not_applicable`, and the exit code 0.
    pub not_applicable: Option<NotApplicable>,
    /// The node's networking mode (`kind`: `custom_networking`, `standard`,
    /// `eks_auto_mode`, `not_applicable`) and what it expects.
    pub mode: ModeSummary,
    pub node: NodeSummary,
    /// The expectation: the selected ENIConfig, or the `--expect-*` flags.
    pub eniconfig: EniConfigSummary,
    pub enis: Vec<EniRow>,
    pub pods: PodPlacement,
    /// Capacity and warm pool: instance limits, max-pods, free addresses and target.
    pub capacity: PoolFacts,
    /// The ENIConfig subnet as eniwatch-cluster published it (null when the
    /// facts are off, not installed, unreadable, or do not list it).
    pub subnet: Option<SubnetFacts>,
    pub sources: Vec<SourceStatus>,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
}

/// The networking mode and the subnets and groups it expects.
#[derive(Debug, Clone, Serialize)]
pub struct ModeSummary {
    #[serde(flatten)]
    pub mode: NetworkingMode,
    /// The mode in words.
    pub words: String,
    /// The subnets secondary ENIs and pods belong in (empty when unknown).
    pub subnets: Vec<ExpectedSubnet>,
    /// Explicit groups; null means "the primary ENI's".
    pub security_groups: Option<Vec<SecurityGroupId>>,
    /// False: other subnets may be allowed that eniwatch does not know of.
    pub subnets_complete: bool,
    /// Why the expected subnets are unknown, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

fn mode_summary(evaluation: &Evaluation) -> ModeSummary {
    let mut m = ModeSummary {
        mode: evaluation.mode.clone(),
        words: evaluation.mode.words(),
        subnets: Vec::new(),
        security_groups: None,
        subnets_complete: false,
        unresolved: None,
    };
    match &evaluation.facts.expected {
        Ok(e) => {
            m.subnets.push(ExpectedSubnet {
                id: e.subnet.clone(),
                cidr: e.subnet_cidr,
            });
            m.subnets.extend(e.also.iter().cloned());
            m.security_groups = e.security_groups.clone();
            m.subnets_complete = e.complete;
        }
        Err(NoExpectation::NotApplicable) => {}
        Err(ne) => m.unresolved = Some(crate::checks::no_expectation_detail(ne)),
    }
    m
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
    /// The report of `evaluation`, which was made on `snapshot`: the
    /// evaluation's facts rendered, plus what the snapshot says verbatim
    /// (the node's identity, the sources' health).
    pub fn build(snapshot: &Snapshot, evaluation: &Evaluation) -> Report {
        let facts = &evaluation.facts;
        let status = evaluation.overall();
        let imds = snapshot.imds.as_ref().ok();
        let cluster = match &snapshot.expectation {
            Expectation::Kubernetes(Ok(c)) => Some(c),
            _ => None,
        };
        let node = NodeSummary {
            name: facts.node_name.clone(),
            instance_id: imds.map(|m| m.instance_id.clone()),
            instance_type: imds.map(|m| m.instance_type.clone()),
            region: imds.and_then(|m| m.region.clone()),
            availability_zone: imds.map(|m| m.availability_zone.clone()),
            availability_zone_id: imds.and_then(|m| m.availability_zone_id.clone()),
            max_pods: cluster.and_then(|c| c.node.capacity_pods),
            nodegroup: cluster
                .map(|c| node_kind::node_group(&c.node.labels))
                .filter(|g| g.source != node_kind::GroupSource::Unlabelled)
                .map(|g| g.name),
        };
        let published = snapshot
            .cluster_facts
            .data()
            .and_then(|c| c.published.as_ref());
        let subnet = match (&facts.expected, published) {
            (Ok(e), Some(p)) => p.subnet(&e.subnet).map(subnet_facts),
            _ => None,
        };
        Report {
            schema_version: SCHEMA_VERSION,
            eniwatch_version: env!("CARGO_PKG_VERSION"),
            status,
            exit_code: exit_code(status),
            not_applicable: evaluation.not_applicable.clone(),
            mode: mode_summary(evaluation),
            node,
            eniconfig: eniconfig_summary(snapshot, facts),
            enis: eni_rows(facts),
            pods: facts.placement.counts.clone(),
            capacity: facts.pool.clone(),
            subnet,
            sources: sources(snapshot),
            checks: evaluation.checks.clone(),
            findings: evaluation.findings.clone(),
        }
    }

    /// Judges `snapshot` once and renders the result: the report shows the
    /// facts the checks judged from.
    pub fn judge(snapshot: &Snapshot) -> (Evaluation, Report) {
        let evaluation = crate::checks::evaluate(snapshot);
        let report = Report::build(snapshot, &evaluation);
        (evaluation, report)
    }
}

fn eniconfig_summary(snapshot: &Snapshot, facts: &Facts) -> EniConfigSummary {
    let source = match snapshot.expectation {
        Expectation::Kubernetes(_) => "kubernetes",
        Expectation::Flags(_) => "flags",
    };
    let selection = selection_of(&facts.expected);
    let mut s = EniConfigSummary {
        source,
        name: selection.map(|x| x.name.clone()),
        selected_by: selection.map(|x| x.selected_by.clone()),
        found: None,
        subnet: None,
        subnet_cidr: None,
        security_groups: None,
    };
    match &facts.expected {
        // Standard mode and Auto Mode: no ENIConfig (the `mode` block says
        // what is expected instead).
        Ok(e)
            if matches!(
                e.source,
                ExpectedSource::NodeSubnet | ExpectedSource::NodeClass
            ) => {}
        Ok(e) => {
            s.found = Some(true);
            s.subnet = Some(e.subnet.clone());
            s.subnet_cidr = e.subnet_cidr;
            s.security_groups = e.security_groups.clone();
        }
        Err(NoExpectation::NotFound { .. }) => s.found = Some(false),
        Err(NoExpectation::Invalid { .. }) => s.found = Some(true),
        Err(NoExpectation::Unavailable { .. })
        | Err(NoExpectation::Unresolved { .. })
        | Err(NoExpectation::NotApplicable) => {}
    }
    s
}

fn eni_rows(facts: &Facts) -> Vec<EniRow> {
    facts
        .enis
        .iter()
        .map(|e| EniRow {
            device_number: e.meta.device_number,
            network_card: e.meta.network_card,
            mac: e.meta.mac.to_string(),
            eni_id: e.meta.interface_id.as_ref().map(|i| i.to_string()),
            link: e.link.clone(),
            subnet_id: e.meta.subnet_id.as_ref().map(|s| s.to_string()),
            subnet_cidr: e.meta.subnet_cidr,
            role: e.role,
            security_groups: e.meta.security_groups.clone(),
            primary_ip: e.meta.primary_ip(),
            ips_total: e.addresses.total,
            ips_used: e.addresses.assigned,
            ips_free: e.addresses.free,
            prefixes: e.meta.ipv4_prefixes.clone(),
        })
        .collect()
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
    if let Witness::On(c) = &snapshot.cluster_facts {
        out.push(status(
            "cluster_facts",
            c.as_ref().map(|_| ()).map_err(|u| u.reason.clone()),
        ));
    }
    out
}

/// A published subnet in the report's shape (the keys it had when the
/// agent asked EC2 itself).
fn subnet_facts(s: &PublishedSubnet) -> SubnetFacts {
    SubnetFacts {
        id: s.id.clone(),
        cidr: s.cidr,
        availability_zone: s.availability_zone.clone(),
        availability_zone_id: s.availability_zone_id.clone(),
        available_ips: s.free_addresses,
    }
}
