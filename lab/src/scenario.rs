//! The lab's scenario format: one simulated EKS node, described declaratively.
//!
//! A scenario is the single source of truth for everything the lab materialises:
//! the network namespace (ENI links, per-ENI tables, pod veths, routes and rules,
//! exactly as the VPC CNI builds them), the IMDS emulator's answers and the
//! Kubernetes API emulator's objects. `breaks` then lists what to damage after
//! the healthy node is built, so a drift scenario reads as "healthy node, plus
//! this one thing wrong".
//!
//! Field names are snake_case in YAML. Everything that has a sensible default
//! has one, so small scenarios stay small; [`Scenario::validate`] rejects
//! inconsistent files (duplicate MACs, unknown subnets, pod IPs that collide)
//! with a message naming the offending entry.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub use super::witness_spec::{Ec2Fault, Ec2Spec, IpamdShape, IpamdSpec};

mod cluster;
mod validate;

pub use cluster::{ClusterSpec, NodeClassSpec};

/// Errors loading or validating a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario {path} is not valid YAML for a lab scenario: {source}")]
    Parse {
        path: String,
        source: serde_norway::Error,
    },
    #[error("scenario {name}: {problem}")]
    Invalid { name: String, problem: String },
}

/// One simulated node and its cluster-side objects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub node: NodeSpec,
    pub vpc: VpcSpec,
    pub subnets: Vec<SubnetSpec>,
    pub enis: Vec<EniSpec>,
    #[serde(default)]
    pub pods: Vec<PodSpec>,
    #[serde(default)]
    pub eniconfigs: Vec<EniConfigSpec>,
    #[serde(default)]
    pub cni: CniSettings,
    /// Damage applied to the data plane after the healthy node is built.
    #[serde(default)]
    pub breaks: Vec<Break>,
    /// Faults the IMDS emulator starts with (switchable at run time too).
    #[serde(default)]
    pub imds_faults: ImdsFaults,
    /// Whether the Kubernetes API emulator runs at all (false: "API server down").
    #[serde(default = "yes")]
    pub kube_api: bool,
    /// What the ipamd emulator serves.
    #[serde(default)]
    pub ipamd: IpamdSpec,
    /// EC2 for the node (moto, seeded from the scenario), and the subnet facts
    /// eniwatch-cluster would publish from it (`kube_emulator::cluster_facts`).
    #[serde(default)]
    pub ec2: Option<Ec2Spec>,
    /// What the rest of the cluster says: CNI-tagged subnets, NodeClasses,
    /// IPv6 pod addresses ([`ClusterSpec`]).
    #[serde(default)]
    pub cluster: ClusterSpec,
    /// Bearer tokens the API emulator's TokenReview knows, with what they may get.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<crate::kube_emulator::IdentitySpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Kubernetes node name (also the lab's hostname-ish identity).
    pub name: String,
    pub instance_id: String,
    pub instance_type: String,
    pub region: String,
    pub availability_zone: String,
    #[serde(default)]
    pub availability_zone_id: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// kubelet max-pods, published as `status.capacity.pods`.
    #[serde(default)]
    pub max_pods: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcSpec {
    pub id: String,
    /// Primary CIDR first, then associated secondary CIDRs (e.g. 100.64.0.0/16).
    pub cidrs: Vec<Ipv4Net>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetSpec {
    pub id: String,
    pub cidr: Ipv4Net,
    pub availability_zone: String,
    /// Free addresses EC2 would report (for later EC2-backed checks).
    #[serde(default)]
    pub available_ip_address_count: Option<u32>,
}

/// What kind of interface an ENI is, as far as the CNI is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EniKind {
    /// An ordinary ENI (primary or secondary).
    #[default]
    Interface,
    /// The trunk ENI of security groups for pods: never carries pod IPs.
    Trunk,
    /// An EFA-only interface: no IPv4 addresses, no netdev the CNI configures.
    EfaOnly,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EniSpec {
    pub mac: String,
    pub id: String,
    pub device_number: u32,
    #[serde(default)]
    pub network_card: u32,
    /// Subnet id; must be listed in `subnets`.
    pub subnet: String,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// `local-ipv4s`: the first is the ENI's primary address.
    #[serde(default)]
    pub ips: Vec<Ipv4Addr>,
    /// `ipv4-prefix`: /28s under prefix delegation.
    #[serde(default)]
    pub prefixes: Vec<Ipv4Net>,
    #[serde(default)]
    pub kind: EniKind,
    /// OS link name; defaults to `eth<device_number>` on card 0 and
    /// `eth<card>d<device>` elsewhere.
    #[serde(default)]
    pub link: Option<String>,
}

impl EniSpec {
    pub fn link_name(&self) -> String {
        match (&self.link, self.network_card) {
            (Some(name), _) => name.clone(),
            (None, 0) => format!("eth{}", self.device_number),
            (None, card) => format!("eth{}d{}", card, self.device_number),
        }
    }

    pub fn is_primary(&self) -> bool {
        self.device_number == 0 && self.network_card == 0
    }

    /// The CNI's route table for this ENI (domain brief §3).
    pub fn route_table(&self) -> u32 {
        if self.network_card == 0 {
            self.device_number + 1
        } else {
            10_000 + self.device_number + 100 * self.network_card
        }
    }

    /// Whether `ip` is one this ENI carries (secondary address or inside a prefix).
    pub fn carries(&self, ip: Ipv4Addr) -> bool {
        self.ips.contains(&ip) || self.prefixes.iter().any(|p| p.contains(&ip))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSpec {
    pub namespace: String,
    pub name: String,
    /// `status.podIP`; absent for a pending pod.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub host_network: bool,
    /// Security groups for pods: the branch ENI this pod got (becomes the
    /// `vpc.amazonaws.com/pod-eni` annotation and a `vlan.eth.<vlan>` link).
    #[serde(default)]
    pub branch_eni: Option<BranchEniSpec>,
    /// `status.phase`; defaults to Running.
    #[serde(default)]
    pub phase: Option<String>,
}

impl PodSpec {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchEniSpec {
    pub eni_id: String,
    pub mac: String,
    pub vlan_id: u32,
    pub subnet_cidr: Ipv4Net,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EniConfigSpec {
    pub name: String,
    pub subnet: String,
    #[serde(default)]
    pub security_groups: Vec<String>,
}

/// The `aws-node` settings that shape the data plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CniSettings {
    #[serde(default = "default_veth_prefix")]
    pub veth_prefix: String,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// `ENI_CONFIG_LABEL_DEF` on aws-node (None: the CNI's default).
    #[serde(default)]
    pub eni_config_label_def: Option<String>,
    /// `ENI_CONFIG_ANNOTATION_DEF` on aws-node (None: the CNI's default).
    #[serde(default)]
    pub eni_config_annotation_def: Option<String>,
}

impl Default for CniSettings {
    fn default() -> Self {
        CniSettings {
            veth_prefix: default_veth_prefix(),
            mtu: default_mtu(),
            eni_config_label_def: None,
            eni_config_annotation_def: None,
        }
    }
}

impl CniSettings {
    /// The `eniwatch check` flags that give eniwatch the same settings as aws-node.
    pub fn eniwatch_args(&self) -> Vec<String> {
        let mut args = vec!["--veth-prefix".to_string(), self.veth_prefix.clone()];
        if let Some(l) = &self.eni_config_label_def {
            args.extend(["--eni-config-label-def".to_string(), l.clone()]);
        }
        if let Some(a) = &self.eni_config_annotation_def {
            args.extend(["--eni-config-annotation-def".to_string(), a.clone()]);
        }
        args
    }
}

fn default_veth_prefix() -> String {
    "eni".to_string()
}

fn default_mtu() -> u32 {
    9001
}

/// One thing to damage after the healthy node is built. Pods are named
/// `namespace/name`, ENIs by MAC. In YAML: `- {kind: remove_pod_route, pod: shop/web-00}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Break {
    /// Delete the pod's main-table /32 route.
    RemovePodRoute { pod: String },
    /// Delete the pod's rule of this priority (512 or 1536).
    RemovePodRule { pod: String, priority: u32 },
    /// Point the pod's 1536 rule at another table.
    PodRuleTable { pod: String, table: u32 },
    /// The ENI stays in IMDS but its link is deleted.
    RemoveEniLink { mac: String },
    /// The ENI's link is set administratively down.
    EniLinkDown { mac: String },
    /// The ENI's primary address is removed from its link.
    RemoveEniAddress { mac: String },
    /// The default route of the ENI's table is removed.
    RemoveEniDefaultRoute { mac: String },
    /// A host tool's policy routing ahead of the CNI's: rule `priority`
    /// `from <from, or all> lookup <table>`, and in `table` a default route
    /// out of the ENI `via_mac` (its subnet's gateway).
    ShadowingRule {
        priority: u32,
        #[serde(default)]
        from: Option<Ipv4Net>,
        table: u32,
        via_mac: String,
    },
}

/// IMDS emulator faults. Counters count requests (token PUTs included) from
/// the moment the emulator starts or the fault is switched on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImdsFaults {
    /// Delay every answer by this many milliseconds.
    #[serde(default)]
    pub slow_ms: u64,
    /// Answer the next N metadata GETs with 401 (as if the token expired).
    #[serde(default)]
    pub unauthorized: u32,
    /// Answer the next N requests with 429.
    #[serde(default)]
    pub throttle: u32,
    /// Answer the next N requests with 500.
    #[serde(default)]
    pub server_error: u32,
    /// Answer every metadata GET with a body that is not what IMDS would send.
    #[serde(default)]
    pub garbage: bool,
}

/// Where the bundled scenarios are (`lab/scenarios/<name>.yaml`).
pub fn bundled_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.yaml"))
}

impl Scenario {
    /// A bundled scenario by name (`healthy`, `drifted`, ...).
    pub fn bundled(name: &str) -> Result<Scenario, ScenarioError> {
        Scenario::load(&bundled_path(name))
    }

    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        let scenario: Scenario =
            serde_norway::from_str(&text).map_err(|source| ScenarioError::Parse {
                path: shown,
                source,
            })?;
        scenario.validate()?;
        Ok(scenario)
    }

    pub fn subnet(&self, id: &str) -> Option<&SubnetSpec> {
        self.subnets.iter().find(|s| s.id == id)
    }

    pub fn pod(&self, key: &str) -> Option<&PodSpec> {
        self.pods.iter().find(|p| p.key() == key)
    }

    pub fn eni_by_mac(&self, mac: &str) -> Option<&EniSpec> {
        self.enis.iter().find(|e| e.mac.eq_ignore_ascii_case(mac))
    }

    /// The ENI whose addresses or prefixes include `ip`.
    pub fn owner_of(&self, ip: Ipv4Addr) -> Option<&EniSpec> {
        self.enis.iter().find(|e| e.carries(ip))
    }

    /// Every `eniwatch` flag that matches the scenario: aws-node's settings.
    pub fn eniwatch_args(&self) -> Vec<String> {
        self.cni.eniwatch_args()
    }

    pub fn primary_eni(&self) -> Option<&EniSpec> {
        self.enis.iter().find(|e| e.is_primary())
    }
}
