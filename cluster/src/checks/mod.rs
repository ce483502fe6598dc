//! The cluster component's checks: pure functions from a [`ClusterSnapshot`]
//! to check results, findings and per-subnet summaries, judged once per
//! refresh and rendered many times (metrics, events, `check`, the published
//! facts). The check names and the reasons each raises are declared in
//! [`eniwatch_core::checks::CLUSTER_CHECKS`]; [`judge`] runs them in that
//! order (a test holds the two equal).
//!
//! | check | module | reasons |
//! |---|---|---|
//! | `eniconfig-subnets` | [`eniconfig_subnets`] | `ENIConfigSubnetNotFound`, `ENIConfigSubnetZoneMismatch` |
//! | `zone-coverage` | [`zone_coverage`] | `ENIConfigMissingForZone` |
//! | `eniconfig-security-groups` | [`security_groups`] | `ENIConfigSecurityGroupNotFound` |
//! | `subnet-headroom` | [`headroom`] | `SubnetNearlyExhausted`, `PrefixFragmentation` |
//! | `pod-subnet-routes` | [`routes`] | `PodSubnetNoDefaultRoute`, `PodSubnetRouteDiffers` |
//! | `pod-subnet-tags` | [`tags`] | `PodSubnetTaggedForLoadBalancers` |
//! | `eni-attachment` | [`attachment`] | `LeakedENI`, `ENINotAttached` |
//!
//! No I/O, no clock (ages are measured from `snapshot.now`), no globals. A
//! check that lacks a part (EC2 or the API could not give it) is *unknown*
//! with the reason, never *ok* and never a finding; bad EC2 data (no CIDR,
//! no zone) is unknown for that subnet. Where the cluster does not use what a
//! check judges (no ENIConfig), it is *not applicable*. The derived facts all
//! checks read are built once ([`context`]).

mod attachment;
mod context;
mod demand;
mod eniconfig_subnets;
#[cfg(test)]
pub(crate) mod fixture;
mod headroom;
mod outcome;
mod prefixes;
mod routes;
mod security_groups;
mod summary;
mod tags;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_garbage;
mod zone_coverage;

use eniwatch_core::checks::{CheckResult, CheckStatus, Finding, Reason};
use eniwatch_core::model::{EniId, SubnetId};
use serde::Serialize;

use crate::model::ClusterSnapshot;
use context::Context;
pub(crate) use outcome::Outcome;

/// One judgement of the cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterEvaluation {
    /// One per entry of `CLUSTER_CHECKS`, in that order.
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    /// Every pod subnet (an ENIConfig's) and node subnet, sorted by id.
    pub subnets: Vec<SubnetSummary>,
    /// Leaked ENIs by subnet (for the metric).
    pub leaked_enis: Vec<(Option<SubnetId>, u32)>,
    /// The `ENINotAttached` and `LeakedENI` ENIs whose tagged instance is a
    /// current node, sorted by node name then ENI id (what is published for
    /// the node agents).
    pub enis_not_attached: Vec<UnattachedEni>,
}

impl ClusterEvaluation {
    /// The worst status over all checks.
    pub fn overall(&self) -> CheckStatus {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Unknown)
    }
}

/// What one subnet's metrics and report lines show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetSummary {
    pub id: SubnetId,
    /// `pod` (an ENIConfig names it) or `node` (a node's address is in it).
    pub role: &'static str,
    pub availability_zone: Option<String>,
    pub availability_zone_id: Option<String>,
    /// Addresses in the CIDR.
    pub size: Option<u64>,
    pub free_addresses: Option<u32>,
    /// Free aligned /28 blocks (pod subnets using prefix delegation).
    pub free_prefixes: Option<u32>,
    /// Nodes whose ENIConfig names it (pod) or whose address is in it (node).
    pub nodes: u32,
    /// Addresses the warm pools of those nodes want (pod subnets).
    pub warm_demand: Option<u64>,
    /// The default route's verdict for pod subnets: `ok`, `no_default_route`,
    /// `differs`, `unknown`; None for node subnets.
    pub route: Option<&'static str>,
    /// The ENIConfigs that name it.
    pub eniconfigs: Vec<String>,
}

/// A CNI ENI of a current node that is not attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnattachedEni {
    pub node: String,
    pub instance_id: String,
    pub id: EniId,
    pub reason: Reason,
    pub status: Option<String>,
    pub attachment_status: Option<String>,
    /// The instance it is attached to instead, if any.
    pub attached_to: Option<String>,
}

/// Judges the snapshot.
pub fn judge(snapshot: &ClusterSnapshot) -> ClusterEvaluation {
    let ctx = Context::new(snapshot);
    let routes = routes::verdicts(&ctx);
    let enis = attachment::verdicts(&ctx);
    // In `CLUSTER_CHECKS` order.
    let outcomes = [
        (
            "eniconfig-subnets",
            eniconfig_subnets::eniconfig_subnets(&ctx),
        ),
        ("zone-coverage", zone_coverage::zone_coverage(&ctx)),
        (
            "eniconfig-security-groups",
            security_groups::security_groups(&ctx),
        ),
        ("subnet-headroom", headroom::subnet_headroom(&ctx)),
        (
            "pod-subnet-routes",
            routes::pod_subnet_routes(&ctx, &routes),
        ),
        ("pod-subnet-tags", tags::pod_subnet_tags(&ctx)),
        ("eni-attachment", attachment::eni_attachment(&ctx, &enis)),
    ];
    let mut evaluation = ClusterEvaluation::default();
    for (name, outcome) in outcomes {
        let (result, mut found) = outcome.into_result(name);
        evaluation.checks.push(result);
        evaluation.findings.append(&mut found);
    }
    evaluation.subnets = summary::summaries(&ctx, &routes);
    if let Ok(enis) = &enis {
        evaluation.leaked_enis = attachment::leaked_by_subnet(enis);
        evaluation.enis_not_attached = unattached(enis);
    }
    evaluation
}

fn unattached(verdicts: &[attachment::EniVerdict<'_>]) -> Vec<UnattachedEni> {
    let mut out: Vec<UnattachedEni> = verdicts
        .iter()
        .filter_map(|v| {
            let node = v.node?;
            let attachment = v.eni.attachment.as_ref();
            Some(UnattachedEni {
                node: node.info.name.clone(),
                instance_id: v.eni.cni_instance()?.to_string(),
                id: v.eni.id.clone(),
                reason: v.reason,
                status: v.eni.status.clone(),
                attachment_status: attachment.and_then(|a| a.status.clone()),
                attached_to: attachment.and_then(|a| a.instance_id.clone()),
            })
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node).then(a.id.cmp(&b.id)));
    out
}
