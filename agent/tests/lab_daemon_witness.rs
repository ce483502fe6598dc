//! `eniwatch run` with EC2 and ipamd in the lab: the capacity and subnet
//! metrics, EC2 calls only at start-up on a steady node, and a throttling
//! EC2 that leaves the rest of the agent working without false drift.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;
use eniwatch_lab::scenario::{Ec2Fault, Ec2Spec};

fn ec2_calls(d: &Daemon) -> f64 {
    d.metric_sum("eniwatch_ec2_requests_total", "")
}

#[test]
fn capacity_metrics_and_no_ec2_calls_on_a_steady_node() {
    lab_ec2!();
    let d = Daemon::start(
        scenario("max-pods-m5-large"),
        &[
            "--grace-period",
            "0",
            "--imds-interval",
            "1s",
            "--debounce",
            "20ms",
        ],
    );
    assert!(d.wait_for(Duration::from_secs(20), |d| d
        .metric("eniwatch_findings{reason=\"MaxPodsExceedsCapacity\"}")
        == Some(1.0)));
    assert_eq!(d.metric("eniwatch_pod_capacity"), Some(20.0));
    assert_eq!(d.metric("eniwatch_ipv4_addresses_max"), Some(18.0));
    assert_eq!(d.metric("eniwatch_kubelet_max_pods"), Some(110.0));
    assert_eq!(d.metric("eniwatch_enis_max"), Some(3.0));
    assert_eq!(
        d.metric("eniwatch_warm_pool_target_ipv4_addresses"),
        Some(3.0)
    );
    assert_eq!(
        d.metric("eniwatch_enis_ec2_attachment{status=\"attached\"}"),
        Some(2.0)
    );
    assert_eq!(d.metric("eniwatch_source_up{source=\"ec2\"}"), Some(1.0));
    assert_eq!(d.metric("eniwatch_source_up{source=\"ipamd\"}"), Some(1.0));
    let text = d.fetch("/metrics").unwrap();
    let subnet = text
        .lines()
        .find(|l| l.starts_with("eniwatch_subnet_available_ipv4_addresses{"))
        .unwrap_or_else(|| panic!("no subnet series:\n{text}"));
    assert!(subnet.contains("role=\"eniconfig\""), "{subnet}");
    assert!(text.contains("eniwatch_subnet_size_ipv4_addresses{role=\"eniconfig\",subnet_id="));
    assert!(text
        .contains("eniwatch_info{eniconfig=\"ap-southeast-1a\",instance_type=\"m5.large\",node="));
    assert!(text.contains("nodegroup=\"ng-m5\""));
    let events = d.events_with_reason("MaxPodsExceedsCapacity");
    assert_eq!(events.len(), 1, "{events:?}");

    // Steady: IMDS read every second, EC2 not at all.
    // IMDS requests as the lab's emulator counted them.
    let imds = |d: &Daemon| {
        d.node.recorded().unwrap()["imds"]["requests"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let start_up = ec2_calls(&d);
    assert!(start_up >= 3.0, "{start_up}");
    let imds_before = imds(&d);
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(ec2_calls(&d), start_up);
    assert!(imds(&d) >= imds_before + 8.0, "IMDS was re-read meanwhile");
}

#[test]
fn throttling_ec2_is_unknown_and_the_rest_works() {
    lab!();
    let mut s = scenario("healthy");
    s.ec2 = Some(Ec2Spec {
        fault: Some(Ec2Fault::Throttle),
        detached: vec![],
    });
    let mut d = Daemon::start(s, &["--grace-period", "0", "--debounce", "20ms"]);
    assert!(d.wait_for(Duration::from_secs(30), |d| d
        .metric("eniwatch_ec2_requests_total{operation=\"DescribeInstanceTypes\",outcome=\"throttled\"}")
        .is_some_and(|n| n >= 1.0)));
    assert_eq!(d.metric("eniwatch_source_up{source=\"ec2\"}"), Some(0.0));
    assert_eq!(
        d.metric("eniwatch_check_status{check=\"max-pods\",status=\"unknown\"}"),
        Some(1.0)
    );
    // The rest of the agent still detects drift.
    d.node.ip("route del 100.64.1.11/32").unwrap();
    assert!(d.wait_for(Duration::from_secs(15), |d| d
        .metric("eniwatch_findings{reason=\"PodRouteMissing\"}")
        == Some(1.0)));
    let warnings: Vec<_> = d
        .events()
        .into_iter()
        .filter(|e| e["type"] == "Warning")
        .map(|e| e["reason"].clone())
        .collect();
    assert_eq!(warnings, vec!["PodRouteMissing"], "{}", d.logs());
    d.stop();
}

/// Requests the lab's EC2 fault server received.
fn ec2_received(d: &Daemon) -> f64 {
    d.node
        .recorded()
        .ok()
        .and_then(|r| r["ec2_requests"].as_f64())
        .unwrap_or(0.0)
}

/// Under throttling the SDK sends each call once (eniwatch backs off on its
/// own), and `eniwatch_ec2_requests_total` counts what EC2 received.
#[test]
fn throttled_ec2_calls_are_sent_once_and_counted_as_received() {
    lab!();
    let mut s = scenario("healthy");
    s.ec2 = Some(Ec2Spec {
        fault: Some(Ec2Fault::Throttle),
        detached: vec![],
    });
    let mut d = Daemon::start(s, &["--grace-period", "0", "--debounce", "20ms"]);
    // One call per operation, then each backs off for 30 s.
    assert!(
        d.wait_for(Duration::from_secs(15), |d| ec2_calls(d) >= 3.0),
        "{}",
        d.logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    let counted = ec2_calls(&d);
    let received = ec2_received(&d);
    assert_eq!(counted, 3.0, "{}", d.fetch("/metrics").unwrap_or_default());
    assert_eq!(received, counted, "the metric counts what EC2 received");
    assert_eq!(
        d.metric_sum("eniwatch_ec2_requests_total", "outcome=\"throttled\""),
        3.0
    );
    d.stop();
}

/// Readiness does not wait on EC2: `/readyz` answers 200 within 2 s of the
/// agent's start while EC2 throttles every call (the first report leaves
/// EC2 unknown and the next cycle asks it).
#[test]
fn readiness_does_not_wait_on_a_throttling_ec2() {
    lab!();
    let mut s = scenario("healthy");
    s.ec2 = Some(Ec2Spec {
        fault: Some(Ec2Fault::Throttle),
        detached: vec![],
    });
    let d = Daemon::start(s.clone(), &["--grace-period", "0", "--debounce", "20ms"]);
    // The lab node is up: start a second agent on another port and time it.
    let listen = "127.0.0.1:9743";
    let started = std::time::Instant::now();
    let mut child = d
        .node
        .command(common::bin::eniwatch_bin())
        .arg("run")
        .args(["--listen", listen, "--node-name", &s.node.name])
        .arg("--kubeconfig")
        .arg(d.node.kubeconfig())
        .args(d.scenario.eniwatch_args())
        .args(["--no-events", "--no-condition", "--debounce", "20ms"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("a second agent starts");
    let url = format!("http://{listen}/readyz");
    let mut ready = None;
    while started.elapsed() < Duration::from_secs(10) {
        if d.fetch_url(&url).is_some() {
            ready = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let ready = ready.expect("ready at all");
    assert!(ready < Duration::from_secs(2), "ready after {ready:?}");
}

fn ipamd_requests(d: &Daemon) -> f64 {
    d.metric_sum("eniwatch_requests_total", "target=\"ipamd\"")
}

/// ipamd announces nothing: on a quiet node it is read on the full cycle
/// that `--full-cycle-interval` guarantees, even while IMDS's timer (which
/// finds nothing new) wakes the agent more often.
#[test]
fn ipamd_is_read_on_a_quiet_node_every_full_cycle_interval() {
    lab!();
    let quiet = |full: &str| {
        let d = Daemon::start(
            scenario("healthy"),
            &[
                "--imds-interval",
                "1s",
                "--full-cycle-interval",
                full,
                "--debounce",
                "20ms",
            ],
        );
        assert!(d.wait_for(Duration::from_secs(20), |d| ipamd_requests(d) > 0.0));
        std::thread::sleep(Duration::from_secs(1));
        let before = ipamd_requests(&d);
        std::thread::sleep(Duration::from_secs(7));
        ipamd_requests(&d) - before
    };
    let often = quiet("2s");
    assert!(
        often >= 6.0,
        "3 GETs per full cycle, one every 2 s: {often}"
    );
    assert_eq!(quiet("5m"), 0.0, "IMDS's timer alone does not read ipamd");
}
