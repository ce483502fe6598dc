//! Pod churn on a running lab node, as the CNI and the API server would show
//! it: a batch of pods is created (API objects, then veths, routes and rules)
//! and deleted again, round after round. Used by the daemon benchmark to see
//! that memory stays flat.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::netns::{pod_peer_script, pod_script, pod_teardown_script, pods_ns};
use super::node::LabNode;
use super::scenario::{PodSpec, Scenario};
use super::LabError;

/// Addresses on the scenario's secondary ENIs that no pod holds.
pub fn free_ips(s: &Scenario) -> Vec<Ipv4Addr> {
    let used: Vec<Ipv4Addr> = s.pods.iter().filter_map(|p| p.ip).collect();
    s.enis
        .iter()
        .filter(|e| !e.is_primary())
        .flat_map(|e| e.ips.iter().skip(1).copied())
        .filter(|ip| !used.contains(ip))
        .collect()
}

/// Runs `rounds` rounds of `batch` pod creations and deletions. Returns the
/// number of pods created and deleted.
pub fn churn(
    node: &LabNode,
    base: &Scenario,
    rounds: u32,
    batch: usize,
    pause: Duration,
) -> Result<u64, LabError> {
    let ips = free_ips(base);
    let batch = batch.min(ips.len());
    if batch == 0 {
        return Err(LabError::Setup(
            "the scenario has no free address on its secondary ENIs".into(),
        ));
    }
    let pods_ns = pods_ns(&node.ns);
    let mut cycles = 0u64;
    for round in 0..rounds {
        let pods: Vec<PodSpec> = ips
            .iter()
            .take(batch)
            .enumerate()
            .map(|(i, ip)| PodSpec {
                namespace: "churn".into(),
                name: format!("job-{round}-{i}"),
                ip: Some(*ip),
                host_network: false,
                branch_eni: None,
                phase: None,
            })
            .collect();
        let mut with = base.clone();
        with.pods.extend(pods.iter().cloned());
        // The CNI wires the pod before the API shows its IP; do the same.
        let (mut up, mut peers, mut down) = (String::new(), String::new(), String::new());
        for p in &pods {
            let ip = p.ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            up.push_str(&pod_script(&with, p, ip, &pods_ns));
            peers.push_str(&pod_peer_script(&with, p));
            down.push_str(&pod_teardown_script(&with, p, ip));
        }
        node.ip(&up)?;
        node.ip_pods(&peers)?;
        node.update(&with)?;
        std::thread::sleep(pause);
        node.update(base)?;
        node.ip(&down)?;
        std::thread::sleep(pause);
        cycles += pods.len() as u64;
    }
    Ok(cycles)
}
