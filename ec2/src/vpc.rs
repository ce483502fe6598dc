//! The VPC as eniwatch-cluster asks EC2 about it, O(subnets) and independent
//! of the node count. (Policy table: see the module's full docs.)

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use eniwatch_core::model::{SecurityGroupId, SubnetId, Unavailable, VpcFacts, VpcId};
use eniwatch_core::sources::requests::RequestCounts;

/// What to ask about, from the ENIConfigs and Nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcAsk {
    /// `--vpc-id`; None: the VPC of the ENIConfig subnets.
    pub vpc_id: Option<VpcId>,
    pub eniconfig_subnets: BTreeSet<SubnetId>,
    pub security_groups: BTreeSet<SecurityGroupId>,
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
    _policy: VpcPolicy,
    _counts: RequestCounts,
}

impl VpcReader {
    /// A reader on the real EC2 (region, endpoint, credentials from `config`).
    pub async fn new(
        _config: crate::Ec2Config,
        policy: VpcPolicy,
        counts: RequestCounts,
    ) -> Result<VpcReader, Unavailable> {
        Ok(VpcReader {
            _policy: policy,
            _counts: counts,
        })
    }

    /// Asks what is due at `now` and returns the facts (cached parts where
    /// nothing was due, or where the budget or a backoff held the call).
    pub async fn refresh(&mut self, _ask: &VpcAsk, _now: Instant) -> VpcFacts {
        let none = || Unavailable::new("ec2", "not read yet");
        VpcFacts {
            vpc_id: Err(none()),
            subnets: Err(none()),
            subnets_not_found: Vec::new(),
            route_tables: Err(none()),
            security_groups: Err(none()),
            security_groups_asked: Vec::new(),
            cni_enis: Err(none()),
            prefix_subnet_enis: Err(none()),
            instance_types: Default::default(),
        }
    }

    /// When the next call is due (the daemon sleeps until then).
    pub fn next_due(&self) -> Instant {
        Instant::now()
    }
}
