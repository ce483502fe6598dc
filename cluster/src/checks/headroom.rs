//! `subnet-headroom`: every pod subnet has addresses left, and, under prefix
//! delegation, free /28 blocks where it has free addresses.
//!
//! - `SubnetNearlyExhausted`, once per pod subnet, when EC2's
//!   `AvailableIpAddressCount` is below the node agent's floor
//!   ([`headroom_floor`]: the larger of `--subnet-min-free`, capped at a
//!   quarter of the subnet, and `--subnet-min-free-percent` of it). The
//!   floor alone decides; the message adds the nodes and their warm-pool
//!   demand ([`super::demand`]) so the operator can size the fix.
//! - `PrefixFragmentation`, for a subnet where CNI ENIs hold prefixes: the
//!   free addresses would hold the nodes' warm prefixes (≥ 16 per block
//!   wanted) but fewer free aligned /28 blocks ([`super::prefixes`]) are
//!   left than blocks wanted: EC2 answers `InsufficientCidrBlocks`.

use eniwatch_core::checks::subnet::headroom_floor;
use eniwatch_core::checks::{Finding, Reason, Subject};
use eniwatch_core::model::SubnetId;

use super::context::{Context, PodSubnet};
use super::Outcome;

pub(crate) fn subnet_headroom(ctx: &Context<'_>) -> Outcome {
    match &ctx.eni_configs {
        Err(why) => return Outcome::unknown(format!("ENIConfigs: {why}")),
        Ok(None) => return Outcome::not_applicable("the ENIConfig CRD is not installed"),
        Ok(Some(_)) if ctx.pod_subnets.is_empty() => {
            return Outcome::not_applicable("no ENIConfig names a subnet")
        }
        Ok(Some(_)) => {}
    }
    if let Err(why) = &ctx.subnets {
        return Outcome::unknown(format!("EC2 subnets: {why}"));
    }
    let mut out = Outcome::default();
    let mut judged = 0;
    for (id, pod) in &ctx.pod_subnets {
        if judge_subnet(ctx, id, pod, &mut out) {
            judged += 1;
        }
    }
    out.ok_detail = format!("{judged} pod subnet(s) above their free-address floor");
    out
}

/// Judges one pod subnet into `out`; false when it could not be judged.
fn judge_subnet(ctx: &Context<'_>, id: &SubnetId, pod: &PodSubnet<'_>, out: &mut Outcome) -> bool {
    let Some(subnet) = ctx.subnet(id) else {
        if !ctx.snapshot.vpc.subnets_not_found.contains(id) {
            out.unknown
                .push(format!("EC2 was not asked about {id} yet"));
        }
        return false;
    };
    let (Some(cidr), Some(available)) = (subnet.facts.cidr, subnet.facts.available_ips) else {
        out.unknown
            .push(format!("EC2 gave no CIDR or free count for {id}"));
        return false;
    };
    let settings = &ctx.snapshot.settings;
    let size = 1u64 << (32 - u32::from(cidr.prefix_len()));
    let floor = headroom_floor(
        size,
        settings.subnet_min_free,
        settings.subnet_min_free_percent,
    );
    let available = u64::from(available);
    let nodes = pod.nodes.len();
    let figures = ctx.figures.get(id);
    let demand = figures.map(|f| &f.demand);
    let demand_text = match demand {
        Some(d) => match (d.addresses, &d.unknown) {
            (Some(a), _) => format!("their warm pools want {a} addresses"),
            (None, Some(why)) => why.clone(),
            (None, None) => "their warm-pool demand is unknown".to_string(),
        },
        None => "their warm-pool demand is unknown".to_string(),
    };
    let zone = super::context::Zone::of_subnet(subnet).label();
    if available < floor {
        out.findings.push(Finding::new(
            "",
            Reason::SubnetNearlyExhausted,
            Subject::eniconfig(pod.subject()),
            format!(
                "subnet {id} ({cidr}, {zone}, named by {}) has {available} free addresses, \
                 below the floor of {floor} (the larger of {} and {}% of {size}); {nodes} \
                 node(s) select it and {demand_text}",
                pod.named_by(),
                u64::from(settings.subnet_min_free).min(size / 4),
                settings.subnet_min_free_percent
            ),
        ));
    }
    match figures.map(|f| &f.free_prefixes) {
        Some(Err(why)) => out.unknown.push(format!("free /28 blocks of {id}: {why}")),
        Some(Ok(Some(free))) => {
            let wanted = demand.and_then(|d| d.prefixes).unwrap_or(0);
            if wanted > 0 && available >= wanted.saturating_mul(16) && *free < wanted {
                out.findings.push(Finding::new(
                    "",
                    Reason::PrefixFragmentation,
                    Subject::eniconfig(pod.subject()),
                    format!(
                        "subnet {id} ({cidr}, {zone}, named by {}) has {available} free \
                         addresses but only {free} free aligned /28 block(s), fewer than the \
                         {wanted} the warm prefixes of its {nodes} node(s) want: reserve the \
                         subnet for prefixes or move pods to a subnet used only for prefixes",
                        pod.named_by()
                    ),
                ));
            }
        }
        _ => {}
    }
    true
}
