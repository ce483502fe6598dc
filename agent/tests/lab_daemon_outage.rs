//! `eniwatch run` through Kubernetes API outages and stalled watches: a pod
//! deleted meanwhile is never the subject of an event, the view recovers
//! within seconds of the API answering again, and each source outage is
//! one WARN line and one INFO line in the log.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::*;
use eniwatch_lab::scenario::Scenario;
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
    let took = back.elapsed();
    eprintln!("the view recovered {took:?} after the API came back");
    took
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

/// The daemon's JSON log lines (fields flattened) at `level` (`WARN`, `INFO`, ...).
fn log_lines(d: &Daemon, level: &str) -> Vec<Value> {
    d.logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == level)
        .collect()
}

fn about(lines: &[Value], source: &str) -> usize {
    lines.iter().filter(|v| v["source"] == source).count()
}

#[test]
fn each_source_outage_is_one_warning_and_one_recovery_in_the_log() {
    lab!();
    let d = Daemon::start(
        scenario("healthy"),
        &[
            "--grace-period",
            "0",
            "--debounce",
            "20ms",
            "--imds-interval",
            "1s",
        ],
    );
    assert!(d.wait_for(WAIT, |d| up(d, "imds") == Some(1.0)
        && up(d, "kubernetes") == Some(1.0)));
    let warn_before = log_lines(&d, "WARN").len();
    let info_before = log_lines(&d, "INFO").len();

    // IMDS throttles every request for a few seconds.
    d.throttle_imds(true);
    assert!(d.wait_for(WAIT, |d| up(d, "imds") == Some(0.0)));
    std::thread::sleep(Duration::from_secs(5));
    d.throttle_imds(false);
    assert!(d.wait_for(WAIT, |d| up(d, "imds") == Some(1.0)));

    // The API server is away for a few seconds.
    d.node.set_kube_down(true).unwrap();
    assert!(d.wait_for(WAIT, |d| up(d, "kubernetes") == Some(0.0)));
    std::thread::sleep(Duration::from_secs(5));
    restart_api(&d);
    assert!(d.wait_for(WAIT, pod_routes_ok));
    std::thread::sleep(Duration::from_secs(1));

    let warns = log_lines(&d, "WARN").split_off(warn_before);
    let infos = log_lines(&d, "INFO").split_off(info_before);
    let errors = log_lines(&d, "ERROR");
    let shown = |v: &[Value]| {
        v.iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(about(&warns, "imds"), 1, "IMDS: {}", shown(&warns));
    assert_eq!(about(&infos, "imds"), 1, "IMDS: {}", shown(&infos));
    assert_eq!(about(&warns, "kubernetes"), 1, "API: {}", shown(&warns));
    assert_eq!(about(&infos, "kubernetes"), 1, "API: {}", shown(&infos));
    // Nothing else about the sources. The API sinks' failed writes (the
    // condition patch during the API outage) are not reads: one line per
    // streak of failures, never one per retry.
    let writes: Vec<String> = warns
        .iter()
        .filter(|v| v["target"] == "eniwatch::daemon::write_log")
        .map(|v| v["message"].as_str().unwrap_or("").to_string())
        .collect();
    let mut distinct = writes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(writes.len(), distinct.len(), "one per streak: {writes:?}");
    let others: Vec<Value> = warns
        .iter()
        .filter(|v| v["target"] != "eniwatch::daemon::run::outages")
        .filter(|v| v["target"] != "eniwatch::daemon::write_log")
        .cloned()
        .collect();
    assert!(
        others.is_empty(),
        "one warning per outage, nothing else: {}",
        shown(&others)
    );
    assert!(errors.is_empty(), "errors: {}", shown(&errors));
    let api_down = warns
        .iter()
        .find(|v| v["source"] == "kubernetes")
        .map(|v| v["message"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    assert!(
        api_down.starts_with("kubernetes is unavailable: watching "),
        "the cause in words: {api_down}"
    );
    let back = infos
        .iter()
        .find(|v| v["source"] == "imds")
        .and_then(|v| v["down_for_seconds"].as_f64())
        .unwrap_or(0.0);
    assert!(
        (4.0..20.0).contains(&back),
        "IMDS was down ~5 s, the log says {back} s"
    );
}
