//! The lab's emulator process, run *inside* the node namespace: IMDS on
//! 169.254.169.254:80 and the Kubernetes API on 127.0.0.1:6443 (each network
//! namespace has its own ports, so fixed ports never collide).
//!
//! It writes `kubeconfig` into the lab's state directory, then `ready`, and
//! serves until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;

use super::imds_emulator::{self, ImdsState};
use super::kube_emulator::{self, KubeState};
use super::scenario::Scenario;
use super::LabError;

/// Where the Kubernetes API emulator listens, inside the node namespace.
pub const KUBE_ADDR: &str = "127.0.0.1:6443";
/// Where the IMDS emulator listens, inside the node namespace.
pub const IMDS_LISTEN: &str = "169.254.169.254:80";

/// The kubeconfig the lab hands to eniwatch: plain HTTP, no credentials.
pub fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: http://{server}\n\
         users:\n- name: lab\n  user: {{}}\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n\
         current-context: lab\n"
    )
}

async fn bind(addr: &str) -> Result<TcpListener, LabError> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| LabError::Setup(format!("{addr}: {e}")))?;
    TcpListener::bind(parsed).await.map_err(|e| {
        LabError::Setup(format!(
            "cannot listen on {addr}: {e} (is this running inside the lab namespace?)"
        ))
    })
}

/// Runs the emulators for `scenario` until `shutdown` resolves.
pub async fn serve(
    scenario: &Scenario,
    state_dir: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LabError> {
    let imds = ImdsState::new(scenario);
    let imds_listener = bind(IMDS_LISTEN).await?;
    let imds_task =
        tokio::spawn(async move { axum::serve(imds_listener, imds_emulator::router(imds)).await });
    let kube_task = if scenario.kube_api {
        let kube = KubeState::new(scenario);
        let listener = bind(KUBE_ADDR).await?;
        Some(tokio::spawn(async move {
            axum::serve(listener, kube_emulator::router(kube)).await
        }))
    } else {
        None
    };
    let write = |name: &str, text: &str| {
        std::fs::write(state_dir.join(name), text).map_err(|e| {
            LabError::Setup(format!(
                "cannot write {}: {e}",
                state_dir.join(name).display()
            ))
        })
    };
    write("kubeconfig", &kubeconfig(KUBE_ADDR))?;
    write("ready", "")?;
    shutdown.await;
    imds_task.abort();
    if let Some(t) = kube_task {
        t.abort();
    }
    Ok(())
}
