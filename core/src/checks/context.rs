//! What every check needs, derived once from the snapshot: the expected subnet
//! and security groups, each ENI's role and kernel link, the pods, and (on
//! first use) the pool and the pods' placement. Only [`super::evaluate`]
//! builds one; what consumers need from it leaves as [`super::Facts`].
//!
//! Everything here is pure. A piece that cannot be derived carries the reason
//! as `Err(String)`, which the checks turn into an *unknown* status.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::imds_integrity::{self, ImdsProblem};
use super::mode::{self, NetworkingMode};
use super::placement::Placement;
use super::pool::PoolFacts;
use crate::expectation::Selection;
pub use crate::expectation::{Expected, NoExpectation};
use crate::model::{
    EniMetadata, Expectation, InstanceMetadata, KernelState, Link, PodInfo, Snapshot, MAIN_TABLE,
};

/// Node label the VPC resource controller sets when a trunk ENI is attached.
pub const HAS_TRUNK_LABEL: &str = "vpc.amazonaws.com/has-trunk-attached";

/// What an ENI is for, as far as custom networking is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EniRole {
    /// Device 0 on card 0: the node's own address; never used for pods under custom networking.
    Primary,
    /// An ENI the CNI allocates pod IPs from.
    Secondary,
    /// Security groups for pods: parent of the branch ENIs' VLANs, no pod IPs.
    Trunk,
    /// An EFA-only interface: no IPv4 at all (not the primary, no prefix, no
    /// IPv4 use in the kernel).
    EfaOnly,
    /// An ENI on a network card > 0 with no addresses for pods (e.g. an EFA with
    /// an IP set up by the launch template): not the CNI's, so not judged.
    Unmanaged,
}

impl EniRole {
    pub fn as_str(self) -> &'static str {
        match self {
            EniRole::Primary => "primary",
            EniRole::Secondary => "secondary",
            EniRole::Trunk => "trunk",
            EniRole::EfaOnly => "efa-only",
            EniRole::Unmanaged => "unmanaged",
        }
    }
}

/// An ENI with its role and kernel link.
#[derive(Debug, Clone)]
pub struct EniView<'a> {
    pub meta: &'a EniMetadata,
    pub role: EniRole,
    /// The link with this MAC (None when the kernel has none, or is unknown).
    pub link: Option<&'a Link>,
}

impl EniView<'_> {
    /// The name findings use: the ENI id, or the MAC when IMDS has no id.
    pub fn display_name(&self) -> String {
        match &self.meta.interface_id {
            Some(id) => id.to_string(),
            None => self.meta.mac.to_string(),
        }
    }
}

pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub node_name: String,
    pub imds: Result<&'a InstanceMetadata, String>,
    pub kernel: Result<&'a KernelState, String>,
    pub expected: Result<Expected, NoExpectation>,
    pub enis: Vec<EniView<'a>>,
    pub pods: Result<Vec<PodInfo>, String>,
    /// Pods come from the kernel's routes (`--no-kube`), so route checks are moot.
    pub pods_from_kernel: bool,
    /// The node's networking mode, decided once.
    pub mode: NetworkingMode,
    /// IMDS answers that cannot be true (see [`imds_integrity`]).
    pub imds_problems: Vec<ImdsProblem>,
    /// Capacity and warm pool, computed on first use (two checks read it,
    /// and it goes into the evaluation's facts).
    pool: std::cell::OnceCell<PoolFacts>,
    /// Where each pod is, computed on first use (`pod-subnet` and the facts).
    placement: std::cell::OnceCell<Placement>,
}

impl<'a> Context<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Context<'a> {
        let imds = snapshot.imds.as_ref().map_err(|u| u.reason.clone());
        let kernel = snapshot.kernel.as_ref().map_err(|u| u.reason.clone());
        let cluster = match &snapshot.expectation {
            Expectation::Kubernetes(c) => Some(c.as_ref().map_err(|u| u.reason.clone())),
            Expectation::Flags(_) => None,
        };
        let node_name = match &cluster {
            Some(Ok(c)) => c.node.name.clone(),
            _ => snapshot
                .node_name
                .clone()
                .or_else(|| imds.as_ref().ok().map(|m| m.instance_id.clone()))
                .unwrap_or_else(|| "this-node".to_string()),
        };
        let has_trunk_label = matches!(&cluster, Some(Ok(c)) if c.node.labels.get(HAS_TRUNK_LABEL).is_some_and(|v| v == "true"));
        let enis = match (&imds, &kernel) {
            (Ok(m), k) => m
                .enis
                .iter()
                .map(|e| {
                    let link = k.as_ref().ok().and_then(|k| link_for_mac(k, e));
                    let role = classify(m, e, link, k.as_ref().ok().copied(), has_trunk_label);
                    EniView {
                        meta: e,
                        role,
                        link,
                    }
                })
                .collect(),
            (Err(_), _) => Vec::new(),
        };
        let imds_problems = match &imds {
            Ok(m) => imds_integrity::problems(m, &|e: &EniMetadata| {
                enis.iter()
                    .any(|v| v.meta.mac == e.mac && v.role == EniRole::EfaOnly)
            }),
            Err(_) => Vec::new(),
        };
        let mode = mode::decide(snapshot);
        let expected = crate::expectation::expected(snapshot, &mode);
        let (pods, pods_from_kernel) = match (&snapshot.expectation, cluster) {
            (Expectation::Flags(_), _) => (
                kernel
                    .as_ref()
                    .map(|k| pods_from_routes(k, &snapshot.veth_prefix))
                    .map_err(|e| e.clone()),
                true,
            ),
            (_, Some(Ok(c))) => (Ok(c.pods.clone()), false),
            (_, Some(Err(e))) => (Err(e), false),
            (_, None) => (Err("no pod source".to_string()), false),
        };
        Context {
            snapshot,
            node_name,
            imds,
            kernel,
            expected,
            enis,
            pods,
            pods_from_kernel,
            mode,
            imds_problems,
            pool: std::cell::OnceCell::new(),
            placement: std::cell::OnceCell::new(),
        }
    }

    /// The ENI that carries `ip` for pods (secondary address or prefix).
    pub fn owner_of(&self, ip: Ipv4Addr) -> Option<&EniView<'a>> {
        self.enis.iter().find(|e| e.meta.carries(ip))
    }

    /// The ENIConfig the node selects, whether or not it exists (None with
    /// `--no-kube` or without the API).
    pub fn selection(&self) -> Option<&Selection> {
        selection_of(&self.expected)
    }

    /// Capacity and the warm pool for this snapshot.
    pub fn pool(&self) -> &PoolFacts {
        self.pool.get_or_init(|| PoolFacts::new(self))
    }

    /// Where each pod's IP is, for this snapshot.
    pub fn placement(&self) -> &Placement {
        self.placement.get_or_init(|| Placement::new(self))
    }

    /// The kubelet's max-pods, from the Node's `status.capacity.pods`.
    pub fn kubelet_max_pods(&self) -> Option<u32> {
        match &self.snapshot.expectation {
            Expectation::Kubernetes(Ok(c)) => c.node.capacity_pods,
            _ => None,
        }
    }

    pub fn primary(&self) -> Option<&EniView<'a>> {
        self.enis.iter().find(|e| e.role == EniRole::Primary)
    }

    /// Pods whose IP the VPC CNI routes through a host veth: running, with an
    /// IP, not host-network, not being deleted, not on a branch ENI.
    pub fn routed_pods(&self) -> Vec<(&PodInfo, Ipv4Addr)> {
        match &self.pods {
            Ok(pods) => pods
                .iter()
                .filter(|p| routes_through_the_node(p))
                .filter_map(|p| p.ip.map(|ip| (p, ip)))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The ENIConfig an expectation (or its absence) was selected by.
pub fn selection_of(expected: &Result<Expected, NoExpectation>) -> Option<&Selection> {
    match expected {
        Ok(e) => e.selection.as_ref(),
        Err(NoExpectation::NotFound { selection, .. })
        | Err(NoExpectation::Invalid { selection, .. }) => Some(selection),
        Err(NoExpectation::Unavailable { .. })
        | Err(NoExpectation::Unresolved { .. })
        | Err(NoExpectation::NotApplicable) => None,
    }
}

fn link_for_mac<'k>(kernel: &'k KernelState, eni: &EniMetadata) -> Option<&'k Link> {
    // VLAN links inherit their parent's MAC: never take one for the ENI itself.
    let mut candidates = kernel
        .links
        .iter()
        .filter(|l| l.mac == Some(eni.mac) && l.kind.as_deref() != Some("vlan"));
    let first = candidates.next()?;
    // Prefer a link without a kind (a real NIC) when several share the MAC.
    Some(
        std::iter::once(first)
            .chain(candidates)
            .find(|l| l.kind.is_none())
            .unwrap_or(first),
    )
}

fn classify(
    meta: &InstanceMetadata,
    eni: &EniMetadata,
    link: Option<&Link>,
    kernel: Option<&KernelState>,
    has_trunk_label: bool,
) -> EniRole {
    if eni.mac == meta.primary_mac || (eni.device_number == 0 && eni.network_card == 0) {
        return EniRole::Primary;
    }
    if eni.is_efa_only() && !imds_integrity::kernel_uses_ipv4(eni, link, kernel) {
        return EniRole::EfaOnly;
    }
    let is_vlan_parent = match (link, kernel) {
        (Some(l), Some(k)) => k
            .links
            .iter()
            .any(|c| c.kind.as_deref() == Some("vlan") && c.parent_index == Some(l.index)),
        _ => false,
    };
    // A trunk carries only its own address; the label says one is attached.
    if is_vlan_parent || (has_trunk_label && eni.pod_capacity() == 0) {
        return EniRole::Trunk;
    }
    if eni.network_card > 0 && eni.pod_capacity() == 0 {
        return EniRole::Unmanaged;
    }
    EniRole::Secondary
}

/// `--no-kube`: every main-table /32 route through a host veth is a pod.
pub fn pods_from_routes(kernel: &KernelState, veth_prefix: &str) -> Vec<PodInfo> {
    let mut ips: Vec<Ipv4Addr> = kernel
        .routes
        .iter()
        .filter(|r| r.table == MAIN_TABLE && r.destination.prefix_len() == 32)
        .filter(|r| {
            r.out_link
                .and_then(|i| kernel.links.iter().find(|l| l.index == i))
                .is_some_and(|l| is_host_veth(l, veth_prefix))
        })
        .map(|r| r.destination.addr())
        .collect();
    ips.sort();
    ips.dedup();
    ips.into_iter()
        .map(|ip| PodInfo {
            namespace: None,
            name: None,
            ip: Some(ip),
            ip_text: None,
            host_network: false,
            terminal: false,
            completed: false,
            branch: None,
        })
        .collect()
}

/// A pod's host-side interface: a veth, or a link named with the CNI's veth prefix.
pub fn is_host_veth(link: &Link, veth_prefix: &str) -> bool {
    link.kind.as_deref() == Some("veth") || link.name.starts_with(veth_prefix)
}

/// A pod whose address the CNI routes on this node: not host-network, not
/// finished, not on a branch ENI (security groups for pods).
pub(crate) fn routes_through_the_node(pod: &PodInfo) -> bool {
    !pod.host_network && !pod.terminal && pod.branch.is_none()
}
