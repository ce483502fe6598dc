//! The published-facts and ipamd checks from hand-built snapshots: the witnessed healthy
//! node is all ok, each single disagreement yields exactly its reason, and a
//! witness that fails or is off makes its checks unknown or skipped, never drift.

use super::fixture::*;
use super::tests_declared::not_ok;
use super::*;
use crate::model::*;

pub(super) fn message(s: &Snapshot, r: Reason) -> String {
    evaluate(s)
        .findings
        .iter()
        .find(|f| f.reason == r)
        .unwrap_or_else(|| panic!("no {r}"))
        .message
        .clone()
}

pub(super) fn limits(s: &mut Snapshot, max_enis: u32, ipv4_per_eni: u32) {
    s.instance_type = Ok(InstanceTypeFacts {
        limits: InstanceLimits {
            max_enis,
            ipv4_per_eni,
        },
        nitro: Some(true),
    });
}

pub(super) fn pod_subnet(s: &mut Snapshot) -> &mut crate::published::PublishedSubnet {
    &mut published(s).subnets[0]
}

#[test]
fn witnessed_healthy_node_is_all_ok() {
    let e = evaluate(&healthy_witnessed());
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for c in &e.checks {
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
    }
}

#[test]
fn max_pods_110_on_m5_large_with_custom_networking() {
    let mut s = healthy_witnessed();
    limits(&mut s, 3, 10);
    cluster(&mut s).node.capacity_pods = Some(110);
    // Three ENIs attached: all an m5.large has (informational).
    assert_eq!(
        reasons(&s),
        vec![Reason::MaxPodsExceedsCapacity, Reason::ENILimitReached]
    );
    let m = message(&s, Reason::MaxPodsExceedsCapacity);
    assert!(m.contains("110") && m.contains("at most 20 pods"), "{m}");
    assert!(m.contains("maxPods") && m.contains("--max-pods=20"), "{m}");
    // 20 fits; prefix delegation lifts capacity far above 110.
    cluster(&mut s).node.capacity_pods = Some(20);
    assert_eq!(reasons(&s), vec![Reason::ENILimitReached]);
    cluster(&mut s).node.capacity_pods = Some(110);
    s.pool.prefix_delegation = Some(true);
    assert!(!reasons(&s).contains(&Reason::MaxPodsExceedsCapacity));
}

#[test]
fn eniconfig_subnet_in_another_zone_or_missing() {
    let mut s = healthy_witnessed();
    pod_subnet(&mut s).availability_zone = Some("ap-southeast-1b".into());
    pod_subnet(&mut s).availability_zone_id = Some("apse1-az2".into());
    assert_eq!(reasons(&s), vec![Reason::ENIConfigSubnetZoneMismatch]);
    assert!(
        message(&s, Reason::ENIConfigSubnetZoneMismatch).contains("ap-southeast-1b (apse1-az2)")
    );

    // A subnet shared from another account: its zone has another name there,
    // but the same id. Not a mismatch.
    let mut s = healthy_witnessed();
    pod_subnet(&mut s).availability_zone = Some("ap-southeast-1c".into());
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
    // Without ids, names are all there is.
    pod_subnet(&mut s).availability_zone_id = None;
    assert_eq!(reasons(&s), vec![Reason::ENIConfigSubnetZoneMismatch]);

    let mut s = healthy_witnessed();
    unpublish_pod_subnet(&mut s);
    assert_eq!(reasons(&s), vec![Reason::ENIConfigSubnetNotFound]);
    assert_eq!(status(&s, "subnet-headroom"), CheckStatus::Unknown);
}

#[test]
fn subnet_headroom_floor_is_the_larger_of_count_and_percent() {
    assert_eq!(subnet::headroom_floor(256, 32, 10), 32);
    assert_eq!(subnet::headroom_floor(4096, 32, 10), 409);
    // A small subnet is not "nearly exhausted" for ever: the absolute floor
    // is at most a quarter of it.
    assert_eq!(subnet::headroom_floor(32, 32, 10), 8);
    assert_eq!(subnet::headroom_floor(256, 32, 10), 32);
    let mut s = healthy_witnessed();
    pod_subnet(&mut s).free_addresses = Some(31);
    assert_eq!(reasons(&s), vec![Reason::SubnetNearlyExhausted]);
    pod_subnet(&mut s).free_addresses = Some(32);
    assert!(reasons(&s).is_empty());
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn warm_pool_below_target_exhausted_and_eni_limit() {
    // Target 5 free, 2 free, room for one more ENI: below target.
    let mut s = healthy_witnessed();
    ipamd(&mut s).warm.warm_ip_target = Some(5);
    assert_eq!(reasons(&s), vec![Reason::WarmPoolBelowTarget]);
    assert!(message(&s, Reason::WarmPoolBelowTarget).contains("WARM_IP_TARGET=5"));
    // At the ENI limit the pool cannot grow: informational only, check ok.
    limits(&mut s, 3, 15);
    cluster(&mut s).node.capacity_pods = Some(30);
    assert_eq!(reasons(&s), vec![Reason::ENILimitReached]);
    assert_eq!(status(&s, "warm-pool"), CheckStatus::Ok);
    assert_eq!(evaluate(&s).overall(), CheckStatus::Ok);
    // Every address taken while the kubelet admits more pods: exhausted.
    let mut s = healthy_witnessed();
    let pods = &mut cluster(&mut s).pods;
    pods.push(pod("d", "100.64.1.13"));
    pods.push(pod("e", "100.64.1.22"));
    if let Ok(k) = &mut s.kernel {
        wire_pod(k, "100.64.1.13", 2, 13);
        wire_pod(k, "100.64.1.22", 3, 14);
    }
    ipamd(&mut s).enis[1]
        .assigned
        .push((fixture::ip("100.64.1.13"), None));
    ipamd(&mut s).enis[2]
        .assigned
        .push((fixture::ip("100.64.1.22"), None));
    assert_eq!(reasons(&s), vec![Reason::WarmPoolExhausted]);
    // Without the published facts, exhaustion is still judged.
    s.cluster_facts = Witness::Off;
    assert_eq!(reasons(&s), vec![Reason::WarmPoolExhausted]);
}

#[test]
fn minimum_ip_target_alone_sets_an_address_target() {
    let mut s = healthy_witnessed();
    ipamd(&mut s).warm = WarmTargets {
        minimum_ip_target: Some(5),
        ..WarmTargets::default()
    };
    // 3 in use and 2 free make the 5: met (WARM_ENI_TARGET's 14 does not apply).
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
    ipamd(&mut s).warm.minimum_ip_target = Some(10);
    assert_eq!(reasons(&s), vec![Reason::WarmPoolBelowTarget]);
    let m = message(&s, Reason::WarmPoolBelowTarget);
    assert!(
        m.contains("target of 7 (MINIMUM_IP_TARGET=10 with 3 in use)"),
        "{m}"
    );
}

#[test]
fn warm_eni_target_uses_the_instance_limits() {
    let mut s = healthy_witnessed();
    ipamd(&mut s).warm = WarmTargets {
        warm_eni_target: Some(1),
        ..WarmTargets::default()
    };
    // One ENI's worth (14) wanted, 2 free, room for a fourth ENI.
    assert_eq!(reasons(&s), vec![Reason::WarmPoolBelowTarget]);
    assert!(message(&s, Reason::WarmPoolBelowTarget).contains("target of 14"));
}

#[test]
fn eni_not_attached_when_the_published_facts_list_it_for_this_node() {
    let mut s = healthy_witnessed();
    published(&mut s).nodes.push(unattached("eni-0003"));
    assert_eq!(reasons(&s), vec![Reason::ENINotAttached]);
    let m = message(&s, Reason::ENINotAttached);
    assert!(
        m.contains("eni-0003")
            && m.contains("eniwatch-cluster saw at 2026-01-01T00:00:00Z that EC2")
            && m.contains("detached"),
        "{m}"
    );
    // Found by node name as well as by instance id.
    published(&mut s).nodes[0].instance_id = "i-other".into();
    assert_eq!(reasons(&s), vec![Reason::ENINotAttached]);
    // An ENI IMDS no longer lists is not this node's to judge.
    published(&mut s).nodes[0].enis_not_attached[0].id = "eni-0999".parse().unwrap();
    assert!(reasons(&s).is_empty());
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn eni_attachment_is_unknown_without_a_listing_or_with_a_truncated_one() {
    let mut s = healthy_witnessed();
    published(&mut s).enis_observed_at = None;
    assert_eq!(status(&s, "eni-attachment"), CheckStatus::Unknown);
    // This node absent from a list that was cut short: not known to be fine.
    let mut s = healthy_witnessed();
    published(&mut s).nodes_truncated = true;
    assert_eq!(status(&s, "eni-attachment"), CheckStatus::Unknown);
    // Absent from a whole list: ok.
    published(&mut s).nodes_truncated = false;
    assert_eq!(status(&s, "eni-attachment"), CheckStatus::Ok);
}

#[test]
fn ipamd_disagreeing_with_imds_or_the_kernel() {
    let mut s = healthy_witnessed();
    ipamd(&mut s).enis.pop();
    assert_eq!(reasons(&s), vec![Reason::IPAMDStateMismatch]);
    assert!(message(&s, Reason::IPAMDStateMismatch).contains("ipamd does not know"));

    let mut s = healthy_witnessed();
    ipamd(&mut s).enis[1]
        .ipv4_addresses
        .push(fixture::ip("100.64.1.99"));
    assert!(message(&s, Reason::IPAMDStateMismatch).contains("IMDS does not list"));

    // The kernel routes 100.64.1.12 to a pod; ipamd holds it as free.
    let mut s = healthy_witnessed();
    ipamd(&mut s).enis[1]
        .assigned
        .retain(|(ip, _)| ip.to_string() != "100.64.1.12");
    assert!(message(&s, Reason::IPAMDStateMismatch).contains("holds it as free"));
    assert_eq!(subjects(&s), vec!["pod/default/b".to_string()]);

    // ipamd assigned an address no pod has and no route leads to: leaked.
    let mut s = healthy_witnessed();
    ipamd(&mut s).enis[1]
        .assigned
        .push((fixture::ip("100.64.1.13"), None));
    assert!(message(&s, Reason::IPAMDStateMismatch).contains("leaked"));
    assert_eq!(subjects(&s), vec!["pod/100.64.1.13".to_string()]);
    ipamd(&mut s).enis[1]
        .assigned
        .push((fixture::ip("100.64.1.14"), Some("batch/job-7".into())));
    assert_eq!(
        subjects(&s),
        vec!["pod/100.64.1.13".to_string(), "pod/batch/job-7".to_string()],
        "one finding per address, so one passing pod cannot keep a node-wide finding alive"
    );
}

fn subjects(s: &Snapshot) -> Vec<String> {
    let mut out: Vec<String> = evaluate(s)
        .findings
        .iter()
        .map(|f| f.subject.to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn cni_settings_off_or_another_eniconfig() {
    let mut s = healthy_witnessed();
    ipamd(&mut s).custom_networking = Some(false);
    assert!(reasons(&s).contains(&Reason::CustomNetworkingDisabled));
    let mut s = healthy_witnessed();
    ipamd(&mut s).selected_eniconfig = Some("ap-southeast-1b".into());
    assert_eq!(reasons(&s), vec![Reason::ENIConfigMismatch]);
}

#[test]
fn failing_witnesses_are_unknown_and_off_ones_skipped() {
    let denied =
        Unavailable::new("cluster_facts", "configmaps is forbidden").with_kind("forbidden");
    let mut s = healthy_witnessed();
    s.cluster_facts = Witness::On(Err(denied.clone()));
    s.instance_type = Err(Unavailable::new("instance_limits", "not in the table"));
    s.ipamd = Witness::On(Err(Unavailable::new("ipamd", "connection refused")));
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for check in [
        "eniconfig-subnet",
        "subnet-headroom",
        "max-pods",
        "eni-attachment",
        "cni-settings",
        "ipamd-state",
    ] {
        assert_eq!(status(&s, check), CheckStatus::Unknown, "{check}");
    }
    // A type the table does not know: capacity alone is unknown.
    let mut s = healthy_witnessed();
    s.instance_type = Err(Unavailable::new("instance_limits", "not in the table"));
    assert!(reasons(&s).is_empty());
    assert_eq!(status(&s, "max-pods"), CheckStatus::Unknown);
    assert_eq!(status(&s, "eniconfig-subnet"), CheckStatus::Ok);
    // Off, or eniwatch-cluster not installed: skipped, never unknown.
    s.cluster_facts = Witness::Off;
    s.ipamd = Witness::Off;
    for check in ["eniconfig-subnet", "subnet-headroom", "eni-attachment"] {
        assert_eq!(status(&s, check), CheckStatus::Skipped, "{check}");
    }
    s.cluster_facts = Witness::On(Ok(ClusterFacts {
        configmap: "kube-system/eniwatch-cluster-facts".into(),
        published: None,
    }));
    for check in ["eniconfig-subnet", "subnet-headroom", "eni-attachment"] {
        assert_eq!(status(&s, check), CheckStatus::Skipped, "{check}");
        assert!(
            detail(&s, check).contains("kube-system/eniwatch-cluster-facts does not exist")
                && detail(&s, check).contains("deploy/components/cluster"),
            "{}",
            detail(&s, check)
        );
    }
}

#[test]
fn the_eniconfig_subnets_cidr_comes_from_the_published_facts_when_no_eni_is_in_it() {
    // A node created before the switch: no ENI in subnet-pods.
    let mut s = healthy_witnessed();
    if let Ok(m) = &mut s.imds {
        for e in m.enis.iter_mut().skip(1) {
            e.subnet_id = Some("subnet-node".parse().unwrap());
            e.subnet_cidr = Some(fixture::net("10.0.1.0/24"));
        }
    }
    let ctx = Context::new(&s);
    assert_eq!(
        ctx.expected.as_ref().unwrap().subnet_cidr,
        Some(fixture::net("100.64.1.0/24"))
    );
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
fn ipamds_max_eni_other_than_the_table_is_said_in_the_capacity_detail() {
    let mut s = healthy_witnessed();
    assert!(!detail(&s, "max-pods").contains("MAX_ENI"));
    ipamd(&mut s).warm.max_eni = Some(3);
    for check in ["max-pods", "warm-pool"] {
        let d = detail(&s, check);
        assert!(
            d.contains("ipamd's MAX_ENI is 3, eniwatch's table gives t3.2xlarge 4 ENIs"),
            "{check}: {d}"
        );
    }
    // -1 is ipamd's "not set".
    ipamd(&mut s).warm.max_eni = Some(-1);
    assert!(!detail(&s, "max-pods").contains("MAX_ENI"));
}
