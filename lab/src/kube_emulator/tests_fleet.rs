//! Nodes at cluster scale against the real kube-rs client: thousands of
//! Nodes listed whole, in consistent pages, by label, and watched.

use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;

use super::tests::{next, scenario, serve, TestResult, NODE};
use super::{fleet, FleetNode, KubeState};

const ZONES: [(&str, &str); 3] = [
    ("us-west-2a", "usw2-az1"),
    ("us-west-2b", "usw2-az2"),
    ("us-west-2c", "usw2-az3"),
];

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

#[tokio::test]
async fn five_thousand_nodes_list_whole_and_in_pages() -> TestResult {
    let state = KubeState::new(&scenario());
    let started = Instant::now();
    let mut nodes = fleet(5000, &ZONES);
    for n in nodes.iter_mut().step_by(2) {
        n.labels.insert(
            "k8s.amazonaws.com/eniConfig".into(),
            n.availability_zone.clone(),
        );
    }
    state.add_nodes(nodes);
    println!("loaded 5,000 nodes in {:?}", started.elapsed());
    assert_eq!(state.nodes().len(), 5001, "the scenario's node too");
    assert_eq!(state.node()["metadata"]["name"], NODE);

    // The server's answer alone, as bytes (a debug build's decoding into
    // typed Nodes would dominate otherwise).
    let addr = crate::serve_on_loopback(super::router(state.clone())).await?;
    let started = Instant::now();
    let body = reqwest::get(format!("http://{addr}/api/v1/nodes"))
        .await?
        .bytes()
        .await?;
    let took = started.elapsed();
    println!(
        "LIST of 5,001 nodes answered in {took:?} ({} bytes)",
        body.len()
    );
    // Generous for an unoptimised build on a loaded machine; well under
    // a second in release.
    assert!(took.as_secs_f64() < 5.0, "LIST took {took:?}");
    let client = serve(&state).await;
    let api: Api<Node> = Api::all(client);
    let started = Instant::now();
    let all = api.list(&ListParams::default()).await?;
    println!("... decoded by kube-rs in {:?}", started.elapsed());
    assert_eq!(all.items.len(), 5001);

    let first = all
        .items
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some("ip-10-2-0-4.us-west-2.compute.internal"));
    let first = first.ok_or("node 1 (zone b, first) is listed")?;
    assert_eq!(label(first, "topology.k8s.aws/zone-id"), Some("usw2-az2"));
    let spec = first.spec.clone().unwrap_or_default();
    assert_eq!(
        spec.provider_id.as_deref(),
        Some("aws:///us-west-2b/i-0f1ee700000000001")
    );
    let addresses = first
        .status
        .clone()
        .unwrap_or_default()
        .addresses
        .unwrap_or_default();
    assert!(addresses
        .iter()
        .any(|a| a.type_ == "InternalIP" && a.address == "10.2.0.4"));

    // Pages of 500 are one consistent list even when nodes change between
    // pages: the added node is not in it, the removed one still is.
    let started = Instant::now();
    let mut params = ListParams::default().limit(500);
    let mut paged = Vec::new();
    let mut pages = 0;
    loop {
        let page = api.list(&params).await?;
        pages += 1;
        if pages == 2 {
            state.add_nodes([FleetNode::numbered(9999, &ZONES)]);
            state.remove_nodes(&["ip-10-1-0-4.us-west-2.compute.internal"]);
        }
        paged.extend(page.items.into_iter().filter_map(|n| n.metadata.name));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    println!("{pages} pages of 500 in {:?}", started.elapsed());
    assert_eq!(pages, 11);
    let whole: Vec<String> = all
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(paged, whole);
    assert_eq!(state.nodes().len(), 5001, "one added, one removed");

    let zone = |z: &str| ListParams::default().labels(&format!("topology.kubernetes.io/zone={z}"));
    assert_eq!(api.list(&zone("us-west-2c")).await?.items.len(), 1666);
    assert_eq!(
        api.list(&zone("us-west-2a")).await?.items.len(),
        1667 - 1 + 1 + 1,
        "node 0 removed, node 9999 and the scenario's node"
    );
    let custom = api
        .list(&ListParams::default().labels("k8s.amazonaws.com/eniConfig"))
        .await?;
    assert_eq!(
        custom.items.len(),
        2500 - 1 + 1,
        "the even ones but node 0, and the scenario's node"
    );
    Ok(())
}

#[tokio::test]
async fn a_node_watcher_sees_the_fleet_and_its_changes() -> TestResult {
    let state = KubeState::new(&scenario());
    state.add_nodes(fleet(1200, &ZONES));
    let client = serve(&state).await;
    let api: Api<Node> = Api::all(client);
    let mut w = Box::pin(watcher(api, watcher::Config::default()));
    let mut initial = 0;
    loop {
        match next(&mut w).await? {
            watcher::Event::InitApply(_) => initial += 1,
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, 1201);
    let mut changed = FleetNode::numbered(7, &ZONES);
    changed.ready = false;
    state.add_nodes([changed.clone()]);
    match next(&mut w).await? {
        watcher::Event::Apply(n) => {
            assert_eq!(n.metadata.name.as_deref(), Some(changed.name.as_str()));
            let ready = n.status.and_then(|s| s.conditions).unwrap_or_default();
            assert_eq!(ready.first().map(|c| c.status.as_str()), Some("Unknown"));
        }
        other => panic!("expected the changed node, got {other:?}"),
    }
    // A re-render of the scenario keeps the fleet and sends nothing for it.
    state.apply_scenario(&scenario());
    state.remove_nodes(&[changed.name.as_str()]);
    match next(&mut w).await? {
        watcher::Event::Delete(n) => assert_eq!(n.metadata.name, Some(changed.name)),
        other => panic!("expected the removed node, got {other:?}"),
    }
    assert_eq!(state.nodes().len(), 1200);
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(200), w.next()).await;
    assert!(quiet.is_err(), "nothing more: {quiet:?}");
    Ok(())
}
