//! Shared helpers for the lab tests: run `eniwatch-lab check` on a scenario
//! and read the JSON report.
//!
//! Lab tests need root (network namespaces) and iproute2. Outside CI they are
//! skipped with a printed reason when those are missing; in CI (`CI=true`) a
//! test that cannot run fails.

#![allow(dead_code)]

pub mod bin;
pub mod daemon;
pub mod skip;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use eniwatch_lab::scenario::Scenario;
use serde_json::Value;

/// Returns from the test (after printing why) when the lab cannot run here.
#[allow(unused_macros)]
macro_rules! lab {
    () => {
        if !common::lab_available() {
            return;
        }
    };
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The workspace's root (README, docs/, deploy/, lab/).
pub fn root() -> PathBuf {
    let agent = Path::new(env!("CARGO_MANIFEST_DIR"));
    agent.parent().unwrap_or(agent).to_path_buf()
}

pub fn scenario(name: &str) -> Scenario {
    Scenario::bundled(name).expect("bundled scenario loads")
}

/// The lab's binary. The workspace's test run (`cargo test`) builds it beside
/// `eniwatch`, in the same target directory.
pub fn lab_bin() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_eniwatch")).with_file_name("eniwatch-lab");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p eniwatch-lab`, or run the whole suite \
         (`cargo test` at the workspace root)",
        path.display()
    );
    path
}

/// Whether the lab can run here; panics in CI when it cannot.
pub fn lab_available() -> bool {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let has_ip = skip::runs("ip", &["-V"]).is_ok();
    let why = match (is_root, has_ip) {
        (true, true) => return true,
        (false, _) => "not root (the lab creates network namespaces)",
        (_, false) => "iproute2's `ip` is not installed (run scripts/setup.sh)",
    };
    skip::skip_or_fail("lab test (needs root and iproute2)", why);
    false
}

/// The result of one `eniwatch check` in the lab.
pub struct Outcome {
    pub code: i32,
    pub report: Value,
    pub stderr: String,
}

impl Outcome {
    /// The reasons of the findings that are not informational, sorted. The
    /// lab's nodes run at their type's ENI limit (`ENILimitReached`, info),
    /// which the embedded table always knows.
    pub fn reasons(&self) -> Vec<String> {
        let mut r: Vec<String> = self.report["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["severity"] != "info")
                    .map(|f| f["reason"].as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default();
        r.sort();
        r
    }

    /// Reasons without repetition.
    pub fn reason_set(&self) -> Vec<String> {
        let mut r = self.reasons();
        r.dedup();
        r
    }

    pub fn check_status(&self, name: &str) -> String {
        self.report["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == name))
            .map(|c| c["status"].as_str().unwrap_or("?").to_string())
            .unwrap_or_else(|| panic!("no check {name} in {}", self.report))
    }

    pub fn findings(&self, reason: &str) -> Vec<Value> {
        self.report["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["reason"] == reason)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn unique_name() -> String {
    format!(
        "t{}x{}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes the scenario to a temporary file and runs the lab's check on it.
pub fn check(s: &Scenario, extra: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(
        &path,
        serde_norway::to_string(s).expect("scenario serialises"),
    )
    .expect("write scenario");
    check_file(&path, extra)
}

pub fn check_file(path: &Path, extra: &[&str]) -> Outcome {
    let out = Command::new(lab_bin())
        .arg("check")
        .arg(path)
        .args(["--name", &unique_name()])
        .arg("--eniwatch")
        .arg(bin::eniwatch_bin())
        .args(["--", "--output", "json"])
        .args(extra)
        .output()
        .expect("eniwatch-lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        )
    });
    Outcome {
        code: out.status.code().unwrap_or(-1),
        report,
        stderr,
    }
}

/// Whether moto's EC2 server can run here (scripts/setup.sh installs it and
/// exports ENIWATCH_MOTO_SERVER); panics in CI when it cannot.
pub fn moto_available() -> bool {
    let server = std::env::var("ENIWATCH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    match skip::runs(&server, &["--help"]) {
        Ok(()) => true,
        Err(e) => {
            let why = format!("moto's EC2 server is not installed ({e}; run scripts/setup.sh)");
            skip::skip_or_fail("lab test with EC2", &why);
            false
        }
    }
}

/// Returns from the test (after printing why) when the lab or moto cannot run here.
#[allow(unused_macros)]
macro_rules! lab_ec2 {
    () => {
        if !common::lab_available() || !common::moto_available() {
            return;
        }
    };
}
