//! The `eniwatch-lab` binary's commands that need no root: rendering a
//! scenario into the `ip -batch` scripts the node is built from, and
//! generating scenarios that load back.

use std::process::Command;

use eniwatch_lab::scenario::{bundled_path, Scenario};

fn lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eniwatch-lab"))
        .args(args)
        .output()
        .expect("eniwatch-lab runs")
}

#[test]
fn every_bundled_scenario_renders() {
    let dir = bundled_path("healthy");
    let dir = dir.parent().expect("scenarios directory");
    let mut rendered = 0;
    for entry in std::fs::read_dir(dir).expect("lab/scenarios") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let out = lab(&["render", path.to_str().expect("utf-8 path")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("route add"), "{}: {stdout}", path.display());
        rendered += 1;
    }
    assert!(rendered >= 6, "only {rendered} scenarios rendered");
}

#[test]
fn a_generated_scenario_loads_with_the_asked_size() {
    let out = lab(&[
        "generate",
        "--enis",
        "4",
        "--ips-per-eni",
        "10",
        "--pods",
        "20",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile_dir();
    let path = dir.join("generated.yaml");
    std::fs::write(&path, &out.stdout).expect("write scenario");
    let s = Scenario::load(&path).expect("the generated scenario loads");
    assert_eq!(s.pods.iter().filter(|p| !p.host_network).count(), 20);
    assert_eq!(s.enis.len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_scenario_is_an_error_in_words() {
    let out = lab(&["render", "/nonexistent/scenario.yaml"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/scenario.yaml"), "{stderr}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eniwatch-lab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
