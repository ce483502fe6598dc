//! The checks inside a user namespace of their own, as systemd runs the
//! agent with `PrivateUsers=yes` (systemd/eniwatch.service): the process
//! holds no capability in the node's network namespace, which belongs to
//! the host's user namespace. Netlink dumps of links, addresses, routes and
//! rules need none, so the report must be the same as outside it.

#[macro_use]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// A wrapper that runs the real binary under `unshare --user`, unmapped:
/// the process is the overflow user `nobody` with no capability at all.
fn in_user_namespace(dir: &Path) -> PathBuf {
    let wrapper = dir.join("eniwatch-userns");
    let script = format!(
        "#!/bin/sh\nexec unshare --user -- {} \"$@\"\n",
        bin::eniwatch_bin().display()
    );
    std::fs::write(&wrapper, script).expect("write wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    wrapper
}

fn check_with(program: &Path, name: &str) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.yaml");
    let yaml = serde_norway::to_string(&scenario(name)).expect("scenario serialises");
    std::fs::write(&path, yaml).expect("write scenario");
    let out = std::process::Command::new(lab_bin())
        .arg("check")
        .arg(&path)
        .args(["--name", &unique_name()])
        .arg("--eniwatch")
        .arg(program)
        .args(["--", "--output", "json"])
        .output()
        .expect("eniwatch-lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{stderr}"));
    Outcome {
        code: out.status.code().unwrap_or(-1),
        report,
        stderr,
    }
}

fn statuses(o: &Outcome) -> Vec<(String, String)> {
    o.report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| (c["name"].to_string(), c["status"].to_string()))
        .collect()
}

#[test]
fn netlink_reads_need_no_capability() {
    lab!();
    if skip::runs("unshare", &["--user", "--", "true"]).is_err() {
        skip::skip_or_fail(
            "checks in a user namespace",
            "unshare --user does not run here (util-linux missing, or user namespaces disabled)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let wrapper = in_user_namespace(dir.path());
    for name in ["healthy", "drifted"] {
        let plain = check_with(&bin::eniwatch_bin(), name);
        let confined = check_with(&wrapper, name);
        assert_eq!(confined.code, plain.code, "{name}: {}", confined.stderr);
        assert_eq!(confined.reasons(), plain.reasons(), "{name}");
        assert_eq!(statuses(&confined), statuses(&plain), "{name}");
    }
    // The kernel was read, not merely unknown in both.
    let confined = check_with(&wrapper, "healthy");
    assert_eq!(
        confined.check_status("pod-routes"),
        "ok",
        "{}",
        confined.stderr
    );
}
