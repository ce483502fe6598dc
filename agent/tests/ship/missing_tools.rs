//! check-ship.sh and the test that runs it, without the tools: skipped with
//! the reason outside CI, failed with it in CI.

use std::fs;
use std::process::Command;

/// Without its tools, scripts/check-ship.sh exits 77 naming them, and
/// `check_ship_passes` (run here as a child with only bash on PATH) then skips
/// with that reason outside CI and fails with it in CI.
#[test]
fn check_ship_without_its_tools_skips_outside_ci_and_fails_in_ci() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["bash", "dirname"] {
        let found = std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} not on PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    for ci in ["false", "true"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "check_ship_passes", "--nocapture"])
            .env("PATH", &bin)
            .env("ENIWATCH_SHIP_VENV", dir.path().join("no-venv"))
            .env("CI", ci)
            .output()
            .expect("run the ship tests");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let missing = "scripts/check-ship.sh because check-ship: these tools are missing \
                       or do not run: kubectl hadolint promtool systemd-analyze ldd kubernetes-validate";
        if ci == "true" {
            assert!(!out.status.success(), "passed in CI without tools:\n{text}");
            assert!(
                text.contains(&format!("cannot run in CI: {missing}")),
                "{text}"
            );
        } else {
            assert!(out.status.success(), "failed outside CI:\n{text}");
            assert!(text.contains(&format!("SKIPPED: {missing}")), "{text}");
            assert!(text.contains("1 passed"), "{text}");
        }
    }
}
