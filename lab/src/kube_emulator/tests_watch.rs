//! Watches through the real kube-rs client: the runtime watcher (list +
//! watch and streaming lists), selector transitions, history replay and 410.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, WatchEvent, WatchParams};
use kube::runtime::watcher;

use super::tests::{next, scenario, serve, TestResult, NODE};
use super::{EmulatorOptions, KubeState};

#[tokio::test]
async fn watcher_follows_scenario_changes() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let pods: Api<Pod> = Api::all(client);
    let here = format!("spec.nodeName={NODE}");
    let mut all = Box::pin(watcher(
        pods.clone(),
        watcher::Config::default().fields(&here),
    ));
    let running = format!("{here},status.phase=Running");
    let mut only_running = Box::pin(watcher(
        pods.clone(),
        watcher::Config::default()
            .fields(&running)
            .streaming_lists(),
    ));

    let mut initial = Vec::new();
    assert!(matches!(next(&mut all).await?, watcher::Event::Init));
    loop {
        match next(&mut all).await? {
            watcher::Event::InitApply(p) => initial.extend(p.metadata.name),
            watcher::Event::InitDone => break,
            other => panic!("unexpected during init: {other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["aws-node-abcde", "pending-1", "web-1", "web-2"]);
    let mut streamed = 0;
    loop {
        match next(&mut only_running).await? {
            watcher::Event::Init => {}
            watcher::Event::InitApply(_) => streamed += 1,
            watcher::Event::InitDone => break,
            other => panic!("unexpected during streaming init: {other:?}"),
        }
    }
    assert_eq!(streamed, 4);

    let mut changed = scenario();
    changed.pods.retain(|p| p.name != "pending-1");
    if let Some(web1) = changed.pods.iter_mut().find(|p| p.name == "web-1") {
        web1.ip = Some("100.64.0.13".parse()?);
        web1.phase = Some("Succeeded".into());
    }
    state.apply_scenario(&changed);

    match next(&mut all).await? {
        watcher::Event::Apply(p) => {
            assert_eq!(p.metadata.name.as_deref(), Some("web-1"));
            assert_eq!(
                p.status.and_then(|s| s.pod_ip).as_deref(),
                Some("100.64.0.13")
            );
        }
        other => panic!("expected web-1 modified, got {other:?}"),
    }
    match next(&mut all).await? {
        watcher::Event::Delete(p) => assert_eq!(p.metadata.name.as_deref(), Some("pending-1")),
        other => panic!("expected pending-1 deleted, got {other:?}"),
    }
    // web-1 left the phase selector: that watcher sees it deleted.
    match next(&mut only_running).await? {
        watcher::Event::Delete(p) => assert_eq!(p.metadata.name.as_deref(), Some("web-1")),
        other => panic!("expected web-1 to leave the selector, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn watch_replays_history_and_expires_old_versions() -> TestResult {
    let options = EmulatorOptions {
        history_limit: 8,
        ..EmulatorOptions::default()
    };
    let state = KubeState::with_options(&scenario(), options);
    let client = serve(&state).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut s = scenario();
    for i in 0..10 {
        if let Some(web1) = s.pods.iter_mut().find(|p| p.name == "web-1") {
            web1.phase = Some(if i % 2 == 0 { "Failed" } else { "Running" }.into());
        }
        state.apply_scenario(&s);
    }
    let rv = state.resource_version();

    let mut recent = Box::pin(
        pods.watch(&WatchParams::default(), &(rv - 2).to_string())
            .await?,
    );
    for expected in [rv - 1, rv] {
        match next(&mut recent).await? {
            WatchEvent::Modified(p) => {
                assert_eq!(p.metadata.resource_version, Some(expected.to_string()))
            }
            other => panic!("expected a replayed MODIFIED, got {other:?}"),
        }
    }

    let mut old = Box::pin(pods.watch(&WatchParams::default(), "1").await?);
    match next(&mut old).await? {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(status.message.starts_with("too old resource version: 1 ("));
        }
        other => panic!("expected 410, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(5), old.next()).await?;
    assert!(end.is_none(), "the stream ends after the ERROR event");
    Ok(())
}

#[tokio::test]
async fn a_stalled_watch_sends_nothing_until_released() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let pods: Api<Pod> = Api::all(client);
    let here = format!("spec.nodeName={NODE}");
    let mut w = Box::pin(watcher(
        pods.clone(),
        watcher::Config::default().fields(&here),
    ));
    loop {
        if let watcher::Event::InitDone = next(&mut w).await? {
            break;
        }
    }
    state.set_watches_stalled(true);
    let mut changed = scenario();
    changed.pods.retain(|p| p.name != "pending-1");
    state.apply_scenario(&changed);
    let quiet = tokio::time::timeout(Duration::from_millis(300), w.next()).await;
    assert!(quiet.is_err(), "a stalled watch delivered {quiet:?}");
    // Lists are still answered, and see the change.
    let listed = pods
        .list(&kube::api::ListParams::default().fields(&here))
        .await?;
    assert_eq!(listed.items.len(), 3);
    state.set_watches_stalled(false);
    match next(&mut w).await? {
        watcher::Event::Delete(p) => assert_eq!(p.metadata.name.as_deref(), Some("pending-1")),
        other => panic!("expected pending-1 deleted once released, got {other:?}"),
    }
    Ok(())
}
