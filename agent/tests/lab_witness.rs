//! ipamd as a witness and the capacity checks from the embedded instance
//! table, through the real binary on lab nodes (the ipamd emulator; no EC2:
//! the node agent calls none). Each scenario raises its reason; the healthy
//! node raises none.

#[macro_use]
mod common;

use common::*;

#[test]
fn max_pods_110_on_an_m5_large() {
    lab!();
    let o = check(&scenario("max-pods-m5-large"), &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(o.reasons(), vec!["MaxPodsExceedsCapacity"], "{}", o.report);
    let m = o.findings("MaxPodsExceedsCapacity")[0]["message"].to_string();
    assert!(m.contains("110") && m.contains("at most 20 pods"), "{m}");
}

#[test]
fn warm_pool_below_target_while_enis_can_be_added() {
    lab!();
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
    // max-pods 50 is above the t3.2xlarge's 44 (the embedded table's limits).
    assert_eq!(
        o.reasons(),
        vec!["MaxPodsExceedsCapacity", "WarmPoolExhausted"],
        "{}",
        o.report
    );
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
