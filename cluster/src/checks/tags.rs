//! `pod-subnet-tags`: no pod subnet carries a load balancer role tag
//! (`kubernetes.io/role/elb`, `kubernetes.io/role/internal-elb`): load
//! balancers placed there take pod addresses, and may be unreachable from
//! outside the VPC when the subnet is in 100.64.0.0/10.

use eniwatch_core::checks::{Finding, Reason, Subject};

use super::context::Context;
use super::Outcome;

pub(crate) fn pod_subnet_tags(ctx: &Context<'_>) -> Outcome {
    if let Err(why) = &ctx.subnets {
        return Outcome::unknown(format!("EC2 subnets: {why}"));
    }
    if ctx.pod_subnets.is_empty() {
        return Outcome::not_applicable("no ENIConfig names a subnet");
    }
    let mut out = Outcome::default();
    let mut judged = 0;
    for (id, pod) in &ctx.pod_subnets {
        let Some(subnet) = ctx.subnet(id) else {
            continue;
        };
        judged += 1;
        let roles = subnet.elb_roles();
        if roles.is_empty() {
            continue;
        }
        out.findings.push(Finding::new(
            "",
            Reason::PodSubnetTaggedForLoadBalancers,
            Subject::eniconfig(pod.subject()),
            format!(
                "pod subnet {id} (named by {}) is tagged {}: load balancer controllers place \
                 load balancers there; remove the tag from the pod subnet",
                pod.named_by(),
                roles.join(", ")
            ),
        ));
    }
    out.ok_detail = format!("{judged} pod subnet(s) carry no load balancer role tag");
    out
}
