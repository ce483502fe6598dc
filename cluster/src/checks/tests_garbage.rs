//! Whatever EC2 and the API say, judging never panics, always gives one
//! result per declared check, and raises only declared reasons.

use std::net::Ipv4Addr;

use eniwatch_core::checks::CLUSTER_CHECKS;
use eniwatch_core::model::*;
use ipnet::Ipv4Net;
use proptest::prelude::*;

use super::fixture::*;
use super::judge;

fn maybe_zone() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    (
        prop::option::of(prop::sample::select(vec!["eu-west-1a", "eu-west-1b", ""])),
        prop::option::of(prop::sample::select(vec!["euw1-az1", "euw1-az2", "x"])),
    )
        .prop_map(|(n, i)| (n.map(String::from), i.map(String::from)))
}

fn cidr() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, len)| {
        Ipv4Net::new(Ipv4Addr::from(a), len)
            .map(|n| n.trunc())
            .unwrap_or_default()
    })
}

const SUBNETS: [&str; 4] = ["subnet-poda", "subnet-podb", "subnet-nodea", "subnet-x"];

fn garbage_subnet() -> impl Strategy<Value = Subnet> {
    (
        prop::sample::select(SUBNETS.to_vec()),
        prop::option::of(cidr()),
        maybe_zone(),
        prop::option::of(any::<u32>()),
        any::<bool>(),
    )
        .prop_map(|(name, cidr, (zone, zone_id), free, elb)| {
            let mut s = subnet(name, "10.0.0.0/24", 'a', 0);
            s.facts.cidr = cidr;
            s.facts.availability_zone = zone;
            s.facts.availability_zone_id = zone_id;
            s.facts.available_ips = free;
            if elb {
                s.tags
                    .insert("kubernetes.io/role/elb".into(), String::new());
            }
            s
        })
}

fn garbage_eni() -> impl Strategy<Value = NetworkInterface> {
    (
        0u32..50,
        prop::sample::select(SUBNETS.to_vec()),
        prop::sample::select(vec!["available", "in-use", "attaching", "weird"]),
        prop::option::of(prop::sample::select(vec![
            "attached",
            "detached",
            "attaching",
            "detaching",
        ])),
        prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..4),
        prop::collection::vec(cidr(), 0..3),
        prop::sample::select(vec![
            "2026-03-01T11:59:00Z",
            "garbage",
            "1900-01-01T00:00:00Z",
        ]),
        prop::sample::select(vec![NODE_A, "gone"]),
    )
        .prop_map(|(n, subnet, status, att, ips, prefixes, created, owner)| {
            let mut e = cni_eni(
                &format!("eni-{n}"),
                subnet,
                &format!("i-{owner}"),
                "10.0.0.1",
            );
            e.status = Some(status.into());
            if let Some(a) = e.attachment.as_mut() {
                a.status = att.map(String::from);
            }
            e.private_ips = ips;
            e.prefixes = prefixes;
            e.tags.insert(CNI_CREATED_AT_TAG.into(), created.into());
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn garbage_never_panics_and_raises_only_declared_reasons(
        subnets in prop::collection::vec(garbage_subnet(), 0..6),
        enis in prop::collection::vec(garbage_eni(), 0..8),
        others in prop::collection::vec(garbage_eni(), 0..4),
        zones in prop::collection::vec(maybe_zone(), 2),
        min_free in any::<u32>(),
        percent in any::<u32>(),
        warm in any::<u32>(),
        warm_ip in prop::option::of(any::<u32>()),
    ) {
        let mut s = healthy();
        s.vpc.subnets = Ok(subnets);
        s.vpc.cni_enis = Ok(enis);
        s.vpc.prefix_subnet_enis = Ok(others);
        s.settings.subnet_min_free = min_free;
        s.settings.subnet_min_free_percent = percent;
        s.settings.warm_eni_target = warm;
        s.settings.warm_prefix_target = warm;
        s.settings.warm_ip_target = warm_ip;
        for (n, (zone, zone_id)) in s.nodes.as_mut().unwrap().iter_mut().zip(zones) {
            n.zone = zone;
            n.zone_id = zone_id;
        }
        let e = judge(&s);
        prop_assert_eq!(e.checks.len(), CLUSTER_CHECKS.len());
        for f in &e.findings {
            let declared = CLUSTER_CHECKS.iter().find(|(n, _)| *n == f.check);
            prop_assert!(declared.is_some_and(|(_, rs)| rs.contains(&f.reason)), "{f:?}");
        }
        let _ = crate::publish::published(&s, &e, None);
    }
}
