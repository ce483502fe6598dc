//! The Kubernetes emulator served on loopback from a thread of its own, a
//! kubeconfig for it, a port nobody listens on, and the binary run with a
//! clean environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

use eniwatch_lab::kube_emulator::{router, KubeState};
use eniwatch_lab::scenario::Scenario;

pub fn bin() -> PathBuf {
    super::bin::cluster_bin()
}

/// The binary with no ambient AWS or Kubernetes settings, and fake static
/// credentials so the SDK never looks for real ones (nor asks IMDS).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args);
    for var in [
        "KUBECONFIG",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "ENIWATCH_EC2_ENDPOINT",
        "POD_NAMESPACE",
        "CLUSTER_NAME",
        "WARM_IP_TARGET",
        "WARM_ENI_TARGET",
        "WARM_PREFIX_TARGET",
        "ENI_CONFIG_LABEL_DEF",
        "ENI_CONFIG_ANNOTATION_DEF",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

pub fn run(args: &[&str]) -> Output {
    command(args).output().expect("eniwatch-cluster runs")
}

/// The Kubernetes emulator for `scenario`, served until the test ends.
pub struct Emulator {
    pub state: KubeState,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Emulator {
    pub fn start(scenario: &Scenario) -> Emulator {
        let state = KubeState::new(scenario);
        let (tx, rx) = std::sync::mpsc::channel();
        let served = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let addr = eniwatch_lab::serve_on_loopback(router(served))
                    .await
                    .expect("serve the emulator");
                tx.send(addr).expect("send the address");
                std::future::pending::<()>().await;
            });
        });
        let addr = rx.recv().expect("the emulator's address");
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = eniwatch_lab::serve::kubeconfig(&addr.to_string());
        std::fs::write(dir.path().join("kubeconfig"), kc).expect("write the kubeconfig");
        Emulator { state, addr, dir }
    }

    pub fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A loopback URL where nothing listens.
pub fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}
