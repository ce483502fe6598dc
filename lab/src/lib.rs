//! The lab: a simulated EKS node built from a scenario file, so that the real
//! `eniwatch` binary can be run and tested on any Linux machine (as root).
//!
//! - [`churn`]: pod churn on a running node, for the daemon benchmark.
//! - [`generate`]: healthy scenarios of any size, for benchmarks.
//! - [`scenario`]: the YAML format describing a node, its ENIs, pods and ENIConfigs.
//! - [`netns`]: the data plane as the VPC CNI builds it, as `ip -batch` scripts.
//! - [`node`]: a lab node's life cycle (namespaces, emulator process, teardown).
//! - [`serve`]: the emulator process inside the node namespace.
//! - [`imds_emulator`]: IMDSv2 as the node sees it, with switchable faults.
//! - [`kube_emulator`]: the slice of the Kubernetes API the agent uses, over HTTP.
//! - [`ipamd_emulator`]: ipamd's introspection API.
//! - [`status_load`]: a whole cluster put into the Kubernetes emulator.
//! - [`witness_spec`], [`ec2_seed`]: EC2 as moto or a fault server answers it.
//! - [`skip`], [`moto`]: what a test does when a tool is missing (skip with a
//!   reason, or fail in CI), and moto's EC2 server started on loopback.
//! - [`test_servers`]: tiny loopback servers for client tests (a closed port,
//!   a fixed status, a huge body).
//!
//! The lab depends on no eniwatch crate: its protocol paths, shapes and
//! constants are written from the real servers' documentation and source,
//! so a client that gets one wrong fails against it.
#![forbid(unsafe_code)]

pub mod churn;
pub mod ec2_seed;
pub mod generate;
pub mod imds_emulator;
pub mod ipamd_emulator;
pub mod kube_emulator;
pub mod moto;
pub mod netns;
pub mod node;
pub mod scenario;
pub mod serve;
pub mod signals;
pub mod skip;
pub mod status_load;
pub mod test_servers;
pub mod vpc_seed;
pub mod witness_spec;

/// Serves `app` on an ephemeral loopback port in a background task and
/// returns the address: how tests put an emulator in front of a real client.
pub async fn serve_on_loopback(app: axum::Router) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Errors building or running a lab node.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    #[error("lab set-up failed: {0}")]
    Setup(String),
    #[error("{cmd} failed: {stderr}")]
    Command { cmd: String, stderr: String },
}
