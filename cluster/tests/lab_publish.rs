//! `run` against the lab's Kubernetes emulator (EC2 unreachable): it gets
//! ready, publishes the facts ConfigMap once, writes nothing more while
//! nothing changes, serves metrics promtool accepts, and stops on SIGTERM
//! within 5 s.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{closed_port, command, skip_or_fail, Emulator};
use eniwatch_lab::scenario::Scenario;
use serde_json::Value;

const FACTS: &str = "/api/v1/namespaces/kube-system/configmaps/eniwatch-cluster-facts";

/// A plain HTTP/1.0 GET: (status, body).
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn promtool(text: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        skip_or_fail(
            "promtool on a real scrape",
            "promtool is not on PATH (Debian package `prometheus`)",
        );
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
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}

#[test]
fn run_publishes_once_and_writes_nothing_more_while_nothing_changes() {
    let emulator = Emulator::start(&Scenario::bundled("healthy").expect("bundled scenario"));
    let api = emulator.addr.to_string();
    let list = get(&api, "/api/v1/namespaces/kube-system/configmaps").map(|r| r.0);
    if list != Some(200) {
        skip_or_fail(
            "publishing the facts ConfigMap",
            &format!("the Kubernetes emulator does not serve ConfigMaps (answered {list:?})"),
        );
        return;
    }
    let listen = free_addr();
    let child = command(&[
        "run",
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--region",
        "eu-west-1",
        "--ec2-endpoint",
        &closed_port(),
        "--listen",
        &listen,
        "--log-format",
        "text",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::inherit())
    .spawn()
    .expect("eniwatch-cluster run starts");
    let mut running = Running(child);

    wait_for("/readyz 200", Duration::from_secs(60), || {
        get(&listen, "/readyz").filter(|r| r.0 == 200)
    });
    let first: Value = wait_for("the facts ConfigMap", Duration::from_secs(30), || {
        get(&api, FACTS)
            .filter(|r| r.0 == 200)
            .and_then(|r| serde_json::from_str(&r.1).ok())
    });
    let doc = first["data"]["facts.json"].as_str().expect("facts.json");
    let facts: Value = serde_json::from_str(doc).expect("facts.json is JSON");
    assert_eq!(facts["schema_version"], 1);

    // Two more turns with nothing changed: no write.
    let scrape = wait_for("two unchanged publishes", Duration::from_secs(60), || {
        let (_, text) = get(&listen, "/metrics")?;
        let unchanged = metric(
            &text,
            "eniwatch_cluster_publish_writes_total{outcome=\"unchanged\"}",
        )?;
        (unchanged >= 2.0).then_some(text)
    });
    let written = metric(
        &scrape,
        "eniwatch_cluster_publish_writes_total{outcome=\"written\"}",
    );
    assert_eq!(written, Some(1.0), "{scrape}");
    let again: Value = serde_json::from_str(&get(&api, FACTS).expect("GET").1).expect("JSON");
    assert_eq!(
        again["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"],
        "the ConfigMap was written again"
    );
    assert_eq!(
        metric(&scrape, "eniwatch_cluster_source_up{source=\"kubernetes\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&scrape, "eniwatch_cluster_source_up{source=\"ec2\"}"),
        Some(0.0)
    );
    assert!(metric(&scrape, "eniwatch_cluster_published_bytes").is_some_and(|b| b > 0.0));
    promtool(&scrape);

    // SIGTERM: gone within 5 s.
    let pid = running.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(sent.is_ok_and(|s| s.success()));
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = wait_for("exit after SIGTERM", Duration::from_secs(6), || {
        running.0.try_wait().ok().flatten()
    });
    assert!(Instant::now() <= deadline + Duration::from_millis(500));
    assert!(status.success(), "{status:?}");
}

#[test]
fn run_serves_metrics_and_health_before_and_without_publishing() {
    let emulator = Emulator::start(&Scenario::bundled("healthy").expect("bundled scenario"));
    let listen = free_addr();
    let child = command(&[
        "run",
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--region",
        "eu-west-1",
        "--ec2-endpoint",
        &closed_port(),
        "--listen",
        &listen,
        "--no-publish",
        "--no-events",
        "--log-format",
        "json",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("eniwatch-cluster run starts");
    let _running = Running(child);
    wait_for("/readyz 200", Duration::from_secs(60), || {
        get(&listen, "/readyz").filter(|r| r.0 == 200)
    });
    assert_eq!(get(&listen, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(get(&listen, "/nope").map(|r| r.0), Some(404));
    let (status, text) = get(&listen, "/metrics").expect("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        metric(&text, "eniwatch_cluster_ec2_budget_calls_per_minute"),
        Some(60.0)
    );
    assert_eq!(
        metric(
            &text,
            "eniwatch_cluster_publish_writes_total{outcome=\"written\"}"
        ),
        Some(0.0),
        "--no-publish writes nothing"
    );
    assert!(!emulator
        .state
        .events()
        .iter()
        .any(|e| e["reportingController"] == "eniwatch-cluster"));
    promtool(&text);
}
