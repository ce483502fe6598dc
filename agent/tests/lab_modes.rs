//! `eniwatch check` in each networking mode, on lab nodes: standard mode with
//! a correct and a wrong secondary ENI, EKS Auto Mode with a NodeClass
//! resolved by id and by tag, an IPv6 node out of scope. Each asserts the
//! verdict and that no finding is raised where none may be.

#[macro_use]
mod common;

use common::*;

#[test]
fn standard_mode_in_the_node_subnet_is_ok() {
    lab!();
    let s = scenario("no-eniconfig");
    let o = check(&s, &[]);
    assert_eq!(o.code, 0, "{}", o.report);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.report["status"], "ok");
    assert_eq!(o.report["mode"]["kind"], "standard");
    assert_eq!(o.report["mode"]["subnets"][0]["id"], "subnet-0node1a");
    assert_eq!(o.report["not_applicable"], serde_json::Value::Null);
    for c in ["eniconfig", "eniconfig-subnet"] {
        assert_eq!(o.check_status(c), "not_applicable", "{c}");
    }
    // Judged in standard mode: placement, groups, max-pods by the standard
    // formula (44 fits 4 × 14 + 2 = 58), the data plane and ipamd.
    for c in [
        "eni-subnet",
        "eni-security-groups",
        "pod-subnet",
        "max-pods",
        "eni-configured",
        "pod-ip-on-eni",
        "pod-routes",
        "pod-rules",
        "cni-settings",
        "ipamd-state",
    ] {
        assert_eq!(o.check_status(c), "ok", "{c}");
    }
    assert_eq!(o.report["pods"]["node_subnet"], 38);
    assert_eq!(o.report["capacity"]["custom_networking"], false);
    // Without ipamd: the same verdict, cni-settings skipped.
    let o = check(&s, &["--no-ipamd"]);
    assert_eq!(o.code, 0, "{}", o.report);
    assert_eq!(o.report["mode"]["kind"], "standard");
    assert_eq!(o.check_status("cni-settings"), "skipped");
}

#[test]
fn standard_mode_flags_a_secondary_eni_outside_the_node_and_tagged_subnets() {
    lab!();
    let mut s = scenario("standard-mode-wrong-eni");
    let o = check(&s, &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(o.report["mode"]["kind"], "standard");
    assert_eq!(
        o.reason_set(),
        vec!["PodIPUnexpectedSubnet", "SecondaryENIUnexpectedSubnet"]
    );
    let eni = &o.findings("SecondaryENIUnexpectedSubnet");
    assert_eq!(eni.len(), 1, "{eni:?}");
    let msg = eni[0]["message"].as_str().unwrap();
    assert!(msg.contains("eni-0a000000000000003"), "{msg}");
    assert!(msg.contains("subnet-0pods1a"), "{msg}");
    assert_eq!(o.findings("PodIPUnexpectedSubnet").len(), 10);
    // No custom-networking reason in standard mode.
    for r in [
        "SecondaryENIWrongSubnet",
        "PodIPOutsideENIConfigSubnet",
        "CustomNetworkingNotApplied",
    ] {
        assert!(o.findings(r).is_empty(), "{r}");
    }

    // The subnet tagged kubernetes.io/role/cni=1: enhanced subnet discovery
    // put the ENI there, and that is right.
    s.cluster.cni_subnets = Some(
        [(
            "ap-southeast-1a".to_string(),
            vec!["subnet-0pods1a".to_string()],
        )]
        .into(),
    );
    let o = check(&s, &[]);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.check_status("eni-subnet"), "ok");

    // Without eniwatch-cluster's facts the tag is unknown: unknown, no finding.
    s.cluster.cni_subnets = None;
    let o = check(&s, &[]);
    assert_eq!(o.code, 2, "{}", o.report);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.check_status("eni-subnet"), "unknown");
    assert_eq!(o.check_status("pod-subnet"), "unknown");
}

/// Auto Mode: placement judged against the NodeClass, ipamd and the kernel
/// layout unknown in words, no finding.
fn assert_auto_mode(name: &str, class: &str) -> Outcome {
    let o = check(&scenario(name), &[]);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.report["mode"]["kind"], "eks_auto_mode");
    assert_eq!(o.report["mode"]["node_class"], class);
    assert_eq!(o.report["mode"]["subnets"][0]["id"], "subnet-0pods1a");
    assert_eq!(o.report["mode"]["security_groups"][0], "sg-0pods");
    for c in [
        "eni-subnet",
        "eni-security-groups",
        "pod-subnet",
        "pod-ip-on-eni",
    ] {
        assert_eq!(o.check_status(c), "ok", "{c}: {}", o.report);
    }
    for c in ["eniconfig", "eniconfig-subnet"] {
        assert_eq!(o.check_status(c), "not_applicable", "{c}");
    }
    for c in [
        "cni-settings",
        "ipamd-state",
        "pod-routes",
        "pod-rules",
        "max-pods",
    ] {
        assert_eq!(o.check_status(c), "unknown", "{c}");
    }
    let detail = o.report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pod-rules")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("not confirmed on EKS Auto Mode"),
        "{detail}"
    );
    assert_eq!(o.report["pods"]["eniconfig_subnet"], 38);
    assert_eq!(o.code, 2, "unknown checks make the verdict inconclusive");
    o
}

#[test]
fn auto_mode_with_a_nodeclass_by_id() {
    lab!();
    assert_auto_mode("auto-mode", "default");
}

#[test]
fn auto_mode_with_a_nodeclass_by_tag() {
    lab!();
    assert_auto_mode("auto-mode-by-tag", "tagged-pods");
}

#[test]
fn auto_mode_pods_outside_the_nodeclass_subnets_are_found() {
    lab!();
    let mut s = scenario("auto-mode");
    s.cluster.node_classes[0].pod_subnets = Some(
        [(
            "ap-southeast-1a".to_string(),
            vec!["subnet-0node1a".to_string()],
        )]
        .into(),
    );
    let o = check(&s, &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(
        o.reason_set(),
        vec!["PodIPUnexpectedSubnet", "SecondaryENIUnexpectedSubnet"]
    );
    // The class not published: unknown, never a finding.
    s.cluster.node_classes[0].name = "elsewhere".into();
    let o = check(&s, &[]);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.check_status("eni-subnet"), "unknown");
}

#[test]
fn an_ipv6_node_is_not_applicable() {
    lab!();
    let o = check(&scenario("ipv6"), &[]);
    assert_eq!(o.code, 0, "{}", o.report);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.report["status"], "not_applicable");
    assert_eq!(o.report["mode"]["kind"], "not_applicable");
    assert_eq!(o.report["mode"]["cause"], "ipv6");
    assert_eq!(o.report["not_applicable"]["reason"], "IPv6Node");
    for c in o.report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "not_applicable", "{c}");
    }
    assert!(o.report["findings"].as_array().unwrap().is_empty());
}
