//! Each node judged once: its group, zone, networking mode as far as the
//! cluster view can tell, its `CustomNetworkingReady` condition, where its
//! pods' addresses are, whether it is migrated, and the pods it can still
//! take under custom networking.
//!
//! Policy (docs/status.md says the same for operators):
//! - A node is *migrated* when an ENIConfig applies to it and either its
//!   agent's condition is True, or, without a fresh condition, no pod
//!   address says otherwise and at least one is in the ENIConfig's subnet.
//!   False with pods in that subnet is *drift* on a migrated node; False
//!   without a placed pod address is *unknown*.
//!   A node whose pod addresses are all outside that subnet is *not
//!   migrated*, whatever its condition (the old nodes of a migration).
//! - A heartbeat more than [`STALE_AFTER_SECS`] older than the median one
//!   listed is *stale*: the condition is not trusted. The clock is never
//!   read, so the same input always gives the same view.
//! - Free slots: `min(custom-networking max pods, the kubelet's max-pods)`
//!   less the pods counted on the node; prefix delegation where the
//!   ENIConfig subnet's published facts have `free_prefixes`. Without facts
//!   the slots are known only when max-pods caps both formulas the same.
//!   A node that is not Ready or is cordoned takes no pods.

use std::collections::HashMap;

use ipnet::Ipv4Net;

use super::input::{StatusNode, StatusPod};
use super::time::unix_seconds;
use super::view::{Amount, Migration, NodeMode, NodeRow, PodCounts, Readiness};
use crate::checks::capacity::{max_pods, AddressingMode};
use crate::expectation::select_eniconfig;
use crate::model::node_kind::{self, Platform};
use crate::model::{EniConfig, SelectionSettings};
use crate::published::PublishedFacts;

/// Seconds a heartbeat may lag the median one before it is called stale (the
/// agent renews its condition every few minutes).
pub(crate) const STALE_AFTER_SECS: i64 = 600;

/// What every node is judged against.
pub(crate) struct Inputs<'a> {
    /// By name; Ok(None): the CRD is not installed; Err: listing failed.
    pub eni_configs: Result<Option<HashMap<&'a str, &'a EniConfig>>, String>,
    /// Ok(None): not published; Err: reading failed.
    pub facts: Result<Option<&'a PublishedFacts>, String>,
    pub selection: &'a SelectionSettings,
    /// The median heartbeat of all conditions (seconds).
    pub median_heartbeat: Option<i64>,
}

impl Inputs<'_> {
    /// The published CIDR of a subnet, or why it is unknown.
    fn cidr(&self, subnet: &str) -> Result<Ipv4Net, String> {
        match &self.facts {
            Ok(Some(f)) => f
                .subnets
                .iter()
                .find(|s| s.id.as_str() == subnet)
                .and_then(|s| s.cidr)
                .ok_or_else(|| format!("no CIDR of {subnet} in the published facts")),
            Ok(None) => Err("eniwatch-cluster's facts are not published".into()),
            Err(e) => Err(e.clone()),
        }
    }

    /// Whether the subnet uses prefix delegation (published `free_prefixes`);
    /// None when the facts do not tell.
    pub(crate) fn prefix_delegation(&self, subnet: &str) -> Option<bool> {
        match &self.facts {
            Ok(Some(f)) => Some(
                f.subnets
                    .iter()
                    .any(|s| s.id.as_str() == subnet && s.free_prefixes.is_some()),
            ),
            _ => None,
        }
    }
}

pub(crate) fn judge_node(node: &StatusNode, pods: &[&StatusPod], inp: &Inputs) -> NodeRow {
    let labels = &node.info.labels;
    let mode = mode(node, inp);
    let ready = readiness(node, inp.median_heartbeat);
    let cidr = match &mode {
        NodeMode::CustomNetworking { subnet, .. } => Some(inp.cidr(subnet)),
        _ => None,
    };
    let mut counts = count_pods(pods, cidr.as_ref().and_then(|c| c.as_ref().ok()));
    let migration = migration(&mode, &ready, &counts, cidr.as_ref());
    counts.to_move = pods
        .iter()
        .filter(|p| movable(p))
        .filter(|p| match migration {
            Migration::NotMigrated => true,
            Migration::Migrated | Migration::Drift => {
                outside(p, cidr.as_ref().and_then(|c| c.as_ref().ok()))
            }
            Migration::Unknown | Migration::NotInPlan => false,
        })
        .count() as u64;
    if migration == Migration::Unknown {
        counts.undecided = pods.iter().filter(|p| movable(p)).count() as u64;
    }
    let free_slots = match (&mode, migration) {
        (NodeMode::CustomNetworking { subnet, .. }, Migration::Migrated | Migration::Drift) => {
            Some(free_slots(node, subnet, &counts, inp))
        }
        _ => None,
    };
    NodeRow {
        name: node.info.name.clone(),
        nodegroup: node_kind::node_group(labels),
        zone: node_kind::label(labels, node_kind::ZONE_LABEL).map(str::to_string),
        instance_type: node_kind::label(labels, node_kind::INSTANCE_TYPE_LABEL).map(str::to_string),
        max_pods: node.allocatable_pods.or(node.info.capacity_pods),
        mode,
        ready,
        migration,
        pods: counts,
        free_slots,
    }
}

/// Pods that move with a migration: not a DaemonSet's (they come with the
/// nodes), not host-network (they take no pod address). Pods being deleted
/// are left out before this.
pub(crate) fn movable(p: &StatusPod) -> bool {
    !p.host_network && !is_daemonset(p)
}

pub(crate) fn is_daemonset(p: &StatusPod) -> bool {
    p.owner_kind.as_deref() == Some("DaemonSet")
}

fn outside(p: &StatusPod, cidr: Option<&Ipv4Net>) -> bool {
    matches!((p.ip, cidr), (Some(ip), Some(c)) if !c.contains(&ip))
}

fn mode(node: &StatusNode, inp: &Inputs) -> NodeMode {
    let labels = &node.info.labels;
    let ipv6_only =
        !node.internal_ips.is_empty() && node.internal_ips.iter().all(|ip| ip.is_ipv6());
    if ipv6_only {
        return NodeMode::NotApplicable {
            not_applicable: "ipv6".into(),
        };
    }
    let platform = node_kind::platform(labels);
    match platform {
        Platform::Ec2 => {}
        Platform::AutoMode => {
            return NodeMode::EksAutoMode {
                node_class: node_kind::label(labels, node_kind::NODECLASS_LABEL).map(Into::into),
            }
        }
        Platform::Fargate | Platform::Hybrid | Platform::Windows => {
            let kind = match platform {
                Platform::Fargate => "fargate",
                Platform::Hybrid => "hybrid",
                _ => "windows",
            };
            return NodeMode::NotApplicable {
                not_applicable: kind.into(),
            };
        }
    }
    let configs = match &inp.eni_configs {
        Ok(Some(c)) => c,
        Ok(None) => {
            return NodeMode::Standard {
                why: "the ENIConfig CRD is not installed".into(),
            }
        }
        Err(e) => return NodeMode::Unknown { why: e.clone() },
    };
    let selected = select_eniconfig(&node.info, inp.selection);
    match configs.get(selected.name.as_str()) {
        None => NodeMode::Standard {
            why: format!("ENIConfig {} does not exist", selected.name),
        },
        Some(EniConfig {
            subnet: Some(s), ..
        }) => NodeMode::CustomNetworking {
            eni_config: selected.name,
            subnet: s.to_string(),
        },
        Some(_) => NodeMode::Unknown {
            why: format!("ENIConfig {} names no valid subnet", selected.name),
        },
    }
}

fn readiness(node: &StatusNode, median: Option<i64>) -> Readiness {
    let Some(c) = &node.condition else {
        return Readiness::NoAgent;
    };
    if let (Some(text), Some(median)) = (&c.last_heartbeat, median) {
        if unix_seconds(text).is_some_and(|t| median.saturating_sub(t) > STALE_AFTER_SECS) {
            return Readiness::Stale {
                last_heartbeat: text.clone(),
            };
        }
    }
    match c.status.as_str() {
        "True" => Readiness::True,
        "False" => Readiness::False {
            reason: c.reason.clone().filter(|r| !r.trim().is_empty()),
        },
        _ => Readiness::Unknown,
    }
}

fn count_pods(pods: &[&StatusPod], cidr: Option<&Ipv4Net>) -> PodCounts {
    let mut c = PodCounts::default();
    for p in pods {
        c.total += 1;
        if is_daemonset(p) {
            c.daemonset += 1;
        }
        if p.host_network {
            c.host_network += 1;
            continue;
        }
        match (p.ip, cidr) {
            (Some(ip), Some(net)) if net.contains(&ip) => c.on_eniconfig_subnet += 1,
            (Some(_), Some(_)) => c.elsewhere += 1,
            _ => c.unknown_place += 1,
        }
    }
    c
}

fn migration(
    mode: &NodeMode,
    ready: &Readiness,
    c: &PodCounts,
    cidr: Option<&Result<Ipv4Net, String>>,
) -> Migration {
    match mode {
        NodeMode::CustomNetworking { .. } => {}
        NodeMode::Standard { .. } => return Migration::NotMigrated,
        NodeMode::Unknown { .. } => return Migration::Unknown,
        NodeMode::EksAutoMode { .. } | NodeMode::NotApplicable { .. } => {
            return Migration::NotInPlan
        }
    }
    let cidr_known = matches!(cidr, Some(Ok(_)));
    if cidr_known && c.elsewhere > 0 && c.on_eniconfig_subnet == 0 {
        return Migration::NotMigrated;
    }
    // A False condition on a node whose pod addresses cannot be placed may
    // be an old node as well as drift on a new one: unknown, not guessed.
    let placed_on_subnet = cidr_known && c.on_eniconfig_subnet > 0;
    match ready {
        Readiness::True => Migration::Migrated,
        Readiness::False { .. } if placed_on_subnet => Migration::Drift,
        Readiness::False { .. } => Migration::Unknown,
        _ if placed_on_subnet => Migration::Migrated,
        _ => Migration::Unknown,
    }
}

fn free_slots(node: &StatusNode, subnet: &str, c: &PodCounts, inp: &Inputs) -> Amount {
    if node.ready != Some(true) || node.unschedulable {
        return Amount::Known(0);
    }
    let Some(itype) = node_kind::label(&node.info.labels, node_kind::INSTANCE_TYPE_LABEL) else {
        return Amount::unknown(format!(
            "node {} has no instance-type label",
            node.info.name
        ));
    };
    let Some(limits) = crate::instance_limits::lookup(itype) else {
        return Amount::unknown(format!(
            "instance type {itype} is not in eniwatch's table (upgrade eniwatch)"
        ));
    };
    let kubelet = node
        .allocatable_pods
        .or(node.info.capacity_pods)
        .map(u64::from);
    let cap = |pd: bool| {
        let f = max_pods(
            limits.pod_limits(),
            AddressingMode {
                custom_networking: true,
                prefix_delegation: pd,
            },
        );
        kubelet.map_or(f, |k| f.min(k))
    };
    let cap = match inp.prefix_delegation(subnet) {
        Some(pd) => cap(pd),
        None if cap(false) == cap(true) => cap(false),
        None => {
            return Amount::unknown(format!(
                "whether {subnet} uses prefix delegation is unknown (no published facts)"
            ))
        }
    };
    Amount::Known(cap.saturating_sub(c.total))
}
