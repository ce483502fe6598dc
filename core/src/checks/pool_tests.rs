//! max-pods and the warm pool from hand-built snapshots: a new node whose
//! prefix delegation is not known yet, and a pool that cannot grow because
//! the CNI cannot create ENIs (the cause's finding, not a second error).

use super::fixture::*;
use super::witness_tests::{limits, message, pod_subnet};
use super::*;
use crate::model::*;

/// A node just created: secondary ENIs with no pod address yet, no pods but
/// the host-network one, so prefix delegation cannot be told from the ENIs.
fn new_node() -> Snapshot {
    let mut s = healthy_witnessed();
    for e in imds(&mut s).enis.iter_mut().skip(1) {
        e.local_ipv4s.truncate(1);
    }
    cluster(&mut s).pods.retain(|p| p.host_network);
    let k = kernel(&mut s);
    k.routes.retain(|r| r.destination.prefix_len() != 32);
    k.rules.clear();
    k.links.retain(|l| l.kind.as_deref() != Some("veth"));
    for e in &mut ipamd(&mut s).enis {
        e.ipv4_addresses.clear();
        e.assigned.clear();
    }
    s
}

fn detail(s: &Snapshot, check: &str) -> String {
    evaluate(s)
        .checks
        .into_iter()
        .find(|c| c.name == check)
        .unwrap()
        .detail
}

#[test]
fn max_pods_without_knowing_prefix_delegation_is_judged_when_both_agree() {
    // 3 ENIs × 4 addresses: 8 pods without prefix delegation, 98 with it.
    let mut s = new_node();
    limits(&mut s, 3, 4);
    cluster(&mut s).node.capacity_pods = Some(110);
    assert_eq!(status(&s, "max-pods"), CheckStatus::Drift);
    let m = message(&s, Reason::MaxPodsExceedsCapacity);
    assert!(
        m.contains("kubelet max-pods is 110")
            && m.contains("at most 8 pods, or 98 with prefix delegation"),
        "{m}"
    );
    assert!(m.contains("--max-pods=8"), "{m}");
    // Between the two capacities the answer depends on the assumption.
    cluster(&mut s).node.capacity_pods = Some(50);
    assert_eq!(status(&s, "max-pods"), CheckStatus::Unknown);
    assert!(
        detail(&s, "max-pods").contains("--enable-prefix-delegation"),
        "{}",
        detail(&s, "max-pods")
    );
    // Within both: ok.
    cluster(&mut s).node.capacity_pods = Some(8);
    assert_eq!(status(&s, "max-pods"), CheckStatus::Ok);
    assert!(!reasons(&s).contains(&Reason::MaxPodsExceedsCapacity));
}

/// [`healthy_witnessed`] with every pod address taken while the kubelet admits more.
fn exhausted() -> Snapshot {
    let mut s = healthy_witnessed();
    let pods = &mut cluster(&mut s).pods;
    pods.push(pod("d", "100.64.1.13"));
    pods.push(pod("e", "100.64.1.22"));
    wire_pod(kernel(&mut s), "100.64.1.13", 2, 13);
    wire_pod(kernel(&mut s), "100.64.1.22", 3, 14);
    ipamd(&mut s).enis[1]
        .assigned
        .push((fixture::ip("100.64.1.13"), None));
    ipamd(&mut s).enis[2]
        .assigned
        .push((fixture::ip("100.64.1.22"), None));
    s
}

#[test]
fn a_pool_that_cannot_grow_for_a_missing_or_foreign_subnet_is_that_findings() {
    assert_eq!(reasons(&exhausted()), vec![Reason::WarmPoolExhausted]);
    let mut s = exhausted();
    unpublish_pod_subnet(&mut s);
    assert_eq!(reasons(&s), vec![Reason::ENIConfigSubnetNotFound]);
    assert_eq!(status(&s, "warm-pool"), CheckStatus::Unknown);
    let d = detail(&s, "warm-pool");
    assert!(
        d.contains("(WarmPoolExhausted)")
            && d.contains("subnet-pods, which EC2 does not know")
            && d.contains("(ENIConfigSubnetNotFound), the CNI cannot create ENIs"),
        "{d}"
    );
    let mut s = exhausted();
    pod_subnet(&mut s).availability_zone = Some("ap-southeast-1b".into());
    pod_subnet(&mut s).availability_zone_id = Some("apse1-az2".into());
    assert_eq!(reasons(&s), vec![Reason::ENIConfigSubnetZoneMismatch]);
    assert!(detail(&s, "warm-pool").contains("(ENIConfigSubnetZoneMismatch)"));
    // Below target for the same cause: not raised either.
    let mut s = healthy_witnessed();
    ipamd(&mut s).warm.warm_ip_target = Some(5);
    unpublish_pod_subnet(&mut s);
    assert_eq!(reasons(&s), vec![Reason::ENIConfigSubnetNotFound]);
    assert!(detail(&s, "warm-pool").contains("(WarmPoolBelowTarget)"));
}

#[test]
fn a_pool_that_cannot_grow_for_a_missing_eniconfig_is_that_findings() {
    let mut s = exhausted();
    cluster(&mut s).eni_configs = Some(vec![]);
    let r = reasons(&s);
    assert!(r.contains(&Reason::ENIConfigNotFound), "{r:?}");
    assert!(!r.contains(&Reason::WarmPoolExhausted), "{r:?}");
    assert_eq!(status(&s, "warm-pool"), CheckStatus::Unknown);
    assert!(detail(&s, "warm-pool").contains("(ENIConfigNotFound)"));
}

#[test]
fn without_custom_networking_the_primary_enis_addresses_are_the_pool() {
    // No ENIConfig, ipamd not asked: standard mode, pods on the primary ENI
    // and no secondary ENI yet. One of two pod addresses is free.
    let mut s = healthy();
    cluster(&mut s).eni_configs = Some(vec![]);
    imds(&mut s).enis.truncate(1);
    imds(&mut s).enis[0].local_ipv4s = vec![ip("10.0.1.10"), ip("10.0.1.11"), ip("10.0.1.12")];
    cluster(&mut s).pods.retain(|p| p.host_network);
    cluster(&mut s).pods.push(pod("a", "10.0.1.12"));
    let k = kernel(&mut s);
    k.links.retain(|l| l.mac == Some(mac(1)));
    k.routes.clear();
    k.rules.clear();
    wire_pod(k, "10.0.1.12", MAIN_TABLE, 10);
    // ipamd keeps one address free.
    s.pool.warm.warm_ip_target = Some(1);
    let ctx = Context::new(&s);
    let f = ctx.pool();
    assert!(!f.custom_networking);
    assert_eq!((f.total, f.assigned, f.free), (2, 1, 1));
    assert_eq!(
        status(&s, "warm-pool"),
        CheckStatus::Ok,
        "{}",
        detail(&s, "warm-pool")
    );
    assert!(!reasons(&s).contains(&Reason::WarmPoolExhausted));
}
