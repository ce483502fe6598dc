//! The `eniwatch status` benchmark (run by `scripts/bench-status.sh`,
//! ignored otherwise): 5,000 nodes and 100,000 pods in the lab's Kubernetes
//! emulator, and the time and peak RSS of `eniwatch status --output json`
//! against it (`/usr/bin/time`). The binary is `ENIWATCH_STATUS_BIN` (the
//! script passes a release build), else this profile's `eniwatch`.
//!
//! The emulator runs in this test's process and profile; its own share of
//! the time is measured apart (the same pages fetched and discarded by a
//! bare HTTP client), so the client's cost is the difference.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Instant;

use eniwatch_core::model::{EniConfig, NodeInfo, SelectionSettings};
use eniwatch_core::status::input::{NodeCondition, StatusInput, StatusNode, StatusPod};
use eniwatch_lab::kube_emulator::{router, EmulatorOptions, KubeState};
use eniwatch_lab::status_load::{load, DEFAULT_FACTS_AT};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NODES: usize = 5_000;
const PODS: usize = 100_000;
const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const GROUPS: [(&str, &str); 3] = [
    ("eks.amazonaws.com/nodegroup", "old-ng"),
    ("eks.amazonaws.com/nodegroup", "new-ng"),
    ("karpenter.sh/nodepool", "general"),
];

/// Node `i`: an EKS node's usual labels (ten or so, as kubelet and EKS
/// set them), an agent condition on the migrated groups.
fn node(i: usize) -> StatusNode {
    let zone = ZONES[i % 3];
    let (group_label, group) = GROUPS[(i / 3) % 3];
    let ip = Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 4);
    let name = format!(
        "ip-10-0-{}-{}.eu-west-1.compute.internal",
        i / 250,
        i % 250 + 4
    );
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname", name.clone()),
        ("kubernetes.io/os", "linux".into()),
        ("kubernetes.io/arch", "amd64".into()),
        ("node.kubernetes.io/instance-type", "m5.large".into()),
        ("topology.kubernetes.io/zone", zone.into()),
        ("topology.kubernetes.io/region", "eu-west-1".into()),
        ("topology.k8s.aws/zone-id", format!("euw1-az{}", i % 3 + 1)),
        ("eks.amazonaws.com/capacityType", "ON_DEMAND".into()),
        (group_label, group.into()),
    ])
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect::<BTreeMap<_, _>>();
    let migrated = group != "old-ng";
    if migrated {
        labels.insert("k8s.amazonaws.com/eniConfig".into(), zone.into());
    }
    StatusNode {
        info: NodeInfo {
            name,
            labels,
            annotations: BTreeMap::new(),
            capacity_pods: Some(if migrated { 20 } else { 29 }),
        },
        allocatable_pods: Some(if migrated { 20 } else { 29 }),
        internal_ips: vec![IpAddr::V4(ip)],
        ready: Some(true),
        unschedulable: false,
        condition: migrated.then(|| NodeCondition {
            status: "True".into(),
            reason: Some("CustomNetworkingReady".into()),
            message: Some("all 9 checks ok".into()),
            last_heartbeat: Some("2026-01-01T00:00:00Z".into()),
        }),
    }
}

fn input() -> StatusInput {
    let nodes: Vec<StatusNode> = (0..NODES).map(node).collect();
    let pods = (0..PODS)
        .map(|i| StatusPod {
            namespace: format!("team-{:02}", i % 40),
            name: format!("app-{:03}-7d9f8b6c5-{i:06x}", i % 300),
            node_name: Some(nodes[i % NODES].info.name.clone()),
            ip: Some(Ipv4Addr::new(
                100,
                64 + (i / 65_536) as u8,
                (i / 256 % 256) as u8,
                (i % 256) as u8,
            )),
            host_network: false,
            owner_kind: Some(
                if i.is_multiple_of(20) {
                    "DaemonSet"
                } else {
                    "ReplicaSet"
                }
                .into(),
            ),
            deleting: false,
        })
        .collect();
    let eni_configs = ZONES
        .iter()
        .enumerate()
        .map(|(z, zone)| EniConfig {
            name: zone.to_string(),
            subnet: format!("subnet-0{z}aaaaaaaaaaaaaa").parse().ok(),
            security_groups: vec![],
            problems: vec![],
        })
        .collect();
    StatusInput {
        nodes,
        pods,
        eni_configs: Ok(Some(eni_configs)),
        node_classes: Ok(None),
        facts: Ok(None),
        selection: SelectionSettings::default(),
    }
}

/// Percent-encoding of a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-status.sh"]
async fn status_of_5000_nodes_and_100000_pods() -> TestResult {
    let started = Instant::now();
    let state = KubeState::empty("none", EmulatorOptions::default());
    load(&state, &serde_json::to_value(input())?, DEFAULT_FACTS_AT)?;
    println!(
        "loaded {NODES} nodes and {PODS} pods in {:?}",
        started.elapsed()
    );
    let addr = eniwatch_lab::serve_on_loopback(router(state.clone())).await?;

    // The emulator's own share: every page fetched, bytes discarded.
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut bytes = 0;
    for (path, fields) in [
        ("/api/v1/nodes", ""),
        (
            "/api/v1/pods",
            "status.phase!=Succeeded,status.phase!=Failed",
        ),
    ] {
        let mut token = String::new();
        loop {
            let url = format!(
                "http://{addr}{path}?limit=500&fieldSelector={}&continue={}",
                encode(fields),
                encode(&token)
            );
            let body = http.get(url).send().await?.bytes().await?;
            bytes += body.len();
            let page: serde_json::Value = serde_json::from_slice(&body)?;
            token = page["metadata"]["continue"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if token.is_empty() {
                break;
            }
        }
    }
    println!(
        "emulator alone: all pages in {:?} ({} MiB of JSON)",
        started.elapsed(),
        bytes >> 20
    );

    let kubeconfig = tempfile::NamedTempFile::new()?;
    std::fs::write(
        kubeconfig.path(),
        eniwatch_lab::serve::kubeconfig(&addr.to_string()),
    )?;
    let bin = std::env::var("ENIWATCH_STATUS_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_eniwatch").to_string());
    let path = kubeconfig.path().to_string_lossy().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("/usr/bin/time")
            .args([
                "-f",
                "TIME %e s wall, %U s user, %S s sys, PEAK RSS %M KiB",
                &bin,
            ])
            .args(["status", "--output", "json", "--kubeconfig", &path])
            .output()
    })
    .await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let measured = stderr
        .lines()
        .find(|l| l.starts_with("TIME"))
        .unwrap_or("(no measure)");
    println!(
        "eniwatch status --output json: {measured}; exit {:?}; {} bytes of output",
        out.status.code(),
        out.stdout.len()
    );
    assert!(
        stderr.lines().all(|l| !l.starts_with("eniwatch:")),
        "{stderr}"
    );
    Ok(())
}
