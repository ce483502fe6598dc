//! How many pods an instance type can host, with and without custom
//! networking (domain brief §5). Pure arithmetic over the limits EC2's
//! `DescribeInstanceTypes` reports, as eniwatch's embedded table holds them
//! (`instance_limits`); the `MaxPodsExceedsCapacity` check and the capacity
//! metrics use it. Where ipamd reports a `MAX_ENI` that differs from the
//! table's ENIs, the detail says so (the lower one is what the CNI uses).
//!
//! - standard: `ENIs * (IPs per ENI - 1) + 2`
//! - custom networking (the primary ENI takes no pods): `(ENIs - 1) * (IPs per ENI - 1) + 2`
//! - prefix delegation: each secondary address slot holds a /28 (16 addresses):
//!   `ENIs * ((IPs per ENI - 1) * 16) + 2`, one ENI fewer under custom networking.
//!
//! The `+ 2` is for the host-network pods (aws-node, kube-proxy) that need no
//! address. Only network card 0 is counted: the CNI places pods there unless
//! multi-NIC attachment is requested per pod. Arithmetic saturates: absurd
//! limits from a bad answer give large numbers, never a panic.
//!
//! The `max-pods` check lives here too. When prefix delegation is not known
//! yet (a new node with no pod address), it judges under both assumptions:
//! ok when max-pods fits without it, `MaxPodsExceedsCapacity` when it
//! exceeds the capacity even with it, unknown only in between.

use serde::Serialize;

use super::context::Context;
use super::pool::PoolFacts;
use super::{Finding, Outcome, Reason, Subject};
pub use crate::model::InstanceLimits;

/// How pods get their addresses on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AddressingMode {
    pub custom_networking: bool,
    pub prefix_delegation: bool,
}

/// The most pods the CNI can give an address to, plus the two host-network pods.
pub fn max_pods(limits: InstanceLimits, mode: AddressingMode) -> u64 {
    let enis = u64::from(limits.max_enis);
    let usable_enis = if mode.custom_networking {
        enis.saturating_sub(1)
    } else {
        enis
    };
    let slots = u64::from(limits.ipv4_per_eni).saturating_sub(1);
    let per_slot = if mode.prefix_delegation { 16 } else { 1 };
    usable_enis
        .saturating_mul(slots)
        .saturating_mul(per_slot)
        .saturating_add(2)
}

/// How to set max-pods to `n`, per node bootstrap; on a Karpenter node,
/// Karpenter's own settings first.
fn max_pods_fix(n: u64, prefix_delegation: bool, karpenter: bool) -> String {
    let more = if prefix_delegation {
        "; or use a larger instance type"
    } else {
        "; or enable prefix delegation (ENABLE_PREFIX_DELEGATION=true, Nitro instances)"
    };
    if karpenter {
        return format!(
            "this node is Karpenter's: set Karpenter's reservedENIs setting to 1 (RESERVED_ENIS=1 \
             in the Karpenter controller's environment) so that it reserves the primary ENI, \
             which takes no pods under custom networking, when it computes max-pods, or set \
             kubelet.maxPods in the EC2NodeClass (spec.kubelet.maxPods) to at most {n}; then \
             replace the NodePool's nodes{more}"
        );
    }
    format!(
        "set the kubelet's max-pods to at most {n}: AL2023 NodeConfig spec.kubelet.config.maxPods \
         (or the nodegroup's maxPodsExpression), AL2 bootstrap.sh --use-max-pods false \
         --kubelet-extra-args '--max-pods={n}', Karpenter kubelet.maxPods{more}"
    )
}

/// `max-pods`: the kubelet admits no more pods than custom networking can address.
pub(crate) fn max_pods_fit(ctx: &Context) -> Outcome {
    let mut out = max_pods_judged(ctx);
    if let Some(note) = table_vs_ipamd(ctx) {
        out.ok_detail.push_str(&note);
    }
    out
}

/// Where ipamd reports a `MAX_ENI` other than the table's ENIs for the
/// type: "; ipamd's MAX_ENI is N, eniwatch's table gives TYPE M ENIs".
pub(crate) fn table_vs_ipamd(ctx: &Context) -> Option<String> {
    let reported = ctx.snapshot.ipamd.data()?.warm.max_eni.filter(|m| *m > 0)?;
    let table = ctx.snapshot.instance_type.as_ref().ok()?.limits.max_enis;
    (i64::from(reported) != i64::from(table)).then(|| {
        format!(
            "; ipamd's MAX_ENI is {reported}, eniwatch's table gives {} {table} ENIs \
             (the CNI uses the lower)",
            instance_type(ctx)
        )
    })
}

fn max_pods_judged(ctx: &Context) -> Outcome {
    // The kubelet's max-pods is on the Node: without the API there is
    // nothing to compare with, by configuration.
    if matches!(
        ctx.snapshot.expectation,
        crate::model::Expectation::Flags(_)
    ) {
        return Outcome::skipped("needs the kubelet's max-pods from the Node (--no-kube)");
    }
    let f = ctx.pool();
    let capacity = match (&f.capacity, &f.limits, &f.prefix_delegation) {
        (Ok(c), _, _) => *c,
        // Prefix delegation unknown (no pod address yet): judged when the
        // answer is the same under both assumptions.
        (Err(why), Ok(limits), Err(_)) => return max_pods_either_way(ctx, f, *limits, why),
        (Err(e), _, _) => return Outcome::unknown(e.clone()),
    };
    let Some(max) = f.kubelet_max_pods else {
        return Outcome::unknown("the kubelet's max-pods is unknown (no Node from the API)");
    };
    let Ok(limits) = f.limits else {
        return Outcome::unknown("instance limits unknown");
    };
    let pd = f.prefix_delegation == Ok(true);
    let mode = mode_words(f.custom_networking, pd);
    let instance = instance_type(ctx);
    if u64::from(max) <= capacity {
        return Outcome::ok(format!(
            "max-pods {max} fits: {mode} on {instance} supplies {capacity}"
        ));
    }
    exceeds(
        ctx,
        format!(
            "kubelet max-pods is {max}, but {mode} on {instance} ({} ENIs × {} IPv4 addresses) \
             supplies at most {capacity} pods; pods beyond that stay in ContainerCreating; \
             {}",
            limits.max_enis,
            limits.ipv4_per_eni,
            max_pods_fix(capacity, pd, ctx.mode.is_karpenter())
        ),
    )
}

/// The check's one finding: max-pods above what the node can address.
fn exceeds(ctx: &Context, message: String) -> Outcome {
    let mut out = Outcome::ok(String::new());
    out.findings.push(Finding::new(
        "",
        Reason::MaxPodsExceedsCapacity,
        Subject::node(ctx.node_name.clone()),
        message,
    ));
    out
}

/// `max-pods` when prefix delegation is not known: ok when max-pods fits
/// without it, a finding when it exceeds the capacity even with it, and
/// unknown only in between, where the answer depends on the assumption.
fn max_pods_either_way(ctx: &Context, f: &PoolFacts, limits: InstanceLimits, why: &str) -> Outcome {
    let Some(max) = f.kubelet_max_pods else {
        return Outcome::unknown("the kubelet's max-pods is unknown (no Node from the API)");
    };
    let cap = |prefix_delegation| {
        max_pods(
            limits,
            AddressingMode {
                custom_networking: f.custom_networking,
                prefix_delegation,
            },
        )
    };
    let (without, with) = (cap(false), cap(true));
    let mode = mode_words(f.custom_networking, false);
    let instance = instance_type(ctx);
    let max64 = u64::from(max);
    if max64 <= without {
        return Outcome::ok(format!(
            "max-pods {max} fits with or without prefix delegation: {mode} on {instance} \
             supplies {without} ({with} with prefix delegation)"
        ));
    }
    if max64 <= with {
        return Outcome::unknown(format!(
            "max-pods {max} fits only with prefix delegation ({with} pods; {without} without), \
             and {why}"
        ));
    }
    exceeds(
        ctx,
        format!(
            "kubelet max-pods is {max}, but {mode} on {instance} ({} ENIs × {} IPv4 addresses) \
             supplies at most {without} pods, or {with} with prefix delegation (not known yet \
             to be on: no pod addresses); pods beyond that stay in ContainerCreating; {}",
            limits.max_enis,
            limits.ipv4_per_eni,
            max_pods_fix(without, true, ctx.mode.is_karpenter())
        ),
    )
}

fn mode_words(custom_networking: bool, prefix_delegation: bool) -> &'static str {
    match (custom_networking, prefix_delegation) {
        (true, true) => "custom networking with prefix delegation",
        (true, false) => "custom networking",
        (false, true) => "prefix delegation",
        (false, false) => "the standard mode",
    }
}

fn instance_type(ctx: &Context) -> String {
    ctx.imds
        .as_ref()
        .map_or("this instance type".to_string(), |m| {
            m.instance_type.clone()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const M5_LARGE: InstanceLimits = InstanceLimits {
        max_enis: 3,
        ipv4_per_eni: 10,
    };
    const T3_2XLARGE: InstanceLimits = InstanceLimits {
        max_enis: 4,
        ipv4_per_eni: 15,
    };

    fn mode(custom_networking: bool, prefix_delegation: bool) -> AddressingMode {
        AddressingMode {
            custom_networking,
            prefix_delegation,
        }
    }

    #[test]
    fn the_domain_briefs_numbers() {
        assert_eq!(max_pods(M5_LARGE, mode(false, false)), 29);
        assert_eq!(max_pods(M5_LARGE, mode(true, false)), 20);
        assert_eq!(max_pods(T3_2XLARGE, mode(true, false)), 44);
        assert_eq!(max_pods(T3_2XLARGE, mode(false, false)), 58);
    }

    #[test]
    fn prefix_delegation_multiplies_slots_by_sixteen() {
        assert_eq!(max_pods(M5_LARGE, mode(false, true)), 3 * 9 * 16 + 2);
        assert_eq!(max_pods(M5_LARGE, mode(true, true)), 2 * 9 * 16 + 2);
    }

    #[test]
    fn degenerate_limits() {
        let none = InstanceLimits {
            max_enis: 0,
            ipv4_per_eni: 0,
        };
        assert_eq!(max_pods(none, mode(true, true)), 2);
        let one = InstanceLimits {
            max_enis: 1,
            ipv4_per_eni: 50,
        };
        assert_eq!(
            max_pods(one, mode(true, false)),
            2,
            "custom networking on a single-ENI type"
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_custom_networking_never_adds(enis in any::<u32>(), ips in any::<u32>(), pd in any::<bool>()) {
            let l = InstanceLimits { max_enis: enis, ipv4_per_eni: ips };
            let custom = max_pods(l, mode(true, pd));
            let standard = max_pods(l, mode(false, pd));
            prop_assert!(custom <= standard);
        }
    }
}
