//! Write paths against the real kube-rs client: the events Recorder, event
//! validation, and node status patches of every flavour.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::events::v1::Event as EventV1;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Resource;
use serde_json::{json, Value};

use super::tests::{next, scenario, serve, TestResult, NODE};
use super::KubeState;

fn conditions(node: &Value) -> Vec<(String, String)> {
    node["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let field = |f: &str| c[f].as_str().unwrap_or("").to_string();
                    (field("type"), field("status"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn recorder_events_are_created_then_patched_into_a_series() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let node = Api::<Node>::all(client.clone()).get(NODE).await?;
    let reporter = Reporter {
        controller: "eniwatch".into(),
        instance: Some("eniwatch-test".into()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let event = Event {
        type_: EventType::Warning,
        reason: "PodRouteMissing".into(),
        note: Some("pod default/web-1 has no /32 route in the main table".into()),
        action: "Validate".into(),
        secondary: None,
    };
    recorder.publish(&event, &node.object_ref(&())).await?;
    recorder.publish(&event, &node.object_ref(&())).await?;

    let events = state.events();
    assert_eq!(
        events.len(),
        1,
        "the second publish patches the first: {events:?}"
    );
    let ev = &events[0];
    assert_eq!(ev["apiVersion"], "events.k8s.io/v1");
    assert_eq!(
        ev["metadata"]["namespace"], "default",
        "cluster-scoped objects report into default"
    );
    assert_eq!(ev["regarding"]["kind"], "Node");
    assert_eq!(ev["regarding"]["name"], NODE);
    assert_eq!(ev["reportingController"], "eniwatch");
    assert_eq!(ev["series"]["count"], 2);
    assert!(ev["metadata"]["uid"].is_string());

    let requests = state.event_requests();
    let shape: Vec<(&str, &str, Option<&str>)> = requests
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.content_type.as_deref(),
            )
        })
        .collect();
    let name = ev["metadata"]["name"].as_str().unwrap_or("");
    let patch_path = format!("/apis/events.k8s.io/v1/namespaces/default/events/{name}");
    assert_eq!(
        shape,
        [
            (
                "POST",
                "/apis/events.k8s.io/v1/namespaces/default/events",
                Some("application/json")
            ),
            (
                "PATCH",
                patch_path.as_str(),
                Some("application/merge-patch+json")
            ),
        ]
    );

    let listed = Api::<EventV1>::namespaced(client.clone(), "default")
        .list(&ListParams::default().fields("reason=PodRouteMissing"))
        .await?;
    assert_eq!(listed.items.len(), 1);

    // Validation: an events.k8s.io/v1 Event needs eventTime and friends, and
    // names are unique.
    let events_api: Api<EventV1> = Api::namespaced(client.clone(), "default");
    let bare: EventV1 = serde_json::from_value(json!({
        "metadata": {"generateName": "bare-"}, "reason": "X", "type": "Normal"}))?;
    let err = events_api.create(&PostParams::default(), &bare).await.err();
    match err {
        Some(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            assert!(
                s.message.contains("eventTime: Required value"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let mut copy: EventV1 = serde_json::from_value(ev.clone())?;
    copy.metadata.resource_version = None;
    copy.metadata.uid = None;
    let dup = events_api.create(&PostParams::default(), &copy).await.err();
    assert!(
        matches!(dup, Some(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists")
    );
    assert_eq!(state.events().len(), 1);
    assert_eq!(
        state.event_requests().len(),
        4,
        "rejected requests are recorded too"
    );
    Ok(())
}

#[tokio::test]
async fn node_status_patches_merge_conditions_by_type() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let mut watch = Box::pin(
        nodes
            .watch(
                &WatchParams::default(),
                &state.resource_version().to_string(),
            )
            .await?,
    );
    let rv_before = state.resource_version();

    let custom = json!({"status": {"conditions": [{
        "type": "eniwatch.io/CustomNetworking", "status": "False", "reason": "PodRouteMissing",
        "message": "1 pod without route", "lastTransitionTime": "2025-01-01T00:00:00Z",
        "lastHeartbeatTime": "2025-01-01T00:00:00Z"}]}});
    let patched = nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Strategic(&custom))
        .await?;
    let types: Vec<String> = patched
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(
        types,
        [
            "MemoryPressure",
            "DiskPressure",
            "PIDPressure",
            "Ready",
            "eniwatch.io/CustomNetworking"
        ]
    );
    assert_eq!(state.resource_version(), rv_before + 1);
    match next(&mut watch).await? {
        WatchEvent::Modified(n) => assert_eq!(n.metadata.name.as_deref(), Some(NODE)),
        other => panic!("expected the node MODIFIED, got {other:?}"),
    }

    // The same patch again changes nothing: no new resourceVersion.
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Strategic(&custom))
        .await?;
    assert_eq!(state.resource_version(), rv_before + 1);

    // A status patch cannot change spec; a stale resourceVersion conflicts.
    let sneaky = json!({"spec": {"unschedulable": true}, "status": {"conditions": [
        {"type": "eniwatch.io/CustomNetworking", "status": "True", "reason": "Healthy"}]}});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Strategic(&sneaky))
        .await?;
    let node = state.node();
    assert!(node["spec"].get("unschedulable").is_none());
    assert!(conditions(&node).contains(&("eniwatch.io/CustomNetworking".into(), "True".into())));
    let stale = json!({"metadata": {"resourceVersion": "1"}, "status": {"phase": "x"}});
    let err = nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&stale))
        .await
        .err();
    assert!(matches!(err, Some(kube::Error::Api(s)) if s.code == 409 && s.reason == "Conflict"));

    // Dry run answers with the result but keeps nothing.
    let dry = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let only = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    let answered = nodes.patch_status(NODE, &dry, &Patch::Merge(&only)).await?;
    assert_eq!(
        answered.status.and_then(|s| s.conditions).map(|c| c.len()),
        Some(1)
    );
    assert_eq!(conditions(&state.node()).len(), 5);

    // A merge patch replaces the whole list.
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&only))
        .await?;
    assert_eq!(
        conditions(&state.node()),
        [("Ready".to_string(), "False".to_string())]
    );

    let recorded = state.node_status_patches();
    let types: Vec<Option<&str>> = recorded.iter().map(|r| r.content_type.as_deref()).collect();
    assert_eq!(
        types,
        [
            Some("application/strategic-merge-patch+json"),
            Some("application/strategic-merge-patch+json"),
            Some("application/strategic-merge-patch+json"),
            Some("application/merge-patch+json"),
            Some("application/merge-patch+json"),
            Some("application/merge-patch+json"),
        ]
    );
    assert!(recorded
        .iter()
        .all(|r| r.path == format!("/api/v1/nodes/{NODE}/status")));
    assert_eq!(recorded[0].body, custom);
    assert!(
        recorded[4].query.contains("dryRun=All"),
        "{}",
        recorded[4].query
    );

    // Re-rendering from a changed scenario keeps what clients patched.
    let mut bigger = scenario();
    bigger.node.max_pods = Some(58);
    state.apply_scenario(&bigger);
    let node = state.node();
    assert_eq!(node["status"]["capacity"]["pods"], "58");
    assert_eq!(
        conditions(&node),
        [("Ready".to_string(), "False".to_string())]
    );
    let mut saw_rerender = false;
    for _ in 0..4 {
        if let WatchEvent::Modified(n) = next(&mut watch).await? {
            let pods = n
                .status
                .and_then(|s| s.capacity)
                .and_then(|c| c.get("pods").map(|q| q.0.clone()));
            if pods.as_deref() == Some("58") {
                saw_rerender = true;
                break;
            }
        }
    }
    assert!(saw_rerender, "the re-render reached the node watcher");
    Ok(())
}
