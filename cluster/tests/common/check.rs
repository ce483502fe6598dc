//! The shipped `eniwatch-cluster check --output json`, run as a process
//! against an EC2 endpoint and a Kubernetes API, and what it said.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eniwatch_lab::vpc_seed::REGION;
use serde_json::Value;

use super::bin;

/// One `check` run.
pub struct Outcome {
    pub code: i32,
    pub report: Value,
    pub stderr: String,
}

impl Outcome {
    pub fn reasons(&self) -> BTreeSet<String> {
        self.report["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|x| x["reason"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn statuses(&self) -> BTreeMap<String, String> {
        self.report["checks"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|x| {
                        let name = x["name"].as_str().unwrap_or("?").to_string();
                        (name, x["status"].as_str().unwrap_or("?").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Attempts on the wire by operation (every outcome).
    pub fn ec2_calls(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in self.report["ec2_requests"].as_array().into_iter().flatten() {
            let op = r["operation"].as_str().unwrap_or("?").to_string();
            *out.entry(op).or_default() += r["count"].as_u64().unwrap_or(0);
        }
        out
    }
}

/// Runs `eniwatch-cluster check --output json` against `endpoint` and the
/// API behind `kubeconfig`, with static test credentials and no other AWS
/// configuration from the environment. Killed after a minute.
pub fn check(endpoint: &str, kubeconfig: &Path, extra: &[&str]) -> Outcome {
    let mut child = Command::new(bin::cluster_bin())
        .args(["check", "--output", "json", "--region", REGION])
        .arg("--ec2-endpoint")
        .arg(endpoint)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("KUBECONFIG")
        .env_remove("ENIWATCH_EC2_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eniwatch-cluster starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("eniwatch-cluster check did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        !stderr.contains("panicked"),
        "eniwatch-cluster panicked: {stderr}"
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}), exit {code}:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Outcome {
        code,
        report,
        stderr,
    }
}
