//! `eniwatch run` through Kubernetes API outages and stalled watches: a pod
//! deleted meanwhile is never the subject of an event, the view recovers
//! within seconds of the API answering again.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::*;
use eniwatch::lab::scenario::Scenario;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn up(d: &Daemon, source: &str) -> Option<f64> {
    d.metric(&format!("eniwatch_source_up{{source=\"{source}\"}}"))
}

fn pod_routes_ok(d: &Daemon) -> bool {
    d.metric("eniwatch_check_status{check=\"pod-routes\",status=\"ok\"}") == Some(1.0)
}

/// Events whose subject is the pod `name`.
fn events_about(d: &Daemon, name: &str) -> Vec<Value> {
    d.events()
        .into_iter()
        .filter(|e| e["regarding"]["name"] == name)
        .collect()
}

/// What the CNI does when a pod is deleted: its route and rules go.
fn unwire(d: &Daemon, pod: &str) {
    let ip = d.scenario.pod(pod).unwrap().ip.unwrap();
    d.node
        .ip(&format!(
            "route del {ip}/32 table main\nrule del to {ip}/32 priority 512\nrule del from {ip}/32 priority 1536\n"
        ))
        .unwrap();
}

/// The scenario without the pod `ns/name`, as the API has it once deleted.
fn without(s: &Scenario, pod: &str) -> Scenario {
    let mut s = s.clone();
    s.pods
        .retain(|p| format!("{}/{}", p.namespace, p.name) != pod);
    s
}

fn start(grace: &str) -> Daemon {
    let d = Daemon::start(
        scenario("healthy"),
        &["--grace-period", grace, "--debounce", "20ms"],
    );
    assert!(
        d.wait_for(WAIT, |d| up(d, "kubernetes") == Some(1.0)
            && pod_routes_ok(d)),
        "healthy at start:\n{}",
        d.logs()
    );
    d
}

/// Brings the API back and returns how long the view took to recover.
fn restart_api(d: &Daemon) -> Duration {
    let back = Instant::now();
    d.node.set_kube_down(false).unwrap();
    assert!(
        d.wait_for(Duration::from_secs(30), |d| up(d, "kubernetes")
            == Some(1.0)),
        "the view never recovered:\n{}",
        d.logs()
    );
    back.elapsed()
}

#[test]
fn a_pod_deleted_while_the_api_is_down_is_never_reported() {
    lab!();
    let d = start("0");
    d.node.set_kube_down(true).unwrap();
    assert!(d.wait_for(WAIT, |d| up(d, "kubernetes") == Some(0.0)));
    // The API deletes the pod, then the CNI removes its route and rules.
    d.node.update(&without(&d.scenario, "shop/web-00")).unwrap();
    unwire(&d, "shop/web-00");
    std::thread::sleep(Duration::from_secs(2));
    let took = restart_api(&d);
    assert!(
        took <= Duration::from_secs(5),
        "the view recovered {took:?} after the API came back:\n{}",
        d.logs()
    );
    assert!(d.wait_for(WAIT, pod_routes_ok), "{}", d.logs());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        events_about(&d, "web-00"),
        Vec::<Value>::new(),
        "events about a pod deleted during the outage"
    );
    // Drift is seen again after the outage.
    let ip = d.scenario.pod("shop/api-01").unwrap().ip.unwrap();
    d.node
        .ip(&format!("rule del to {ip}/32 priority 512\n"))
        .unwrap();
    assert!(
        d.wait_for(WAIT, |d| !events_about(d, "api-01").is_empty()),
        "{}",
        d.logs()
    );
}

#[test]
fn a_pod_unwired_just_before_an_outage_and_deleted_during_it_is_never_reported() {
    lab!();
    let d = start("3s");
    // The CNI removes the route and rules first (the finding starts to
    // settle), then the API goes away and the pod is deleted there.
    unwire(&d, "shop/web-00");
    std::thread::sleep(Duration::from_millis(500));
    d.node.set_kube_down(true).unwrap();
    assert!(d.wait_for(WAIT, |d| up(d, "kubernetes") == Some(0.0)));
    d.node.update(&without(&d.scenario, "shop/web-00")).unwrap();
    // Longer than the grace period: unknown time must not count.
    std::thread::sleep(Duration::from_secs(4));
    let took = restart_api(&d);
    assert!(took <= Duration::from_secs(5), "recovered after {took:?}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        events_about(&d, "web-00"),
        Vec::<Value>::new(),
        "events about a pod deleted during the outage:\n{}",
        d.logs()
    );
}

#[test]
fn a_stalled_watch_raises_no_event_for_a_deleted_pod() {
    lab!();
    let d = start("0");
    d.node.set_watches_stalled(true).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The deletion never reaches the daemon's watch; the kernel change does.
    d.node.update(&without(&d.scenario, "shop/web-00")).unwrap();
    unwire(&d, "shop/web-00");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        events_about(&d, "web-00"),
        Vec::<Value>::new(),
        "events about a pod deleted behind a stalled watch:\n{}",
        d.logs()
    );
    // The daemon re-listed: a real drift on a pod that exists is reported,
    // even though the watches are still stalled.
    let ip = d.scenario.pod("shop/api-01").unwrap().ip.unwrap();
    d.node
        .ip(&format!("rule del to {ip}/32 priority 512\n"))
        .unwrap();
    assert!(
        d.wait_for(WAIT, |d| !events_about(d, "api-01").is_empty()),
        "{}",
        d.logs()
    );
    assert!(events_about(&d, "web-00").is_empty());
    d.node.set_watches_stalled(false).unwrap();
}
