//! `eniconfig-security-groups`: every group an ENIConfig names exists and
//! belongs to the cluster's VPC. A group asked of EC2 and absent from its
//! answer does not exist; a group not asked yet is not judged.

use eniwatch_core::checks::{Finding, Reason, Subject};

use super::context::Context;
use super::Outcome;

pub(crate) fn security_groups(ctx: &Context<'_>) -> Outcome {
    let configs = match &ctx.eni_configs {
        Err(why) => return Outcome::unknown(format!("ENIConfigs: {why}")),
        Ok(None) => return Outcome::not_applicable("the ENIConfig CRD is not installed"),
        Ok(Some(c)) if c.is_empty() => return Outcome::not_applicable("no ENIConfig exists"),
        Ok(Some(c)) => c,
    };
    let vpc = &ctx.snapshot.vpc;
    let groups = match &vpc.security_groups {
        Err(u) => return Outcome::unknown(format!("EC2 security groups: {}", u.reason)),
        Ok(g) => g,
    };
    let cluster_vpc = vpc.vpc_id.as_ref().ok();
    let mut out = Outcome::default();
    let mut judged = 0;
    let mut vpc_unknown = false;
    for (name, cfg) in configs {
        let mut bad = Vec::new();
        for id in &cfg.security_groups {
            match groups.iter().find(|g| &g.id == id) {
                None if vpc.security_groups_asked.contains(id) => {
                    bad.push(format!("{id} does not exist"));
                }
                None => out
                    .unknown
                    .push(format!("EC2 was not asked about {id} yet")),
                Some(g) => match (&g.vpc_id, cluster_vpc) {
                    (Some(theirs), Some(ours)) if theirs != ours => {
                        bad.push(format!("{id} is in {theirs}, not the cluster's {ours}"));
                    }
                    (Some(_), Some(_)) => judged += 1,
                    _ => vpc_unknown = true,
                },
            }
        }
        if bad.is_empty() {
            continue;
        }
        out.findings.push(Finding::new(
            "",
            Reason::ENIConfigSecurityGroupNotFound,
            Subject::eniconfig(*name),
            format!(
                "ENIConfig {name:?} names security group(s) the CNI cannot use: {}; nodes \
                 selecting it get no secondary ENIs",
                bad.join(", ")
            ),
        ));
    }
    if vpc_unknown {
        let why = match &vpc.vpc_id {
            Err(u) => u.reason.clone(),
            Ok(_) => "EC2 gave no VPC for a group".to_string(),
        };
        out.unknown.push(format!(
            "whether the groups are in the cluster's VPC: {why}"
        ));
    }
    out.ok_detail = format!("{judged} ENIConfig security group(s) exist in the cluster's VPC");
    out
}
