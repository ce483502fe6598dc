//! Every check from hand-built snapshots: the healthy node is all ok, and each
//! single breakage yields exactly its reason.

use super::fixture::*;
use super::tests_declared::not_ok;
use super::*;
use crate::model::*;

#[test]
fn healthy_node_is_all_ok() {
    let e = evaluate(&healthy());
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(not_ok(&healthy()), vec![]);
    for c in &e.checks {
        // EC2 and ipamd are off in this snapshot: their checks are skipped.
        assert!(
            matches!(c.status, CheckStatus::Ok | CheckStatus::Skipped),
            "{c:?}"
        );
    }
    assert_eq!(e.overall(), CheckStatus::Ok);
    assert_eq!(e.checks.len(), check_names().count());
}

#[test]
fn missing_eniconfig_is_drift_and_dependent_checks_unknown() {
    // ipamd runs custom networking: without an ENIConfig it cannot create ENIs.
    let mut s = healthy_witnessed();
    cluster(&mut s).eni_configs = Some(vec![]);
    assert_eq!(reasons(&s), vec![Reason::ENIConfigNotFound]);
    assert_eq!(status(&s, "eni-subnet"), CheckStatus::Unknown);
    assert_eq!(status(&s, "pod-subnet"), CheckStatus::Unknown);
    // The data plane does not depend on the ENIConfig.
    assert_eq!(status(&s, "pod-rules"), CheckStatus::Ok);
}

#[test]
fn missing_crd_says_so() {
    let mut s = healthy_witnessed();
    cluster(&mut s).eni_configs = None;
    let e = evaluate(&s);
    assert!(
        e.findings[0].message.contains("CRD"),
        "{}",
        e.findings[0].message
    );
}

#[test]
fn annotation_selects_another_eniconfig() {
    let mut s = healthy();
    cluster(&mut s)
        .node
        .annotations
        .insert("k8s.amazonaws.com/eniConfig".into(), "other".into());
    assert_eq!(reasons(&s), vec![Reason::ENIConfigNotFound]);
}

#[test]
fn pre_migration_node_reports_not_applied_and_pods_outside() {
    let mut s = healthy();
    // Secondary ENIs in the node subnet, pods on them: the ENIConfig subnet's
    // CIDR is unknown, but the pods are provably in the node subnet.
    for e in imds(&mut s).enis.iter_mut().skip(1) {
        e.subnet_id = Some("subnet-node".parse().unwrap());
        e.subnet_cidr = Some(net("10.0.1.0/24"));
        e.security_groups = vec!["sg-node".parse().unwrap()];
    }
    let r = reasons(&s);
    assert!(r.contains(&Reason::CustomNetworkingNotApplied), "{r:?}");
    assert!(!r.contains(&Reason::SecondaryENIWrongSubnet), "{r:?}");
    assert!(
        !r.contains(&Reason::SecondaryENIWrongSecurityGroups),
        "{r:?}"
    );
    assert_eq!(
        r.iter()
            .filter(|x| **x == Reason::PodIPOutsideENIConfigSubnet)
            .count(),
        3
    );
}

#[test]
fn one_secondary_in_wrong_subnet() {
    let mut s = healthy();
    let e = &mut imds(&mut s).enis[2];
    e.subnet_id = Some("subnet-node".parse().unwrap());
    e.subnet_cidr = Some(net("10.0.1.0/24"));
    let r = reasons(&s);
    assert_eq!(
        r.iter()
            .filter(|x| **x == Reason::SecondaryENIWrongSubnet)
            .count(),
        1
    );
    assert!(!r.contains(&Reason::CustomNetworkingNotApplied));
}

#[test]
fn wrong_security_groups_against_eniconfig_and_primary() {
    let mut s = healthy();
    imds(&mut s).enis[1].security_groups = vec!["sg-other".parse().unwrap()];
    assert_eq!(reasons(&s), vec![Reason::SecondaryENIWrongSecurityGroups]);
    // ENIConfig without groups: the primary's groups are expected.
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0]
        .security_groups
        .clear();
    assert_eq!(
        reasons(&s)
            .iter()
            .filter(|r| **r == Reason::SecondaryENIWrongSecurityGroups)
            .count(),
        2
    );
    // Order does not matter.
    let mut s = healthy();
    let two: Vec<SecurityGroupId> = vec!["sg-a".parse().unwrap(), "sg-b".parse().unwrap()];
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].security_groups = two.clone();
    for e in imds(&mut s).enis.iter_mut().skip(1) {
        e.security_groups = two.iter().rev().cloned().collect();
    }
    assert!(reasons(&s).is_empty());
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn pod_outside_subnet_message_says_where() {
    let mut s = healthy();
    cluster(&mut s).pods.push(pod("stale", "10.0.1.11"));
    wire_pod(kernel(&mut s), "10.0.1.11", 1, 20);
    let e = evaluate(&s);
    let f: Vec<_> = e
        .findings
        .iter()
        .filter(|f| f.reason == Reason::PodIPOutsideENIConfigSubnet)
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", e.findings);
    assert!(f[0].message.contains("node subnet"), "{}", f[0].message);
    assert_eq!(f[0].subject.name, "stale");
    // An IP in no known subnet, carried by no ENI.
    let mut s = healthy();
    cluster(&mut s).pods.push(pod("lost", "192.168.7.7"));
    wire_pod(kernel(&mut s), "192.168.7.7", 2, 20);
    let r = reasons(&s);
    assert!(
        r.contains(&Reason::PodIPOutsideENIConfigSubnet) && r.contains(&Reason::PodIPNotOnAnyENI),
        "{r:?}"
    );
}

#[test]
fn host_network_terminal_and_pending_pods_are_ignored() {
    let mut s = healthy();
    let mut done = pod("done", "10.0.1.99");
    done.terminal = true;
    let mut pending = pod("pending", "1.1.1.1");
    pending.ip = None;
    cluster(&mut s).pods.extend([done, pending]);
    assert!(reasons(&s).is_empty());
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn branch_pods_are_not_drift() {
    let mut s = healthy();
    let mut b = pod("sgp", "100.64.9.5");
    b.branch = Some(Ok(vec![]));
    cluster(&mut s).pods.push(b);
    assert!(reasons(&s).is_empty());
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn data_plane_breakages() {
    let mut s = healthy();
    let host = ipnet::Ipv4Net::from(ip("100.64.1.11"));
    kernel(&mut s).routes.retain(|r| r.destination != host);
    assert_eq!(reasons(&s), vec![Reason::PodRouteMissing]);

    let mut s = healthy();
    kernel(&mut s)
        .rules
        .retain(|r| !(r.priority == 512 && r.destination == Some(host)));
    assert_eq!(reasons(&s), vec![Reason::PodRuleMissing]);

    let mut s = healthy();
    kernel(&mut s)
        .rules
        .retain(|r| !(r.priority == 1536 && r.source == Some(host)));
    assert_eq!(reasons(&s), vec![Reason::PodRuleMissing]);

    let mut s = healthy();
    for r in kernel(&mut s)
        .rules
        .iter_mut()
        .filter(|r| r.source == Some(host))
    {
        r.table = 3;
    }
    assert_eq!(reasons(&s), vec![Reason::PodRuleWrongTable]);
}

#[test]
fn eni_not_configured_variants() {
    type Breakage = Box<dyn Fn(&mut KernelState)>;
    let cases: Vec<Breakage> = vec![
        Box::new(|k| k.links.retain(|l| l.mac != Some(mac(3)))),
        Box::new(|k| {
            k.links
                .iter_mut()
                .filter(|l| l.mac == Some(mac(3)))
                .for_each(|l| l.admin_up = false)
        }),
        Box::new(|k| k.addresses.retain(|a| a.address != ip("100.64.1.20"))),
        Box::new(|k| k.routes.retain(|r| r.table != 3)),
    ];
    for (i, break_it) in cases.iter().enumerate() {
        let mut s = healthy();
        break_it(kernel(&mut s));
        assert_eq!(reasons(&s), vec![Reason::ENINotConfigured], "case {i}");
    }
}

#[test]
fn oper_state_unknown_is_not_down() {
    let mut s = healthy();
    for l in kernel(&mut s).links.iter_mut() {
        l.oper_state = "unknown".into();
    }
    assert!(reasons(&s).is_empty());
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn prefix_delegation_counts_prefix_ips_as_carried() {
    let mut s = healthy();
    let e = &mut imds(&mut s).enis[1];
    e.local_ipv4s.truncate(1);
    e.ipv4_prefixes = vec![net("100.64.1.0/28")];
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn network_card_one_uses_its_table() {
    let mut s = healthy();
    let e = &mut imds(&mut s).enis[2];
    e.network_card = 1;
    e.device_number = 0;
    let table = e.route_table();
    assert_eq!(table, 10_100);
    let k = kernel(&mut s);
    for r in k.routes.iter_mut().filter(|r| r.table == 3) {
        r.table = table;
    }
    for r in k.rules.iter_mut().filter(|r| r.table == 3) {
        r.table = table;
    }
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn efa_only_and_trunk_are_not_judged_for_subnet() {
    let mut s = healthy();
    let mut efa = eni(9, 3, "subnet-node", "10.0.1.0/24", "sg-node", &[]);
    efa.local_ipv4s.clear();
    imds(&mut s).enis.push(efa);
    let trunk = eni(
        8,
        4,
        "subnet-node",
        "10.0.1.0/24",
        "sg-node",
        &["10.0.1.50"],
    );
    configure_eni(kernel(&mut s), &trunk, 30);
    imds(&mut s).enis.push(trunk);
    kernel(&mut s).links.push(Link {
        index: 31,
        name: "vlan.eth.1".into(),
        mac: Some(mac(8)),
        kind: Some("vlan".into()),
        admin_up: true,
        oper_state: "up".into(),
        mtu: Some(9001),
        parent_index: Some(30),
    });
    // Five ENIs: on a type that allows them.
    s.instance_type = Ok(InstanceTypeFacts {
        limits: InstanceLimits {
            max_enis: 8,
            ipv4_per_eni: 30,
        },
        nitro: Some(true),
    });
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn missing_sources_give_unknown_never_drift() {
    let mut s = healthy();
    s.imds = Err(Unavailable::new("imds", "timed out"));
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(e.overall(), CheckStatus::Unknown);

    let mut s = healthy();
    s.kernel = Err(Unavailable::new("kernel", "no netlink"));
    let e = evaluate(&s);
    assert!(e.findings.is_empty());
    assert_eq!(status(&s, "pod-routes"), CheckStatus::Unknown);

    let mut s = healthy();
    s.expectation = Expectation::Kubernetes(Err(Unavailable::new("kubernetes", "refused")));
    let e = evaluate(&s);
    assert!(e.findings.is_empty());
    assert_eq!(e.overall(), CheckStatus::Unknown);
}

#[test]
fn no_kube_mode_finds_pods_from_routes() {
    let mut s = healthy();
    s.expectation = Expectation::Flags(FlagExpectation {
        subnet: "subnet-pods".parse().unwrap(),
        security_groups: None,
    });
    // Without groups the primary's are expected: both secondaries differ.
    let e = evaluate(&s);
    assert_eq!(
        e.findings
            .iter()
            .filter(|f| f.reason == Reason::SecondaryENIWrongSecurityGroups)
            .count(),
        2
    );
    s.expectation = Expectation::Flags(FlagExpectation {
        subnet: "subnet-pods".parse().unwrap(),
        security_groups: Some(vec!["sg-pods".parse().unwrap()]),
    });
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(not_ok(&s), vec![]);
    let pod_subnet = e.checks.iter().find(|c| c.name == "pod-subnet").unwrap();
    assert!(
        pod_subnet.detail.starts_with("3 pod IPs"),
        "{}",
        pod_subnet.detail
    );
    // A rule removed is seen for a kernel-discovered pod too.
    let host = ipnet::Ipv4Net::from(ip("100.64.1.21"));
    kernel(&mut s)
        .rules
        .retain(|r| !(r.priority == 512 && r.destination == Some(host)));
    assert_eq!(reasons(&s), vec![Reason::PodRuleMissing]);
}

#[test]
fn cidr_unknown_without_proof_is_unknown_not_drift() {
    let mut s = healthy();
    // The ENIConfig names a subnet no ENI is in, and the pods' IPs are in no
    // subnet the node knows: nothing proves them outside.
    subnet_cidrs_unknown(&mut s);
    assert_eq!(status(&s, "pod-subnet"), CheckStatus::Unknown);
    assert!(!reasons(&s).contains(&Reason::PodIPOutsideENIConfigSubnet));
}

#[test]
fn ip_on_an_eni_of_another_subnet_is_provably_outside() {
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].subnet =
        Some("subnet-elsewhere".parse().unwrap());
    for e in imds(&mut s).enis.iter_mut().skip(1) {
        e.subnet_cidr = None;
    }
    let r = reasons(&s);
    assert_eq!(
        r.iter()
            .filter(|x| **x == Reason::PodIPOutsideENIConfigSubnet)
            .count(),
        3,
        "{r:?}"
    );
}
