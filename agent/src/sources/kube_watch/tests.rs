//! The view's rules, driven by hand: what the watch tasks would record.

use super::*;
use eniwatch_core::model::PodInfo;

fn pod(name: &str) -> PodInfo {
    PodInfo {
        namespace: Some("shop".into()),
        name: Some(name.into()),
        ip: Some("100.64.1.10".parse().unwrap()),
        ip_text: None,
        host_network: false,
        terminal: false,
        completed: false,
        branch: None,
    }
}

fn node() -> NodeInfo {
    NodeInfo {
        name: "n".into(),
        labels: Default::default(),
        annotations: Default::default(),
        capacity_pods: None,
    }
}

/// Every collection listed: the node, one pod `a`, no ENIConfigs.
fn listed() -> ClusterWatch {
    let w = ClusterWatch::default();
    {
        let mut m = w.lock();
        m.node.apply(Update::Init);
        m.node.apply(Update::InitApply("/n".into(), node()));
        m.node.apply(Update::InitDone);
        m.pods.apply(Update::Init);
        m.pods.apply(Update::InitApply("shop/a".into(), pod("a")));
        m.pods.apply(Update::InitDone);
        m.eniconfigs.apply(Update::Init);
        m.eniconfigs.apply(Update::InitDone);
        m.ever_listed = true;
    }
    w
}

fn reason(w: &ClusterWatch) -> String {
    match w.view("n") {
        Ok(_) => "available".into(),
        Err(u) => u.reason,
    }
}

#[test]
fn no_view_before_every_collection_has_listed() {
    let w = ClusterWatch::default();
    assert!(reason(&w).starts_with("waiting for the first list"));
    w.lock().node.apply(Update::InitDone);
    w.lock().pods.apply(Update::InitDone);
    assert!(reason(&w).starts_with("waiting for the first list"));
    w.lock().crd_missing = true;
    assert!(
        reason(&w).contains("does not exist in the API server"),
        "listed, but no node: {}",
        reason(&w)
    );
}

#[test]
fn after_an_outage_the_view_waits_for_every_watch_to_list_again() {
    let w = listed();
    assert_eq!(reason(&w), "available");
    {
        let mut m = w.lock();
        m.pods.error = Some("the watch connection failed: connection reset".into());
        m.begin_outage();
    }
    assert!(reason(&w).contains("watching pods: the watch connection failed"));
    // The API answers again and the pod watch lists; the others have not yet.
    {
        let mut m = w.lock();
        m.pods.apply(Update::Init);
        m.pods.apply(Update::InitDone);
    }
    assert!(
        reason(&w).starts_with("re-listing the node, its pods and the ENIConfigs after"),
        "{}",
        reason(&w)
    );
    w.lock().node.apply(Update::InitApply("/n".into(), node()));
    w.lock().node.apply(Update::InitDone);
    assert!(reason(&w).starts_with("re-listing"));
    w.lock().eniconfigs.apply(Update::InitDone);
    let view = w.view("n").expect("every watch listed again");
    assert!(view.pods.is_empty(), "the re-list replaced the stale pods");
}

#[test]
fn a_pod_the_api_says_is_gone_is_dropped_and_every_watch_relists() {
    let w = listed();
    let mut relist = w.control.relist.subscribe();
    relist.borrow_and_update();
    w.forget_pod("shop", "a");
    assert!(
        relist.has_changed().unwrap_or(false),
        "the watches are told to re-list"
    );
    let why = reason(&w);
    assert!(
        why.starts_with("the pod watch missed that pod shop/a was deleted"),
        "{why}"
    );
    // A pod the mirror no longer has changes nothing.
    relist.borrow_and_update();
    w.forget_pod("shop", "b");
    assert!(!relist.has_changed().unwrap_or(true));
}

#[tokio::test]
async fn a_pod_lookup_without_a_client_is_unknown() {
    let w = listed();
    assert!(matches!(
        w.pod_exists("shop", "a").await,
        PodPresence::Unknown(_)
    ));
    assert_eq!(reason(&w), "available", "an unknown answer drops nothing");
}

mod against_the_emulator {
    use super::*;
    use eniwatch_lab::kube_emulator::{router, KubeState};
    use eniwatch_lab::scenario::Scenario;
    use std::time::Duration;

    fn healthy() -> Scenario {
        Scenario::bundled("healthy").expect("bundled scenario loads")
    }

    async fn client(state: &KubeState) -> Client {
        let addr = eniwatch_lab::serve_on_loopback(router(state.clone()))
            .await
            .expect("bind loopback");
        let config = kube::Config::new(format!("http://{addr}").parse().expect("URL"));
        Client::try_from(config).expect("client")
    }

    async fn until(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn pods(w: &ClusterWatch, node: &str) -> Option<Vec<String>> {
        let view = w.view(node).ok()?;
        Some(view.pods.iter().filter_map(|p| p.name.clone()).collect())
    }

    #[tokio::test]
    async fn a_pod_gone_behind_a_stalled_watch_is_dropped_and_the_view_relisted() {
        let s = healthy();
        let node = s.node.name.clone();
        let state = KubeState::new(&s);
        let c = client(&state).await;
        let w = ClusterWatch::default();
        let (tx, _rx) = mpsc::channel(1);
        w.spawn(c.clone(), c, &node, Default::default(), tx);
        until("the first view", || pods(&w, &node).is_some()).await;
        assert!(pods(&w, &node)
            .unwrap_or_default()
            .contains(&"web-00".to_string()));

        state.set_watches_stalled(true);
        let mut gone = s.clone();
        gone.pods.retain(|p| p.name != "web-00");
        state.apply_scenario(&gone);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            pods(&w, &node)
                .unwrap_or_default()
                .contains(&"web-00".to_string()),
            "the stalled watch has not seen the deletion"
        );
        assert_eq!(w.pod_exists("shop", "api-01").await, PodPresence::Present);
        assert_eq!(w.pod_exists("shop", "web-00").await, PodPresence::Gone);
        // Re-listed (lists are answered even while watches stall).
        until("the re-listed view", || pods(&w, &node).is_some()).await;
        let now = pods(&w, &node).unwrap_or_default();
        assert!(!now.contains(&"web-00".to_string()), "{now:?}");
        assert!(now.contains(&"api-01".to_string()), "{now:?}");
    }
}
