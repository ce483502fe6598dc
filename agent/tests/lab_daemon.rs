//! `eniwatch run` in a lab node: drift injected at run time shows up as a
//! Warning event, a metric and the node condition, and its undoing as a
//! Resolved event; blips shorter than the grace period and source outages
//! raise nothing.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;
use eniwatch_lab::netns;
use eniwatch_lab::scenario::PodSpec;

const WAIT: Duration = Duration::from_secs(15);

fn findings(d: &Daemon, reason: &str) -> f64 {
    d.metric(&format!("eniwatch_findings{{reason=\"{reason}\"}}"))
        .unwrap_or(-1.0)
}

fn condition_status(d: &Daemon) -> String {
    d.condition()
        .map(|c| c["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn a_route_removed_and_restored_gives_warning_then_resolved() {
    lab!();
    let d = Daemon::start(
        scenario("healthy"),
        &["--grace-period", "0", "--debounce", "20ms"],
    );
    assert!(
        d.wait_for(WAIT, |d| condition_status(d) == "True"),
        "condition True on a healthy node:\n{}",
        d.logs()
    );
    assert_eq!(findings(&d, "PodRouteMissing"), 0.0);
    let pod = d.scenario.pod("shop/web-00").unwrap().clone();
    let ip = pod.ip.unwrap();
    let veth = netns::host_veth_name("eni", &pod.namespace, &pod.name);

    d.node
        .ip(&format!("route del {ip}/32 table main\n"))
        .unwrap();
    assert!(
        d.wait_for(WAIT, |d| findings(d, "PodRouteMissing") == 1.0),
        "{}",
        d.logs()
    );
    assert!(
        d.wait_for(WAIT, |d| !d
            .events_with_reason("PodRouteMissing")
            .is_empty()),
        "no Warning event"
    );
    let ev = &d.events_with_reason("PodRouteMissing")[0];
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["regarding"]["kind"], "Pod");
    assert_eq!(ev["regarding"]["name"], "web-00");
    assert_eq!(ev["reportingController"], "eniwatch");
    assert!(d.wait_for(WAIT, |d| condition_status(d) == "False"));
    assert_eq!(d.condition().unwrap()["reason"], "PodRouteMissing");

    d.node
        .ip(&format!("route add {ip}/32 dev {veth} scope link\n"))
        .unwrap();
    assert!(d.wait_for(WAIT, |d| findings(d, "PodRouteMissing") == 0.0));
    assert!(
        d.wait_for(WAIT, |d| !d
            .events_with_reason("PodRouteMissingResolved")
            .is_empty()),
        "no Resolved event"
    );
    assert_eq!(
        d.events_with_reason("PodRouteMissingResolved")[0]["type"],
        "Normal"
    );
    assert!(d.wait_for(WAIT, |d| condition_status(d) == "True"));
    assert_eq!(
        d.metric(
            "eniwatch_drift_transitions_total{reason=\"PodRouteMissing\",transition=\"began\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn a_blip_shorter_than_the_grace_period_raises_nothing() {
    lab!();
    let d = Daemon::start(
        scenario("healthy"),
        &["--grace-period", "3s", "--debounce", "20ms"],
    );
    let ip = d.scenario.pod("shop/api-01").unwrap().ip.unwrap();
    d.node
        .ip(&format!("rule del to {ip}/32 priority 512\n"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    d.node
        .ip(&format!("rule add to {ip}/32 lookup main priority 512\n"))
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(d.events_with_reason("PodRuleMissing").is_empty());
    assert_eq!(findings(&d, "PodRuleMissing"), 0.0);
    // A drift that persists is reported once the grace period has passed.
    d.node
        .ip(&format!("rule del to {ip}/32 priority 512\n"))
        .unwrap();
    assert!(
        !d.wait_for(Duration::from_millis(2000), |d| findings(
            d,
            "PodRuleMissing"
        ) == 1.0),
        "reported too early"
    );
    assert!(d.wait_for(WAIT, |d| findings(d, "PodRuleMissing") == 1.0));
}

#[test]
fn drift_injected_through_the_api_and_the_links() {
    lab!();
    let mut d = Daemon::start(
        scenario("healthy"),
        &["--grace-period", "0", "--debounce", "20ms"],
    );
    // A pod with an IP from the node subnet appears (stale scheduling).
    let mut s = d.scenario.clone();
    s.enis[0].ips.push("10.0.1.88".parse().unwrap());
    let stale = PodSpec {
        namespace: "shop".into(),
        name: "stale-0".into(),
        ip: Some("10.0.1.88".parse().unwrap()),
        host_network: false,
        branch_eni: None,
        phase: None,
    };
    s.pods.push(stale.clone());
    d.node.update(&s).unwrap();
    d.node
        .ip(&netns::pod_script(
            &s,
            &stale,
            stale.ip.unwrap(),
            &netns::pods_ns(&d.node.ns),
        ))
        .unwrap();
    assert!(
        d.wait_for(WAIT, |d| findings(d, "PodIPOutsideENIConfigSubnet") == 1.0),
        "{}",
        d.logs()
    );
    assert!(d.wait_for(WAIT, |d| !d
        .events_with_reason("PodIPOutsideENIConfigSubnet")
        .is_empty()));

    // The node is annotated with an ENIConfig that does not exist.
    s.node
        .annotations
        .insert("k8s.amazonaws.com/eniConfig".into(), "nope".into());
    d.node.update(&s).unwrap();
    assert!(d.wait_for(WAIT, |d| findings(d, "ENIConfigNotFound") == 1.0));
    s.node.annotations.clear();
    d.node.update(&s).unwrap();
    assert!(d.wait_for(WAIT, |d| findings(d, "ENIConfigNotFound") == 0.0));

    // An ENI's link goes away.
    d.node.ip("link del eth2\n").unwrap();
    assert!(d.wait_for(WAIT, |d| findings(d, "ENINotConfigured") == 1.0));
    assert!(
        d.wait_for(WAIT, |d| !d
            .events_with_reason("ENINotConfigured")
            .is_empty()),
        "events: {:#?}\nlogs:\n{}",
        d.events()
            .iter()
            .map(|e| (e["reason"].clone(), e["type"].clone()))
            .collect::<Vec<_>>(),
        d.logs()
    );
    assert_eq!(
        d.events_with_reason("ENINotConfigured")[0]["regarding"]["kind"],
        "Node"
    );

    // The ENIConfig's subnet changes under the node.
    s.eniconfigs[0].subnet = "subnet-0pods1b".into();
    d.node.update(&s).unwrap();
    assert!(d.wait_for(WAIT, |d| findings(d, "CustomNetworkingNotApplied") == 1.0));
    // 38 pods go bad at once: beyond the burst, events are aggregated.
    assert!(d.wait_for(WAIT, |d| findings(d, "PodIPOutsideENIConfigSubnet") >= 38.0));
    assert!(
        d.wait_for(WAIT, |d| !d
            .events_with_reason("DriftAggregated")
            .is_empty()),
        "no aggregate event"
    );
    assert!(
        d.events().len() <= 40,
        "{} events for one change",
        d.events().len()
    );
    s.eniconfigs[0].subnet = "subnet-0pods1a".into();
    d.node.update(&s).unwrap();
    assert!(d.wait_for(WAIT, |d| findings(d, "CustomNetworkingNotApplied") == 0.0));

    let took = d.stop().expect("exits on SIGTERM");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[test]
fn outages_raise_no_events_and_recover() {
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
    assert!(d.wait_for(WAIT, |d| condition_status(d) == "True"));
    d.throttle_imds(true);
    assert!(
        d.wait_for(WAIT, |d| d.metric("eniwatch_source_up{source=\"imds\"}")
            == Some(0.0)),
        "{}",
        d.logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    d.throttle_imds(false);
    assert!(
        d.wait_for(WAIT, |d| d.metric("eniwatch_source_up{source=\"imds\"}")
            == Some(1.0))
    );
    let warnings: Vec<_> = d
        .events()
        .into_iter()
        .filter(|e| e["type"] == "Warning")
        .collect();
    assert!(
        warnings.is_empty(),
        "false events during an IMDS outage: {warnings:?}"
    );
    let metrics = d.fetch("/metrics").unwrap_or_default();
    assert!(
        d.metric("eniwatch_source_errors_total{kind=\"throttled\",source=\"imds\"}")
            .unwrap_or(0.0)
            >= 1.0,
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("source"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn an_api_server_restart_raises_no_false_events() {
    lab!();
    let d = Daemon::start(
        scenario("healthy"),
        &["--grace-period", "0", "--debounce", "20ms"],
    );
    assert!(d.wait_for(WAIT, |d| condition_status(d) == "True"));
    let before = d.events().len();
    d.node.set_kube_down(true).unwrap();
    assert!(
        d.wait_for(WAIT, |d| d
            .metric("eniwatch_source_up{source=\"kubernetes\"}")
            == Some(0.0)),
        "the outage is visible:\n{}",
        d.logs()
    );
    // Pod checks are unknown, not drift, while the API is away.
    assert!(d.wait_for(WAIT, |d| d
        .metric("eniwatch_check_status{check=\"pod-routes\",status=\"unknown\"}")
        == Some(1.0)));
    std::thread::sleep(Duration::from_secs(2));
    d.node.set_kube_down(false).unwrap();
    assert!(d.wait_for(Duration::from_secs(30), |d| d
        .metric("eniwatch_source_up{source=\"kubernetes\"}")
        == Some(1.0)));
    assert!(d.wait_for(WAIT, |d| d
        .metric("eniwatch_check_status{check=\"pod-routes\",status=\"ok\"}")
        == Some(1.0)));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        d.events().len(),
        before,
        "events after an API restart: {:?}",
        d.events()
    );
    // Drift is seen again after the restart.
    let ip = d.scenario.pod("shop/cache-03").unwrap().ip.unwrap();
    d.node
        .ip(&format!("rule del from {ip}/32 priority 1536\n"))
        .unwrap();
    assert!(d.wait_for(WAIT, |d| !d.events_with_reason("PodRuleMissing").is_empty()));
}

#[test]
fn the_condition_stays_true_through_a_short_imds_outage() {
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
    assert!(d.wait_for(WAIT, |d| condition_status(d) == "True"));
    d.throttle_imds(true);
    let message = |d: &Daemon| {
        d.condition()
            .map(|c| c["message"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert!(
        d.wait_for(WAIT, |d| message(d).contains("stale since")),
        "the condition does not say it is stale: {:?}\n{}",
        d.condition(),
        d.logs()
    );
    assert!(
        message(&d).ends_with(": IMDS throttled)"),
        "{:?}",
        message(&d)
    );
    // 10 s of outage: True all along, never Unknown.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        assert_eq!(condition_status(&d), "True", "{:?}", d.condition());
        std::thread::sleep(Duration::from_millis(250));
    }
    d.throttle_imds(false);
    assert!(
        d.wait_for(WAIT, |d| condition_status(d) == "True"
            && !message(d).contains("stale")),
        "{:?}",
        d.condition()
    );
}
