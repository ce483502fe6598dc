//! Rendering a scenario into the Kubernetes objects the API server would hold
//! for that node: the Node, its pods (plus decoys on another node) and the
//! ENIConfigs. Rendering is pure and deterministic (`stamp` is the only time
//! used), so re-rendering an unchanged scenario produces identical objects
//! and therefore no watch events.
//!
//! Identity metadata (uid, resourceVersion, creationTimestamp) is left to the
//! store, which assigns it on first insert and preserves it afterwards.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::resources::Kind;
use super::store::ObjKey;
use crate::scenario::{PodSpec, Scenario};

/// The node the decoy pods run on: never the scenario's node.
pub const DECOY_NODE: &str = "ip-10-99-0-1.lab.internal";
const DECOY_NAMESPACE: &str = "decoy";
const DECOY_IPS: [&str; 2] = ["10.99.0.10", "10.99.0.11"];
/// Annotation the VPC resource controller sets on security-groups-for-pods pods.
pub const POD_ENI_ANNOTATION: &str = "vpc.amazonaws.com/pod-eni";

/// The node's InternalIP: the primary ENI's primary address.
pub(crate) fn node_ip(scenario: &Scenario) -> Option<Ipv4Addr> {
    scenario.primary_eni().and_then(|e| e.ips.first().copied())
}

/// Every object the scenario implies, keyed for the store.
pub(crate) fn render(scenario: &Scenario, stamp: &str) -> Vec<(ObjKey, Value)> {
    let mut out = Vec::new();
    let node_name = scenario.node.name.clone();
    out.push((
        ObjKey::new(Kind::Node, "", &node_name),
        node(scenario, stamp),
    ));
    let host_ip = node_ip(scenario).map(|ip| ip.to_string());
    for p in &scenario.pods {
        out.push((
            ObjKey::new(Kind::Pod, &p.namespace, &p.name),
            pod(
                p,
                scenario.cluster.ipv6_pods.get(&p.key()),
                &node_name,
                host_ip.as_deref(),
                stamp,
            ),
        ));
    }
    for (i, ip) in DECOY_IPS.iter().enumerate() {
        let name = format!("decoy-{i}");
        out.push((
            ObjKey::new(Kind::Pod, DECOY_NAMESPACE, &name),
            decoy(&name, ip, stamp),
        ));
    }
    for e in &scenario.eniconfigs {
        let mut spec = json!({"subnet": e.subnet});
        if !e.security_groups.is_empty() {
            spec["securityGroups"] = json!(e.security_groups);
        }
        let obj = json!({
            "apiVersion": "crd.k8s.amazonaws.com/v1alpha1",
            "kind": "ENIConfig",
            "metadata": {"name": e.name, "generation": 1},
            "spec": spec,
        });
        out.push((ObjKey::new(Kind::EniConfig, "", &e.name), obj));
    }
    out
}

fn string_map(map: BTreeMap<String, String>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

fn node(s: &Scenario, stamp: &str) -> Value {
    let n = &s.node;
    // What kubelet and the cloud provider put on every EKS node; the scenario
    // may override any of them (e.g. to test a wrong zone label).
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), n.name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        (
            "node.kubernetes.io/instance-type".to_string(),
            n.instance_type.clone(),
        ),
        (
            "topology.kubernetes.io/zone".to_string(),
            n.availability_zone.clone(),
        ),
        (
            "topology.kubernetes.io/region".to_string(),
            n.region.clone(),
        ),
    ]);
    if let Some(zone_id) = &n.availability_zone_id {
        labels.insert("topology.k8s.aws/zone-id".to_string(), zone_id.clone());
    }
    labels.extend(n.labels.clone());
    let mut annotations = BTreeMap::from([
        ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
        (
            "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
            "true".to_string(),
        ),
    ]);
    annotations.extend(n.annotations.clone());

    let mut capacity = json!({
        "cpu": "2",
        "ephemeral-storage": "83873772Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "7926544Ki",
    });
    let mut allocatable = json!({
        "cpu": "1930m",
        "ephemeral-storage": "76224326324",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "7236368Ki",
    });
    if let Some(max) = n.max_pods {
        capacity["pods"] = json!(max.to_string());
        allocatable["pods"] = json!(max.to_string());
    }
    let mut addresses = Vec::new();
    if let Some(ip) = node_ip(s) {
        addresses.push(json!({"type": "InternalIP", "address": ip.to_string()}));
    }
    addresses.push(json!({"type": "InternalDNS", "address": n.name}));
    addresses.push(json!({"type": "Hostname", "address": n.name}));
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status,
            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message,
        })
    };
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": n.name, "labels": string_map(labels), "annotations": string_map(annotations)},
        "spec": {"providerID": format!("aws:///{}/{}", n.availability_zone, n.instance_id)},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": addresses,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "ec2lab0000000000000000000000000",
                "systemUUID": "ec2lab00-0000-0000-0000-000000000000",
                "bootID": "00000000-0000-4000-8000-000000000000",
                "kernelVersion": "6.1.0-lab",
                "osImage": "Amazon Linux 2023",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kubeletVersion": "v1.33.0-eks-lab",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    })
}

fn pod(
    p: &PodSpec,
    ipv6: Option<&std::net::Ipv6Addr>,
    node_name: &str,
    host_ip: Option<&str>,
    stamp: &str,
) -> Value {
    // Host-network pods share the node's address unless the scenario pins one.
    let ip = match (p.ip, p.host_network) {
        (Some(ip), _) => Some(ip.to_string()),
        (None, true) => host_ip.map(str::to_string),
        (None, false) => None,
    };
    // An IPv6 cluster: the scenario gives the pod's IPv6 address.
    let ip = ipv6.map(|v6| v6.to_string()).or(ip);
    let mut metadata = json!({"name": p.name, "namespace": p.namespace});
    if let Some(b) = &p.branch_eni {
        // Same shape and key order as the VPC resource controller writes;
        // serde_json maps sort their keys, so the text is assembled by hand.
        let mut fields = vec![("eniId", json!(b.eni_id)), ("ifAddress", json!(b.mac))];
        if let Some(ip) = &ip {
            fields.push(("privateIp", json!(ip)));
        }
        fields.push(("vlanId", json!(b.vlan_id)));
        fields.push(("subnetCidr", json!(b.subnet_cidr.to_string())));
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
            .collect();
        let text = format!("[{{{}}}]", body.join(","));
        metadata["annotations"] = json!({ POD_ENI_ANNOTATION: text });
    }
    let mut spec = json!({
        "nodeName": node_name,
        "containers": [{"name": "app", "image": "public.ecr.aws/lab/app:1"}],
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
    });
    if p.host_network {
        // The real API omits `hostNetwork: false`.
        spec["hostNetwork"] = json!(true);
    }
    let mut status = json!({
        "phase": p.phase.clone().unwrap_or_else(|| "Running".to_string()),
        "startTime": stamp,
        "qosClass": "BestEffort",
    });
    if let Some(h) = host_ip {
        status["hostIP"] = json!(h);
        status["hostIPs"] = json!([{"ip": h}]);
    }
    if let Some(ip) = ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status})
}

fn decoy(name: &str, ip: &str, stamp: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": DECOY_NAMESPACE,
            "labels": {"app": "decoy", "lab.eniwatch.io/decoy": "true"},
        },
        "spec": {
            "nodeName": DECOY_NODE,
            "containers": [{"name": "app", "image": "public.ecr.aws/lab/app:1"}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
        },
        "status": {
            "phase": "Running",
            "startTime": stamp,
            "qosClass": "BestEffort",
            "hostIP": "10.99.0.1",
            "hostIPs": [{"ip": "10.99.0.1"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
        },
    })
}
