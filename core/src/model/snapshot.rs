//! The snapshot: everything observed about the node at one moment, as plain data.
//!
//! Each source contributes one part, and each part is an [`Observed`]: either
//! the data or the reason it could not be read. Checks that need a part that is
//! missing report *unknown*; nothing here is ever defaulted to "fine".

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::ids::{EniId, MacAddr, SecurityGroupId, SubnetId, VpcId};

/// A source's contribution: the data, or why there is none.
pub type Observed<T> = Result<T, Unavailable>;

/// Every value [`Unavailable::kind`] takes: a closed set, so metrics can
/// start each source's error counters at 0.
pub const ERROR_KINDS: [&str; 9] = [
    "timeout",
    "unreachable",
    "throttled",
    "unauthorized",
    "forbidden",
    "not_found",
    "invalid",
    // A source not asked because another it needs (IMDS) failed.
    "dependency",
    "error",
];

/// Why a source's data is missing from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    /// The source: `imds`, `kernel`, `kubernetes`, `cluster_facts`, `ipamd`
    /// (`instance_limits` for a type not in the embedded table).
    pub source: &'static str,
    /// A short, bounded classification for metrics: one of [`ERROR_KINDS`].
    pub kind: &'static str,
    /// The cause, already phrased for an operator (includes the fix where known).
    pub reason: String,
}

impl Unavailable {
    pub fn new(source: &'static str, reason: impl Into<String>) -> Self {
        Unavailable {
            source,
            kind: "error",
            reason: reason.into(),
        }
    }

    pub fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
}

/// What the node's instance metadata says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceMetadata {
    pub instance_id: String,
    pub instance_type: String,
    pub region: Option<String>,
    pub availability_zone: String,
    pub availability_zone_id: Option<String>,
    pub local_ipv4: Option<Ipv4Addr>,
    /// The primary ENI's MAC (`meta-data/mac`).
    pub primary_mac: MacAddr,
    /// Every attached ENI, sorted by (network card, device number).
    pub enis: Vec<EniMetadata>,
}

/// One ENI as IMDS lists it under `network/interfaces/macs/<mac>/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EniMetadata {
    pub mac: MacAddr,
    pub device_number: u32,
    /// 0 when IMDS does not serve `network-card` (single-card instances).
    pub network_card: u32,
    pub interface_id: Option<EniId>,
    pub subnet_id: Option<SubnetId>,
    pub subnet_cidr: Option<Ipv4Net>,
    pub vpc_id: Option<VpcId>,
    pub vpc_cidrs: Vec<Ipv4Net>,
    pub security_groups: Vec<SecurityGroupId>,
    /// `local-ipv4s`: the first is the ENI's own primary address.
    pub local_ipv4s: Vec<Ipv4Addr>,
    /// `ipv4-prefix`: delegated prefixes (/28) under prefix delegation.
    pub ipv4_prefixes: Vec<Ipv4Net>,
}

impl EniMetadata {
    /// The ENI's own address (not assignable to pods).
    pub fn primary_ip(&self) -> Option<Ipv4Addr> {
        self.local_ipv4s.first().copied()
    }

    /// Whether a pod IP is carried by this ENI (secondary address or prefix).
    pub fn carries(&self, ip: Ipv4Addr) -> bool {
        self.local_ipv4s.iter().skip(1).any(|a| *a == ip)
            || self.ipv4_prefixes.iter().any(|p| p.contains(&ip))
    }

    /// Addresses this ENI offers to pods: secondary IPs plus 16 per /28 prefix.
    pub fn pod_capacity(&self) -> u64 {
        let secondary = self.local_ipv4s.len().saturating_sub(1) as u64;
        let prefixed: u64 = self
            .ipv4_prefixes
            .iter()
            .map(|p| 1u64 << (32 - u32::from(p.prefix_len())))
            .sum();
        secondary + prefixed
    }

    /// The VPC CNI's route table for this ENI (domain brief §3).
    pub fn route_table(&self) -> u32 {
        if self.network_card == 0 {
            self.device_number.saturating_add(1)
        } else {
            10_000u32
                .saturating_add(self.device_number)
                .saturating_add(self.network_card.saturating_mul(100))
        }
    }

    /// Whether IMDS shows this ENI as an EFA-only interface: no IPv4 address
    /// and no prefix at all. Device 0 on card 0 is the primary ENI, which
    /// always has its address, so it is never EFA-only (its empty
    /// `local-ipv4s` is impossible data, judged by the checks).
    pub fn is_efa_only(&self) -> bool {
        self.local_ipv4s.is_empty()
            && self.ipv4_prefixes.is_empty()
            && !(self.device_number == 0 && self.network_card == 0)
    }
}

/// The kernel's network state in the node's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KernelState {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<MacAddr>,
    /// `IFLA_INFO_KIND` (`veth`, `vlan`, `dummy`, ...); None for physical NICs.
    pub kind: Option<String>,
    /// Administratively up (`IFF_UP`).
    pub admin_up: bool,
    /// Operational state as the kernel names it (`up`, `down`, `unknown`, ...).
    pub oper_state: String,
    pub mtu: Option<u32>,
    /// `IFLA_LINK`: the parent link (vlan over its trunk, veth peer index).
    pub parent_index: Option<u32>,
}

impl Link {
    /// Down as far as traffic is concerned: administratively down, or the
    /// kernel says the operational state is down. `unknown` (dummy links,
    /// some drivers) is not down.
    pub fn is_down(&self) -> bool {
        !self.admin_up || self.oper_state == "down"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    pub link_index: u32,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub table: u32,
    pub destination: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub out_link: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rule {
    pub priority: u32,
    pub source: Option<Ipv4Net>,
    pub destination: Option<Ipv4Net>,
    pub table: u32,
    pub iif: Option<String>,
    pub fwmark: Option<u32>,
    /// What the rule does when it matches.
    pub action: RuleAction,
    /// `not`: the rule matches the packets its selector does not.
    pub invert: bool,
    /// The mask of `fwmark` (`fwmark 0x80/0x80`); None: every bit.
    pub fwmask: Option<u32>,
    /// `oif`: matches only packets a local socket sends out of that link.
    pub oif: Option<String>,
    /// `l3mdev`: looks up the table of the packet's VRF.
    pub l3mdev: bool,
    /// `goto <priority>`: where evaluation continues.
    pub goto: Option<u32>,
    /// `suppress_prefixlength N`: routes of N bits or fewer found by this rule are ignored.
    pub suppress_prefixlen: Option<u32>,
}

/// A policy rule's action (`ip rule` type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// `lookup <table>`, the usual.
    #[default]
    Lookup,
    Goto,
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    /// An action this version does not know.
    Other,
}

impl RuleAction {
    /// The `ip rule` word for a dropping action.
    pub fn drops(self) -> Option<&'static str> {
        match self {
            RuleAction::Blackhole => Some("blackhole"),
            RuleAction::Unreachable => Some("unreachable"),
            RuleAction::Prohibit => Some("prohibit"),
            _ => None,
        }
    }
}

/// The main routing table's id.
pub const MAIN_TABLE: u32 = 254;

/// What the Kubernetes API says about this node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterView {
    pub node: NodeInfo,
    pub pods: Vec<PodInfo>,
    /// None when the ENIConfig CRD is not installed at all.
    pub eni_configs: Option<Vec<EniConfig>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `status.capacity.pods`: the kubelet's max-pods.
    pub capacity_pods: Option<u32>,
}

/// A pod on this node, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodInfo {
    pub namespace: Option<String>,
    /// None when the pod was discovered from the kernel (`--no-kube`).
    pub name: Option<String>,
    pub ip: Option<Ipv4Addr>,
    /// `status.podIP` as the API gave it, when it is not an IPv4 address
    /// (garbage, IPv6, zero-padded octets): the checks name it. None when
    /// `ip` holds it, or when the pod has no IP yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_text: Option<String>,
    pub host_network: bool,
    /// Succeeded, Failed or being deleted: its network is torn down or about
    /// to be, so its IP, routes and rules are no longer judged.
    pub terminal: bool,
    /// Phase Succeeded or Failed: the pod is off the node's network for good,
    /// so it is not counted at all (a node with many finished Jobs).
    pub completed: bool,
    /// Security groups for pods: the branch ENI from `vpc.amazonaws.com/pod-eni`.
    pub branch: Option<Result<Vec<BranchEni>, String>>,
}

impl PodInfo {
    /// `namespace/name`, or the IP for a pod known only from the kernel.
    pub fn display_name(&self) -> String {
        match (&self.namespace, &self.name, self.ip) {
            (Some(ns), Some(name), _) => format!("{ns}/{name}"),
            (_, _, Some(ip)) => format!("pod {ip}"),
            _ => "pod (no name, no IP)".to_string(),
        }
    }
}

/// One entry of the `vpc.amazonaws.com/pod-eni` annotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BranchEni {
    pub eni_id: Option<EniId>,
    pub mac: Option<MacAddr>,
    pub private_ip: Option<Ipv4Addr>,
    pub vlan_id: Option<u32>,
    pub subnet_cidr: Option<Ipv4Net>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EniConfig {
    pub name: String,
    /// None when `spec.subnet` is missing or not a subnet id.
    pub subnet: Option<SubnetId>,
    /// The valid `sg-` ids of `spec.securityGroups`.
    pub security_groups: Vec<SecurityGroupId>,
    /// What is malformed in the object, as read (empty when it is well
    /// formed): e.g. "spec.securityGroups is a string, not a list". The
    /// checks judge it; the source only records it.
    pub problems: Vec<String>,
}
