//! The command line: help, usage errors, and `check` against the lab's
//! Kubernetes emulator with EC2 unreachable.

mod common;

use common::{closed_port, run, Emulator};
use eniwatch_lab::scenario::Scenario;
use serde_json::Value;

#[test]
fn help_teaches_the_commands_and_the_iam_actions() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "check",
        "run",
        "ec2:DescribeSubnets",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeInstanceTypes",
        "eniwatch-cluster-facts",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    let out = run(&["check", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Examples",
        "Exit codes",
        "--region",
        "AWS_REGION",
        "--vpc-id",
        "--output",
    ] {
        assert!(
            text.contains(needle),
            "check --help lacks {needle}:\n{text}"
        );
    }
    let out = run(&["run", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "/metrics",
        "/readyz",
        "--no-events",
        "--no-publish",
        "9743",
        "WARM_PREFIX_TARGET",
    ] {
        assert!(text.contains(needle), "run --help lacks {needle}:\n{text}");
    }
}

#[test]
fn bad_usage_exits_64_with_a_reason() {
    for args in [
        vec!["check", "--bogus"],
        vec!["check", "--region", "r", "--output", "yaml"],
        vec!["check", "--region", "r", "--subnet-refresh", "5d"],
        vec!["check", "--region", "r", "--ec2-calls-per-minute", "0"],
        vec!["check", "--region", "r", "--vpc-id", "subnet-0abc"],
        vec!["run", "--region", "r", "--listen", "nowhere"],
        vec![],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
}

#[test]
fn no_region_says_how_to_set_one() {
    for cmd in ["check", "run"] {
        let out = run(&[cmd]);
        assert_eq!(out.status.code(), Some(64), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        for needle in ["--region", "AWS_REGION", "AWS_DEFAULT_REGION"] {
            assert!(err.contains(needle), "{cmd}: {err}");
        }
    }
}

fn check_json(kubeconfig: &str, endpoint: &str) -> (Option<i32>, Value, String) {
    let out = run(&[
        "check",
        "--output",
        "json",
        "--kubeconfig",
        kubeconfig,
        "--region",
        "eu-west-1",
        "--ec2-endpoint",
        endpoint,
        // aws-node's setting in the bundled scenarios: one ENIConfig per zone.
        "--eni-config-label-def",
        "topology.kubernetes.io/zone",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), json, stderr)
}

#[test]
fn ec2_unreachable_is_unknown_never_a_finding() {
    let emulator = Emulator::start(&Scenario::bundled("healthy").expect("bundled scenario"));
    let (code, v, stderr) = check_json(&emulator.kubeconfig(), &closed_port());
    assert_eq!(code, Some(2), "{v:#}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["status"], "unknown");
    assert!(v["generated_at"].is_string());
    assert_eq!(v["findings"], Value::Array(vec![]), "{v:#}");
    for c in v["checks"].as_array().expect("checks") {
        // Zone coverage needs the API alone: the node's zone has its ENIConfig.
        let expected = if c["name"] == "zone-coverage" {
            "ok"
        } else {
            "unknown"
        };
        assert_eq!(c["status"], expected, "{c}");
    }
    let errors = v["source_errors"].as_array().expect("source_errors");
    assert!(errors.iter().any(|e| e["source"] == "ec2"), "{v:#}");
    assert!(
        errors.iter().all(|e| e["source"] != "kubernetes"),
        "the emulator answered: {v:#}"
    );
    assert!(v["ec2_requests"].is_array());
}

#[test]
fn an_api_server_that_cannot_be_reached_is_exit_2_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let server = closed_port();
    let addr = server.trim_start_matches("http://");
    std::fs::write(&path, eniwatch_lab::serve::kubeconfig(addr)).unwrap();
    let path = path.display().to_string();
    let (code, v, _) = check_json(&path, &closed_port());
    assert_eq!(code, Some(2), "{v:#}");
    assert_eq!(v["findings"], Value::Array(vec![]));
    let errors = v["source_errors"].as_array().expect("source_errors");
    let kube = errors
        .iter()
        .find(|e| e["source"] == "kubernetes")
        .unwrap_or_else(|| panic!("{v:#}"));
    let text = kube["error"].as_str().unwrap();
    assert!(text.contains(addr), "names the server: {text}");
    assert!(
        !text.contains("Error {"),
        "in words, not a Debug dump: {text}"
    );

    // Text output: the same cause, readable at 80 columns.
    let out = run(&[
        "check",
        "--kubeconfig",
        &path,
        "--region",
        "r",
        "--ec2-endpoint",
        &closed_port(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kubernetes unavailable"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
}

#[test]
fn a_kubeconfig_that_cannot_be_read_is_said_in_words() {
    let (code, v, _) = check_json("/nonexistent/kubeconfig", &closed_port());
    assert_eq!(code, Some(2));
    let text = v["source_errors"][0]["error"].as_str().unwrap_or_default();
    assert!(text.contains("/nonexistent/kubeconfig"), "{v:#}");
    assert!(text.contains("--kubeconfig"), "{v:#}");
    assert!(
        !text.contains("--no-kube"),
        "names the agent's flag: {text}"
    );
}
