//! Where each pod's IP is: the one classification the `pod-subnet` check,
//! the report's `pods` block and the `eniwatch_pods{placement}` metric share.
//!
//! A routed pod's IP is in the expected subnet (the ENIConfig's; in standard
//! mode the node's or a CNI-tagged one of its zone, counted `node_subnet` or
//! `eniconfig_subnet` by where it is; on EKS Auto Mode the NodeClass's,
//! counted `eniconfig_subnet`) when that subnet's CIDR contains it. When the CIDR is unknown (no attached ENI is in it, EC2 did
//! not answer), a pod can still be proven outside it: subnets of a VPC never
//! overlap, so an IP inside another known subnet (the node subnet, another
//! ENI's) is outside the ENIConfig subnet. Only pods in no known subnet stay
//! `unplaced`, as they do for the check (which says *unknown* for them).
//!
//! Without an expectation (no ENIConfig, the API away) there is no ENIConfig
//! subnet: IPs in the node subnet are `node_subnet`; others are `other` when
//! custom networking does not apply to the node, else `unplaced`.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::context::{Context, EniRole, EniView, Expected};
use crate::model::PodInfo;

/// Where one pod is, by the labels the report and the metric use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    EniconfigSubnet,
    /// In the primary ENI's (the node's) subnet.
    NodeSubnet,
    /// In a subnet that is neither.
    Other,
    HostNetwork,
    /// Security groups for pods: on a branch ENI, reported, not judged.
    BranchEni,
    /// No IP yet, being deleted, an IP that is not IPv4, or not placeable.
    Unplaced,
    /// Succeeded or Failed: off the node's network.
    Completed,
}

impl Place {
    /// The `placement` label value of `eniwatch_pods`, and the report field.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::EniconfigSubnet => "eniconfig_subnet",
            Place::NodeSubnet => "node_subnet",
            Place::Other => "other",
            Place::HostNetwork => "host_network",
            Place::BranchEni => "branch_eni",
            Place::Unplaced => "unplaced",
            Place::Completed => "completed",
        }
    }
}

/// One pod and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacedPod {
    /// Index into the snapshot's pods (the context's pod list).
    pub index: usize,
    pub ip: Option<Ipv4Addr>,
    pub place: Place,
    /// Set when the IP is provably outside the expected subnets: where it
    /// is instead, in words (for the finding's message).
    pub outside: Option<String>,
    /// Inside an expected subnet (the ENIConfig's; in standard mode the
    /// node's or a CNI-tagged one; on Auto Mode the NodeClass's).
    pub expected: bool,
}

/// Where this node's pods' IPs are: the report's `pods` block, and the
/// `eniwatch_pods` gauge per `placement`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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

impl PodPlacement {
    /// The counts as the metric's `placement` label values, in a fixed order
    /// (`completed` is not a label: those pods are off the network).
    pub fn by_label(&self) -> [(&'static str, usize); 6] {
        [
            (Place::EniconfigSubnet.as_str(), self.eniconfig_subnet),
            (Place::NodeSubnet.as_str(), self.node_subnet),
            (Place::Other.as_str(), self.other),
            (Place::HostNetwork.as_str(), self.host_network),
            (Place::BranchEni.as_str(), self.branch_eni),
            (Place::Unplaced.as_str(), self.unplaced),
        ]
    }

    fn add(&mut self, place: Place) {
        let slot = match place {
            // Completed pods are outside the total.
            Place::Completed => {
                self.completed += 1;
                return;
            }
            Place::EniconfigSubnet => &mut self.eniconfig_subnet,
            Place::NodeSubnet => &mut self.node_subnet,
            Place::Other => &mut self.other,
            Place::HostNetwork => &mut self.host_network,
            Place::BranchEni => &mut self.branch_eni,
            Place::Unplaced => &mut self.unplaced,
        };
        self.total += 1;
        *slot += 1;
    }
}

/// Every pod's place and the counts, for one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Placement {
    pub pods: Vec<PlacedPod>,
    pub counts: PodPlacement,
}

impl Placement {
    pub fn new(ctx: &Context) -> Placement {
        let mut out = Placement::default();
        let Ok(pods) = &ctx.pods else {
            return out;
        };
        for (index, pod) in pods.iter().enumerate() {
            let (place, outside, expected) = classify(ctx, pod);
            out.counts.add(place);
            out.pods.push(PlacedPod {
                index,
                ip: pod.ip,
                place,
                outside,
                expected,
            });
        }
        out
    }
}

fn classify(ctx: &Context, pod: &PodInfo) -> (Place, Option<String>, bool) {
    if pod.completed {
        return (Place::Completed, None, false);
    }
    match (pod.host_network, &pod.branch, pod.ip, pod.terminal) {
        (true, _, _, _) => (Place::HostNetwork, None, false),
        (_, Some(_), _, _) => (Place::BranchEni, None, false),
        (_, _, None, _) | (_, _, _, true) => (Place::Unplaced, None, false),
        (_, _, Some(ip), false) => match &ctx.expected {
            Ok(expected) => routed(ctx, expected, ip),
            Err(_) => (without_expectation(ctx, ip), None, false),
        },
    }
}

/// A routed pod's place when the expected subnets are known by id: the
/// place, where it is instead when provably outside them, and whether it
/// is inside them.
fn routed(ctx: &Context, expected: &Expected, ip: Ipv4Addr) -> (Place, Option<String>, bool) {
    let custom = ctx.mode.is_custom_networking();
    if expected.contains(ip) {
        let place = if !custom && in_node_subnet(ctx, ip) {
            Place::NodeSubnet
        } else {
            Place::EniconfigSubnet
        };
        return (place, None, true);
    }
    let found = containing(ctx, ip);
    let place = match found {
        Some(e) if e.role == EniRole::Primary => Place::NodeSubnet,
        _ if in_node_subnet(ctx, ip) => Place::NodeSubnet,
        _ => Place::Other,
    };
    // Another subnet may be allowed that eniwatch does not know of
    // (CNI-tagged subnets without eniwatch-cluster's facts).
    if !expected.complete {
        let known = found.is_some() || in_node_subnet(ctx, ip);
        return (if known { place } else { Place::Unplaced }, None, false);
    }
    let outside = if expected.cidrs_known() {
        found.map(|e| locate(e, ip)).unwrap_or_else(|| {
            format!(
                "in no subnet this node knows ({} is {})",
                expected.source.words(),
                expected
                    .subnet_cidr
                    .map_or_else(|| expected.subnet.to_string(), |c| c.to_string())
            )
        })
    } else {
        // A CIDR unknown: outside only if provably inside another subnet.
        match found {
            Some(e) if !is_expected(e, expected) => locate(e, ip),
            _ if !custom => return (without_expectation(ctx, ip), None, false),
            _ => return (Place::Unplaced, None, false),
        }
    };
    (place, Some(outside), false)
}

fn without_expectation(ctx: &Context, ip: Ipv4Addr) -> Place {
    let node_cidr = ctx.primary().and_then(|e| e.meta.subnet_cidr);
    match node_cidr {
        Some(cidr) if cidr.contains(&ip) => Place::NodeSubnet,
        // Without custom networking there is no ENIConfig subnet to be
        // unsure about: outside a known node subnet is elsewhere. With the
        // node subnet unknown (IMDS unread), nothing is proven.
        Some(_) if !ctx.mode.is_custom_networking() => Place::Other,
        _ => Place::Unplaced,
    }
}

fn in_node_subnet(ctx: &Context, ip: Ipv4Addr) -> bool {
    ctx.primary()
        .and_then(|e| e.meta.subnet_cidr)
        .is_some_and(|c| c.contains(&ip))
}

/// The ENI whose subnet holds `ip`: the one carrying it, else one whose
/// subnet CIDR contains it.
fn containing<'c, 'a>(ctx: &'c Context<'a>, ip: Ipv4Addr) -> Option<&'c EniView<'a>> {
    ctx.owner_of(ip).or_else(|| {
        ctx.enis
            .iter()
            .find(|e| e.meta.subnet_cidr.is_some_and(|c| c.contains(&ip)))
    })
}

/// Whether `eni`'s subnet is an expected one. An unknown subnet id proves
/// nothing either way, so it counts as possibly expected.
fn is_expected(eni: &EniView, expected: &Expected) -> bool {
    eni.meta
        .subnet_id
        .as_ref()
        .is_none_or(|s| expected.allows(s))
}

/// Where an IP outside the ENIConfig subnet is, for the finding's message.
fn locate(eni: &EniView, ip: Ipv4Addr) -> String {
    let subnet = eni
        .meta
        .subnet_id
        .as_ref()
        .map_or("an unknown subnet".to_string(), |s| s.to_string());
    let carried = eni.meta.carries(ip);
    match (eni.role, carried) {
        (EniRole::Primary, true) => format!(
            "in the node subnet {subnet} via the primary ENI {}",
            eni.display_name()
        ),
        (_, true) => format!("on ENI {} in {subnet}", eni.display_name()),
        (EniRole::Primary, false) => {
            format!("in the node subnet {subnet} (not carried by any ENI)")
        }
        (_, false) => format!(
            "in {subnet} of ENI {} (not carried by any ENI)",
            eni.display_name()
        ),
    }
}
