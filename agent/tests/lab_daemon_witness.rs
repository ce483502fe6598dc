//! `eniwatch run` with ipamd in the lab: the capacity metrics from the
//! embedded instance table (no EC2 anywhere), and ipamd read on full cycles.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;

#[test]
fn capacity_metrics_come_from_the_embedded_table() {
    lab!();
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
    assert_eq!(d.metric("eniwatch_source_up{source=\"ipamd\"}"), Some(1.0));
    let text = d.fetch("/metrics").unwrap();
    assert!(!text.contains("eniwatch_ec2_requests_total"), "{text}");
    assert!(!text.contains("source=\"ec2\""), "{text}");
    assert!(text
        .contains("eniwatch_info{eniconfig=\"ap-southeast-1a\",instance_type=\"m5.large\",mode=\"custom_networking\",node="));
    assert!(text.contains("nodegroup=\"ng-m5\""));
    let events = d.events_with_reason("MaxPodsExceedsCapacity");
    assert_eq!(events.len(), 1, "{events:?}");
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
