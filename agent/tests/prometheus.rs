//! A real Prometheus server scrapes `eniwatch run` in a lab node: the
//! exposition passes `promtool check metrics`, and queries return the series
//! alerts and dashboards use. Needs `prometheus` and `promtool` (Debian's
//! `prometheus` package, installed by scripts/setup.sh).

#[macro_use]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::daemon::Daemon;
use common::*;

fn tools_available() -> bool {
    for tool in ["prometheus", "promtool"] {
        if let Err(e) = common::skip::runs(tool, &["--version"]) {
            let why = format!("{tool} is not installed ({e}; run scripts/setup.sh)");
            common::skip::skip_or_fail("promtool and Prometheus against a real scrape", &why);
            return false;
        }
    }
    true
}

#[test]
fn promtool_accepts_a_real_scrape_and_prometheus_queries_it() {
    lab!();
    if !tools_available() {
        return;
    }
    let d = Daemon::start(
        scenario("drifted"),
        &["--grace-period", "0", "--debounce", "20ms"],
    );
    assert!(d.wait_for(Duration::from_secs(15), |d| d
        .metric("eniwatch_findings{reason=\"PodRouteMissing\"}")
        == Some(1.0)));
    let text = d.fetch("/metrics").expect("metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let mut prom = d.start_prometheus(dir.path(), "127.0.0.1:9090");
    let query = |q: &str| {
        d.fetch_url(&format!("http://127.0.0.1:9090/api/v1/query?query={q}"))
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    };
    let found = d.wait_for(Duration::from_secs(30), |_| {
        !query("eniwatch_findings%7Breason%3D%22PodRouteMissing%22%7D%3D%3D1").is_empty()
    });
    let up = query("up%7Bjob%3D%22eniwatch%22%7D");
    let placement = query("eniwatch_pods");
    let states = query("eniwatch_check_status%7Bstatus%3D%22drift%22%7D%3D%3D1");
    let _ = prom.kill();
    let _ = prom.wait();
    assert!(found, "Prometheus never saw the PodRouteMissing finding");
    assert_eq!(
        up.first().map(|s| s["value"][1].clone()),
        Some(serde_json::json!("1"))
    );
    assert_eq!(placement.len(), 6, "{placement:?}");
    assert_eq!(
        states.len(),
        4,
        "pod-routes, pod-rules, pod-subnet and eni-configured: {states:?}"
    );
}
