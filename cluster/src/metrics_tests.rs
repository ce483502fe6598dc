use super::*;
use crate::checks::SubnetSummary;
use eniwatch_core::checks::{CheckResult, Finding, Reason, Subject};

fn evaluation() -> ClusterEvaluation {
    let subnet = |id: &str, role, route| SubnetSummary {
        id: id.parse().unwrap(),
        role,
        availability_zone: Some("eu-west-1a".into()),
        availability_zone_id: Some("euw1-az1".into()),
        size: Some(256),
        free_addresses: Some(12),
        free_prefixes: Some(3),
        nodes: 4,
        warm_demand: Some(56),
        route,
        eniconfigs: vec!["a".into()],
    };
    ClusterEvaluation {
        checks: vec![CheckResult {
            name: "subnet-headroom",
            status: CheckStatus::Drift,
            detail: "1 subnet nearly exhausted".into(),
        }],
        findings: vec![Finding::new(
            "subnet-headroom",
            Reason::SubnetNearlyExhausted,
            Subject::eniconfig("a"),
            "12 free".into(),
        )],
        subnets: vec![
            subnet("subnet-0a", "pod", Some("no_default_route")),
            subnet("subnet-0b", "node", None),
        ],
        leaked_enis: vec![(Some("subnet-0a".parse().unwrap()), 2)],
        enis_not_attached: Vec::new(),
    }
}

fn full() -> Metrics {
    let m = Metrics::new(60).unwrap();
    m.observe(&evaluation(), SystemTime::UNIX_EPOCH);
    m.observe_source("kubernetes", true);
    m.observe_source("ec2", false);
    let mut counts = BTreeMap::new();
    counts.insert(("DescribeSubnets", "ok"), 3);
    m.observe_requests(&counts);
    let mut deferred = BTreeMap::new();
    deferred.insert("DescribeNetworkInterfaces", 1);
    m.observe_deferred(&deferred);
    m.observe_publish("written", Some(900));
    m
}

fn line(text: &str, prefix: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_string)
}

#[test]
fn series_from_one_judgement() {
    let text = full().render();
    for want in [
        "eniwatch_cluster_build_info{version=",
        "eniwatch_cluster_subnet_size_ipv4_addresses{role=\"pod\",subnet=\"subnet-0a\",zone=\"eu-west-1a\",zone_id=\"euw1-az1\"} 256",
        "eniwatch_cluster_pod_subnet_route_ok{subnet=\"subnet-0a\",zone_id=\"euw1-az1\"} 0",
        "eniwatch_cluster_leaked_enis{subnet=\"subnet-0a\"} 2",
        "eniwatch_cluster_findings{check=\"subnet-headroom\",reason=\"SubnetNearlyExhausted\",severity=",
        "eniwatch_cluster_check_status{check=\"subnet-headroom\",status=\"drift\"} 1",
        "eniwatch_cluster_check_status{check=\"zone-coverage\",status=\"unknown\"} 1",
        "eniwatch_cluster_ec2_requests_total{operation=\"DescribeSubnets\",outcome=\"ok\"} 3",
        "eniwatch_cluster_ec2_calls_deferred_total{operation=\"DescribeNetworkInterfaces\"} 1",
        "eniwatch_cluster_ec2_budget_calls_per_minute 60",
        "eniwatch_cluster_source_up{source=\"ec2\"} 0",
        "eniwatch_cluster_published_bytes 900",
        "eniwatch_cluster_publish_writes_total{outcome=\"unchanged\"} 0",
    ] {
        assert!(line(&text, want).is_some(), "{want}\n{text}");
    }
    assert!(
        line(
            &text,
            "eniwatch_cluster_pod_subnet_route_ok{subnet=\"subnet-0b\""
        )
        .is_none(),
        "node subnets have no route verdict"
    );
}

#[test]
fn a_subnet_gone_from_the_vpc_leaves_the_metrics() {
    let m = full();
    m.observe(&ClusterEvaluation::default(), SystemTime::UNIX_EPOCH);
    let text = m.render();
    assert!(!text.contains("subnet-0a"), "{text}");
}

#[test]
fn running_counts_only_ever_add() {
    let m = full();
    let mut counts = BTreeMap::new();
    counts.insert(("DescribeSubnets", "ok"), 5);
    m.observe_requests(&counts);
    m.observe_requests(&counts);
    counts.insert(("DescribeSubnets", "ok"), 1);
    m.observe_requests(&counts);
    let text = m.render();
    let want =
        "eniwatch_cluster_ec2_requests_total{operation=\"DescribeSubnets\",outcome=\"ok\"} 5";
    assert!(line(&text, want).is_some(), "{text}");
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
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("promtool not on PATH (Debian package `prometheus`)");
        }
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
fn metric_updates_never_go_through_the_panicking_accessor() {
    let panicking = concat!(".with_label_values", "(");
    let text = include_str!("metrics.rs");
    assert!(!text.contains(panicking));
}
