//! EKS Auto Mode nodes and Karpenter nodes.

use super::fixture::*;
use super::mode::{
    NetworkingMode, AUTO_MODE_UNCONFIRMED, NEEDS_ENICONFIG, UNCONFIRMED_ON_AUTO_MODE,
};
use super::tests_applicability::json;
use super::*;
use crate::model::*;
use crate::published::{PublishedNodeClass, ZoneSubnets};

/// The fixture as an Auto Mode node of NodeClass `default`, no aws-node,
/// no ENIConfig; eniwatch-cluster's facts carry `class` (if any).
fn auto_mode(class: Option<PublishedNodeClass>) -> Snapshot {
    let mut s = healthy();
    let c = cluster(&mut s);
    c.eni_configs = None;
    c.pods.retain(|p| !p.host_network);
    c.node
        .labels
        .insert("eks.amazonaws.com/compute-type".into(), "auto".into());
    c.node
        .labels
        .insert("eks.amazonaws.com/nodeclass".into(), "default".into());
    s.ipamd = Witness::On(Err(Unavailable::new("ipamd", "connection refused")));
    s.cluster_facts = Witness::On(Ok(ClusterFacts {
        configmap: "kube-system/eniwatch-cluster-facts".into(),
        published: Some(published_healthy()),
    }));
    published(&mut s).node_classes = class.into_iter().collect();
    s
}

fn class(pod_subnets: Option<&[&str]>, groups: Option<&[&str]>) -> PublishedNodeClass {
    PublishedNodeClass {
        name: "default".into(),
        pod_subnets: pod_subnets.map(|ids| {
            vec![ZoneSubnets {
                availability_zone: "ap-southeast-1a".into(),
                availability_zone_id: Some("apse1-az1".into()),
                subnet_ids: ids.iter().map(|x| x.parse().unwrap()).collect(),
            }]
        }),
        pod_security_groups: groups.map(|g| g.iter().map(|x| x.parse().unwrap()).collect()),
        problems: vec![],
    }
}

#[test]
fn auto_mode_judges_placement_against_the_nodeclass() {
    let s = auto_mode(Some(class(Some(&["subnet-pods"]), Some(&["sg-pods"]))));
    let e = evaluate_declared(&s);
    assert_eq!(
        e.mode,
        NetworkingMode::EksAutoMode {
            node_class: Some("default".into())
        }
    );
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for name in [
        "eni-subnet",
        "eni-security-groups",
        "pod-subnet",
        "pod-ip-on-eni",
    ] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
    for name in NEEDS_ENICONFIG {
        assert_eq!(status(&s, name), CheckStatus::NotApplicable, "{name}");
    }
    for name in UNCONFIRMED_ON_AUTO_MODE {
        let c = e.checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(c.status, CheckStatus::Unknown, "{name}");
        assert_eq!(c.detail, AUTO_MODE_UNCONFIRMED, "{name}");
    }
    let r = json(&s);
    assert_eq!(r["mode"]["kind"], "eks_auto_mode");
    assert_eq!(r["mode"]["node_class"], "default");
    assert_eq!(r["mode"]["subnets"][0]["id"], "subnet-pods");
    assert_eq!(r["mode"]["security_groups"][0], "sg-pods");
    assert_eq!(r["not_applicable"], serde_json::Value::Null);
}

#[test]
fn auto_mode_flags_enis_outside_the_nodeclass_subnets() {
    let s = auto_mode(Some(class(Some(&["subnet-other"]), None)));
    let r = reasons(&s);
    assert!(r.contains(&Reason::SecondaryENIUnexpectedSubnet), "{r:?}");
    assert!(!r.contains(&Reason::CustomNetworkingNotApplied), "{r:?}");
}

#[test]
fn auto_mode_without_pod_terms_expects_the_node_subnet() {
    let s = auto_mode(Some(class(None, None)));
    assert_eq!(json(&s)["mode"]["subnets"][0]["id"], "subnet-node");
    // The fixture's secondaries are in subnet-pods: not the node's subnet.
    assert!(reasons(&s).contains(&Reason::SecondaryENIUnexpectedSubnet));
}

#[test]
fn auto_mode_is_unknown_not_drift_when_the_class_cannot_be_read() {
    let mut broken = class(Some(&["subnet-pods"]), None);
    broken.problems = vec!["podSubnetSelectorTerms[0] matched no subnet".into()];
    let cases = [
        (auto_mode(None), "not in eniwatch-cluster's facts"),
        (auto_mode(Some(broken)), "matched no subnet"),
        (
            {
                let mut s = auto_mode(Some(class(Some(&["subnet-pods"]), None)));
                s.cluster_facts = Witness::Off;
                s
            },
            "facts are not available",
        ),
    ];
    for (s, words) in cases {
        let e = evaluate(&s);
        assert!(e.findings.is_empty(), "{words}: {:#?}", e.findings);
        let c = e.checks.iter().find(|c| c.name == "eni-subnet").unwrap();
        assert_eq!(c.status, CheckStatus::Unknown, "{words}");
        assert!(c.detail.contains(words), "{}", c.detail);
        assert!(json(&s)["mode"]["unresolved"]
            .as_str()
            .unwrap()
            .contains(words));
    }
}

#[test]
fn karpenter_node_max_pods_hint_names_reserved_enis_and_kubelet_max_pods() {
    let mut s = healthy();
    cluster(&mut s)
        .node
        .labels
        .insert("karpenter.sh/nodepool".into(), "general".into());
    cluster(&mut s).node.capacity_pods = Some(58);
    let e = evaluate(&s);
    assert_eq!(
        e.mode,
        NetworkingMode::CustomNetworking {
            provisioner: Some("karpenter")
        }
    );
    let f = e
        .findings
        .iter()
        .find(|f| f.reason == Reason::MaxPodsExceedsCapacity)
        .expect("58 is above custom networking's 44");
    for words in [
        "reservedENIs",
        "RESERVED_ENIS",
        "kubelet.maxPods",
        "at most 44",
    ] {
        assert!(f.message.contains(words), "{words}: {}", f.message);
    }
    assert!(f.hint.contains("reservedENIs"), "{}", f.hint);
    assert_eq!(json(&s)["mode"]["provisioner"], "karpenter");
    // A managed-nodegroup node is told about its bootstrap instead.
    let mut s = healthy();
    cluster(&mut s).node.capacity_pods = Some(58);
    let e = evaluate(&s);
    let f = e
        .findings
        .iter()
        .find(|f| f.reason == Reason::MaxPodsExceedsCapacity)
        .unwrap();
    assert!(!f.message.contains("RESERVED_ENIS"), "{}", f.message);
}
