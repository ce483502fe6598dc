//! The migration view where inputs are missing, unknown or garbage: the
//! affected numbers are unknown with words, never guessed, never a false
//! "can be deleted"; and no input panics.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use eniwatch_core::model::node_kind::{INSTANCE_TYPE_LABEL, OS_LABEL, ZONE_LABEL};
use eniwatch_core::model::{NodeInfo, SelectionSettings, Unavailable};
use eniwatch_core::status::fixture::migration_cluster;
use eniwatch_core::status::input::{NodeCondition, StatusInput, StatusNode, StatusPod};
use eniwatch_core::status::view::{Amount, Migration, NodeMode, Severity};
use eniwatch_core::status::{render_json, render_text, StatusView};

fn view(input: &StatusInput) -> StatusView {
    let v = StatusView::from_input(input);
    // Every view renders, whatever it holds.
    let _ = render_text(&v, 80, true);
    assert_eq!(render_json(&v)["schema_version"], 1);
    v
}

fn says(v: &StatusView, words: &str) -> bool {
    v.verdicts.iter().any(|x| x.text.contains(words))
}

/// A "can be deleted" that is not "whether ... can be deleted is unknown".
fn says_can_be_deleted(v: &StatusView) -> bool {
    v.verdicts
        .iter()
        .any(|x| x.text.contains(" can be deleted") && !x.text.starts_with("whether"))
}

#[test]
fn an_empty_cluster_is_inconclusive() {
    let input = StatusInput {
        nodes: vec![],
        pods: vec![],
        eni_configs: Ok(Some(vec![])),
        node_classes: Ok(None),
        facts: Ok(None),
        selection: SelectionSettings::default(),
    };
    let v = view(&input);
    assert!(v.zones.is_empty() && v.nodegroups.is_empty());
    assert!(says(&v, "no nodes were listed"));
    assert_eq!(v.exit_code(), 2);
}

#[test]
fn without_facts_old_nodes_are_unknown_not_migrated_with_drift() {
    let mut input = migration_cluster();
    input.facts = Ok(None);
    let v = view(&input);
    assert!(v
        .nodes
        .iter()
        .filter(|n| n.name.starts_with("old-ng"))
        .all(|n| n.migration != Migration::Drift && n.migration != Migration::Migrated));
    assert!(!says_can_be_deleted(&v));
    assert!(says(&v, "facts are not published"));
    // Max-pods caps both formulas the same: the slots stay known.
    let a = v.zones.iter().find(|z| z.zone == "eu-west-1a").unwrap();
    assert_eq!(a.plan.free_slots, Amount::Known(196));
    assert_eq!(v.exit_code(), 2);
}

#[test]
fn an_unknown_instance_type_makes_the_zone_unknown() {
    let mut input = migration_cluster();
    for n in input
        .nodes
        .iter_mut()
        .filter(|n| n.info.name.starts_with("new-ng-b"))
    {
        n.info
            .labels
            .insert(INSTANCE_TYPE_LABEL.into(), "m9z.huge".into());
    }
    let v = view(&input);
    let b = v.zones.iter().find(|z| z.zone == "eu-west-1b").unwrap();
    match &b.plan.free_slots {
        Amount::Unknown { unknown } => assert!(unknown.contains("m9z.huge"), "{unknown}"),
        other => panic!("{other:?}"),
    }
    assert!(b.plan.nodes_to_add.is_empty());
    assert!(v
        .verdicts
        .iter()
        .any(|x| x.zone.as_deref() == Some("eu-west-1b") && x.severity == Severity::Unknown));
    assert!(!says_can_be_deleted(&v));
}

#[test]
fn without_the_eniconfig_crd_nothing_is_planned() {
    let mut input = migration_cluster();
    input.eni_configs = Ok(None);
    let v = view(&input);
    assert!(v
        .nodes
        .iter()
        .all(|n| matches!(n.mode, NodeMode::Standard { .. })));
    assert!(says(&v, "ENIConfig CRD is not installed"));
    assert!(!says_can_be_deleted(&v));
    assert!(!says(&v, "Karpenter replaces"));
    assert_eq!(v.exit_code(), 2);
}

#[test]
fn a_failed_read_is_inconclusive() {
    let mut input = migration_cluster();
    input.eni_configs = Err(Unavailable::new("kubernetes", "403 forbidden").with_kind("forbidden"));
    let v = view(&input);
    assert!(v.nodes.iter().all(|n| n.migration == Migration::Unknown));
    assert!(says(&v, "ENIConfigs could not be listed: 403 forbidden"));
    assert!(!says_can_be_deleted(&v));
    assert_eq!(v.exit_code(), 2);
}

#[test]
fn a_zone_that_fits_lets_its_nodegroup_be_deleted() {
    // Only zone a: new-ng has room for old-ng's pods there.
    let mut input = migration_cluster();
    input
        .nodes
        .retain(|n| n.info.labels.get(ZONE_LABEL).map(String::as_str) == Some("eu-west-1a"));
    let v = view(&input);
    assert!(says(
        &v,
        "nodegroup old-ng can be deleted: its 158 pods to move fit"
    ));
    // Not done yet: exit 1.
    assert_eq!(v.exit_code(), 1);
}

#[test]
fn filters_cut_rows_not_the_plan() {
    let v = view(&migration_cluster());
    let b = v.filtered(None, Some("eu-west-1b"));
    assert_eq!(b.zones.len(), 1);
    let groups: Vec<&str> = b.nodegroups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["new-ng", "old-ng"]);
    assert!(b
        .verdicts
        .iter()
        .all(|x| x.zone.as_deref().is_none_or(|z| z == "eu-west-1b")));
    let old = v.filtered(Some("old-ng"), None);
    assert_eq!(old.nodegroups.len(), 1);
    assert_eq!(old.zones.len(), 3);
    // The zone's free slots still count new-ng's nodes.
    assert_eq!(old.zones[1].plan.free_slots, Amount::Known(28));
    assert!(render_text(&old, 80, false).contains("shown: nodegroup old-ng"));
}

fn node(name: &str, labels: &[(&str, &str)], ips: Vec<IpAddr>) -> StatusNode {
    StatusNode {
        info: NodeInfo {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            annotations: BTreeMap::new(),
            capacity_pods: None,
        },
        allocatable_pods: None,
        internal_ips: ips,
        ready: None,
        unschedulable: false,
        condition: Some(NodeCondition {
            status: "Banana".into(),
            reason: Some(String::new()),
            message: None,
            last_heartbeat: Some("not a time".into()),
        }),
    }
}

#[test]
fn out_of_scope_nodes_and_garbage() {
    let mut input = migration_cluster();
    input.nodes.push(node(
        "v6",
        &[(ZONE_LABEL, "eu-west-1a")],
        vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
    ));
    input
        .nodes
        .push(node("win", &[(OS_LABEL, "windows")], vec![]));
    input.nodes.push(node("bare", &[], vec![]));
    input.pods.push(StatusPod {
        namespace: String::new(),
        name: String::new(),
        node_name: Some("no-such-node".into()),
        ip: Some(Ipv4Addr::BROADCAST),
        host_network: false,
        owner_kind: None,
        deleting: false,
    });
    let v = view(&input);
    let mode = |n: &str| &v.nodes.iter().find(|r| r.name == n).unwrap().mode;
    assert_eq!(
        mode("v6"),
        &NodeMode::NotApplicable {
            not_applicable: "ipv6".into()
        }
    );
    assert_eq!(
        mode("win"),
        &NodeMode::NotApplicable {
            not_applicable: "windows".into()
        }
    );
    assert!(v.zones.iter().any(|z| z.zone == "(no zone label)"));
}

mod no_input_panics {
    use super::*;
    use proptest::prelude::*;

    fn any_node() -> impl Strategy<Value = StatusNode> {
        (
            "[a-c]{1,2}",
            prop::sample::select(vec!["eu-west-1a", "eu-west-1b", "", " "]),
            prop::sample::select(vec!["m5.large", "m9z.huge", "t3.nano", "", "x.2xlarge"]),
            prop::sample::select(vec!["", "auto", "fargate", "hybrid"]),
            prop::sample::select(vec![
                "eks.amazonaws.com/nodegroup",
                "karpenter.sh/nodepool",
                "x",
            ]),
            prop::option::of(prop::sample::select(vec!["True", "False", "Unknown", ""])),
            prop::option::of(prop::sample::select(vec![
                "2026-12-01T21:00:00Z",
                "2026-12-01T19:00:00Z",
                "0000-00-00T00:00:00Z",
                "9999-12-31T23:59:60+23:59",
            ])),
            (
                any::<Option<u32>>(),
                any::<Option<u32>>(),
                any::<bool>(),
                any::<Option<bool>>(),
            ),
            any::<bool>(),
        )
            .prop_map(
                |(name, zone, itype, compute, group, status, hb, nums, v6)| {
                    let (cap, alloc, unsched, ready) = nums;
                    let mut n = node(
                        &name,
                        &[
                            (ZONE_LABEL, zone),
                            (INSTANCE_TYPE_LABEL, itype),
                            ("eks.amazonaws.com/compute-type", compute),
                            (group, "g"),
                        ],
                        if v6 {
                            vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]
                        } else {
                            vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))]
                        },
                    );
                    n.info.capacity_pods = cap;
                    n.allocatable_pods = alloc;
                    n.unschedulable = unsched;
                    n.ready = ready;
                    n.condition = status.map(|s| NodeCondition {
                        status: s.into(),
                        reason: Some("R".into()),
                        message: None,
                        last_heartbeat: hb.map(Into::into),
                    });
                    n
                },
            )
    }

    fn any_pod() -> impl Strategy<Value = StatusPod> {
        (
            prop::option::of("[a-c]{1,2}"),
            prop::option::of(any::<u32>()),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec!["DaemonSet", "ReplicaSet", ""])),
            any::<bool>(),
        )
            .prop_map(|(node, ip, host_network, owner, deleting)| StatusPod {
                namespace: "n".into(),
                name: "p".into(),
                node_name: node,
                ip: ip.map(Ipv4Addr::from),
                host_network,
                owner_kind: owner.map(Into::into),
                deleting,
            })
    }

    proptest! {
        #[test]
        fn any_input_gives_a_view(
            nodes in prop::collection::vec(any_node(), 0..12),
            pods in prop::collection::vec(any_pod(), 0..40),
            facts in any::<u8>(),
            width in 0usize..200,
        ) {
            let mut input = migration_cluster();
            input.nodes.extend(nodes);
            input.pods.extend(pods);
            match facts % 4 {
                0 => input.facts = Ok(None),
                1 => input.facts = Err(Unavailable::new("cluster_facts", "x")),
                2 => input.eni_configs = Ok(None),
                _ => {}
            }
            let v = StatusView::from_input(&input);
            let _ = render_text(&v, width, facts % 2 == 0);
            let _ = render_text(&v.filtered(Some("g"), Some("eu-west-1a")), width, false);
            prop_assert_eq!(render_json(&v)["schema_version"].as_u64(), Some(1));
            prop_assert!((0..=2).contains(&v.exit_code()));
        }
    }
}

#[test]
fn a_heartbeat_far_ahead_does_not_make_the_others_stale() {
    let mut input = migration_cluster();
    if let Some(c) = input.nodes[0].condition.as_mut() {
        c.last_heartbeat = Some("2099-01-01T00:00:00Z".into());
    }
    let v = view(&input);
    let stale: u64 = v.zones.iter().map(|z| z.ready.stale).sum();
    assert_eq!(stale, 1, "only general-c-13 is stale");
}

#[test]
fn five_thousand_nodes_are_judged_at_once() {
    // The fixture 84 times over: 5,040 nodes, 126,000 pods.
    let one = migration_cluster();
    let mut input = one.clone();
    input.nodes.clear();
    input.pods.clear();
    for copy in 0..84 {
        for n in &one.nodes {
            let mut n = n.clone();
            n.info.name = format!("{}-{copy}", n.info.name);
            input.nodes.push(n);
        }
        for p in &one.pods {
            let mut p = p.clone();
            p.node_name = p.node_name.map(|n| format!("{n}-{copy}"));
            input.pods.push(p);
        }
    }
    let started = std::time::Instant::now();
    let v = StatusView::from_input(&input);
    let text = render_text(&v, 80, false);
    let json = render_json(&v);
    eprintln!(
        "{} nodes, {} pods: judged and rendered in {:?}",
        input.nodes.len(),
        input.pods.len(),
        started.elapsed()
    );
    let b = v.zones.iter().find(|z| z.zone == "eu-west-1b").unwrap();
    assert_eq!(b.plan.pods_to_move, 157 * 84);
    assert!(text.contains("5040 nodes"));
    assert_eq!(json["nodes"].as_array().map(Vec::len), Some(5040));
}

#[test]
fn nodes_of_unknown_state_are_named_in_the_text() {
    let mut input = migration_cluster();
    input.facts = Ok(None);
    let text = render_text(&view(&input), 80, false);
    assert!(text.contains("Nodes with drift or of unknown state"));
    assert!(text.contains("  old-ng-a-0 (old-ng): False: PodIPOutsideENIConfigSubnet"));
    assert!(text.contains("and 15 more"), "{text}");
    for line in text.lines().take_while(|l| *l != "Plan") {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

#[test]
fn a_cluster_where_custom_networking_does_not_apply_is_done() {
    let mut input = migration_cluster();
    for n in &mut input.nodes {
        n.internal_ips = vec![IpAddr::V6(Ipv6Addr::LOCALHOST)];
    }
    let v = view(&input);
    assert!(v.nodes.iter().all(|n| n.migration == Migration::NotInPlan));
    assert!(v.zones.iter().all(|z| z.plan.pods_to_move == 0));
    assert_eq!(v.exit_code(), 0, "{:#?}", v.verdicts);
}
