//! Seeds a real EC2 emulator (moto's server) with a whole cluster's VPC
//! through the EC2 API itself, for eniwatch-cluster's tests: the ids EC2
//! gave come back in [`Seeded`], with the Nodes and ENIConfigs the
//! Kubernetes API would hold for it ([`Seeded::node_objects`],
//! [`Seeded::eni_config_objects`]).
//!
//! # The healthy cluster
//! A VPC `10.0.0.0/16` with the secondary CIDR `100.64.0.0/16`, and in each
//! of three zones: a public subnet (`10.0.<z>.0/24`, internet gateway) with a
//! NAT gateway; a node subnet (`10.0.<16(z+1)>.0/20`) and a pod subnet
//! (`100.64.<4z>.0/22`), both associated with the zone's private route table
//! (`0.0.0.0/0` → the zone's NAT gateway). One ENIConfig per zone
//! (`pods-<zone>`, the pod subnet and the pods' security group), selected by
//! the node label `k8s.amazonaws.com/eniConfig` (aws-node's default).
//! `nodes` m5.large instances, round-robin over the zones, each with its
//! primary ENI in the node subnet and one CNI ENI (tagged
//! `node.k8s.amazonaws.com/instance_id` and an old `createdAt`, three
//! secondary addresses) attached at device index 1.
//!
//! # EKS Auto Mode
//! [`auto_mode`] tags subnets and creates groups on a seeded VPC, and gives
//! the NodeClass objects that select them.
//!
//! # Breakages
//! Each [`Breakage`] changes the healthy cluster so that exactly one reason
//! fires ([`Breakage::reason`]); they combine (zone a, b and c carry
//! different ones, see each variant), so [`ClusterScenario::broken`] has
//! them all at once.
//!
//! # What moto does differently from EC2
//! - ENIs hold no IPv4 prefixes: `AssignPrivateIpAddresses` ignores
//!   `Ipv4PrefixCount`/`Ipv4Prefixes` and `DescribeNetworkInterfaces` never
//!   lists any, so a subnet is never seen as using prefix delegation.
//!   [`Seeded::prefixes_kept`] says whether this emulator kept them; the
//!   fragmentation itself is built from addresses alone.
//! - Addresses asked for by count are drawn at random from the whole CIDR
//!   (reserved addresses and duplicates included); `AvailableIpAddressCount`
//!   is the CIDR size minus 5 minus every address listed on the subnet's
//!   ENIs, so counts are exact while placements are not. Where placement
//!   matters (the fragmentation), addresses are given explicitly.
//! - A NAT gateway's own ENI gets a random `10.x.y.z` address, not one of
//!   its subnet's.
//! - Paging parameters are accepted and everything comes in one page.

pub mod auto_mode;
pub mod kube;
mod network;
mod nodes;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use aws_sdk_ec2::Client;
use ipnet::Ipv4Net;

use super::LabError;

/// The region the scenario is seeded in (moto knows its zones and zone ids).
pub const REGION: &str = "ap-southeast-1";
/// The three zones, in order (zone a, b, c).
pub const ZONES: [&str; 3] = ["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"];
/// The subnet id [`Breakage::EniConfigSubnetNotFound`]'s ENIConfig names.
pub const MISSING_SUBNET: &str = "subnet-0000000000deadbeef";
/// The group id [`Breakage::EniConfigSecurityGroupNotFound`] adds.
pub const MISSING_GROUP: &str = "sg-0000000000deadbeef";
/// An instance that is no Node of the cluster (a leaked ENI's tag).
pub const STRANGER_INSTANCE: &str = "i-00000000000dead01";
/// The instance type of every node.
pub const INSTANCE_TYPE: &str = "m5.large";
/// Secondary addresses on each node's CNI ENI.
pub const CNI_SECONDARY_IPS: usize = 3;
/// Free addresses left in the pod subnet [`Breakage::SubnetNearlyExhausted`]
/// fills (its floor is 102: 10 % of a /22).
pub const NEARLY_EXHAUSTED_FREE: i32 = 40;

/// One thing wrong with the cluster, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Breakage {
    /// An ENIConfig `pods-retired`, selected by no node, names [`MISSING_SUBNET`].
    EniConfigSubnetNotFound,
    /// An ENIConfig `pods-skewed` names zone b's pod subnet and is selected
    /// by the first node (zone a), which therefore has no CNI ENI.
    EniConfigSubnetZoneMismatch,
    /// Zone c's ENIConfig does not exist; its nodes still name it and their
    /// CNI ENIs are in the node subnet.
    EniConfigMissingForZone,
    /// Zone a's ENIConfig also names [`MISSING_GROUP`].
    EniConfigSecurityGroupNotFound,
    /// Zone b's pod subnet is left on the main route table (local routes only).
    PodSubnetNoDefaultRoute,
    /// Zone b's pod subnet is tagged `kubernetes.io/role/internal-elb=1`.
    PodSubnetTaggedForLoadBalancers,
    /// Two `available` CNI ENIs in zone a's pod subnet: one tagged for
    /// [`STRANGER_INSTANCE`] (created 5 minutes ago), one for a live node
    /// (created a day ago).
    LeakedEni,
    /// An `available` CNI ENI tagged for a live node of zone a, created 5
    /// minutes ago (past the attach grace, short of the leak age).
    EniNotAttached,
    /// Zone a's pod subnet filled to [`NEARLY_EXHAUSTED_FREE`] free addresses.
    SubnetNearlyExhausted,
    /// Zone b's pod subnet with one address in every /28 (no free block,
    /// plenty of free addresses), and a prefix asked for on its CNI ENIs.
    PrefixFragmentation,
}

impl Breakage {
    pub const ALL: [Breakage; 10] = [
        Breakage::EniConfigSubnetNotFound,
        Breakage::EniConfigSubnetZoneMismatch,
        Breakage::EniConfigMissingForZone,
        Breakage::EniConfigSecurityGroupNotFound,
        Breakage::PodSubnetNoDefaultRoute,
        Breakage::PodSubnetTaggedForLoadBalancers,
        Breakage::LeakedEni,
        Breakage::EniNotAttached,
        Breakage::SubnetNearlyExhausted,
        Breakage::PrefixFragmentation,
    ];

    /// The finding reason it raises, as eniwatch's JSON spells it.
    pub fn reason(self) -> &'static str {
        match self {
            Breakage::EniConfigSubnetNotFound => "ENIConfigSubnetNotFound",
            Breakage::EniConfigSubnetZoneMismatch => "ENIConfigSubnetZoneMismatch",
            Breakage::EniConfigMissingForZone => "ENIConfigMissingForZone",
            Breakage::EniConfigSecurityGroupNotFound => "ENIConfigSecurityGroupNotFound",
            Breakage::PodSubnetNoDefaultRoute => "PodSubnetNoDefaultRoute",
            Breakage::PodSubnetTaggedForLoadBalancers => "PodSubnetTaggedForLoadBalancers",
            Breakage::LeakedEni => "LeakedENI",
            Breakage::EniNotAttached => "ENINotAttached",
            Breakage::SubnetNearlyExhausted => "SubnetNearlyExhausted",
            Breakage::PrefixFragmentation => "PrefixFragmentation",
        }
    }
}

/// What to seed: the node count and what is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterScenario {
    pub nodes: usize,
    pub breakages: BTreeSet<Breakage>,
}

impl ClusterScenario {
    /// The healthy cluster with `nodes` nodes (at least 4: zone a keeps a
    /// node of its own ENIConfig when the first one is skewed).
    pub fn healthy(nodes: usize) -> Self {
        ClusterScenario {
            nodes,
            breakages: BTreeSet::new(),
        }
    }

    /// Every breakage at once.
    pub fn broken(nodes: usize) -> Self {
        ClusterScenario {
            nodes,
            breakages: Breakage::ALL.into_iter().collect(),
        }
    }

    pub fn with(mut self, b: Breakage) -> Self {
        self.breakages.insert(b);
        self
    }

    pub fn has(&self, b: Breakage) -> bool {
        self.breakages.contains(&b)
    }

    /// The reasons the scenario's breakages raise.
    pub fn reasons(&self) -> BTreeSet<&'static str> {
        self.breakages.iter().map(|b| b.reason()).collect()
    }

    /// Zone index of node `i`.
    pub fn zone_of(i: usize) -> usize {
        i % ZONES.len()
    }
}

/// One zone as EC2 created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededZone {
    pub name: String,
    /// EC2's `AvailabilityZoneId` (e.g. `apse1-az2`).
    pub zone_id: String,
    pub public_subnet: String,
    pub node_subnet: String,
    pub node_cidr: Ipv4Net,
    pub pod_subnet: String,
    pub pod_cidr: Ipv4Net,
    /// The zone's private route table (`0.0.0.0/0` → `nat_gateway`).
    pub private_table: String,
    pub nat_gateway: String,
}

/// One node: its instance and what Kubernetes says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededNode {
    pub name: String,
    pub instance_id: String,
    /// Index into [`Seeded::zones`].
    pub zone: usize,
    pub internal_ip: Ipv4Addr,
    /// The ENIConfig its label names.
    pub eni_config: String,
    /// Its CNI ENI (None for the skewed node, whose CNI cannot create one).
    pub cni_eni: Option<String>,
}

/// One ENIConfig as the API holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededEniConfig {
    pub name: String,
    pub subnet: String,
    pub security_groups: Vec<String>,
}

/// Everything seeded, with EC2's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    pub scenario: ClusterScenario,
    pub vpc_id: String,
    pub main_table: String,
    /// The group the ENIConfigs name.
    pub pod_security_group: String,
    pub zones: Vec<SeededZone>,
    pub nodes: Vec<SeededNode>,
    pub eni_configs: Vec<SeededEniConfig>,
    /// `available` CNI ENIs meant as leaked ([`Breakage::LeakedEni`]).
    pub leaked_enis: Vec<String>,
    /// `available` CNI ENIs of live nodes within the leak age ([`Breakage::EniNotAttached`]).
    pub unattached_enis: Vec<String>,
    /// The ENI holding zone a's pod subnet's addresses ([`Breakage::SubnetNearlyExhausted`]).
    pub filler_eni: Option<String>,
    /// The ENI holding one address per /28 of zone b's pod subnet ([`Breakage::PrefixFragmentation`]).
    pub scatter_eni: Option<String>,
    /// Whether EC2 kept the prefixes asked for on zone b's CNI ENIs (moto 5 does not).
    pub prefixes_kept: bool,
}

impl Seeded {
    /// The name of zone `z`'s ENIConfig (`pods-<zone>`).
    pub fn eni_config_name(z: usize) -> String {
        format!("pods-{}", ZONES[z % ZONES.len()])
    }
}

fn err(what: &str) -> impl Fn(aws_sdk_ec2::Error) -> LabError + '_ {
    move |e| LabError::Setup(format!("seeding the cluster's VPC ({what}): {e}"))
}

fn missing(what: &str) -> LabError {
    LabError::Setup(format!(
        "seeding the cluster's VPC: no {what} in the answer"
    ))
}

/// Seeds `scenario` and returns what EC2 created.
pub async fn seed(ec2: &Client, scenario: &ClusterScenario) -> Result<Seeded, LabError> {
    if scenario.nodes < 4 {
        return Err(LabError::Setup(format!(
            "the cluster scenario needs at least 4 nodes (two in zone a), not {}",
            scenario.nodes
        )));
    }
    let net = network::seed(ec2, scenario).await?;
    let eni_configs = eni_configs(scenario, &net);
    let placed = nodes::seed(ec2, scenario, &net).await?;
    Ok(Seeded {
        scenario: scenario.clone(),
        vpc_id: net.vpc_id,
        main_table: net.main_table,
        pod_security_group: net.pod_security_group,
        zones: net.zones,
        nodes: placed.nodes,
        eni_configs,
        leaked_enis: placed.leaked,
        unattached_enis: placed.unattached,
        filler_eni: placed.filler,
        scatter_eni: placed.scatter,
        prefixes_kept: placed.prefixes_kept,
    })
}

/// The ENIConfigs the scenario's API holds.
fn eni_configs(s: &ClusterScenario, net: &network::Network) -> Vec<SeededEniConfig> {
    let group = net.pod_security_group.clone();
    let mut out: Vec<SeededEniConfig> = net
        .zones
        .iter()
        .enumerate()
        .filter(|(z, _)| !(*z == 2 && s.has(Breakage::EniConfigMissingForZone)))
        .map(|(z, zone)| {
            let mut security_groups = vec![group.clone()];
            if z == 0 && s.has(Breakage::EniConfigSecurityGroupNotFound) {
                security_groups.push(MISSING_GROUP.to_string());
            }
            SeededEniConfig {
                name: Seeded::eni_config_name(z),
                subnet: zone.pod_subnet.clone(),
                security_groups,
            }
        })
        .collect();
    if s.has(Breakage::EniConfigSubnetZoneMismatch) {
        out.push(SeededEniConfig {
            name: "pods-skewed".into(),
            subnet: net.zones[1].pod_subnet.clone(),
            security_groups: vec![group.clone()],
        });
    }
    if s.has(Breakage::EniConfigSubnetNotFound) {
        out.push(SeededEniConfig {
            name: "pods-retired".into(),
            subnet: MISSING_SUBNET.into(),
            security_groups: vec![group],
        });
    }
    out
}
