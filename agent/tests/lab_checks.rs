//! `eniwatch check` on lab nodes: each scenario of the check issue, through the
//! real binary, in network namespaces, against the IMDS and API emulators.

#[macro_use]
mod common;

use common::*;
use eniwatch_lab::scenario::{Break, EniConfigSpec};

#[test]
fn healthy_node_is_ok() {
    lab!();
    let o = check(&scenario("healthy"), &[]);
    assert_eq!(o.code, 0, "{}", o.report);
    assert!(o.reasons().is_empty(), "{}", o.report);
    // Four ENIs on a t3.2xlarge (the embedded table's limits): all it
    // allows. Informational, not drift.
    assert_eq!(o.findings("ENILimitReached").len(), 1, "{}", o.report);
    assert_eq!(o.report["status"], "ok");
    // No eniwatch-cluster in the lab's API: its facts' checks are skipped.
    for c in o.report["checks"].as_array().unwrap() {
        let skipped = c["detail"].as_str().unwrap_or("").starts_with("needs ");
        assert_eq!(c["status"], if skipped { "skipped" } else { "ok" }, "{c}");
    }
    assert_eq!(o.report["checks"].as_array().unwrap().len(), 16);
    assert_eq!(o.report["node"]["instance_type"], "t3.2xlarge");
    assert_eq!(o.report["eniconfig"]["name"], "ap-southeast-1a");
    assert_eq!(
        o.report["eniconfig"]["selected_by"],
        "label topology.kubernetes.io/zone"
    );
    assert_eq!(o.report["eniconfig"]["subnet_cidr"], "100.64.1.0/24");
    assert_eq!(o.report["pods"]["eniconfig_subnet"], 38);
    assert_eq!(o.report["pods"]["host_network"], 2);
    let enis = o.report["enis"].as_array().unwrap();
    assert_eq!(enis.len(), 4);
    assert_eq!(enis[1]["link"], "eth1");
    assert_eq!(enis[1]["role"], "secondary");
    assert_eq!(enis[1]["ips_total"], 14);
    let used: u64 = enis.iter().map(|e| e["ips_used"].as_u64().unwrap()).sum();
    assert_eq!(used, 38);
}

#[test]
fn pre_migration_node() {
    lab!();
    let o = check(&scenario("pre-migration"), &[]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.reason_set(),
        vec!["CustomNetworkingNotApplied", "PodIPOutsideENIConfigSubnet"]
    );
    assert_eq!(o.findings("PodIPOutsideENIConfigSubnet").len(), 38);
    let msg = o.findings("PodIPOutsideENIConfigSubnet")[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("subnet-0node1a"), "{msg}");
    assert_eq!(o.report["pods"]["node_subnet"], 38);
}

#[test]
fn one_secondary_eni_in_the_wrong_subnet() {
    lab!();
    let mut s = scenario("healthy");
    s.enis[3].subnet = "subnet-0node1a".into();
    s.enis[3].ips = (50..65)
        .map(|i| format!("10.0.1.{i}").parse().unwrap())
        .collect();
    s.pods.retain(|p| {
        p.ip.is_none_or(|ip| {
            !(ip.octets()[2] == 1 && ip.octets()[0] == 100 && ip.octets()[3] >= 50)
        })
    });
    let o = check(&s, &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.reasons(), vec!["SecondaryENIWrongSubnet"]);
    let f = &o.findings("SecondaryENIWrongSubnet")[0];
    assert_eq!(f["subject"]["kind"], "ENI");
    assert_eq!(f["subject"]["name"], "eni-0a000000000000003");
}

#[test]
fn wrong_security_groups() {
    lab!();
    let mut s = scenario("healthy");
    s.enis[2].security_groups = vec!["sg-0legacy".into()];
    let o = check(&s, &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.reasons(), vec!["SecondaryENIWrongSecurityGroups"]);
    assert_eq!(
        o.findings("SecondaryENIWrongSecurityGroups")[0]["subject"]["name"],
        "eni-0a000000000000002"
    );
}

#[test]
fn eniconfig_missing_for_the_zone() {
    lab!();
    let mut s = scenario("healthy");
    s.eniconfigs.retain(|e| e.name != "ap-southeast-1a");
    let o = check(&s, &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.reasons(), vec!["ENIConfigNotFound"]);
    assert_eq!(o.check_status("eni-subnet"), "unknown");
    assert_eq!(o.report["eniconfig"]["found"], false);
}

#[test]
fn annotation_overrides_the_label() {
    lab!();
    let mut s = scenario("healthy");
    // The zone's ENIConfig now names another subnet; the annotation picks the right one.
    s.eniconfigs[0].subnet = "subnet-0pods1b".into();
    s.eniconfigs.push(EniConfigSpec {
        name: "pods-1a-special".into(),
        subnet: "subnet-0pods1a".into(),
        security_groups: vec!["sg-0pods".into()],
    });
    let without = check(&s, &[]);
    assert_eq!(without.code, 1, "the label alone selects the wrong subnet");
    assert!(without
        .reason_set()
        .contains(&"CustomNetworkingNotApplied".to_string()));
    s.node.annotations.insert(
        "k8s.amazonaws.com/eniConfig".into(),
        "pods-1a-special".into(),
    );
    let o = check(&s, &[]);
    assert_eq!(o.code, 0, "{:?}", o.reasons());
    assert_eq!(o.report["eniconfig"]["name"], "pods-1a-special");
    assert_eq!(
        o.report["eniconfig"]["selected_by"],
        "annotation k8s.amazonaws.com/eniConfig"
    );
}

#[test]
fn data_plane_breaks_each_give_their_reason() {
    lab!();
    let cases = [
        (
            Break::RemovePodRoute {
                pod: "shop/web-00".into(),
            },
            "PodRouteMissing",
        ),
        (
            Break::RemovePodRule {
                pod: "shop/web-00".into(),
                priority: 512,
            },
            "PodRuleMissing",
        ),
        (
            Break::RemovePodRule {
                pod: "shop/web-00".into(),
                priority: 1536,
            },
            "PodRuleMissing",
        ),
        (
            Break::PodRuleTable {
                pod: "shop/web-00".into(),
                table: 3,
            },
            "PodRuleWrongTable",
        ),
    ];
    for (brk, reason) in cases {
        let mut s = scenario("healthy");
        s.breaks = vec![brk.clone()];
        let o = check(&s, &[]);
        assert_eq!(o.code, 1, "{brk:?}");
        assert_eq!(o.reasons(), vec![reason], "{brk:?}");
        let f = &o.findings(reason)[0];
        assert_eq!(f["subject"]["kind"], "Pod");
        assert_eq!(f["subject"]["name"], "web-00");
        assert_eq!(f["subject"]["namespace"], "shop");
    }
}

#[test]
fn eni_not_configured_variants() {
    lab!();
    let mac = "02:1a:00:00:00:02".to_string();
    let cases = [
        Break::RemoveEniLink { mac: mac.clone() },
        Break::EniLinkDown { mac: mac.clone() },
        Break::RemoveEniAddress { mac: mac.clone() },
        Break::RemoveEniDefaultRoute { mac },
    ];
    for brk in cases {
        let mut s = scenario("healthy");
        s.breaks = vec![brk.clone()];
        let o = check(&s, &[]);
        assert_eq!(o.code, 1, "{brk:?}");
        assert_eq!(o.reasons(), vec!["ENINotConfigured"], "{brk:?}");
        assert_eq!(
            o.findings("ENINotConfigured")[0]["subject"]["name"],
            "eni-0a000000000000002"
        );
    }
}

#[test]
fn prefix_delegation_sgp_and_multi_card_have_no_false_findings() {
    lab!();
    for name in [
        "prefix-delegation",
        "security-groups-for-pods",
        "multi-card-efa",
    ] {
        let o = check(&scenario(name), &[]);
        assert_eq!(
            o.code,
            0,
            "{name}: {:?}\n{}",
            o.reasons(),
            o.report["checks"]
        );
    }
    let o = check(&scenario("security-groups-for-pods"), &[]);
    assert_eq!(o.report["pods"]["branch_eni"], 2);
    let roles: Vec<&str> = o.report["enis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["role"].as_str().unwrap())
        .collect();
    assert!(roles.contains(&"trunk"), "{roles:?}");
    let o = check(&scenario("multi-card-efa"), &[]);
    let roles: Vec<&str> = o.report["enis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"efa-only") && roles.contains(&"unmanaged"),
        "{roles:?}"
    );
}

#[test]
fn drifted_demo_node() {
    lab!();
    let o = check(&scenario("drifted"), &[]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.reason_set(),
        vec![
            "ENINotConfigured",
            "PodIPOutsideENIConfigSubnet",
            "PodRouteMissing",
            "PodRuleWrongTable"
        ]
    );
}

// Standard mode, EKS Auto Mode and nodes out of scope: lab_modes.rs.

#[test]
fn malformed_eniconfig_is_one_finding() {
    lab!();
    let mut s = scenario("healthy");
    s.eniconfigs[0].security_groups = vec!["web-servers".into()];
    let o = check(&s, &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(o.reasons(), vec!["ENIConfigInvalid"]);
    let f = &o.findings("ENIConfigInvalid")[0];
    assert_eq!(f["subject"]["kind"], "ENIConfig");
    assert_eq!(f["subject"]["name"], "ap-southeast-1a");
    assert_eq!(o.check_status("eni-security-groups"), "unknown");
}

#[test]
fn imds_without_security_groups_is_unknown_not_drift() {
    lab!();
    let mut s = scenario("healthy");
    s.enis[2].security_groups.clear();
    let o = check(&s, &[]);
    assert_eq!(o.code, 2, "{}", o.report);
    assert!(o.reasons().is_empty(), "{:?}", o.reasons());
    assert_eq!(o.check_status("eni-security-groups"), "unknown");
    let detail = o.report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "eni-security-groups")
        .unwrap()["detail"]
        .to_string();
    assert!(
        detail.contains("security-group-ids of ENI eni-0a000000000000002"),
        "{detail}"
    );
}

#[test]
fn a_rule_ahead_of_the_cnis_shadows_pod_traffic() {
    lab!();
    // A host tool's `100: from all lookup 200`, table 200 routing out of the
    // primary ENI: every pod's traffic leaves by eth0.
    let mut s = scenario("healthy");
    s.breaks = vec![Break::ShadowingRule {
        priority: 100,
        from: None,
        table: 200,
        via_mac: "02:1a:00:00:00:00".into(),
    }];
    let o = check(&s, &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(o.reasons(), vec!["PodTrafficShadowed"], "{}", o.report);
    assert_eq!(o.check_status("pod-traffic"), "drift");
    // The CNI's own rules are all there: pod-rules alone would say ok.
    assert_eq!(o.check_status("pod-rules"), "ok");
    let f = &o.findings("PodTrafficShadowed")[0];
    assert_eq!(f["subject"]["kind"], "Node");
    assert_eq!(f["severity"], "error");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.starts_with(
            "rule '100: from all lookup 200' comes before the CNI's rules and catches the \
             traffic of 38 pods: traffic from 100.64.1.11 (pod shop/web-00) goes out of eth0 \
             via 10.0.1.1 (table 200, route 0.0.0.0/0) instead of out of eth1 (table 2)"
        ),
        "{m}"
    );
    // The bundled scenario says the same.
    let o = check(&scenario("shadowed-data-plane"), &[]);
    assert_eq!(o.code, 1, "{}", o.report);
    assert_eq!(o.reasons(), vec!["PodTrafficShadowed"], "{}", o.report);
    // The same rule only for the node's own address (as nm-cloud-setup
    // adds them): no pod traffic is caught.
    let mut s = scenario("healthy");
    s.breaks = vec![Break::ShadowingRule {
        priority: 100,
        from: Some("10.0.1.10/32".parse().unwrap()),
        table: 200,
        via_mac: "02:1a:00:00:00:00".into(),
    }];
    let o = check(&s, &[]);
    assert_eq!(o.code, 0, "{}", o.report);
    assert_eq!(o.check_status("pod-traffic"), "ok");
}
