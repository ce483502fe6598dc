//! The published document: stable while the cluster is, dated where it
//! changes, bounded whatever the node count.

use eniwatch_core::published::{PublishedFacts, MAX_BYTES, MAX_ENIS_PER_NODE, MAX_NODES};

use super::published;
use crate::checks::fixture::*;
use crate::checks::judge;
use crate::model::ClusterSnapshot;

fn publish(s: &ClusterSnapshot, previous: Option<&PublishedFacts>) -> PublishedFacts {
    published(s, &judge(s), previous)
}

#[test]
fn a_healthy_cluster_publishes_its_subnets() {
    let doc = publish(&healthy(), None);
    assert_eq!(doc.vpc_id.as_ref().map(|v| v.as_str()), Some("vpc-1"));
    let ids: Vec<&str> = doc.subnets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["subnet-nodea", "subnet-nodeb", "subnet-poda", "subnet-podb"]
    );
    let pod = &doc.subnets[2];
    assert_eq!(pod.free_addresses, Some(8000));
    assert_eq!(pod.availability_zone_id.as_deref(), Some("euw1-az1"));
    assert_eq!(pod.observed_at, NOW);
    assert_eq!(doc.enis_observed_at.as_deref(), Some(NOW));
    assert!(doc.nodes.is_empty() && !doc.nodes_truncated);
    assert_eq!(PublishedFacts::parse(&doc.to_json()).unwrap(), doc);
}

#[test]
fn an_unchanged_cluster_publishes_byte_identical_documents() {
    let first = publish(&healthy(), None);
    assert_eq!(first.to_json(), publish(&healthy(), None).to_json());
    let mut later = healthy();
    later.now = "2026-03-01T12:05:00Z".parse().unwrap();
    let second = publish(&later, Some(&first));
    assert_eq!(first.to_json(), second.to_json());
}

#[test]
fn observed_at_moves_only_for_what_changed() {
    let first = publish(&healthy(), None);
    let mut later = healthy();
    later.now = "2026-03-01T12:05:00Z".parse().unwrap();
    subnet_mut(&mut later, "subnet-poda").facts.available_ips = Some(7990);
    let second = publish(&later, Some(&first));
    for s in &second.subnets {
        let want = if s.id.as_str() == "subnet-poda" {
            "2026-03-01T12:05:00Z"
        } else {
            NOW
        };
        assert_eq!(s.observed_at, want, "{}", s.id);
    }
    assert_eq!(second.enis_observed_at.as_deref(), Some(NOW));
    // An ENI left behind changes the ENI set: its date moves.
    enis(&mut later)[0] = available(enis(&mut later)[0].clone());
    let third = publish(&later, Some(&second));
    assert_eq!(
        third.enis_observed_at.as_deref(),
        Some("2026-03-01T12:05:00Z")
    );
    assert_eq!(third.nodes.len(), 1);
    assert_eq!(third.nodes[0].name, NODE_A);
    assert_eq!(
        third.nodes[0].enis_not_attached[0].status.as_deref(),
        Some("available")
    );
}

#[test]
fn what_ec2_could_not_say_is_absent_or_kept() {
    let first = publish(&healthy(), None);
    let mut s = healthy();
    s.vpc.cni_enis = Err(eniwatch_core::model::Unavailable::new("ec2", "denied"));
    s.vpc.subnets = Err(eniwatch_core::model::Unavailable::new("ec2", "throttled"));
    vpc(&mut s).subnets_not_found = vec![id("subnet-z"), id("subnet-y"), id("subnet-z")];
    let doc = publish(&s, Some(&first));
    assert_eq!(doc.enis_observed_at, None);
    assert_eq!(doc.subnets, first.subnets);
    let gone: Vec<&str> = doc.subnets_not_found.iter().map(|s| s.as_str()).collect();
    assert_eq!(gone, ["subnet-y", "subnet-z"]);
    assert!(publish(&s, None).subnets.is_empty());
}

/// The healthy cluster with an Auto Mode pod subnet in zone c (tagged for
/// NodeClasses and for the CNI) and a NodeClass selecting it by tag.
fn with_auto_mode() -> ClusterSnapshot {
    let mut s = healthy();
    let mut podc = subnet("subnet-podc", "100.64.64.0/19", 'c', 7000);
    podc.tags = [
        ("eniwatch/auto".to_string(), "pods".to_string()),
        (
            crate::node_classes::CNI_ROLE_TAG.to_string(),
            "1".to_string(),
        ),
    ]
    .into();
    subnets(&mut s).push(podc);
    subnet_mut(&mut s, "subnet-poda")
        .tags
        .insert(crate::node_classes::CNI_ROLE_TAG.into(), "1".into());
    s.node_classes = Ok(Some(vec![crate::node_classes::node_class_from_spec(
        "auto".into(),
        Some(&serde_json::json!({
            "podSubnetSelectorTerms": [{"tags": {"eniwatch/auto": "*"}}],
            "podSecurityGroupSelectorTerms": [{"id": "sg-pods"}]
        })),
    )]));
    s
}

#[test]
fn cni_subnets_and_nodeclasses_are_published_with_their_subnets() {
    let doc = publish(&with_auto_mode(), None);
    let cni = doc.cni_subnets.as_ref().unwrap();
    let cni: Vec<(&str, Vec<&str>)> = cni
        .iter()
        .map(|z| {
            let ids = z.subnet_ids.iter().map(|s| s.as_str()).collect();
            (z.availability_zone.as_str(), ids)
        })
        .collect();
    assert_eq!(
        cni,
        [
            ("eu-west-1a", vec!["subnet-poda"]),
            ("eu-west-1c", vec!["subnet-podc"])
        ]
    );
    let class = doc.node_class("auto").unwrap();
    assert!(class.problems.is_empty(), "{:?}", class.problems);
    let pods = class.pod_subnets.as_ref().unwrap();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].subnet_ids[0].as_str(), "subnet-podc");
    assert_eq!(
        class.pod_security_groups.as_ref().unwrap()[0].as_str(),
        "sg-pods"
    );
    let podc = doc
        .subnet(&id("subnet-podc"))
        .expect("every named subnet is in subnets[]");
    assert_eq!(podc.free_addresses, Some(7000));
    assert_eq!(PublishedFacts::parse(&doc.to_json()).unwrap(), doc);
    let mut later = with_auto_mode();
    later.now = "2026-03-01T12:05:00Z".parse().unwrap();
    assert_eq!(
        publish(&later, Some(&doc)).to_json(),
        doc.to_json(),
        "no write"
    );
}

#[test]
fn without_ec2_the_cni_subnets_are_kept_and_nodeclasses_have_problems() {
    let first = publish(&with_auto_mode(), None);
    let mut s = with_auto_mode();
    s.vpc.subnets = Err(eniwatch_core::model::Unavailable::new("ec2", "throttled"));
    let doc = publish(&s, Some(&first));
    assert_eq!(doc.cni_subnets, first.cni_subnets);
    let class = doc.node_class("auto").unwrap();
    assert_eq!(class.problems.len(), 1, "{:?}", class.problems);
    assert!(class.problems[0].contains("throttled"));
    assert_eq!(publish(&s, None).cni_subnets, None);
    let mut s = healthy();
    s.node_classes = Err(eniwatch_core::model::Unavailable::new(
        "kubernetes",
        "forbidden",
    ));
    assert!(publish(&s, None).node_classes.is_empty());
}

#[test]
fn five_thousand_nodes_with_problems_stay_under_a_mebibyte() {
    let mut s = healthy();
    let mut nodes = Vec::new();
    let mut list = Vec::new();
    for i in 0..5000u32 {
        let name = format!("ip-10-0-{}-{}.eu-west-1.compute.internal", i / 250, i % 250);
        nodes.push(node(&name, 'a', "10.0.1.10"));
        for k in 0..(MAX_ENIS_PER_NODE as u32 + 4) {
            let eni = cni_eni(
                &format!("eni-{i}x{k}"),
                "subnet-poda",
                &format!("i-{name}"),
                "100.64.0.9",
            );
            list.push(available(eni));
        }
    }
    s.nodes = Ok(nodes);
    s.vpc.cni_enis = Ok(list);
    let e = judge(&s);
    assert_eq!(e.findings.len(), 5000 * (MAX_ENIS_PER_NODE + 4));
    let doc = published(&s, &e, None);
    let json = doc.to_json();
    println!(
        "5,000 nodes with 20 leaked ENIs each: {} bytes published",
        json.len()
    );
    assert!(json.len() < MAX_BYTES);
    assert!(doc.nodes_truncated);
    assert_eq!(doc.nodes.len(), MAX_NODES);
    assert!(doc
        .nodes
        .iter()
        .all(|n| n.enis_not_attached.len() == MAX_ENIS_PER_NODE));
    assert!(doc.nodes.windows(2).all(|w| w[0].name < w[1].name));
}
