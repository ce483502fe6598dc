//! Standard mode (no ENIConfig, custom networking off) and nodes out of
//! scope. Standard mode is judged against the node's subnet (and CNI-tagged
//! subnets of its zone) and never raises a finding it cannot prove; an
//! out-of-scope node has every check not applicable and exits 0.

use super::fixture::*;
use super::mode::{NetworkingMode, OutOfScope, NEEDS_ENICONFIG};
use super::*;
use crate::model::*;
use crate::published::ZoneSubnets;
use crate::report::{render_text, Report};

/// The report as JSON, the way `eniwatch check --output json` prints it.
pub(super) fn json(s: &Snapshot) -> serde_json::Value {
    let report = Report::build(s, &evaluate(s));
    serde_json::to_value(&report).unwrap()
}

fn no_eniconfig() -> Snapshot {
    let mut s = healthy();
    cluster(&mut s).eni_configs = Some(vec![]);
    s
}

/// Standard mode as the VPC CNI builds it: secondaries with the primary
/// ENI's groups.
fn standard() -> Snapshot {
    let mut s = no_eniconfig();
    for e in imds(&mut s).enis.iter_mut() {
        e.security_groups = vec!["sg-node".parse().unwrap()];
    }
    s
}

/// eniwatch-cluster's facts with these CNI-tagged subnets in the node's zone.
fn tagged(s: &mut Snapshot, subnets: &[&str]) {
    s.cluster_facts = Witness::On(Ok(ClusterFacts {
        configmap: "kube-system/eniwatch-cluster-facts".into(),
        published: Some(published_healthy()),
    }));
    published(s).cni_subnets = Some(vec![ZoneSubnets {
        availability_zone: "ap-southeast-1a".into(),
        availability_zone_id: Some("apse1-az1".into()),
        subnet_ids: subnets.iter().map(|x| x.parse().unwrap()).collect(),
    }]);
}

#[test]
fn no_eniconfig_is_standard_mode_and_unknown_without_facts_never_drift() {
    // Was "CustomNetworkingNotConfigured" (not applicable); now judged.
    let s = standard();
    let e = evaluate(&s);
    assert_eq!(e.mode, NetworkingMode::Standard);
    assert_eq!(e.not_applicable, None);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for name in NEEDS_ENICONFIG {
        assert_eq!(status(&s, name), CheckStatus::NotApplicable, "{name}");
    }
    // The secondaries are in subnet-pods: maybe CNI-tagged, unknown.
    assert_eq!(status(&s, "eni-subnet"), CheckStatus::Unknown);
    assert_eq!(status(&s, "pod-subnet"), CheckStatus::Unknown);
    for name in ["eni-configured", "pod-ip-on-eni", "pod-routes", "pod-rules"] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
    let r = json(&s);
    assert_eq!(r["mode"]["kind"], "standard");
    assert_eq!(r["mode"]["subnets"][0]["id"], "subnet-node");
    assert_eq!(r["mode"]["subnets_complete"], false);
    assert_eq!(r["not_applicable"], serde_json::Value::Null);
    assert_eq!(r["exit_code"], 2);
    let text = render_text(&Report::build(&s, &e));
    assert!(text.contains("Mode       standard mode"), "{text}");
    assert!(text.contains("n/a      eniconfig"), "{text}");
}

#[test]
fn standard_mode_with_the_secondaries_in_a_cni_tagged_subnet_is_ok() {
    let mut s = standard();
    tagged(&mut s, &["subnet-pods"]);
    let e = evaluate_declared(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for name in ["eni-subnet", "eni-security-groups", "pod-subnet"] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
    assert_eq!(json(&s)["mode"]["subnets"][1]["id"], "subnet-pods");
}

#[test]
fn standard_mode_in_the_node_subnet_is_ok_without_facts() {
    let mut s = standard();
    for e in imds(&mut s).enis.iter_mut() {
        e.subnet_id = Some("subnet-node".parse().unwrap());
        e.subnet_cidr = Some(net("10.0.1.0/24"));
    }
    // Pod IPs in the node subnet, carried by the secondaries.
    let addrs = ["10.0.1.100", "10.0.1.101", "10.0.1.102"];
    imds(&mut s).enis[1].local_ipv4s = vec![ip("10.0.1.99"), ip(addrs[0]), ip(addrs[1])];
    imds(&mut s).enis[2].local_ipv4s = vec![ip("10.0.1.98"), ip(addrs[2])];
    for (p, a) in cluster(&mut s).pods.iter_mut().zip(addrs) {
        p.ip = Some(ip(a));
    }
    for name in ["eni-subnet", "eni-security-groups", "pod-subnet"] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
    assert!(!reasons(&s).contains(&Reason::SecondaryENIUnexpectedSubnet));
    assert!(!reasons(&s).contains(&Reason::PodIPUnexpectedSubnet));
    assert_eq!(evaluate(&s).facts.placement.counts.node_subnet, 3);
}

#[test]
fn standard_mode_flags_enis_and_pods_outside_the_node_and_tagged_subnets() {
    let mut s = standard();
    tagged(&mut s, &[]);
    let r = reasons(&s);
    let count = |x: Reason| r.iter().filter(|y| **y == x).count();
    assert_eq!(count(Reason::SecondaryENIUnexpectedSubnet), 2, "{r:?}");
    assert_eq!(count(Reason::PodIPUnexpectedSubnet), 3, "{r:?}");
    assert!(!r.contains(&Reason::SecondaryENIWrongSubnet), "{r:?}");
    assert!(!r.contains(&Reason::PodIPOutsideENIConfigSubnet), "{r:?}");
    let e = evaluate(&s);
    let f = e
        .findings
        .iter()
        .find(|f| f.reason == Reason::SecondaryENIUnexpectedSubnet)
        .unwrap();
    assert!(f.message.starts_with("standard mode"), "{}", f.message);
    assert!(f.message.contains("subnet-pods"), "{}", f.message);
    assert_eq!(json(&s)["exit_code"], 1);
}

#[test]
fn standard_mode_judges_groups_against_the_primary_eni() {
    let mut s = no_eniconfig();
    tagged(&mut s, &["subnet-pods"]);
    // The secondaries carry sg-pods, the primary sg-node.
    assert_eq!(
        reasons(&s),
        vec![
            Reason::SecondaryENIWrongSecurityGroups,
            Reason::SecondaryENIWrongSecurityGroups
        ]
    );
}

#[test]
fn standard_mode_max_pods_uses_the_standard_formula() {
    // t3.2xlarge: 4 × (15 − 1) + 2 = 58 standard, 44 under custom networking.
    let mut s = standard();
    cluster(&mut s).node.capacity_pods = Some(58);
    assert_eq!(status(&s, "max-pods"), CheckStatus::Ok);
    cluster(&mut s).node.capacity_pods = Some(59);
    let e = evaluate(&s);
    let f = e
        .findings
        .iter()
        .find(|f| f.reason == Reason::MaxPodsExceedsCapacity)
        .expect("max-pods above 58");
    assert!(f.message.contains("the standard mode"), "{}", f.message);
}

#[test]
fn ipamd_reporting_custom_networking_off_is_standard_mode() {
    let mut s = healthy_witnessed();
    cluster(&mut s).eni_configs = Some(vec![]);
    ipamd(&mut s).custom_networking = Some(false);
    ipamd(&mut s).selected_eniconfig = None;
    assert_eq!(evaluate(&s).mode, NetworkingMode::Standard);
    for name in ["cni-settings", "eni-configured", "pod-rules", "ipamd-state"] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
}

#[test]
fn ipamd_running_custom_networking_without_eniconfig_is_still_an_error() {
    let mut s = healthy_witnessed();
    cluster(&mut s).eni_configs = Some(vec![]);
    let e = evaluate(&s);
    assert!(e.mode.is_custom_networking());
    assert!(e
        .findings
        .iter()
        .any(|f| f.reason == Reason::ENIConfigNotFound && f.severity == Severity::Error));
    assert_eq!(status(&s, "eni-subnet"), CheckStatus::Unknown);
    assert_eq!(json(&s)["exit_code"], 1);
}

#[test]
fn eniconfigs_elsewhere_keep_the_node_judged() {
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].name = "ap-southeast-1b".into();
    assert!(evaluate(&s).mode.is_custom_networking());
    assert_eq!(reasons(&s), vec![Reason::ENIConfigNotFound]);
}

/// Every check not applicable, no finding, exit 0, the cause in the report.
fn assert_out_of_scope(s: &Snapshot, cause: &str) {
    let e = evaluate(s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for c in &e.checks {
        assert_eq!(c.status, CheckStatus::NotApplicable, "{}", c.name);
    }
    assert!(mode::out_of_scope_in(&e.checks));
    let r = json(s);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["mode"]["kind"], "not_applicable");
    assert_eq!(r["mode"]["cause"], cause);
    assert_eq!(r["not_applicable"]["cause"], cause);
    let text = render_text(&Report::build(s, &e));
    assert!(text.contains("NOT APPLICABLE"), "{text}");
    assert!(text.contains("(exit 0)"), "{text}");
}

#[test]
fn no_vpc_cni_is_out_of_scope_only_without_an_aws_node_pod() {
    let mut s = no_eniconfig();
    s.ipamd = Witness::On(Err(Unavailable::new("ipamd", "connection refused")));
    // The fixture runs aws-node: ipamd down is then unknown, not out of scope.
    assert_eq!(evaluate(&s).mode, NetworkingMode::Standard);
    cluster(&mut s)
        .pods
        .retain(|p| p.name.as_deref() != Some("aws-node-x"));
    let e = evaluate(&s);
    assert!(matches!(
        e.mode,
        NetworkingMode::NotApplicable(ref na) if na.cause == OutOfScope::NoVpcCni
    ));
    assert_out_of_scope(&s, "no_vpc_cni");
}

#[test]
fn windows_hybrid_and_fargate_nodes_are_out_of_scope() {
    for (key, value, cause) in [
        ("kubernetes.io/os", "windows", "windows"),
        ("eks.amazonaws.com/compute-type", "hybrid", "hybrid"),
        ("eks.amazonaws.com/compute-type", "fargate", "fargate"),
    ] {
        let mut s = healthy();
        cluster(&mut s).node.labels.insert(key.into(), value.into());
        assert_out_of_scope(&s, cause);
    }
}

#[test]
fn an_ipv6_node_is_out_of_scope() {
    let mut s = healthy_witnessed();
    ipamd(&mut s).ipv6 = Some(true);
    assert_out_of_scope(&s, "ipv6");
    let mut s = healthy();
    for p in cluster(&mut s).pods.iter_mut().filter(|p| !p.host_network) {
        p.ip = None;
        p.ip_text = Some("2600:1f18::a1".into());
    }
    assert_out_of_scope(&s, "ipv6");
    // One IPv4 pod among them: not an IPv6 node.
    cluster(&mut s).pods[0].ip = Some(ip("100.64.1.11"));
    assert!(evaluate(&s).mode.is_custom_networking());
}

#[test]
fn standard_mode_does_not_hide_data_plane_drift() {
    let mut s = standard();
    let host = ipnet::Ipv4Net::from(ip("100.64.1.11"));
    kernel(&mut s).routes.retain(|r| r.destination != host);
    assert_eq!(reasons(&s), vec![Reason::PodRouteMissing]);
    assert_eq!(json(&s)["exit_code"], 1);
}

#[test]
fn flags_expectation_is_always_custom_networking() {
    let mut s = healthy();
    s.expectation = Expectation::Flags(FlagExpectation {
        subnet: "subnet-pods".parse().unwrap(),
        security_groups: Some(vec!["sg-pods".parse().unwrap()]),
    });
    assert!(evaluate(&s).mode.is_custom_networking());
    assert_eq!(status(&s, "eniconfig"), CheckStatus::Ok);
}
