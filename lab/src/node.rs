//! A lab node's life cycle from the host side: create the two namespaces, run
//! the data-plane scripts, start the emulator process inside the node
//! namespace, run commands there, and tear everything down on drop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::{breaks_script, node_script, pods_ns, pods_script};
use super::scenario::Scenario;
use super::LabError;

/// How long the emulators may take to come up.
/// Generous: with EC2, moto starts and is seeded first (a few seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A materialised lab node. Dropping it removes the namespaces and stops the emulators.
#[derive(Debug)]
pub struct LabNode {
    pub ns: String,
    pub state_dir: PathBuf,
    server: Option<Child>,
    /// False for a handle on a node another process owns: dropping it leaves the node.
    owned: bool,
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Result<(), LabError> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            cmd: shown.clone(),
            stderr: e.to_string(),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| LabError::Command {
                cmd: shown.clone(),
                stderr: e.to_string(),
            })?;
    }
    let out = child.wait_with_output().map_err(|e| LabError::Command {
        cmd: shown.clone(),
        stderr: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            cmd: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs an `ip -batch` script in a namespace.
pub fn ip_batch(ns: &str, script: &str) -> Result<(), LabError> {
    if script.trim().is_empty() {
        return Ok(());
    }
    run(
        Command::new("ip").args(["-n", ns, "-batch", "-"]),
        Some(script),
    )
}

/// Removes a lab's namespaces, ignoring ones that do not exist.
pub fn remove_namespaces(ns: &str) {
    for name in [ns.to_string(), pods_ns(ns)] {
        // Processes outlive a deleted namespace: end the emulators (and
        // moto, which the emulator process started) first.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &name])
            .stderr(Stdio::null())
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if pid.bytes().all(|b| b.is_ascii_digit()) {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
    }
}

impl LabNode {
    /// Builds the node described by `scenario` (loaded from `scenario_path`)
    /// in namespace `ns`, and starts its emulators with `lab_exe serve`.
    pub fn up(
        scenario: &Scenario,
        scenario_path: &Path,
        ns: &str,
        lab_exe: &Path,
    ) -> Result<LabNode, LabError> {
        if ns.is_empty()
            || ns.len() > 12
            || !ns.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(LabError::Setup(format!(
                "namespace name {ns:?}: use 1-12 letters, digits or '-'"
            )));
        }
        remove_namespaces(ns);
        let state_dir = std::env::temp_dir().join("eniwatch-lab").join(ns);
        std::fs::create_dir_all(&state_dir)
            .map_err(|e| LabError::Setup(format!("cannot create {}: {e}", state_dir.display())))?;
        let _ = std::fs::remove_file(state_dir.join("ready"));
        let mut node = LabNode {
            ns: ns.to_string(),
            state_dir,
            server: None,
            owned: true,
        };
        run(Command::new("ip").args(["netns", "add", ns]), None)?;
        run(
            Command::new("ip").args(["netns", "add", &pods_ns(ns)]),
            None,
        )?;
        ip_batch(ns, &node_script(scenario, ns))?;
        ip_batch(&pods_ns(ns), &pods_script(scenario))?;
        ip_batch(ns, &breaks_script(scenario))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(lab_exe)
            .arg("serve")
            .arg(scenario_path)
            .arg("--state-dir")
            .arg(&node.state_dir)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| LabError::Setup(format!("cannot start the emulators: {e}")))?;
        node.server = Some(child);
        node.wait_ready()?;
        Ok(node)
    }

    /// A handle on a running lab node (started by `eniwatch-lab up --name ns`).
    pub fn attach(ns: &str) -> Result<LabNode, LabError> {
        let state_dir = std::env::temp_dir().join("eniwatch-lab").join(ns);
        if !state_dir.join("ready").exists() {
            return Err(LabError::Setup(format!("no running lab node named {ns:?}")));
        }
        Ok(LabNode {
            ns: ns.to_string(),
            state_dir,
            server: None,
            owned: false,
        })
    }

    fn wait_ready(&mut self) -> Result<(), LabError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.state_dir.join("ready").exists() {
                return Ok(());
            }
            if let Some(server) = self.server.as_mut() {
                if let Ok(Some(status)) = server.try_wait() {
                    return Err(LabError::Setup(format!(
                        "the emulator process exited early ({status})"
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(LabError::Setup(format!(
            "the emulators were not ready within {READY_TIMEOUT:?}"
        )))
    }

    /// The kubeconfig that points at this node's API emulator.
    pub fn kubeconfig(&self) -> PathBuf {
        self.state_dir.join("kubeconfig")
    }

    /// The same with the node agent's pod-bound ServiceAccount token, whose
    /// writes the emulator admits through the shipped admission policies.
    pub fn agent_kubeconfig(&self) -> PathBuf {
        self.state_dir.join("kubeconfig-agent")
    }

    /// Applies a changed scenario to the emulators (API objects, IMDS answers
    /// and faults) and waits until the emulator process has taken it.
    pub fn update(&self, scenario: &Scenario) -> Result<(), LabError> {
        let yaml = serde_norway::to_string(scenario).map_err(|e| LabError::Setup(e.to_string()))?;
        let tmp = self.state_dir.join("update.yaml.tmp");
        let path = self.state_dir.join("update.yaml");
        std::fs::write(&tmp, yaml)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| LabError::Setup(format!("cannot write {}: {e}", path.display())))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while path.exists() {
            if Instant::now() > deadline {
                return Err(LabError::Setup(
                    "the emulators did not take the update within 5 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// What the API emulator recorded: `events`, `node_status_patches`, `node`,
    /// `kube_requests`, and the IMDS emulator's `imds` stats.
    pub fn recorded(&self) -> Result<serde_json::Value, LabError> {
        let path = self.state_dir.join("recorded.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| LabError::Setup(format!("cannot read {}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| LabError::Setup(format!("{}: {e}", path.display())))
    }

    /// Stops (true) or restarts (false) the API emulator, as an API server
    /// restart would: connections and watches are cut, objects are kept.
    pub fn set_kube_down(&self, down: bool) -> Result<(), LabError> {
        let path = self.state_dir.join("kube-down");
        let result = if down {
            std::fs::write(&path, "")
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(|e| LabError::Setup(format!("{}: {e}", path.display())))
    }

    /// Stalls (true) or releases (false) the API emulator's watches: they
    /// stay open and send nothing, not even bookmarks; lists and GETs are
    /// answered as usual. Takes effect within the emulator's 10 ms tick.
    pub fn set_watches_stalled(&self, stalled: bool) -> Result<(), LabError> {
        let path = self.state_dir.join("kube-stall");
        let result = if stalled {
            std::fs::write(&path, "")
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(|e| LabError::Setup(format!("{}: {e}", path.display())))
    }

    /// Runs an `ip -batch` script in the node namespace (data-plane changes).
    pub fn ip(&self, script: &str) -> Result<(), LabError> {
        ip_batch(&self.ns, script)
    }

    /// Runs an `ip -batch` script in the pods namespace.
    pub fn ip_pods(&self, script: &str) -> Result<(), LabError> {
        ip_batch(&pods_ns(&self.ns), script)
    }

    /// A command that runs `program` inside the node namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).arg(program);
        // The lab's EC2 takes any credentials; the default chain finds these.
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    }
}

impl Drop for LabNode {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        remove_namespaces(&self.ns);
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}
