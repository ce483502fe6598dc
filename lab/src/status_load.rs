//! A whole cluster put into the Kubernetes emulator from what `eniwatch
//! status` lists: the JSON form of a status input (`nodes`, `pods`,
//! `eni_configs`, `node_classes`, `facts`, as serde writes it; `Ok`/`Err`
//! for what was observed). Listing the loaded emulator must give the same
//! input back, which is how the command's lister is proven.
//!
//! The lab depends on no eniwatch crate (see the crate docs), so the input
//! is read in that JSON form. What each field becomes:
//! - a node: labels, annotations, `spec.unschedulable`, `status.capacity`
//!   and `status.allocatable` pods, InternalIP addresses (plus Hostname),
//!   a `Ready` condition (`True`/`False`, `Unknown` when not known) and the
//!   agent's `CustomNetworkingReady` condition when it has one;
//! - a pod: phase `Running` (`Pending` without a node), `status.podIP`,
//!   `spec.hostNetwork`, a controller owner reference of its owner kind,
//!   `deletionTimestamp` when deleting. Two finished pods (`Succeeded`,
//!   `Failed`) are added besides, so a client that forgets to leave them
//!   out is caught;
//! - ENIConfigs and NodeClasses as objects; `None` (CRD not installed)
//!   makes the emulator answer 404 for the resource, an `Err` that is
//!   `forbidden` answers 403;
//! - the published facts as the ConfigMap `facts.json` at `facts_at`.

use serde_json::{json, Map, Value};

use crate::kube_emulator::{KubeState, LoadError, Loaded};

/// Where eniwatch-cluster publishes its facts by default.
pub const DEFAULT_FACTS_AT: (&str, &str) = ("kube-system", "eniwatch-cluster-facts");

/// The phase-selector decoys' namespace.
pub const DECOY_NAMESPACE: &str = "lab-finished";

#[derive(Debug, thiserror::Error)]
pub enum StatusLoadError {
    #[error("the status input has no {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the facts ConfigMap was refused: {0}")]
    Facts(String),
}

/// How many objects were loaded, by resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadCounts {
    pub nodes: usize,
    pub pods: usize,
}

/// Load `input` (a serialized status input) into `state`.
pub fn load(
    state: &KubeState,
    input: &Value,
    facts_at: (&str, &str),
) -> Result<LoadCounts, StatusLoadError> {
    let nodes = input["nodes"]
        .as_array()
        .ok_or(StatusLoadError::Missing("nodes"))?;
    let pods = input["pods"]
        .as_array()
        .ok_or(StatusLoadError::Missing("pods"))?;
    let nodes = state.load(Loaded::Node, nodes.iter().map(node))?;
    let pods = state.load(Loaded::Pod, pods.iter().map(pod).chain(decoys()))?;
    observed(
        state,
        &input["eni_configs"],
        Loaded::EniConfig,
        "eniconfigs",
        eni_config,
    )?;
    observed(
        state,
        &input["node_classes"],
        Loaded::NodeClass,
        "nodeclasses",
        node_class,
    )?;
    if let Some(facts) = input["facts"].get("Ok").filter(|f| !f.is_null()) {
        let (namespace, name) = facts_at;
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"facts.json": facts.to_string()},
        });
        state.put_config_map(cm).map_err(StatusLoadError::Facts)?;
    }
    Ok(LoadCounts { nodes, pods })
}

/// An observed list: objects, a missing CRD (404) or a refusal.
fn observed(
    state: &KubeState,
    value: &Value,
    resource: Loaded,
    plural: &str,
    render: fn(&Value) -> Value,
) -> Result<(), StatusLoadError> {
    match (value.get("Ok"), value.get("Err")) {
        (Some(Value::Array(items)), _) => {
            state.load(resource, items.iter().map(render))?;
        }
        (Some(_), _) => state.refuse(plural, 404),
        (None, Some(err)) => {
            let code = if err["kind"] == "forbidden" { 403 } else { 500 };
            state.refuse(plural, code);
        }
        (None, None) => return Err(StatusLoadError::Missing("eni_configs/node_classes")),
    }
    Ok(())
}

fn node(n: &Value) -> Value {
    let info = &n["info"];
    let name = info["name"].as_str().unwrap_or_default();
    let mut addresses: Vec<Value> = n["internal_ips"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ip| json!({"type": "InternalIP", "address": ip}))
        .collect();
    addresses.push(json!({"type": "Hostname", "address": name}));
    let ready = match n["ready"].as_bool() {
        Some(true) => json!({"type": "Ready", "status": "True", "reason": "KubeletReady"}),
        Some(false) => json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady"}),
        None => json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}),
    };
    let mut conditions = vec![ready];
    if let Some(c) = n["condition"].as_object() {
        let mut cond = Map::new();
        cond.insert("type".into(), json!("CustomNetworkingReady"));
        cond.insert(
            "status".into(),
            c.get("status").cloned().unwrap_or(json!("Unknown")),
        );
        for (from, to) in [
            ("reason", "reason"),
            ("message", "message"),
            ("last_heartbeat", "lastHeartbeatTime"),
        ] {
            if let Some(v) = c.get(from).filter(|v| !v.is_null()) {
                cond.insert(to.into(), v.clone());
            }
        }
        conditions.push(Value::Object(cond));
    }
    let mut status = json!({"addresses": addresses, "conditions": conditions});
    if let Some(cap) = info["capacity_pods"].as_u64() {
        status["capacity"] = json!({"cpu": "2", "pods": cap.to_string()});
    }
    if let Some(alloc) = n["allocatable_pods"].as_u64() {
        status["allocatable"] = json!({"cpu": "1930m", "pods": alloc.to_string()});
    }
    let mut spec = json!({});
    if n["unschedulable"].as_bool() == Some(true) {
        spec["unschedulable"] = json!(true);
    }
    json!({
        "metadata": {"name": name, "labels": info["labels"], "annotations": info["annotations"]},
        "spec": spec,
        "status": status,
    })
}

/// The API group of a controller kind, as owner references name it.
fn owner_api_version(kind: &str) -> &'static str {
    match kind {
        "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Deployment" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        _ => "v1",
    }
}

fn pod(p: &Value) -> Value {
    let name = p["name"].as_str().unwrap_or_default();
    let mut meta = json!({"name": name, "namespace": p["namespace"]});
    if let Some(kind) = p["owner_kind"].as_str() {
        meta["ownerReferences"] = json!([{
            "apiVersion": owner_api_version(kind), "kind": kind,
            "name": format!("{name}-owner"), "uid": "6f776e65-0000-4000-8000-000000000000",
            "controller": true, "blockOwnerDeletion": true,
        }]);
    }
    if p["deleting"].as_bool() == Some(true) {
        meta["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    }
    let mut spec = json!({"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]});
    if let Some(node) = p["node_name"].as_str() {
        spec["nodeName"] = json!(node);
    }
    if p["host_network"].as_bool() == Some(true) {
        spec["hostNetwork"] = json!(true);
    }
    let phase = if p["node_name"].is_string() {
        "Running"
    } else {
        "Pending"
    };
    let mut status = json!({"phase": phase});
    if let Some(ip) = p["ip"].as_str() {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    json!({"metadata": meta, "spec": spec, "status": status})
}

/// Finished pods, which a status listing must leave out.
fn decoys() -> impl Iterator<Item = Value> {
    ["Succeeded", "Failed"].into_iter().map(|phase| {
        json!({
            "metadata": {"name": format!("finished-{}", phase.to_lowercase()), "namespace": DECOY_NAMESPACE},
            "spec": {"nodeName": "finished-node", "containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": phase, "podIP": "192.0.2.1"},
        })
    })
}

fn eni_config(e: &Value) -> Value {
    let mut spec = json!({"securityGroups": e["security_groups"]});
    if let Some(subnet) = e["subnet"].as_str() {
        spec["subnet"] = json!(subnet);
    }
    json!({"metadata": {"name": e["name"]}, "spec": spec})
}

fn node_class(c: &Value) -> Value {
    let mut spec = json!({
        "role": "eks-auto-node",
        "subnetSelectorTerms": [{"tags": {"kubernetes.io/role/internal-elb": "1"}}],
        "securityGroupSelectorTerms": [{"tags": {"aws:eks:cluster-name": "lab"}}],
    });
    if c["has_pod_subnet_terms"].as_bool() == Some(true) {
        spec["podSubnetSelectorTerms"] = json!([{"tags": {"kubernetes.io/role/cni": "1"}}]);
    }
    if c["has_pod_security_group_terms"].as_bool() == Some(true) {
        spec["podSecurityGroupSelectorTerms"] = json!([{"tags": {"pods": "true"}}]);
    }
    json!({"metadata": {"name": c["name"]}, "spec": spec})
}
