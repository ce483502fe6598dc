//! `eniwatch run`'s HTTP server under a client that holds connections: 2,000
//! idle TCP connections (each reconnecting a second after it is closed) and
//! 200 slowloris connections (one header byte a second), against an agent
//! limited to 1,024 file descriptors. Meanwhile `/healthz` and `/metrics`
//! on fresh connections answer 200 within a second, the agent stays under
//! its 64 MiB memory limit, and it serves on afterwards.
//!
//! The clients run in the node namespace, where the agent listens on
//! loopback: this test binary runs itself there (the ignored test
//! `hold_connections`, under `prlimit` for its 2,200 sockets) and prints
//! what it measured as one `ABUSE {json}` line.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, DEBUG_LISTEN, LISTEN};
use common::*;
use serde_json::{json, Value};

const TARGET_ENV: &str = "ENIWATCH_ABUSE_TARGET";
const IDLE: usize = 2_000;
const SLOWLORIS: usize = 200;
/// How long the probes run once the connections are held.
const PROBING: Duration = Duration::from_secs(12);
const MIB: u64 = 1024 * 1024;

/// VmRSS of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn held_connections_and_a_slowloris_do_not_starve_healthz() {
    lab!();
    let d = Daemon::start(scenario("healthy"), &[]);
    let pid = d.pid().expect("daemon pid");
    let limited = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=1024:1024"])
        .status()
        .expect("prlimit runs");
    assert!(limited.success(), "prlimit --pid {pid}");
    assert!(d.fetch("/debug/snapshot").is_none(), "not on --listen");
    assert!(
        d.fetch_url(&format!("http://{DEBUG_LISTEN}/debug/snapshot"))
            .is_some_and(|s| s.contains("\"report\"")),
        "on --debug-listen"
    );
    let (rss_before, fds_before) = (rss(pid), fds(pid));

    let mut clients = d
        .node
        .command("prlimit")
        .arg("--nofile=8192:8192")
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", "hold_connections", "--ignored", "--nocapture"])
        .env(TARGET_ENV, LISTEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the clients start");
    let stdout = clients.stdout.take().expect("stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("ABUSE ").map(str::to_string))
    });
    let (mut rss_max, mut fds_max) = (rss_before, fds_before);
    while clients.try_wait().expect("wait").is_none() {
        rss_max = rss_max.max(rss(pid));
        fds_max = fds_max.max(fds(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    let measured: Value = lines
        .join()
        .ok()
        .flatten()
        .and_then(|l| serde_json::from_str(&l).ok())
        .expect("the clients' ABUSE line");
    let rss_after = rss(pid);
    println!(
        "{}",
        json!({
            "clients": measured,
            "agent": {
                "rss_before_mib": rss_before as f64 / MIB as f64,
                "rss_max_mib": rss_max as f64 / MIB as f64,
                "rss_after_mib": rss_after as f64 / MIB as f64,
                "fds_before": fds_before,
                "fds_max": fds_max,
            }
        })
    );
    assert_eq!(measured["failures"], 0, "{measured}\n{}", d.logs());
    assert!(measured["probes"].as_u64().unwrap_or(0) >= 50, "{measured}");
    assert!(
        measured["max_ms"].as_f64().unwrap_or(f64::MAX) < 1000.0,
        "{measured}"
    );
    assert!(
        measured["held_max"].as_u64().unwrap_or(0) >= 200,
        "the clients held connections: {measured}"
    );
    assert!(
        rss_max < 64 * MIB,
        "RSS {} MiB",
        rss_max as f64 / MIB as f64
    );
    assert!(fds_max < 1024, "{fds_max} fds");
    let started = Instant::now();
    assert!(d.fetch("/healthz").is_some(), "{}", d.logs());
    assert!(d
        .fetch("/metrics")
        .is_some_and(|m| m.contains("eniwatch_build_info")));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The clients: run by the test above inside the node namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the clients of held_connections_and_a_slowloris_do_not_starve_healthz, run in its namespace"]
async fn hold_connections() {
    let Ok(target) = std::env::var(TARGET_ENV) else {
        println!("{TARGET_ENV} unset: nothing to do");
        return;
    };
    let held = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let end = tokio::time::Instant::now() + Duration::from_secs(3) + PROBING;
    let mut tasks = Vec::new();
    for _ in 0..IDLE {
        tasks.push(tokio::spawn(abuse::idle(target.clone(), end, held.clone())));
    }
    for _ in 0..SLOWLORIS {
        tasks.push(tokio::spawn(abuse::slowloris(target.clone(), end)));
    }
    // Let the connections pile up, then probe until the end.
    let mut held_max = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        held_max = held_max.max(held.load(std::sync::atomic::Ordering::Relaxed));
    }
    let (mut probes, mut failures, mut latencies) = (0u64, 0u64, Vec::new());
    while tokio::time::Instant::now() < end {
        let path = if probes % 2 == 0 {
            "/healthz"
        } else {
            "/metrics"
        };
        let started = Instant::now();
        let ok = abuse::probe(&target, path).await;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        probes += 1;
        if !ok {
            failures += 1;
            eprintln!("probe {path} failed after {:?}", started.elapsed());
        }
        held_max = held_max.max(held.load(std::sync::atomic::Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "ABUSE {}",
        json!({
            "probes": probes,
            "failures": failures,
            "max_ms": at(1.0),
            "p50_ms": at(0.5),
            "p99_ms": at(0.99),
            "held_max": held_max,
        })
    );
}

mod abuse {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::{sleep, timeout, Instant};

    /// Holds a connection open, sending nothing; reconnects a second after
    /// the server closes it.
    pub async fn idle(target: String, end: Instant, held: Arc<AtomicUsize>) {
        while Instant::now() < end {
            if let Ok(mut s) = TcpStream::connect(&target).await {
                held.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0u8; 16];
                let _ = tokio::time::timeout_at(end, s.read(&mut buf)).await;
                held.fetch_sub(1, Ordering::Relaxed);
            }
            sleep(Duration::from_secs(1)).await;
        }
    }

    /// Sends a request head one byte a second, never finishing it.
    pub async fn slowloris(target: String, end: Instant) {
        while Instant::now() < end {
            if let Ok(mut s) = TcpStream::connect(&target).await {
                let head = b"GET /healthz HTTP/1.1\r\nx-slow: ";
                let bytes = head.iter().chain(std::iter::repeat(&b'a'));
                let mut buf = [0u8; 16];
                for b in bytes {
                    if s.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    match timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                        Err(_) => {}
                        Ok(_) => break,
                    }
                    if Instant::now() >= end {
                        return;
                    }
                }
            }
            sleep(Duration::from_secs(1)).await;
        }
    }

    /// One GET on a fresh connection: 200 within 5 s.
    pub async fn probe(target: &str, path: &str) -> bool {
        let exchange = async {
            let mut s = TcpStream::connect(target).await.ok()?;
            let req = format!("GET {path} HTTP/1.1\r\nhost: eniwatch\r\nconnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.ok()?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await.ok()?;
            Some(answer.starts_with(b"HTTP/1.1 200"))
        };
        matches!(
            timeout(Duration::from_secs(5), exchange).await,
            Ok(Some(true))
        )
    }
}
