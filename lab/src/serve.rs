//! The lab's emulator process, run *inside* the node namespace: IMDS on
//! 169.254.169.254:80 and the Kubernetes API on 127.0.0.1:6443 (each network
//! namespace has its own ports, so fixed ports never collide).
//!
//! It writes `kubeconfig` into the lab's state directory, then `ready`, and
//! serves until the shutdown future resolves.
//!
//! Run-time control goes through files in the state directory, which the
//! host side and the namespace share: a scenario written to `update.yaml` is
//! applied to both emulators (IMDS answers, API objects with watch events,
//! IMDS faults) and the file removed; `recorded.json` is rewritten whenever
//! the API emulator served something new, with the Events created, the Node
//! status patches, the current Node and the request counts. While a file
//! `kube-down` exists, the API emulator is stopped (listener closed, every
//! connection and watch cut, as when an API server restarts); removing it
//! starts the emulator again with the same objects. While a file
//! `kube-stall` exists, every watch is stalled (open, silent).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::ec2_seed;
use super::imds_emulator::{self, ImdsState};
use super::ipamd_emulator::{self, IpamdState};
use super::kube_emulator::{self, KubeState};
use super::scenario::Scenario;
use super::witness_spec::{counted_fault_router, Ec2Spec, EC2_LISTEN, IPAMD_LISTEN};
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

/// The bearer token the API emulator knows as the node agent's pod-bound
/// ServiceAccount token on this node (`kubeconfig-agent` carries it): its
/// writes go through the shipped admission policies.
pub const AGENT_TOKEN: &str = "lab-eniwatch-pod-token";

/// [`kubeconfig`] with the agent's token.
pub fn agent_kubeconfig(server: &str) -> String {
    kubeconfig(server).replace("user: {}", &format!("user:\n    token: {AGENT_TOKEN}"))
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
    // EC2 first: seeding renames the scenario's ids to EC2's.
    let ec2 = match &scenario.ec2 {
        Some(spec) => Some(start_ec2(scenario, spec).await?),
        None => None,
    };
    let ids = ec2.as_ref().map(|e| e.ids.clone()).unwrap_or_default();
    let renamed = ec2_seed::rename(scenario, &ids);
    let scenario = &renamed;
    std::fs::write(
        state_dir.join("ec2-ids.json"),
        serde_json::to_string(&ids).unwrap_or_default(),
    )
    .map_err(|e| LabError::Setup(format!("cannot write ec2-ids.json: {e}")))?;
    let ipamd = IpamdState::new(scenario);
    let ipamd_task = if scenario.ipamd.served {
        let listener = bind(IPAMD_LISTEN).await?;
        let app = ipamd_emulator::router(ipamd.clone());
        Some(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ))
    } else {
        None
    };
    let imds = ImdsState::new(scenario);
    let imds_listener = bind(IMDS_LISTEN).await?;
    let imds_app = imds_emulator::router(imds.clone());
    let imds_task = tokio::spawn(async move { axum::serve(imds_listener, imds_app).await });
    // Bookmarks about once a minute, as a real API server sends them.
    let kube = KubeState::with_options(
        scenario,
        kube_emulator::EmulatorOptions {
            bookmark_interval: std::time::Duration::from_secs(60),
            ..Default::default()
        },
    );
    let mut kube_task = if scenario.kube_api {
        Some(start_kube(&kube).await?)
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
    kube.add_identity(
        AGENT_TOKEN,
        kube_emulator::UserInfo::service_account("kube-system", "eniwatch")
            .on_node(&scenario.node.name),
    );
    write("kubeconfig", &kubeconfig(KUBE_ADDR))?;
    write("kubeconfig-agent", &agent_kubeconfig(KUBE_ADDR))?;
    write("ready", "")?;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
    let mut last_count = u64::MAX;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        let update = state_dir.join("update.yaml");
        if update.exists() {
            match Scenario::load(&update) {
                Ok(next) => {
                    let next = ec2_seed::rename(&next, &ids);
                    ipamd.set_scenario(&next);
                    imds.set_scenario(&next);
                    imds.set_faults(next.imds_faults.clone());
                    kube.apply_scenario(&next);
                }
                Err(e) => eprintln!("eniwatch-lab serve: ignoring update: {e}"),
            }
            let _ = std::fs::remove_file(&update);
        }
        kube.set_watches_stalled(state_dir.join("kube-stall").exists());
        let down = state_dir.join("kube-down").exists();
        match (&kube_task, down) {
            (Some(t), true) => {
                t.abort();
                kube_task = None;
            }
            (None, false) if scenario.kube_api => match start_kube(&kube).await {
                Ok(t) => kube_task = Some(t),
                // The old socket may linger a moment: try again next tick.
                Err(e) => eprintln!("eniwatch-lab serve: {e}"),
            },
            _ => {}
        }
        let ec2_requests = ec2
            .as_ref()
            .map_or(0, |e| e.requests.load(Ordering::SeqCst));
        let count = kube.request_count() + imds.stats().requests + ec2_requests;
        if count != last_count {
            last_count = count;
            let recorded = json!({
                "events": kube.events(),
                "node_status_patches": kube.node_status_patches(),
                "node": kube.node(),
                "kube_requests": kube.request_count(),
                "imds": imds.stats(),
                "ec2_requests": ec2_requests,
            });
            let tmp = state_dir.join("recorded.json.tmp");
            if std::fs::write(&tmp, recorded.to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, state_dir.join("recorded.json"));
            }
        }
    }
    imds_task.abort();
    if let Some(t) = kube_task {
        t.abort();
    }
    if let Some(t) = ipamd_task {
        t.abort();
    }
    drop(ec2);
    Ok(())
}

/// EC2 for the lab node: moto seeded with the scenario, or a fault server.
struct LabEc2 {
    /// moto's process, killed on drop.
    _moto: Option<tokio::process::Child>,
    _fault: Option<tokio::task::JoinHandle<()>>,
    ids: ec2_seed::IdMap,
    /// Requests the fault server received (0 with moto).
    requests: Arc<AtomicU64>,
}

impl Drop for LabEc2 {
    fn drop(&mut self) {
        if let Some(t) = &self._fault {
            t.abort();
        }
    }
}

async fn start_ec2(scenario: &Scenario, spec: &Ec2Spec) -> Result<LabEc2, LabError> {
    if let Some(fault) = spec.fault {
        let listener = bind(EC2_LISTEN).await?;
        let requests = Arc::new(AtomicU64::new(0));
        let app = counted_fault_router(fault, requests.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        return Ok(LabEc2 {
            _moto: None,
            _fault: Some(task),
            ids: ec2_seed::IdMap::new(),
            requests,
        });
    }
    let server = std::env::var("ENIWATCH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let (host, port) = EC2_LISTEN.split_once(':').unwrap_or(("127.0.0.1", "5000"));
    let child = tokio::process::Command::new(&server)
        .args(["-H", host, "-p", port])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            LabError::Setup(format!(
                "cannot start moto's EC2 server ({server}): {e}; run scripts/setup.sh                  (it installs moto and sets ENIWATCH_MOTO_SERVER)"
            ))
        })?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(EC2_LISTEN).await.is_err() {
        if tokio::time::Instant::now() > deadline {
            return Err(LabError::Setup("moto did not listen within 30 s".into()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let client = ec2_seed::client(&format!("http://{EC2_LISTEN}"), &scenario.node.region).await;
    let ids = ec2_seed::seed(&client, scenario).await?;
    Ok(LabEc2 {
        _moto: Some(child),
        _fault: None,
        ids,
        requests: Default::default(),
    })
}

/// Serves the API emulator on [`KUBE_ADDR`]. Every connection is a task of
/// the returned task's own set, so aborting it cuts them all (axum::serve
/// would leave open watches running).
async fn start_kube(kube: &KubeState) -> Result<tokio::task::JoinHandle<()>, LabError> {
    let listener = bind(KUBE_ADDR).await?;
    let app = kube_emulator::router(kube.clone());
    Ok(tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(app.clone());
            connections.spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
            // Reap finished connections so the set does not grow.
            while connections.try_join_next().is_some() {}
        }
    }))
}
