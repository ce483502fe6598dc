//! `eniwatch run` in each networking mode: a cluster without any ENIConfig
//! (standard mode, judged), an EKS Auto Mode node (its unconfirmed checks
//! unknown), and an IPv6 node (out of scope: no condition, no event, the
//! metrics still served). The condition's message starts with the mode, the
//! `eniwatch_info` series carries it.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

fn condition(d: &Daemon) -> (String, String, String) {
    d.condition()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (s("status"), s("reason"), s("message"))
        })
        .unwrap_or_default()
}

fn start(name: &str) -> Daemon {
    Daemon::start(
        scenario(name),
        &["--grace-period", "0", "--debounce", "20ms"],
    )
}

/// Several cycles later: still no Warning of any kind.
fn no_warnings(d: &Daemon) {
    std::thread::sleep(Duration::from_secs(3));
    let warnings: Vec<_> = d
        .events()
        .into_iter()
        .filter(|e| e["type"] == "Warning")
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

fn info_mode(d: &Daemon, mode: &str) -> Option<f64> {
    let text = d.fetch("/metrics").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("eniwatch_info{") && l.contains(&format!("mode=\"{mode}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_cluster_without_eniconfigs_is_standard_mode_and_ready() {
    lab!();
    // Once "Unknown, CustomNetworkingNotConfigured"; now judged in standard mode.
    let d = start("no-eniconfig");
    assert!(
        d.wait_for(WAIT, |d| {
            let (status, reason, message) = condition(d);
            status == "True"
                && reason == "NoDrift"
                && message.starts_with("standard mode (custom networking off): ")
        }),
        "condition {:?}:\n{}",
        condition(&d),
        d.logs()
    );
    assert_eq!(info_mode(&d, "standard"), Some(1.0));
    assert_eq!(
        d.metric("eniwatch_check_status{check=\"eniconfig\",status=\"not_applicable\"}"),
        Some(1.0)
    );
    no_warnings(&d);
}

#[test]
fn an_auto_mode_node_is_quiet_and_says_so() {
    lab!();
    let d = start("auto-mode");
    assert!(
        d.wait_for(WAIT, |d| {
            let (status, reason, message) = condition(d);
            status == "Unknown"
                && reason == "ChecksInconclusive"
                && message.starts_with("EKS Auto Mode (NodeClass default): ")
        }),
        "condition {:?}:\n{}",
        condition(&d),
        d.logs()
    );
    assert_eq!(info_mode(&d, "eks_auto_mode"), Some(1.0));
    // No aws-node, so nothing answers on ipamd's port: that is no failing
    // source (EniwatchSourceFailing would fire on every Auto Mode node).
    assert_eq!(d.metric("eniwatch_source_up{source=\"ipamd\"}"), None);
    assert_eq!(d.metric("eniwatch_source_up{source=\"imds\"}"), Some(1.0));
    no_warnings(&d);
    assert_eq!(
        d.metric("eniwatch_findings{reason=\"SecondaryENIUnexpectedSubnet\"}"),
        Some(0.0)
    );
}

#[test]
fn an_ipv6_node_writes_no_condition_and_no_event_and_serves_metrics() {
    lab!();
    let d = start("ipv6");
    assert!(
        d.wait_for(WAIT, |d| info_mode(d, "not_applicable") == Some(1.0)),
        "{}",
        d.logs()
    );
    assert!(
        d.wait_for(WAIT, |d| d.metric("eniwatch_cycles_total").unwrap_or(0.0)
            >= 2.0),
        "{}",
        d.logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(d.condition(), None);
    let rec = d.node.recorded().expect("recorded");
    let patches = rec["node_status_patches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(patches.is_empty(), "{patches:#?}");
    assert!(d.events().is_empty(), "{:#?}", d.events());
    assert_eq!(
        d.metric("eniwatch_check_status{check=\"pod-rules\",status=\"not_applicable\"}"),
        Some(1.0)
    );
}
