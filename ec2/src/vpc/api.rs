//! The EC2 calls the VPC reader makes, one page at a time, as a trait.
//!
//! One method call is one attempt on the wire (the SDK's retries are off),
//! so the call policy ([`super::policy`]) can hold each page against its
//! budget. [`crate::Ec2Client`] is the real implementation
//! ([`super::calls`]); the policy's tests answer from memory.

use std::future::Future;

use crate::client::Ec2Error;
use eniwatch_core::model::{
    InstanceTypeFacts, NetworkInterface, RouteTable, SecurityGroup, SecurityGroupId, Subnet,
    SubnetId, VpcId,
};

/// `MaxResults` of a `DescribeNetworkInterfaces` page (EC2's largest).
pub const ENI_PAGE: usize = 1000;
/// `MaxResults` of a `DescribeInstanceTypes` page, and the most types asked
/// in one call (EC2's largest).
pub const TYPE_PAGE: usize = 100;
/// `MaxResults` of the other paged calls (EC2's largest).
pub const PAGE: usize = 1000;

/// Which subnets to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetQuery {
    /// Filter `vpc-id`: every subnet of the VPC.
    Vpc(VpcId),
    /// Filter `subnet-id` (never `SubnetIds=`, which fails the whole call on
    /// one unknown id): these subnets, wherever they are; an unknown id is
    /// absent from the answer.
    Ids(Vec<SubnetId>),
}

/// Which security groups to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupQuery {
    /// Filter `group-id` (never `GroupIds=`): these groups, in any VPC; an
    /// unknown id is absent from the answer.
    Ids(Vec<SecurityGroupId>),
    /// Filter `vpc-id`: every group of the VPC (with its tags).
    Vpc(VpcId),
}

/// Which ENIs to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EniQuery {
    /// Filters `vpc-id` and `tag-key` = the CNI's instance tag: the CNI's ENIs.
    CniTagged(VpcId),
    /// Filter `subnet-id`: every ENI in these subnets, whoever owns it.
    InSubnets(Vec<SubnetId>),
}

/// One page of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `NextToken`: more to ask for.
    pub next: Option<String>,
    /// Records left out because EC2 sent them without a usable id.
    pub skipped: u64,
}

impl<T> Page<T> {
    /// A last page with nothing skipped.
    pub fn last(items: Vec<T>) -> Page<T> {
        Page {
            items,
            next: None,
            skipped: 0,
        }
    }
}

/// An instance type EC2 described: its facts, or why they are not usable.
pub type TypeAnswer = (String, Result<InstanceTypeFacts, String>);

/// The read-only EC2 calls of the VPC reader, one page per call.
pub trait VpcApi: Sync {
    /// `DescribeSubnets`.
    fn subnets(
        &self,
        query: &SubnetQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<Subnet>, Ec2Error>> + Send;

    /// `DescribeNetworkInterfaces`, [`ENI_PAGE`] per page.
    fn network_interfaces(
        &self,
        query: &EniQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<NetworkInterface>, Ec2Error>> + Send;

    /// `DescribeRouteTables` filter `vpc-id`.
    fn route_tables(
        &self,
        vpc: &VpcId,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<RouteTable>, Ec2Error>> + Send;

    /// `DescribeSecurityGroups` filter `group-id` (an unknown id is absent)
    /// or `vpc-id`.
    fn security_groups(
        &self,
        query: &GroupQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<SecurityGroup>, Ec2Error>> + Send;

    /// `DescribeInstanceTypes` filter `instance-type` (at most [`TYPE_PAGE`]
    /// names): an unknown name is absent, where `InstanceTypes=` would fail
    /// the whole call.
    fn instance_types(
        &self,
        names: &[String],
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<TypeAnswer>, Ec2Error>> + Send;
}
