//! EC2 and ipamd as witnesses, through the real binary on lab nodes: moto's
//! EC2 server seeded from the scenario, the ipamd emulator, and EC2 faults.
//! Each scenario raises its reason; the healthy node raises none.

#[macro_use]
mod common;

use common::*;
use eniwatch_lab::scenario::{Ec2Fault, Ec2Spec, Scenario};

fn with_ec2(mut s: Scenario) -> Scenario {
    s.ec2 = Some(Ec2Spec::default());
    s
}

#[test]
fn healthy_node_with_ec2_and_ipamd_is_ok() {
    lab_ec2!();
    let o = check(&with_ec2(scenario("healthy")), &[]);
    assert_eq!(o.code, 0, "{}", o.report);
    // Four ENIs on a t3.2xlarge: all it allows. Informational, not drift.
    assert_eq!(o.reasons(), vec!["ENILimitReached"], "{}", o.report);
    for c in o.report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
    }
    assert_eq!(
        o.report["capacity"]["capacity"]["Ok"], 44,
        "{}",
        o.report["capacity"]
    );
    assert_eq!(o.report["subnet"]["cidr"], "100.64.1.0/24");
    assert!(o.report["subnet"]["available_ips"].as_u64().unwrap() > 200);
}

#[test]
fn max_pods_110_on_an_m5_large() {
    lab_ec2!();
    let o = check(&scenario("max-pods-m5-large"), &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(o.reasons(), vec!["MaxPodsExceedsCapacity"], "{}", o.report);
    let m = o.findings("MaxPodsExceedsCapacity")[0]["message"].to_string();
    assert!(m.contains("110") && m.contains("at most 20 pods"), "{m}");
}

#[test]
fn warm_pool_below_target_while_enis_can_be_added() {
    lab_ec2!();
    let mut s = scenario("max-pods-m5-large");
    s.node.max_pods = Some(20);
    s.ipamd.warm_ip_target = Some(8);
    let o = check(&s, &[]);
    assert_eq!(o.reasons(), vec!["WarmPoolBelowTarget"], "{}", o.report);
    assert!(o.findings("WarmPoolBelowTarget")[0]["message"]
        .to_string()
        .contains("WARM_IP_TARGET=8"));
}

#[test]
fn eniconfig_subnet_in_another_zone() {
    lab_ec2!();
    let mut s = with_ec2(scenario("healthy"));
    s.eniconfigs[0].subnet = "subnet-0pods1b".into();
    let o = check(&s, &[]);
    assert_eq!(
        o.findings("ENIConfigSubnetZoneMismatch").len(),
        1,
        "{}",
        o.report
    );
    assert!(o.findings("ENIConfigSubnetNotFound").is_empty());
}

#[test]
fn eniconfig_subnet_that_does_not_exist() {
    lab_ec2!();
    let mut s = with_ec2(scenario("healthy"));
    s.eniconfigs[0].subnet = "subnet-0123456789abcdef0".into();
    let o = check(&s, &[]);
    assert_eq!(
        o.findings("ENIConfigSubnetNotFound").len(),
        1,
        "{}",
        o.report
    );
    assert_eq!(o.check_status("subnet-headroom"), "unknown");
}

#[test]
fn subnet_nearly_full() {
    lab_ec2!();
    let mut s = with_ec2(scenario("healthy"));
    s.subnets[1].available_ip_address_count = Some(20);
    let o = check(&s, &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(
        o.reasons(),
        vec!["ENILimitReached", "SubnetNearlyExhausted"]
    );
    assert_eq!(o.report["subnet"]["available_ips"], 20);
}

#[test]
fn warm_pool_drained_with_pods_still_coming() {
    lab!();
    let mut s = scenario("healthy");
    s.node.max_pods = Some(50);
    // Take every free address of the secondary ENIs.
    let taken: Vec<_> = s.pods.iter().filter_map(|p| p.ip).collect();
    let free: Vec<_> = s
        .enis
        .iter()
        .filter(|e| e.device_number > 0)
        .flat_map(|e| e.ips.iter().skip(1).copied())
        .filter(|ip| !taken.contains(ip))
        .collect();
    assert!(!free.is_empty());
    let template = s.pods.iter().find(|p| !p.host_network).unwrap().clone();
    for (n, ip) in free.into_iter().enumerate() {
        let mut p = template.clone();
        p.name = format!("extra-{n}");
        p.ip = Some(ip);
        s.pods.push(p);
    }
    let o = check(&s, &[]);
    assert_eq!(o.reasons(), vec!["WarmPoolExhausted"], "{}", o.report);
}

#[test]
fn eni_not_attached_in_ec2() {
    lab_ec2!();
    let mut s = with_ec2(scenario("healthy"));
    let detached = s.enis[3].id.clone();
    s.ec2 = Some(Ec2Spec {
        fault: None,
        detached: vec![detached],
    });
    let o = check(&s, &[]);
    assert_eq!(o.findings("ENINotAttached").len(), 1, "{}", o.report);
    assert_eq!(o.code, 1);
}

#[test]
fn ipamd_disagreeing_with_imds() {
    lab!();
    let mut s = scenario("healthy");
    s.ipamd.forget_enis = vec![s.enis[2].id.clone()];
    let o = check(&s, &[]);
    assert_eq!(o.reasons(), vec!["IPAMDStateMismatch"], "{}", o.report);
    let m = o.findings("IPAMDStateMismatch")[0]["message"].to_string();
    assert!(m.contains("ipamd does not know"), "{m}");
}

#[test]
fn ipamd_settings_disagreeing_with_the_cluster() {
    lab!();
    let mut s = scenario("healthy");
    s.ipamd.custom_networking = Some(false);
    assert_eq!(check(&s, &[]).reasons(), vec!["CustomNetworkingDisabled"]);
    let mut s = scenario("healthy");
    s.ipamd.selected_eniconfig = Some("ap-southeast-1b".into());
    assert_eq!(check(&s, &[]).reasons(), vec!["ENIConfigMismatch"]);
    // The pre-v1.20 shape of /v1/enis says the same.
    let mut s = scenario("healthy");
    s.ipamd.shape = Some(eniwatch_lab::scenario::IpamdShape::PreV120);
    let o = check(&s, &[]);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    // ... and is read: its checks are ok, not unknown.
    assert_eq!(o.report["status"], "ok", "{}", o.report);
    for c in ["ipamd-state", "cni-settings"] {
        assert_eq!(o.check_status(c), "ok", "{c}: {}", o.report);
    }
    // ipamd not there at all: its checks are unknown, nothing else changes.
    let mut s = scenario("healthy");
    s.ipamd.served = false;
    let o = check(&s, &[]);
    assert_eq!(o.code, 2, "{}", o.report);
    assert!(o.reasons().is_empty());
    assert_eq!(o.check_status("ipamd-state"), "unknown");
}

#[test]
fn ec2_throttling_and_access_denied_are_unknown_not_drift() {
    lab!();
    for fault in [Ec2Fault::Throttle, Ec2Fault::Deny] {
        let mut s = scenario("healthy");
        s.ec2 = Some(Ec2Spec {
            fault: Some(fault),
            detached: vec![],
        });
        let o = check(&s, &[]);
        assert_eq!(o.code, 2, "{fault:?}: {}", o.report);
        assert!(o.reasons().is_empty(), "{fault:?}: {}", o.report);
        for c in [
            "eniconfig-subnet",
            "subnet-headroom",
            "max-pods",
            "eni-attachment",
        ] {
            assert_eq!(o.check_status(c), "unknown", "{fault:?} {c}");
        }
        for c in ["eni-subnet", "pod-subnet", "pod-routes", "ipamd-state"] {
            assert_eq!(o.check_status(c), "ok", "{fault:?} {c}");
        }
        let ec2 = o.report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "ec2")
            .cloned()
            .unwrap();
        let want = match fault {
            Ec2Fault::Throttle => "RequestLimitExceeded",
            Ec2Fault::Deny => "UnauthorizedOperation",
        };
        assert!(ec2["error"].to_string().contains(want), "{ec2}");
    }
}

#[test]
fn ipamd_losing_addresses_imds_lists() {
    lab!();
    // ipamd lost a pod's address: IMDS lists it, the kernel routes it to the
    // pod, the API gives it to the pod; ipamd holds it neither as free nor
    // as assigned. Also a free address of the last ENI.
    let mut s = scenario("healthy");
    s.ipamd.forget_ips = vec![
        "100.64.1.13".parse().unwrap(),
        "100.64.1.62".parse().unwrap(),
    ];
    let o = check(&s, &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(
        o.reasons(),
        vec!["IPAMDStateMismatch", "IPAMDStateMismatch"],
        "{}",
        o.report
    );
    assert_eq!(o.check_status("ipamd-state"), "drift");
    let found = o.findings("IPAMDStateMismatch");
    let pod = found
        .iter()
        .find(|f| f["subject"]["kind"] == "Pod")
        .expect("a finding for the pod");
    assert_eq!(pod["subject"]["namespace"], "shop");
    assert_eq!(pod["subject"]["name"], "worker-02");
    assert_eq!(
        pod["message"],
        "IMDS lists 100.64.1.13 on ENI eni-0a000000000000001 and the kernel routes it to pod \
         shop/worker-02, but ipamd does not hold it: ipamd can hand that address to a second \
         pod once it re-adds it as free"
    );
    let eni = found
        .iter()
        .find(|f| f["subject"]["kind"] == "ENI")
        .expect("a finding for the ENI");
    assert_eq!(eni["subject"]["name"], "eni-0a000000000000003");
    assert!(
        eni["message"].to_string().contains("100.64.1.62")
            && eni["message"].to_string().contains("no pod uses it"),
        "{}",
        eni["message"]
    );
}

#[test]
fn ipamd_under_prefix_delegation_holding_prefixes_is_ok() {
    lab!();
    // ipamd lists only the addresses it handed out from a prefix: the rest
    // of the prefix is not lost.
    let o = check(&scenario("prefix-delegation"), &[]);
    assert_eq!(o.code, 0, "{:?}\n{}", o.reasons(), o.report["checks"]);
    assert_eq!(o.check_status("ipamd-state"), "ok");
}
