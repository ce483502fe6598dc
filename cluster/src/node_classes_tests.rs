use super::*;
use eniwatch_core::model::{SubnetFacts, Unavailable};
use serde_json::json;

const VPC: &str = "vpc-0main";

fn vpc() -> VpcId {
    VPC.parse().unwrap()
}

fn subnet(id: &str, zone: &str, vpc: &str, tags: &[(&str, &str)]) -> Subnet {
    Subnet {
        facts: SubnetFacts {
            id: id.parse().unwrap(),
            cidr: None,
            availability_zone: Some(format!("eu-west-1{zone}")),
            availability_zone_id: Some(format!("euw1-az-{zone}")),
            available_ips: Some(100),
        },
        vpc_id: Some(vpc.parse().unwrap()),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn group(id: &str, vpc: &str, tags: &[(&str, &str)]) -> SecurityGroup {
    SecurityGroup {
        id: id.parse().unwrap(),
        vpc_id: Some(vpc.parse().unwrap()),
        name: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn subnets() -> Observed<Vec<Subnet>> {
    Ok(vec![
        subnet(
            "subnet-a1",
            "a",
            VPC,
            &[("role", "pods"), (CNI_ROLE_TAG, "1")],
        ),
        subnet("subnet-a2", "a", VPC, &[("role", "nodes")]),
        subnet("subnet-b1", "b", VPC, &[("role", "pods"), ("tier", "blue")]),
        subnet("subnet-c1", "c", VPC, &[(CNI_ROLE_TAG, "0")]),
        subnet(
            "subnet-x1",
            "a",
            "vpc-0other",
            &[("role", "pods"), (CNI_ROLE_TAG, "1")],
        ),
    ])
}

fn groups() -> Observed<Vec<SecurityGroup>> {
    Ok(vec![
        group("sg-pods", VPC, &[("role", "pods")]),
        group("sg-nodes", VPC, &[("role", "nodes")]),
        group("sg-other", "vpc-0other", &[("role", "pods")]),
    ])
}

fn class(spec: serde_json::Value) -> NodeClass {
    node_class_from_spec("c".into(), Some(&spec))
}

fn zones(z: &[ZoneSubnets]) -> Vec<(String, Vec<String>)> {
    z.iter()
        .map(|z| {
            (
                z.availability_zone.clone(),
                z.subnet_ids.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

fn ids(g: &[SecurityGroupId]) -> Vec<String> {
    g.iter().map(|g| g.to_string()).collect()
}

#[test]
fn by_id() {
    let c = class(json!({
        "podSubnetSelectorTerms": [{"id": "subnet-b1"}],
        "podSecurityGroupSelectorTerms": [{"id": "sg-pods"}]
    }));
    let r = resolve(&c, &subnets(), &groups(), Some(&vpc()));
    assert_eq!(r.problems, Vec::<String>::new());
    assert_eq!(
        zones(r.pod_subnets.as_deref().unwrap()),
        [("eu-west-1b".to_string(), vec!["subnet-b1".to_string()])]
    );
    assert_eq!(
        r.pod_subnets.unwrap()[0].availability_zone_id.as_deref(),
        Some("euw1-az-b")
    );
    assert_eq!(ids(&r.pod_security_groups.unwrap()), ["sg-pods"]);
}

#[test]
fn by_tag_in_mixed_zones_never_another_vpcs() {
    let c = class(json!({
        "podSubnetSelectorTerms": [{"tags": {"role": "pods"}}],
        "podSecurityGroupSelectorTerms": [{"tags": {"role": "pods"}}]
    }));
    let r = resolve(&c, &subnets(), &groups(), Some(&vpc()));
    assert_eq!(r.problems, Vec::<String>::new());
    assert_eq!(
        zones(r.pod_subnets.as_deref().unwrap()),
        [
            ("eu-west-1a".to_string(), vec!["subnet-a1".to_string()]),
            ("eu-west-1b".to_string(), vec!["subnet-b1".to_string()]),
        ]
    );
    assert_eq!(ids(&r.pod_security_groups.unwrap()), ["sg-pods"]);
}

#[test]
fn by_tag_with_any_value_still_needs_the_key() {
    let c = class(json!({"podSubnetSelectorTerms": [{"tags": {"role": "*"}}]}));
    let r = resolve(&c, &subnets(), &groups(), Some(&vpc()));
    assert_eq!(
        zones(r.pod_subnets.as_deref().unwrap()),
        [
            (
                "eu-west-1a".to_string(),
                vec!["subnet-a1".to_string(), "subnet-a2".to_string()]
            ),
            ("eu-west-1b".to_string(), vec!["subnet-b1".to_string()]),
        ],
        "subnet-c1 has no role tag"
    );
    assert_eq!(
        r.pod_security_groups, None,
        "no group terms: the node's groups"
    );
}

#[test]
fn tags_within_a_term_are_anded_terms_are_ored() {
    let c = class(json!({"podSubnetSelectorTerms": [
        {"tags": {"role": "pods", "tier": "blue"}},
        {"id": "subnet-a2"}
    ]}));
    let r = resolve(&c, &subnets(), &groups(), Some(&vpc()));
    assert_eq!(r.problems, Vec::<String>::new());
    assert_eq!(
        zones(r.pod_subnets.as_deref().unwrap()),
        [
            ("eu-west-1a".to_string(), vec!["subnet-a2".to_string()]),
            ("eu-west-1b".to_string(), vec!["subnet-b1".to_string()]),
        ]
    );
}

#[test]
fn a_term_matching_nothing_is_a_problem_in_words() {
    let c = class(json!({
        "podSubnetSelectorTerms": [{"id": "subnet-x1"}, {"tags": {"role": "pods"}}],
        "podSecurityGroupSelectorTerms": [{"tags": {"role": "db"}}, {"id": "sg-other"}]
    }));
    let r = resolve(&c, &subnets(), &groups(), Some(&vpc()));
    assert_eq!(
        r.problems,
        [
            "podSubnetSelectorTerms[0] (id subnet-x1) matches no subnet of the VPC",
            "podSecurityGroupSelectorTerms[0] (tags role=db) matches no security group of the VPC",
            "podSecurityGroupSelectorTerms[1] (id sg-other) matches no security group of the VPC",
        ]
    );
    assert_eq!(r.pod_subnets.unwrap().len(), 2, "what did match is kept");
    assert_eq!(r.pod_security_groups, Some(vec![]));
}

#[test]
fn ec2_unreadable_is_a_problem_not_the_nodes_subnets() {
    let c = class(json!({
        "podSubnetSelectorTerms": [{"id": "subnet-a1"}],
        "podSecurityGroupSelectorTerms": [{"id": "sg-pods"}]
    }));
    let down = Unavailable::new("ec2", "throttled");
    let r = resolve(&c, &Err(down.clone()), &Err(down), Some(&vpc()));
    assert_eq!(
        r.pod_subnets,
        Some(vec![]),
        "never None: None means the node's subnets"
    );
    assert_eq!(r.pod_security_groups, Some(vec![]));
    assert_eq!(r.problems.len(), 2);
    assert!(
        r.problems.iter().all(|p| p.contains("throttled")),
        "{:?}",
        r.problems
    );
}

#[test]
fn without_pod_terms_pods_use_the_nodes_subnets() {
    for spec in [
        json!({}),
        json!({"podSubnetSelectorTerms": [], "subnetSelectorTerms": [{"id": "subnet-a2"}]}),
    ] {
        let r = resolve(&class(spec), &subnets(), &groups(), Some(&vpc()));
        assert_eq!((r.pod_subnets, r.pod_security_groups), (None, None));
        assert!(r.problems.is_empty());
    }
    let r = resolve(
        &node_class_from_spec("c".into(), None),
        &subnets(),
        &groups(),
        None,
    );
    assert_eq!(r.pod_subnets, None);
}

#[test]
fn a_malformed_spec_is_a_problem_never_a_panic() {
    let c = class(json!({
        "podSubnetSelectorTerms": [{}, "x", {"tags": {"a": 1}}, {"id": 7}, {"id": "subnet-a1"}],
        "podSecurityGroupSelectorTerms": {"id": "sg-pods"}
    }));
    assert_eq!(c.pod_subnet_terms.as_ref().unwrap().len(), 1);
    assert_eq!(c.pod_group_terms, Some(vec![]));
    assert_eq!(
        c.problems,
        [
            "spec.podSubnetSelectorTerms[0] has neither id nor tags",
            "spec.podSubnetSelectorTerms[1] is not an object",
            "spec.podSubnetSelectorTerms[2] has a tag value that is not a string",
            "spec.podSubnetSelectorTerms[3] has an id that is not a string",
            "spec.podSecurityGroupSelectorTerms is not a list",
        ]
    );
    let r = resolve(&c, &subnets(), &groups(), Some(&vpc()));
    assert_eq!(
        r.problems.len(),
        5,
        "the reader treats the class as unknown"
    );
}

#[test]
fn cni_subnets_per_zone_of_the_vpc_tagged_one() {
    let z = cni_subnets(&subnets(), Some(&vpc())).unwrap();
    assert_eq!(
        zones(&z),
        [("eu-west-1a".to_string(), vec!["subnet-a1".to_string()])],
        "subnet-c1 is tagged 0, subnet-x1 is another VPC's"
    );
    assert_eq!(
        cni_subnets(&Err(Unavailable::new("ec2", "x")), Some(&vpc())),
        None
    );
    assert_eq!(cni_subnets(&Ok(vec![]), Some(&vpc())), Some(vec![]));
}

#[test]
fn what_ec2_is_asked_for_nodeclasses() {
    let by_id = class(json!({"podSecurityGroupSelectorTerms": [{"id": "sg-pods"}]}));
    let by_tag = class(json!({"podSecurityGroupSelectorTerms": [{"tags": {"a": "*"}}]}));
    assert!(!needs_vpc_groups(std::slice::from_ref(&by_id)));
    assert!(needs_vpc_groups(&[by_id.clone(), by_tag]));
    assert_eq!(ids(&named_groups(&[by_id])), ["sg-pods"]);
}

#[test]
fn resolved_sorted_by_name_and_none_without_the_crd() {
    let mut b = class(json!({}));
    b.name = "b".into();
    let mut a = class(json!({}));
    a.name = "a".into();
    let all = resolve_all(&Ok(Some(vec![b, a])), &subnets(), &groups(), Some(&vpc()));
    let names: Vec<_> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(resolve_all(&Ok(None), &subnets(), &groups(), None).is_empty());
}
