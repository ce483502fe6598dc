//! The cluster checks on a healthy cluster, one breakage per reason, the
//! parts that can be missing, and the declaration in `CLUSTER_CHECKS`.

use std::collections::BTreeSet;

use eniwatch_core::checks::{CheckStatus, Reason, SubjectKind, CLUSTER_CHECKS};
use eniwatch_core::model::*;

use super::fixture::*;
use super::judge;
use crate::model::ClusterSnapshot;

fn reasons(e: &super::ClusterEvaluation) -> BTreeSet<Reason> {
    e.findings.iter().map(|f| f.reason).collect()
}

fn gone(reason: &str) -> Unavailable {
    Unavailable::new("ec2", reason)
}

#[test]
fn a_healthy_cluster_is_ok_everywhere() {
    let e = judge(&healthy());
    let names: Vec<&str> = e.checks.iter().map(|c| c.name).collect();
    let declared: Vec<&str> = CLUSTER_CHECKS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, declared);
    for c in &e.checks {
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
    }
    assert!(e.findings.is_empty(), "{:?}", e.findings);
    let ids: Vec<&str> = e.subnets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["subnet-nodea", "subnet-nodeb", "subnet-poda", "subnet-podb"]
    );
    let pod = &e.subnets[2];
    assert_eq!((pod.role, pod.nodes, pod.route), ("pod", 1, Some("ok")));
    // m5.large: 10 addresses per ENI, 9 for pods, WARM_ENI_TARGET 1.
    assert_eq!(pod.warm_demand, Some(9));
    assert_eq!(pod.eniconfigs, ["eu-west-1a"]);
    assert_eq!((e.subnets[0].role, e.subnets[0].nodes), ("node", 1));
    assert!(e.leaked_enis.is_empty() && e.enis_not_attached.is_empty());
}

/// One breakage per reason the cluster raises, and the reason it must raise.
fn breakages() -> Vec<(Reason, super::ClusterEvaluation)> {
    let hour_ago = "2026-03-01T11:00:00Z";
    vec![
        (
            Reason::ENIConfigSubnetNotFound,
            broken(|s| {
                configs(s)[0].subnet = Some(id("subnet-gone"));
                vpc(s).subnets_not_found.push(id("subnet-gone"));
            }),
        ),
        (
            Reason::ENIConfigSubnetZoneMismatch,
            broken(|s| configs(s)[0].subnet = Some(id("subnet-podb"))),
        ),
        (
            Reason::ENIConfigMissingForZone,
            broken(|s| configs(s).truncate(1)),
        ),
        (
            Reason::ENIConfigSecurityGroupNotFound,
            broken(|s| {
                configs(s)[0].security_groups.push(id("sg-gone"));
                vpc(s).security_groups_asked.push(id("sg-gone"));
            }),
        ),
        (
            Reason::SubnetNearlyExhausted,
            broken(|s| subnet_mut(s, "subnet-poda").facts.available_ips = Some(40)),
        ),
        (Reason::PrefixFragmentation, broken(fragment)),
        (
            Reason::PodSubnetNoDefaultRoute,
            broken(|s| tables(s)[1].subnets.retain(|x| x.as_str() != "subnet-poda")),
        ),
        (
            Reason::PodSubnetRouteDiffers,
            broken(|s| {
                tables(s)[1].subnets.retain(|x| x.as_str() != "subnet-poda");
                tables(s)[2].subnets.push(id("subnet-poda"));
            }),
        ),
        (
            Reason::PodSubnetTaggedForLoadBalancers,
            broken(|s| {
                let t = &mut subnet_mut(s, "subnet-podb").tags;
                t.insert("kubernetes.io/role/internal-elb".into(), "1".into());
            }),
        ),
        (
            Reason::LeakedENI,
            broken(|s| {
                let e = cni_eni("eni-x", "subnet-poda", "i-gone", "100.64.0.99");
                enis(s).push(available(e));
            }),
        ),
        (
            Reason::ENINotAttached,
            broken(|s| {
                let e = &mut enis(s)[0];
                e.tags.insert(CNI_CREATED_AT_TAG.into(), hour_ago.into());
                if let Some(a) = e.attachment.as_mut() {
                    a.instance_id = Some("i-elsewhere".into());
                }
            }),
        ),
    ]
}

/// Prefixes in use on subnet-poda, shrunk to a /24 whose every /28 holds
/// another ENI's address.
fn fragment(s: &mut ClusterSnapshot) {
    let p = subnet_mut(s, "subnet-poda");
    p.facts.cidr = Some(id("100.64.0.0/24"));
    p.facts.available_ips = Some(200);
    enis(s)[0].prefixes = vec![id("100.64.0.16/28")];
    let mut other = cni_eni("eni-other", "subnet-poda", "i-x", "100.64.0.5");
    other.tags.clear();
    other.private_ips = (2..15)
        .map(|b| std::net::Ipv4Addr::new(100, 64, 0, b * 16 + 3))
        .collect();
    vpc(s).prefix_subnet_enis = Ok(vec![other]);
}

#[test]
fn each_breakage_raises_exactly_its_reason_from_the_declaring_check() {
    let mut seen = BTreeSet::new();
    for (reason, e) in breakages() {
        assert_eq!(reasons(&e), BTreeSet::from([reason]), "{:#?}", e.findings);
        for f in &e.findings {
            let (_, declared) = CLUSTER_CHECKS.iter().find(|(n, _)| *n == f.check).unwrap();
            assert!(
                declared.contains(&f.reason),
                "{} raised {}",
                f.check,
                f.reason
            );
            assert_eq!(super::fixture::status(&e, f.check), CheckStatus::Drift);
            assert!(!f.message.is_empty());
        }
        seen.insert(reason);
    }
    let all: BTreeSet<Reason> = CLUSTER_CHECKS
        .iter()
        .flat_map(|(_, rs)| rs.iter().copied())
        .collect();
    assert_eq!(seen, all, "a declared reason has no breakage");
}

#[test]
fn findings_name_their_subject_and_observed_values() {
    for (reason, e) in breakages() {
        let f = &e.findings[0];
        let want = match reason {
            Reason::LeakedENI | Reason::ENINotAttached => SubjectKind::Eni,
            _ => SubjectKind::EniConfig,
        };
        assert_eq!(f.subject.kind, want, "{reason}");
    }
    let e = broken(|s| subnet_mut(s, "subnet-poda").facts.available_ips = Some(40));
    let m = &e.findings[0].message;
    assert!(m.contains("40 free") && m.contains("floor of 819"), "{m}");
    assert!(m.contains("1 node(s)") && m.contains("9 addresses"), "{m}");
    let e = broken(|s| configs(s).truncate(1));
    assert_eq!(e.findings[0].subject.name, "eu-west-1b");
    assert!(e.findings[0].message.contains("euw1-az2"));
}

#[test]
fn missing_parts_are_unknown_never_ok_or_drift() {
    type Break = fn(&mut ClusterSnapshot);
    let cases: Vec<(&str, Break)> = vec![
        ("eniconfig-subnets", |s| s.vpc.subnets = Err(gone("denied"))),
        ("subnet-headroom", |s| s.vpc.subnets = Err(gone("denied"))),
        ("pod-subnet-tags", |s| s.vpc.subnets = Err(gone("denied"))),
        ("pod-subnet-routes", |s| {
            s.vpc.route_tables = Err(gone("denied"))
        }),
        ("eniconfig-security-groups", |s| {
            s.vpc.security_groups = Err(gone("denied"))
        }),
        ("eni-attachment", |s| s.vpc.cni_enis = Err(gone("denied"))),
        ("eni-attachment", |s| {
            s.nodes = Err(Unavailable::new("kubernetes", "x"))
        }),
        ("zone-coverage", |s| {
            s.nodes = Err(Unavailable::new("kubernetes", "x"))
        }),
        ("eniconfig-subnets", |s| {
            s.eni_configs = Err(Unavailable::new("kubernetes", "x"))
        }),
        ("subnet-headroom", |s| {
            subnet_mut(s, "subnet-poda").facts.available_ips = None
        }),
        ("subnet-headroom", |s| {
            enis(s)[0].prefixes = vec![id("100.64.0.16/28")];
            s.vpc.prefix_subnet_enis = Err(gone("throttled"));
        }),
        ("eniconfig-subnets", |s| {
            // Neither listed nor asked: not judged.
            subnets(s).retain(|x| x.facts.id.as_str() != "subnet-poda")
        }),
    ];
    for (check, f) in cases {
        let e = broken(f);
        assert_eq!(
            status(&e, check),
            CheckStatus::Unknown,
            "{check}: {:?}",
            e.checks
        );
        assert!(e.findings.is_empty(), "{check}: {:?}", e.findings);
    }
}

#[test]
fn without_eniconfigs_the_eniconfig_checks_do_not_apply() {
    for eni_configs in [None, Some(vec![])] {
        let mut s = healthy();
        s.eni_configs = Ok(eni_configs);
        let e = judge(&s);
        for check in ["eniconfig-subnets", "zone-coverage", "subnet-headroom"] {
            assert_eq!(status(&e, check), CheckStatus::NotApplicable, "{check}");
        }
        assert!(e.findings.is_empty());
    }
}

#[test]
fn zones_compare_by_id_and_names_only_without_ids() {
    // Another account's name for the same zone id: not a mismatch.
    let e = broken(|s| {
        subnet_mut(s, "subnet-poda").facts.availability_zone = Some("eu-west-1c".into())
    });
    assert!(e.findings.is_empty(), "{:?}", e.findings);
    let e = broken(|s| {
        let f = &mut subnet_mut(s, "subnet-poda").facts;
        f.availability_zone_id = None;
        f.availability_zone = Some("eu-west-1b".into());
    });
    // (The subnet now also routes unlike its zone's node subnets.)
    assert!(reasons(&e).contains(&Reason::ENIConfigSubnetZoneMismatch));
}

#[test]
fn an_unknown_instance_type_leaves_the_demand_unknown_but_the_floor_fires() {
    let e = broken(|s| {
        for n in s.nodes.as_mut().unwrap() {
            n.instance_type = Some("zz9.huge".into());
        }
        subnet_mut(s, "subnet-poda").facts.available_ips = Some(40);
    });
    assert_eq!(reasons(&e), BTreeSet::from([Reason::SubnetNearlyExhausted]));
    assert!(
        e.findings[0].message.contains("zz9.huge"),
        "{}",
        e.findings[0].message
    );
    assert_eq!(e.subnets[2].warm_demand, None);
    // EC2's answer for the type sizes it.
    let mut s = healthy();
    for n in s.nodes.as_mut().unwrap() {
        n.instance_type = Some("zz9.huge".into());
    }
    let facts = InstanceTypeFacts {
        limits: InstanceLimits {
            max_enis: 4,
            ipv4_per_eni: 31,
        },
        nitro: Some(true),
    };
    s.vpc.instance_types.insert("zz9.huge".into(), Ok(facts));
    assert_eq!(judge(&s).subnets[2].warm_demand, Some(30));
}

#[test]
fn eni_ages_and_owners_decide_leaks() {
    let x = || {
        available(cni_eni(
            "eni-x",
            "subnet-poda",
            &format!("i-{NODE_A}"),
            "100.64.0.99",
        ))
    };
    // A live node's ENI with no age known: nothing (the first refresh).
    let e = broken(|s| {
        let mut eni = x();
        eni.tags.remove(CNI_CREATED_AT_TAG);
        enis(s).push(eni);
    });
    assert!(e.findings.is_empty(), "{:?}", e.findings);
    // Seen unattached 5 minutes ago: not attached, not yet leaked.
    let e = broken(|s| {
        let mut eni = x();
        eni.tags.remove(CNI_CREATED_AT_TAG);
        enis(s).push(eni);
        let seen = "2026-03-01T11:55:00Z".parse().unwrap();
        s.history.first_seen_unattached.insert(id("eni-x"), seen);
    });
    assert_eq!(reasons(&e), BTreeSet::from([Reason::ENINotAttached]));
    assert_eq!(e.enis_not_attached.len(), 1);
    assert!(e.leaked_enis.is_empty());
    // Created two hours ago (tag): leaked, and published with its node.
    let e = broken(|s| enis(s).push(x()));
    assert_eq!(reasons(&e), BTreeSet::from([Reason::LeakedENI]));
    assert_eq!(e.leaked_enis, vec![(Some(id("subnet-poda")), 1)]);
    assert_eq!(e.enis_not_attached[0].node, NODE_A);
    // Another cluster's ENI, and one being attached: not ours to judge.
    let e = broken(|s| {
        s.settings.cluster_name = Some("prod".into());
        let mut eni = x();
        eni.tags.insert(CNI_CLUSTER_TAG.into(), "staging".into());
        enis(s).push(eni);
        let mut moving = cni_eni("eni-y", "subnet-poda", "i-other", "100.64.0.98");
        if let Some(a) = moving.attachment.as_mut() {
            a.status = Some("attaching".into());
        }
        enis(s).push(moving);
    });
    assert!(e.findings.is_empty(), "{:?}", e.findings);
}

#[test]
fn five_thousand_nodes_are_judged_quickly() {
    let mut s = healthy();
    let mut nodes = Vec::new();
    let mut list = Vec::new();
    for i in 0..5000u32 {
        let zone = if i % 2 == 0 { 'a' } else { 'b' };
        let ip = format!("10.0.{}.{}", if zone == 'a' { 1 } else { 2 }, i % 250 + 2);
        let name = format!("node-{i}");
        nodes.push(node(&name, zone, &ip));
        let subnet = if zone == 'a' {
            "subnet-poda"
        } else {
            "subnet-podb"
        };
        for k in 0..3u32 {
            let addr = format!(
                "100.64.{}.{}",
                (i * 3 + k) / 250 % 64,
                (i * 3 + k) % 250 + 2
            );
            let eni = cni_eni(&format!("eni-{i}x{k}"), subnet, &format!("i-{name}"), &addr);
            list.push(eni);
        }
    }
    s.nodes = Ok(nodes);
    s.vpc.cni_enis = Ok(list);
    let start = std::time::Instant::now();
    let e = judge(&s);
    println!("5,000 nodes, 15,000 ENIs judged in {:?}", start.elapsed());
    assert!(e.findings.is_empty(), "{:?}", e.findings.first());
    assert_eq!(e.subnets.iter().map(|s| s.nodes).sum::<u32>(), 10_000);
}
