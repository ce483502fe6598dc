//! The VPC as eniwatch-cluster asks EC2 about it: O(subnets) calls a
//! refresh, independent of the node count (one replica per cluster; node
//! agents make no EC2 call).
//!
//! # What is asked, when
//!
//! | part | call | when |
//! |---|---|---|
//! | VPC (no `--vpc-id`) | `DescribeSubnets` filter `subnet-id` = the ENIConfig subnets; the VPC most of them are in | once, at the first refresh with an ENIConfig subnet |
//! | subnets | `DescribeSubnets` filter `vpc-id`, paged; then filter `subnet-id` = ENIConfig subnets absent from it (still absent: `subnets_not_found`) | every `subnet_refresh` + 0..20 %; at once when an ENIConfig names a subnet not seen yet |
//! | CNI ENIs | `DescribeNetworkInterfaces` filters `vpc-id`, `tag-key` = [`CNI_INSTANCE_TAG`], `MaxResults` 1000, paged | every `subnet_refresh` + 0..20 % |
//! | ENIs of prefix subnets | `DescribeNetworkInterfaces` filter `subnet-id` = subnets where a CNI ENI holds a prefix, paged; no call when there is none | every `subnet_refresh` + 0..20 %; at once when that set changes |
//! | route tables | `DescribeRouteTables` filter `vpc-id`, paged | every `route_refresh` + 0..20 % |
//! | security groups | `DescribeSecurityGroups` filter `group-id` = the groups the ENIConfigs and NodeClasses name (absent: does not exist); when a NodeClass selects pod groups by tag, first filter `vpc-id` (every group of the VPC, with tags), then `group-id` only for named groups absent from it | every `route_refresh` + 0..20 %; at once when the set changes |
//! | instance types | `DescribeInstanceTypes` filter `instance-type`, at most 100 a call | once per type not in the embedded table, for the process lifetime |
//!
//! Filters, never id lists: `SubnetIds=` or `InstanceTypes=` with one
//! unknown id fails the whole call, a filter leaves it out. A steady
//! cluster of any size thus makes 4 calls every `subnet_refresh` (5 with
//! prefix delegation; one more per 1,000 CNI ENIs) and 2 every
//! `route_refresh`.
//!
//! # Limits ([`policy`], [`budget`])
//!
//! One attempt per call (no SDK retries), 3 s per attempt and 10 s per
//! call; bodies bounded and every attempt counted on the wire by operation
//! and outcome ([`crate::client`]). A failed operation backs off (30 s
//! doubling to 15 min; access denied 5 min doubling to 15 min; +0..20 %);
//! never more than `calls_per_minute` attempts in any 60 s window (a call
//! the window has no room for is deferred and counted, see
//! [`VpcReader::deferred`]). While a part cannot be asked, its last answer
//! stays in use; with none, it is unknown with the cause and the fix.
//!
//! # Where moto (the emulator the tests run against) differs from EC2
//!
//! Found by `ec2/tests/moto.rs` (and by hand) against moto 5.2:
//! - Same as EC2: the `vpc-id`, `subnet-id`, `group-id`, `tag-key` and
//!   `instance-type` filters (an unknown value matches nothing, no error);
//!   subnets' `AvailabilityZoneId`; routes' `State` (`active`); the main
//!   table's `Main` association.
//! - Unlike EC2: `DescribeNetworkInterfaces` ignores `MaxResults` and
//!   answers every ENI in one page with no `NextToken`, and is slow at it
//!   (1,005 ENIs took longer than the 3 s an attempt is given), so paging
//!   is proven against EC2 from memory (`vpc/plan_tests.rs`) instead; `CreateNetworkInterface` accepts
//!   `Ipv4PrefixCount` but moto assigns no prefix and never lists
//!   `Ipv4Prefixes`, so the prefix-subnet call is never made against moto.
//!
//! [`CNI_INSTANCE_TAG`]: eniwatch_core::model::CNI_INSTANCE_TAG

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::client::Ec2Client;
use eniwatch_core::model::{SecurityGroupId, SubnetId, Unavailable, VpcFacts, VpcId};
use eniwatch_core::sources::requests::RequestCounts;

pub mod api;
pub mod budget;
mod calls;
mod part;
mod plan;
pub mod policy;

pub use api::{EniQuery, GroupQuery, Page, SubnetQuery, VpcApi};
pub use plan::VpcPlan;

/// What to ask about, from the ENIConfigs and Nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcAsk {
    /// `--vpc-id`; None: the VPC of the ENIConfig subnets.
    pub vpc_id: Option<VpcId>,
    pub eniconfig_subnets: BTreeSet<SubnetId>,
    pub security_groups: BTreeSet<SecurityGroupId>,
    /// Also list every group of the VPC, with its tags (an EKS Auto Mode
    /// NodeClass selects pod groups by tag).
    pub vpc_security_groups: bool,
    /// Instance types of nodes that the embedded table does not know.
    pub instance_types: BTreeSet<String>,
}

/// How often to ask, and the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcPolicy {
    /// Subnets and ENIs, jittered +0..20 %.
    pub subnet_refresh: Duration,
    /// Route tables and security groups, jittered the same way.
    pub route_refresh: Duration,
    /// Never more EC2 calls than this in any 60 s window.
    pub calls_per_minute: u32,
}

impl Default for VpcPolicy {
    fn default() -> Self {
        VpcPolicy {
            subnet_refresh: Duration::from_secs(300),
            route_refresh: Duration::from_secs(1800),
            calls_per_minute: 60,
        }
    }
}

/// Reads the VPC with the policy, keeping the last answers between refreshes.
pub struct VpcReader {
    client: Ec2Client,
    plan: VpcPlan,
}

/// The region: the config's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`
/// (never IMDS: the cluster component may run anywhere).
fn region(config: &crate::Ec2Config) -> Option<String> {
    config
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.trim().is_empty())
}

impl VpcReader {
    /// A reader on the real EC2 (region, endpoint, credentials from
    /// `config`); every attempt on the wire is counted into `counts` by
    /// (operation, outcome).
    pub async fn new(
        config: crate::Ec2Config,
        policy: VpcPolicy,
        counts: RequestCounts,
    ) -> Result<VpcReader, Unavailable> {
        let Some(region) = region(&config) else {
            return Err(
                Unavailable::new("ec2", "no AWS region: pass --region or set AWS_REGION")
                    .with_kind("invalid"),
            );
        };
        let client = Ec2Client::new(&config, Some(&region), counts)
            .await
            .map_err(|e| Unavailable::new("ec2", e.to_string()).with_kind(e.kind()))?;
        Ok(VpcReader {
            client,
            plan: VpcPlan::new(policy),
        })
    }

    /// Asks what is due at `now` and returns the facts (cached parts where
    /// nothing was due, or where the budget or a backoff held the call).
    pub async fn refresh(&mut self, ask: &VpcAsk, now: Instant) -> VpcFacts {
        self.plan.refresh(&self.client, ask, now).await
    }

    /// When the next call is due (the daemon sleeps until then).
    pub fn next_due(&self) -> Instant {
        self.plan.next_due()
    }

    /// Calls deferred by the budget since start, by operation: the counter
    /// `eniwatch_cluster_ec2_calls_deferred_total{operation}`.
    pub fn deferred(&self) -> BTreeMap<&'static str, u64> {
        self.plan.gate.deferred().clone()
    }

    /// Records EC2 sent without a usable id (left out), by operation.
    pub fn skipped(&self) -> BTreeMap<&'static str, u64> {
        self.plan.gate.skipped().clone()
    }

    /// The operations backing off at `now`, each with its last error
    /// (empty: EC2 answered every call asked of it last).
    pub fn failing(&self, now: Instant) -> BTreeMap<&'static str, Unavailable> {
        self.plan.gate.failing(now)
    }
}

#[cfg(test)]
mod fake;

#[cfg(test)]
mod plan_tests;
