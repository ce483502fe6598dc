//! What EC2 says about the VPC: the subnets, route tables, security groups
//! and the CNI's ENIs, as plain data. eniwatch-cluster gathers it (one replica
//! per cluster, O(subnets) calls); its checks judge it. Node agents never
//! see these types: they read what the cluster component publishes
//! ([`crate::published`]).
//!
//! Each part is an [`Observed`] of its own: a role may allow
//! `DescribeSubnets` and deny `DescribeRouteTables`, and the checks that need
//! only the first still run.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::ids::{EniId, SecurityGroupId, SubnetId, VpcId};
use super::snapshot::Observed;
use super::witness::{InstanceTypeFacts, SubnetFacts};

/// The CNI's tag on every ENI it creates: the instance it was created for.
pub const CNI_INSTANCE_TAG: &str = "node.k8s.amazonaws.com/instance_id";
/// The CNI's tag with the ENI's creation time (RFC 3339).
pub const CNI_CREATED_AT_TAG: &str = "node.k8s.amazonaws.com/createdAt";
/// The CNI's tag with the cluster name (set when `CLUSTER_NAME` is set on aws-node).
pub const CNI_CLUSTER_TAG: &str = "cluster.k8s.amazonaws.com/name";
/// Subnet tags that make load balancer controllers place load balancers there.
pub const ELB_ROLE_TAGS: [&str; 2] = ["kubernetes.io/role/elb", "kubernetes.io/role/internal-elb"];

/// Everything EC2 said about the VPC in one refresh.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VpcFacts {
    /// The VPC the cluster's nodes are in.
    pub vpc_id: Observed<VpcId>,
    /// Every subnet of the VPC, plus ENIConfig subnets found outside it.
    pub subnets: Observed<Vec<Subnet>>,
    /// ENIConfig subnet ids EC2 does not know (asked, and absent from the answer).
    pub subnets_not_found: Vec<SubnetId>,
    /// Every route table of the VPC.
    pub route_tables: Observed<Vec<RouteTable>>,
    /// The ENIConfigs' security groups that exist (any VPC); a group asked
    /// for and absent does not exist.
    pub security_groups: Observed<Vec<SecurityGroup>>,
    /// The groups that were asked for.
    pub security_groups_asked: Vec<SecurityGroupId>,
    /// The VPC's ENIs that carry [`CNI_INSTANCE_TAG`].
    pub cni_enis: Observed<Vec<NetworkInterface>>,
    /// Every ENI (any owner) in the pod subnets that use prefix delegation:
    /// what occupies their addresses, for the /28 fragmentation check.
    /// `Ok(empty)` when no subnet uses prefixes.
    pub prefix_subnet_enis: Observed<Vec<NetworkInterface>>,
    /// Limits of instance types missing from the embedded table, asked of EC2.
    pub instance_types: BTreeMap<String, Observed<InstanceTypeFacts>>,
}

/// One subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subnet {
    /// Id, CIDR, zone, zone id, free addresses: what the node agents get.
    pub facts: SubnetFacts,
    pub vpc_id: Option<VpcId>,
    pub tags: BTreeMap<String, String>,
}

impl Subnet {
    /// The load-balancer role tags it carries ([`ELB_ROLE_TAGS`]): present
    /// with any value but `0` (the AWS Load Balancer Controller takes `1` or
    /// an empty value).
    pub fn elb_roles(&self) -> Vec<&str> {
        ELB_ROLE_TAGS
            .iter()
            .copied()
            .filter(|t| self.tags.get(*t).is_some_and(|v| v.trim() != "0"))
            .collect()
    }
}

/// One route table and the subnets explicitly associated with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteTable {
    pub id: String,
    /// The VPC's main table: used by every subnet without an explicit association.
    pub main: bool,
    pub subnets: Vec<SubnetId>,
    pub routes: Vec<VpcRoute>,
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcRoute {
    /// `DestinationCidrBlock`; None for IPv6 and prefix-list routes.
    pub destination: Option<Ipv4Net>,
    pub target: RouteTarget,
    /// `State` is `active` (a `blackhole` route's target is gone).
    pub active: bool,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RouteTarget {
    NatGateway(String),
    TransitGateway(String),
    InternetGateway(String),
    /// `local`: the VPC's own CIDRs.
    Local,
    /// Anything else (peering, instance, ENI, VPC endpoint...), by its id.
    Other(String),
}

impl RouteTarget {
    /// A target private pods can leave the VPC through.
    pub fn is_private_egress(&self) -> bool {
        matches!(
            self,
            RouteTarget::NatGateway(_) | RouteTarget::TransitGateway(_)
        )
    }
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteTarget::NatGateway(id)
            | RouteTarget::TransitGateway(id)
            | RouteTarget::InternetGateway(id)
            | RouteTarget::Other(id) => f.write_str(id),
            RouteTarget::Local => f.write_str("local"),
        }
    }
}

/// A security group that exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroup {
    pub id: SecurityGroupId,
    pub vpc_id: Option<VpcId>,
    pub name: Option<String>,
    /// Its tags (EKS Auto Mode NodeClasses select pod groups by tag).
    pub tags: BTreeMap<String, String>,
}

/// An ENI as `DescribeNetworkInterfaces` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkInterface {
    pub id: EniId,
    pub subnet_id: Option<SubnetId>,
    pub vpc_id: Option<VpcId>,
    /// `in-use`, `available`, `attaching`, `detaching`...
    pub status: Option<String>,
    /// `interface`, `trunk`, `efa`, `network_load_balancer`...
    pub interface_type: Option<String>,
    pub attachment: Option<EniAttachmentFacts>,
    /// Every private IPv4 address, the primary first.
    pub private_ips: Vec<Ipv4Addr>,
    /// Delegated IPv4 prefixes.
    pub prefixes: Vec<Ipv4Net>,
    pub tags: BTreeMap<String, String>,
}

/// An ENI's attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EniAttachmentFacts {
    pub instance_id: Option<String>,
    /// `attaching`, `attached`, `detaching`, `detached`.
    pub status: Option<String>,
    pub device_index: Option<u32>,
    pub network_card_index: Option<u32>,
}

impl NetworkInterface {
    /// The instance the CNI created it for ([`CNI_INSTANCE_TAG`]).
    pub fn cni_instance(&self) -> Option<&str> {
        self.tags.get(CNI_INSTANCE_TAG).map(String::as_str)
    }

    /// The instance it is attached to, if any.
    pub fn attached_to(&self) -> Option<&str> {
        self.attachment.as_ref()?.instance_id.as_deref()
    }

    /// The CNI's creation-time tag, as written (RFC 3339).
    pub fn created_at(&self) -> Option<&str> {
        self.tags.get(CNI_CREATED_AT_TAG).map(String::as_str)
    }
}
