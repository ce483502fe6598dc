//! A running `eniwatch run` in a lab node, driven from the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::lab_bin;
use eniwatch_lab::node::LabNode;
use eniwatch_lab::scenario::Scenario;
use serde_json::Value;

pub const LISTEN: &str = "127.0.0.1:9742";
/// `--debug-listen`'s default: /debug/snapshot is served there only.
pub const DEBUG_LISTEN: &str = "127.0.0.1:9743";

pub struct Daemon {
    pub node: LabNode,
    pub scenario: Scenario,
    child: Option<Child>,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts a real Prometheus in the node namespace, scraping this daemon
    /// every second, listening on `listen`; its config and data live in `dir`.
    pub fn start_prometheus(&self, dir: &std::path::Path, listen: &str) -> Child {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: eniwatch\n  static_configs:\n  - targets: ['{LISTEN}']\n"
            ),
        )
        .expect("prometheus config");
        self.node
            .command("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts")
    }

    /// Builds the lab node and starts the daemon in it; waits for /readyz.
    pub fn start(s: Scenario, extra: &[&str]) -> Daemon {
        Daemon::launch(s, extra, LabNode::kubeconfig)
    }

    /// As [`Daemon::start`], with the agent's pod-bound ServiceAccount token
    /// (its node-name claim): the shipped admission policies apply.
    pub fn start_as_agent(s: Scenario, extra: &[&str]) -> Daemon {
        Daemon::launch(s, extra, LabNode::agent_kubeconfig)
    }

    fn launch(s: Scenario, extra: &[&str], kubeconfig: fn(&LabNode) -> PathBuf) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scenario.yaml");
        std::fs::write(&path, serde_norway::to_string(&s).expect("yaml")).expect("write scenario");
        let name = super::unique_name();
        let node = LabNode::up(&s, &path, &name, &lab_bin()).expect("lab node");
        let log = dir.path().join("eniwatch.log");
        let child = node
            .command(super::bin::eniwatch_bin())
            .arg("run")
            .args([
                "--listen",
                LISTEN,
                "--node-name",
                &s.node.name,
                "--log-format",
                "json",
            ])
            .arg("--kubeconfig")
            .arg(kubeconfig(&node))
            .args(s.eniwatch_args())
            .args(extra)
            // The daemon's own default filter, as in production.
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("eniwatch run starts");
        let d = Daemon {
            node,
            scenario: s,
            child: Some(child),
            log,
            _dir: dir,
        };
        assert!(
            d.wait_for(Duration::from_secs(20), |d| d.fetch("/readyz").is_some()),
            "not ready:\n{}",
            d.logs()
        );
        d
    }

    /// The daemon's process id (`ip netns exec` execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs a path of the daemon's HTTP server (None unless 2xx).
    pub fn fetch(&self, path: &str) -> Option<String> {
        self.fetch_url(&format!("http://{LISTEN}{path}"))
    }

    pub fn fetch_url(&self, url: &str) -> Option<String> {
        let out = self
            .node
            .command(lab_bin())
            .args(["fetch", url])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// The value of one series, e.g. `eniwatch_findings{reason="PodRouteMissing"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let text = self.fetch("/metrics")?;
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// The sum over every series of the metric `name` whose labels contain
    /// `label` (`target="ipamd"`; "" for all), 0 when there is none.
    pub fn metric_sum(&self, name: &str, label: &str) -> f64 {
        let text = self.fetch("/metrics").unwrap_or_default();
        let prefix = format!("{name}{{");
        text.lines()
            .filter(|l| l.starts_with(&prefix) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn snapshot(&self) -> Value {
        serde_json::from_str(
            &self
                .fetch_url(&format!("http://{DEBUG_LISTEN}/debug/snapshot"))
                .unwrap_or_default(),
        )
        .unwrap_or(Value::Null)
    }

    /// Events the API emulator recorded.
    pub fn events(&self) -> Vec<Value> {
        self.node
            .recorded()
            .ok()
            .and_then(|r| r["events"].as_array().cloned())
            .unwrap_or_default()
    }

    pub fn events_with_reason(&self, reason: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .collect()
    }

    /// The node's CustomNetworkingReady condition, as the API emulator has it.
    pub fn condition(&self) -> Option<Value> {
        let rec = self.node.recorded().ok()?;
        rec["node"]["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "CustomNetworkingReady")
            .cloned()
    }

    /// Polls `ok` until it holds or `timeout` passes.
    /// IMDS answers 429 to every request (`true`), or serves again (`false`).
    pub fn throttle_imds(&self, on: bool) {
        let mut s = self.scenario.clone();
        if on {
            s.imds_faults.throttle = 1_000_000;
        }
        self.node
            .update(&s)
            .expect("lab node takes the IMDS faults");
    }

    pub fn wait_for(&self, timeout: Duration, ok: impl Fn(&Daemon) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ok(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        ok(self)
    }

    /// Sends SIGTERM and returns how long the daemon took to exit.
    pub fn stop(&mut self) -> Option<Duration> {
        let mut child = self.child.take()?;
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
