use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;
use crate::daemon::http::fixture::{cycle, healthy, link_down, settler};
use eniwatch_core::checks::check_names;

type Labels = BTreeMap<String, String>;

#[path = "metrics_placement_tests.rs"]
mod placement;

/// Every sample of the text format as (name, labels, value).
fn samples(m: &Metrics) -> Vec<(String, Labels, f64)> {
    let text = m.render();
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let labels = labels
            .trim_end_matches('}')
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        out.push((name.to_string(), labels, value.parse().unwrap()));
    }
    out
}

/// Samples of `name` whose labels include `want`.
fn find(m: &Metrics, name: &str, want: &[(&str, &str)]) -> Vec<(Labels, f64)> {
    samples(m)
        .into_iter()
        .filter(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(v))
        })
        .map(|(_, labels, v)| (labels, v))
        .collect()
}

fn value(m: &Metrics, name: &str, want: &[(&str, &str)]) -> f64 {
    let found = find(m, name, want);
    assert_eq!(found.len(), 1, "{name}{want:?}: {found:?}");
    found[0].1
}

fn observed(snapshot: eniwatch_core::model::Snapshot) -> Metrics {
    let m = Metrics::new().unwrap();
    m.observe_cycle(&cycle(snapshot, &mut settler()));
    m
}

const FAMILIES: &[(&str, &str)] = &[
    ("eniwatch_info", "gauge"),
    ("eniwatch_build_info", "gauge"),
    ("eniwatch_findings", "gauge"),
    ("eniwatch_drift_transitions_total", "counter"),
    ("eniwatch_check_status", "gauge"),
    ("eniwatch_pods", "gauge"),
    ("eniwatch_enis", "gauge"),
    ("eniwatch_enis_configured", "gauge"),
    ("eniwatch_secondary_ipv4_addresses", "gauge"),
    ("eniwatch_eni_ipv4_addresses", "gauge"),
    ("eniwatch_source_up", "gauge"),
    ("eniwatch_source_errors_total", "counter"),
    ("eniwatch_source_last_success_timestamp_seconds", "gauge"),
    ("eniwatch_requests_total", "counter"),
    ("eniwatch_cycle_duration_seconds", "histogram"),
    ("eniwatch_cycles_total", "counter"),
    ("eniwatch_last_cycle_timestamp_seconds", "gauge"),
];

/// A registry after one cycle, one request and a good and a bad source.
fn full() -> Metrics {
    let m = observed(healthy());
    let counts = RequestCounts::new();
    counts.add("imds", "ok");
    m.observe_requests(&counts);
    m.observe_source("imds", true, None, SystemTime::now());
    m.observe_source("kubernetes", false, Some("timeout"), SystemTime::now());
    m
}

#[test]
fn every_family_is_present_after_one_cycle() {
    let m = full();
    let text = m.render();
    for (name, kind) in FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} missing:\n{text}"
        );
    }
    let info = find(&m, "eniwatch_info", &[]);
    assert_eq!(info.len(), 1);
    let want = [
        ("node", "ip-10-0-1-10.lab.internal"),
        ("instance_type", "t3.2xlarge"),
        ("zone", "ap-southeast-1a"),
        ("zone_id", "apse1-az1"),
        ("eniconfig", "ap-southeast-1a"),
        ("mode", "custom_networking"),
    ];
    assert_eq!(value(&m, "eniwatch_info", &want), 1.0);
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(value(&m, "eniwatch_build_info", &version), 1.0);
    assert_eq!(value(&m, "eniwatch_cycles_total", &[]), 1.0);
    assert_eq!(value(&m, "eniwatch_cycle_duration_seconds_count", &[]), 1.0);
    let buckets = find(&m, "eniwatch_cycle_duration_seconds_bucket", &[]);
    assert_eq!(buckets.len(), CYCLE_BUCKETS.len() + 1, "with +Inf");
    assert!(value(&m, "eniwatch_last_cycle_timestamp_seconds", &[]) > 1.6e9);
}

#[test]
fn findings_gauge_has_every_reason_and_transitions_count() {
    let m = observed(healthy());
    let found = find(&m, "eniwatch_findings", &[]);
    assert_eq!(found.len(), Reason::ALL.len());
    assert!(found.iter().all(|(_, v)| *v == 0.0), "{found:?}");
    let began = find(
        &m,
        "eniwatch_drift_transitions_total",
        &[("transition", "began")],
    );
    assert_eq!(began.len(), Reason::ALL.len(), "pre-created at 0");

    let mut s = healthy();
    link_down(&mut s, 2);
    let m = observed(s);
    let reason = [("reason", "ENINotConfigured")];
    assert_eq!(value(&m, "eniwatch_findings", &reason), 1.0);
    let began = [("reason", "ENINotConfigured"), ("transition", "began")];
    assert_eq!(value(&m, "eniwatch_drift_transitions_total", &began), 1.0);
    assert_eq!(
        value(&m, "eniwatch_enis_configured", &[("configured", "true")]),
        2.0
    );
    assert_eq!(
        value(&m, "eniwatch_enis_configured", &[("configured", "false")]),
        1.0
    );
}

#[test]
fn check_status_is_a_state_set() {
    let mut s = healthy();
    link_down(&mut s, 2);
    let m = observed(s);
    for check in check_names() {
        let series = find(&m, "eniwatch_check_status", &[("check", check)]);
        // ok, drift, unknown, skipped, not_applicable.
        assert_eq!(series.len(), 5, "{check}");
        let ones: Vec<_> = series.iter().filter(|(_, v)| *v == 1.0).collect();
        assert_eq!(ones.len(), 1, "{check}: {series:?}");
        let want = if check == "eni-configured" {
            "drift"
        } else if [
            "cni-settings",
            "eniconfig-subnet",
            "subnet-headroom",
            "eni-attachment",
            "ipamd-state",
        ]
        .contains(&check)
        {
            "skipped"
        } else {
            "ok"
        };
        assert_eq!(ones[0].0["status"], want, "{check}");
    }
}

#[test]
fn pods_enis_and_the_warm_pool() {
    let m = observed(healthy());
    let pods = |p| value(&m, "eniwatch_pods", &[("placement", p)]);
    assert_eq!((pods("eniconfig_subnet"), pods("host_network")), (3.0, 1.0));
    assert_eq!(
        pods("node_subnet") + pods("other") + pods("branch_eni") + pods("unplaced"),
        0.0
    );
    let roles: Vec<(String, f64)> = find(&m, "eniwatch_enis", &[])
        .into_iter()
        .map(|(l, v)| (l["role"].clone(), v))
        .collect();
    assert_eq!(roles.len(), 5, "{roles:?}");
    assert_eq!(value(&m, "eniwatch_enis", &[("role", "primary")]), 1.0);
    assert_eq!(value(&m, "eniwatch_enis", &[("role", "secondary")]), 2.0);
    assert_eq!(value(&m, "eniwatch_enis", &[("role", "efa-only")]), 0.0);
    let pool = |s| value(&m, "eniwatch_secondary_ipv4_addresses", &[("state", s)]);
    assert_eq!(
        (pool("total"), pool("assigned"), pool("free")),
        (5.0, 3.0, 2.0)
    );
    let eni = |d, s| {
        value(
            &m,
            "eniwatch_eni_ipv4_addresses",
            &[("device", d), ("card", "0"), ("state", s)],
        )
    };
    assert_eq!(
        (eni("1", "total"), eni("1", "assigned"), eni("1", "free")),
        (3.0, 2.0, 1.0)
    );
    assert_eq!(
        (eni("2", "total"), eni("2", "assigned"), eni("2", "free")),
        (2.0, 1.0, 1.0)
    );
    assert_eq!(eni("0", "total"), 1.0, "the primary's own series");
}

#[test]
fn per_eni_and_info_series_are_rebuilt_each_cycle() {
    let m = Metrics::new().unwrap();
    let mut settler = settler();
    m.observe_cycle(&cycle(healthy(), &mut settler));
    assert_eq!(
        find(&m, "eniwatch_eni_ipv4_addresses", &[("device", "2")]).len(),
        3
    );

    let mut s = healthy();
    s.imds
        .as_mut()
        .unwrap()
        .enis
        .retain(|e| e.device_number != 2);
    let eniwatch_core::model::Expectation::Kubernetes(Ok(c)) = &mut s.expectation else {
        unreachable!()
    };
    c.node
        .labels
        .insert("topology.kubernetes.io/zone".into(), "zone-b".into());
    c.eni_configs.as_mut().unwrap()[0].name = "zone-b".into();
    m.observe_cycle(&cycle(s, &mut settler));
    assert!(find(&m, "eniwatch_eni_ipv4_addresses", &[("device", "2")]).is_empty());
    assert_eq!(find(&m, "eniwatch_eni_ipv4_addresses", &[]).len(), 6);
    let info = find(&m, "eniwatch_info", &[]);
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].0["eniconfig"], "zone-b");

    // The mode follows the node: without any ENIConfig, standard mode.
    let mut s = healthy();
    if let eniwatch_core::model::Expectation::Kubernetes(Ok(c)) = &mut s.expectation {
        c.eni_configs = Some(vec![]);
    }
    m.observe_cycle(&cycle(s, &mut settler));
    let info = find(&m, "eniwatch_info", &[]);
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].0["mode"], "standard");

    // IMDS down: the identity keeps its last known instance type.
    let mut s = healthy();
    s.imds = Err(eniwatch_core::model::Unavailable::new("imds", "timed out"));
    m.observe_cycle(&cycle(s, &mut settler));
    assert_eq!(
        find(&m, "eniwatch_info", &[("instance_type", "t3.2xlarge")]).len(),
        1
    );
    assert!(find(&m, "eniwatch_eni_ipv4_addresses", &[]).is_empty());
    assert_eq!(value(&m, "eniwatch_cycles_total", &[]), 4.0);
}

#[test]
fn request_counters_add_only_the_difference() {
    let m = Metrics::new().unwrap();
    let counts = RequestCounts::new();
    let imds_ok = [("target", "imds"), ("outcome", "ok")];
    for _ in 0..3 {
        counts.add("imds", "ok");
    }
    m.observe_requests(&counts);
    assert_eq!(value(&m, "eniwatch_requests_total", &imds_ok), 3.0);
    counts.add("imds", "ok");
    counts.add("imds", "ok");
    counts.add("kubernetes", "error");
    m.observe_requests(&counts);
    m.observe_requests(&counts);
    assert_eq!(value(&m, "eniwatch_requests_total", &imds_ok), 5.0);
    let kube = [("target", "kubernetes"), ("outcome", "error")];
    assert_eq!(value(&m, "eniwatch_requests_total", &kube), 1.0);
    // A fresh counter (smaller totals) only ever adds.
    let fresh = RequestCounts::new();
    fresh.add("imds", "ok");
    m.observe_requests(&fresh);
    assert_eq!(value(&m, "eniwatch_requests_total", &imds_ok), 6.0);
}

#[test]
fn sources_up_errors_and_last_success() {
    let m = Metrics::new().unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    m.observe_source("imds", true, None, t);
    m.observe_source("imds", false, Some("timeout"), t + Duration::from_secs(5));
    m.observe_source("imds", false, Some("timeout"), t + Duration::from_secs(9));
    m.observe_source("kernel", false, None, t);
    let imds = [("source", "imds")];
    assert_eq!(value(&m, "eniwatch_source_up", &imds), 0.0);
    let timeout = [("source", "imds"), ("kind", "timeout")];
    assert_eq!(value(&m, "eniwatch_source_errors_total", &timeout), 2.0);
    let kernel = [("source", "kernel"), ("kind", "error")];
    assert_eq!(value(&m, "eniwatch_source_errors_total", &kernel), 1.0);
    let last = "eniwatch_source_last_success_timestamp_seconds";
    assert_eq!(value(&m, last, &imds), 1.7e9);
    assert!(
        find(&m, last, &[("source", "kernel")]).is_empty(),
        "never succeeded"
    );
    m.observe_source("imds", true, None, t + Duration::from_secs(10));
    assert_eq!(value(&m, "eniwatch_source_up", &imds), 1.0);
    assert_eq!(value(&m, last, &imds), 1.7e9 + 10.0);
}

#[test]
fn a_sources_error_counters_start_at_zero_on_its_first_read() {
    let m = Metrics::new().unwrap();
    let errors = "eniwatch_source_errors_total";
    assert!(find(&m, errors, &[("source", "cluster_facts")]).is_empty());
    m.observe_source("cluster_facts", true, None, SystemTime::now());
    for kind in eniwatch_core::model::ERROR_KINDS {
        assert_eq!(
            value(&m, errors, &[("source", "cluster_facts"), ("kind", kind)]),
            0.0
        );
    }
    assert!(
        find(&m, errors, &[("source", "ipamd")]).is_empty(),
        "a source never read (switched off) has no series"
    );
    m.observe_source("cluster_facts", false, Some("throttled"), SystemTime::now());
    let throttled = [("source", "cluster_facts"), ("kind", "throttled")];
    assert_eq!(value(&m, errors, &throttled), 1.0);
}

#[test]
fn promtool_accepts_the_exposition() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let text = full().render();
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("promtool not on PATH (Debian package `prometheus`): check skipped");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool check metrics: {said}\n{text}"
    );
    assert!(said.trim().is_empty(), "promtool lint: {said}");
}

#[test]
fn a_series_whose_labels_do_not_fit_is_skipped_not_a_panic() {
    let vec = IntGaugeVec::new(Opts::new("eniwatch_test", "test"), &["a", "b"]).unwrap();
    for labels in [&["x"][..], &[], &["x", "y", "z"]] {
        let mut updated = false;
        with(&vec, labels, |g| {
            g.set(1);
            updated = true;
        });
        assert!(!updated, "{labels:?}");
    }
    assert!(vec.collect()[0].get_metric().is_empty(), "no series made");
    let mut updated = false;
    with(&vec, &["x", "y"], |g| {
        g.set(1);
        updated = true;
    });
    assert!(updated);
    assert_eq!(
        vec.get_metric_with_label_values(&["x", "y"]).unwrap().get(),
        1
    );
}

#[test]
fn metric_updates_never_go_through_the_panicking_accessor() {
    // `with_label_values` panics on a label-count mismatch; every update
    // goes through `with` instead.
    let panicking = concat!(".with_label_values", "(");
    let turbofish = concat!(".with_label_values", "::");
    for (file, text) in [
        ("metrics.rs", include_str!("metrics.rs")),
        ("metrics_cycle.rs", include_str!("metrics_cycle.rs")),
        ("metrics_pool.rs", include_str!("metrics_pool.rs")),
    ] {
        assert!(
            !text.contains(panicking) && !text.contains(turbofish),
            "{file} calls with_label_values"
        );
    }
}

#[test]
fn subnet_gauges_come_from_the_published_facts_and_no_ec2_family_is_left() {
    let m = observed(eniwatch_core::checks::fixture::healthy_witnessed());
    let labels = [("subnet_id", "subnet-pods"), ("role", "eniconfig")];
    assert_eq!(
        value(&m, "eniwatch_subnet_available_ipv4_addresses", &labels),
        200.0
    );
    assert_eq!(
        value(&m, "eniwatch_subnet_size_ipv4_addresses", &labels),
        256.0
    );
    let text = m.render();
    for gone in [
        "eniwatch_ec2_requests_total",
        "eniwatch_enis_ec2_attachment",
    ] {
        assert!(!text.contains(gone), "{gone} is still registered");
    }
    // Without the published facts: no subnet series.
    let m = observed(healthy());
    assert!(find(&m, "eniwatch_subnet_available_ipv4_addresses", &[]).is_empty());
}
