//! `eniwatch-lab`: builds a simulated EKS node from a scenario file and runs
//! `eniwatch check` on it. Needs root (network namespaces) and iproute2.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eniwatch_lab::node::{remove_namespaces, LabNode};
use eniwatch_lab::scenario::Scenario;
use eniwatch_lab::{netns, serve};

#[derive(Debug, Parser)]
#[command(
    name = "eniwatch-lab",
    version,
    about = "Builds a simulated EKS node (network namespace, IMDS and Kubernetes API emulators) from a scenario file.",
    after_help = "Examples:\n  eniwatch-lab check lab/scenarios/healthy.yaml\n  \
                  eniwatch-lab check lab/scenarios/drifted.yaml -- --output json\n  \
                  eniwatch-lab render lab/scenarios/healthy.yaml"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build the node, run `eniwatch check` in it, tear it down; exits with check's exit code.
    Check {
        scenario: PathBuf,
        /// Network namespace name (1-12 characters); default: ewl<pid>.
        #[arg(long)]
        name: Option<String>,
        /// The eniwatch binary; default: the one beside this program.
        #[arg(long)]
        eniwatch: Option<PathBuf>,
        /// Extra arguments for `eniwatch check` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Build the node and keep it until Ctrl-C; run commands in it with `ip netns exec NAME ...`.
    Up {
        scenario: PathBuf,
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a lab node's namespaces left behind by a killed run.
    Down {
        #[arg(long)]
        name: String,
    },
    /// Print the `ip -batch` scripts a scenario becomes, without running them.
    Render { scenario: PathBuf },
    /// Print a generated healthy scenario (YAML) of the given size, e.g. for benchmarks.
    Generate {
        /// ENIs, the primary included.
        #[arg(long, default_value_t = 15)]
        enis: u32,
        /// Addresses per ENI, its own included.
        #[arg(long, default_value_t = 19)]
        ips_per_eni: u32,
        #[arg(long, default_value_t = 250)]
        pods: u32,
    },
    /// GET a URL and print the body (run it inside a lab namespace to reach
    /// what listens there: `ip netns exec NAME eniwatch-lab fetch http://127.0.0.1:9742/metrics`).
    Fetch {
        url: String,
        /// Seconds to wait for an answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Create and delete pods on a running lab node (`up --name NAME`), round after round.
    Churn {
        /// The scenario the node was started from.
        scenario: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 10)]
        rounds: u32,
        /// Pods per round (limited by the free addresses on the secondary ENIs).
        #[arg(long, default_value_t = 100)]
        pods: usize,
        /// Milliseconds between creation and deletion.
        #[arg(long, default_value_t = 200)]
        pause_ms: u64,
    },
    /// (internal) Serve the emulators; run inside the node namespace by `check` and `up`.
    #[command(hide = true)]
    Serve {
        scenario: PathBuf,
        #[arg(long)]
        state_dir: PathBuf,
    },
}

fn load(path: &std::path::Path) -> Result<Scenario, ExitCode> {
    Scenario::load(path).map_err(|e| {
        eprintln!("eniwatch-lab: {e}");
        ExitCode::from(64)
    })
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Loads the scenario and builds its lab node in namespace `name` (default: ewl<pid>).
fn build(
    scenario: &std::path::Path,
    name: Option<String>,
) -> Result<(Scenario, LabNode), ExitCode> {
    let s = load(scenario)?;
    let name = name.unwrap_or_else(|| format!("ewl{}", std::process::id()));
    let node = LabNode::up(&s, scenario, &name, &sibling("eniwatch-lab")).map_err(fail)?;
    Ok((s, node))
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("eniwatch-lab: {e}");
    ExitCode::from(70)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    match cli.command {
        Cmd::Render { scenario } => {
            let s = match load(&scenario) {
                Ok(s) => s,
                Err(code) => return code,
            };
            println!("# node namespace\n{}", netns::node_script(&s, "NODE"));
            println!("# pods namespace\n{}", netns::pods_script(&s));
            println!("# breaks (node namespace)\n{}", netns::breaks_script(&s));
            ExitCode::SUCCESS
        }
        Cmd::Generate {
            enis,
            ips_per_eni,
            pods,
        } => {
            let Some(s) = eniwatch_lab::generate::healthy_node(enis, ips_per_eni, pods) else {
                eprintln!("eniwatch-lab: {pods} pods do not fit on {enis} ENIs of {ips_per_eni} addresses (2..100 ENIs, 2..250 addresses)");
                return ExitCode::from(64);
            };
            match serde_norway::to_string(&s) {
                Ok(y) => {
                    print!("{y}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Cmd::Fetch { url, timeout } => {
            let rt = match eniwatch_lab::signals::runtime() {
                Ok(rt) => rt,
                Err(e) => return fail(e),
            };
            rt.block_on(async {
                let client = match reqwest::Client::builder()
                    .no_proxy()
                    .timeout(std::time::Duration::from_secs(timeout))
                    .build()
                {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                };
                match client.get(&url).send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let body = resp.text().await.unwrap_or_default();
                        print!("{body}");
                        if status.is_success() {
                            ExitCode::SUCCESS
                        } else {
                            eprintln!("eniwatch-lab: {url}: HTTP {}", status.as_u16());
                            ExitCode::from(22)
                        }
                    }
                    Err(e) => fail(format!("{url}: {e}")),
                }
            })
        }
        Cmd::Churn {
            scenario,
            name,
            rounds,
            pods,
            pause_ms,
        } => {
            let s = match load(&scenario) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let node = match LabNode::attach(&name) {
                Ok(n) => n,
                Err(e) => return fail(e),
            };
            match eniwatch_lab::churn::churn(
                &node,
                &s,
                rounds,
                pods,
                std::time::Duration::from_millis(pause_ms),
            ) {
                Ok(n) => {
                    println!("{n} pod add/delete cycles");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Cmd::Down { name } => {
            remove_namespaces(&name);
            ExitCode::SUCCESS
        }
        Cmd::Serve {
            scenario,
            state_dir,
        } => {
            let s = match load(&scenario) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(e),
            };
            match rt.block_on(serve::serve(
                &s,
                &state_dir,
                eniwatch_lab::signals::stop_signal(),
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Cmd::Up { scenario, name } => {
            let (s, node) = match build(&scenario, name) {
                Ok(built) => built,
                Err(code) => return code,
            };
            println!(
                "lab node {:?} is up in namespace {}; try:\n  ip netns exec {} {} check --node-name {} --kubeconfig {} {}\nCtrl-C to tear it down.",
                s.node.name,
                node.ns,
                node.ns,
                sibling("eniwatch").display(),
                s.node.name,
                node.kubeconfig().display(),
                s.eniwatch_args().join(" ")
            );
            match eniwatch_lab::signals::runtime() {
                Ok(rt) => rt.block_on(eniwatch_lab::signals::stop_signal()),
                Err(e) => return fail(e),
            }
            drop(node);
            ExitCode::SUCCESS
        }
        Cmd::Check {
            scenario,
            name,
            eniwatch,
            args,
        } => {
            let (s, node) = match build(&scenario, name) {
                Ok(built) => built,
                Err(code) => return code,
            };
            let status = node
                .command(eniwatch.unwrap_or_else(|| sibling("eniwatch")))
                .arg("check")
                .args(["--node-name", &s.node.name])
                .arg("--kubeconfig")
                .arg(node.kubeconfig())
                .args(s.eniwatch_args())
                .args(&args)
                .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .status();
            drop(node);
            match status {
                Ok(st) => {
                    ExitCode::from(st.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(70))
                }
                Err(e) => fail(format!("cannot run eniwatch: {e}")),
            }
        }
    }
}
