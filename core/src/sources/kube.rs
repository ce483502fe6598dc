//! The Kubernetes API: this node, the pods on it, and the ENIConfigs.
//!
//! Policy:
//! - Client from `--kubeconfig` (or `KUBECONFIG`), else the usual inference
//!   (`~/.kube/config`, then the in-cluster service account). Plain `http://`
//!   servers work, for emulators and `kubectl proxy`, and load no TLS roots
//!   (`kube_client.rs`); `https://` servers are verified as kube does.
//! - Connect timeout 5 s, read timeout 15 s: a one-shot `check` must end even
//!   when the API server hangs. No retries for `check` ([`check_client`]
//!   turns off kube's default retry layer, which would retry a 429 or 503
//!   up to 15 times until the check's time limit and leave only "no answer"):
//!   `check` reports what the server answered and the part as *unknown*.
//!   The daemon's loop retries with backoff. Watches use
//!   their own client with [`WATCH_READ_TIMEOUT`]: an idle watch may stay
//!   silent for a minute or more between bookmarks.
//! - Pods are listed with the field selector `spec.nodeName=<node>` in pages
//!   of 500, and reduced at once to what the checks need.
//! - ENIConfigs are read as dynamic objects and parsed one by one, so one
//!   malformed ENIConfig cannot hide the others. A missing CRD (404) is an
//!   answer ("none exist"), not an error.
//! - Errors state the cause in words: the status the server answered, or the
//!   transport's cause at the bottom of the error chain (connection refused,
//!   timed out), never kube's `Debug` dump of its error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::model::{BranchEni, ClusterView, EniConfig, NodeInfo, PodInfo};

#[path = "kube_eniconfig.rs"]
mod eniconfig_spec;
pub use eniconfig_spec::eniconfig_from_spec;

#[path = "kube_client.rs"]
mod client_stack;
pub use client_stack::{client_from, needs_tls};

#[path = "kube_errors.rs"]
mod errors;
use errors::request_error;
pub use errors::{
    error_kind, error_text, watch_error_kind, watch_error_text, write_error_kind, write_error_text,
    KubeError,
};

pub const POD_ENI_ANNOTATION: &str = "vpc.amazonaws.com/pod-eni";
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Longer than the watcher's server-side timeout (290 s), so a quiet watch is
/// ended by the server, not cut by the client.
pub const WATCH_READ_TIMEOUT: Duration = Duration::from_secs(300);
const PAGE_SIZE: u32 = 500;

/// The ENIConfig custom resource (`eniconfigs.crd.k8s.amazonaws.com/v1alpha1`, cluster-scoped).
pub fn eniconfig_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("crd.k8s.amazonaws.com", "v1alpha1", "ENIConfig"),
        "eniconfigs",
    )
}

/// Builds a client for requests (read timeout [`READ_TIMEOUT`]).
pub async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client, KubeError> {
    client_with_timeout(kubeconfig, READ_TIMEOUT).await
}

/// Builds a client from an explicit kubeconfig path, or by inference.
pub async fn client_with_timeout(
    kubeconfig: Option<&PathBuf>,
    read_timeout: Duration,
) -> Result<Client, KubeError> {
    let config = config(kubeconfig, read_timeout).await?;
    client_stack::client_from(config)
}

/// A client for one-shot reads (`check`): kube's retry layer off, so a 429
/// or 503 is reported as what it is at once. Also returns the server's URL,
/// for [`KubeError::at`].
pub async fn check_client(kubeconfig: Option<&PathBuf>) -> Result<(Client, String), KubeError> {
    let mut config = config(kubeconfig, READ_TIMEOUT).await?;
    config.default_retry = false;
    let url = config.cluster_url.to_string();
    let client = client_stack::client_from(config)?;
    Ok((client, url))
}

async fn config(kubeconfig: Option<&PathBuf>, read_timeout: Duration) -> Result<Config, KubeError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| {
                KubeError::Config(format!("cannot read kubeconfig {}: {e}", path.display()))
            })?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| KubeError::Config(format!("kubeconfig {}: {e}", path.display())))?
        }
        None => Config::infer()
            .await
            .map_err(|e| KubeError::Config(e.to_string()))?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(read_timeout);
    Ok(config)
}

/// Reads the node, its pods and the ENIConfigs, concurrently.
pub async fn read_cluster(client: &Client, node_name: &str) -> Result<ClusterView, KubeError> {
    let (node, pods, eni_configs) = tokio::try_join!(
        read_node(client, node_name),
        read_pods(client, node_name),
        read_eniconfigs(client),
    )?;
    Ok(ClusterView {
        node,
        pods,
        eni_configs,
    })
}

pub async fn read_node(client: &Client, name: &str) -> Result<NodeInfo, KubeError> {
    let api: Api<Node> = Api::all(client.clone());
    match api.get_opt(name).await {
        Ok(Some(node)) => Ok(node_info(&node)),
        Ok(None) => Err(KubeError::NodeNotFound(name.to_string())),
        Err(e) => Err(request_error(format!("node {name}"), e)),
    }
}

pub fn node_info(node: &Node) -> NodeInfo {
    let meta = &node.metadata;
    let capacity_pods = node
        .status
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("pods"))
        .and_then(|q| q.0.trim().parse::<u32>().ok());
    NodeInfo {
        name: meta.name.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        capacity_pods,
    }
}

pub async fn read_pods(client: &Client, node_name: &str) -> Result<Vec<PodInfo>, KubeError> {
    let api: Api<Pod> = Api::all(client.clone());
    let selector = format!("spec.nodeName={node_name}");
    let mut pods = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().fields(&selector).limit(PAGE_SIZE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api
            .list(&lp)
            .await
            .map_err(|e| request_error(format!("pods on {node_name}"), e))?;
        pods.extend(page.items.iter().map(pod_info));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(pods);
        }
    }
}

/// Reduces a pod to what the checks need. A `status.podIP` that is not an
/// IPv4 address is kept as text for the checks to name, never dropped.
pub fn pod_info(pod: &Pod) -> PodInfo {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    let raw = status
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty());
    let ip = raw.and_then(|ip| ip.parse().ok());
    let ip_text = match (raw, ip) {
        (Some(text), None) => Some(text.chars().take(64).collect()),
        _ => None,
    };
    let branch = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_ENI_ANNOTATION))
        .map(|v| parse_pod_eni(v));
    let completed = matches!(phase, "Succeeded" | "Failed");
    PodInfo {
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        ip,
        ip_text,
        host_network: pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false),
        terminal: completed || meta.deletion_timestamp.is_some(),
        completed,
        branch,
    }
}

/// Parses the `vpc.amazonaws.com/pod-eni` annotation: a JSON list of branch
/// ENIs. Unknown or malformed fields become None; the whole value failing to
/// parse is kept as the error text (the pod is still a branch pod).
pub fn parse_pod_eni(value: &str) -> Result<Vec<BranchEni>, String> {
    let items: Vec<BTreeMap<String, serde_json::Value>> = serde_json::from_str(value)
        .map_err(|e| format!("{POD_ENI_ANNOTATION} is not a JSON list: {e}"))?;
    let text = |m: &BTreeMap<String, serde_json::Value>, k: &str| {
        m.get(k).and_then(|v| v.as_str()).map(str::to_string)
    };
    Ok(items
        .iter()
        .map(|m| BranchEni {
            eni_id: text(m, "eniId").and_then(|s| s.parse().ok()),
            mac: text(m, "ifAddress").and_then(|s| s.parse().ok()),
            private_ip: text(m, "privateIp").and_then(|s| s.parse().ok()),
            vlan_id: m
                .get("vlanId")
                .or_else(|| m.get("vlanID"))
                .and_then(|v| v.as_u64())
                .and_then(|v| u32::try_from(v).ok()),
            subnet_cidr: text(m, "subnetCidr").and_then(|s| s.parse().ok()),
        })
        .collect())
}

/// All ENIConfigs; None when the CRD is not installed.
pub async fn read_eniconfigs(client: &Client) -> Result<Option<Vec<EniConfig>>, KubeError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &eniconfig_resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(Some(list.items.iter().map(eniconfig).collect())),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(request_error("ENIConfigs", e)),
    }
}

/// Reads an ENIConfig object; see [`eniconfig_from_spec`].
pub fn eniconfig(obj: &DynamicObject) -> EniConfig {
    let name = obj.metadata.name.clone().unwrap_or_default();
    eniconfig_from_spec(name, obj.data.get("spec"))
}

#[cfg(test)]
#[path = "kube_error_tests.rs"]
mod error_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[test]
    fn pod_eni_annotation_as_the_resource_controller_writes_it() {
        let v = r#"[{"eniId":"eni-0abc","ifAddress":"02:11:22:33:44:55","privateIp":"100.64.5.7","vlanId":1,"subnetCidr":"100.64.5.0/24"}]"#;
        let b = parse_pod_eni(v).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].vlan_id, Some(1));
        assert_eq!(b[0].private_ip, Some("100.64.5.7".parse().unwrap()));
        assert_eq!(b[0].eni_id.as_ref().unwrap().as_str(), "eni-0abc");
        // vlanID spelling and junk fields.
        let b = parse_pod_eni(r#"[{"vlanID":7,"privateIp":"nope"}]"#).unwrap();
        assert_eq!(b[0].vlan_id, Some(7));
        assert_eq!(b[0].private_ip, None);
        assert!(parse_pod_eni("{").is_err());
        assert!(parse_pod_eni(r#"{"eniId":"x"}"#).is_err());
    }

    fn pod(phase: &str, ip: Option<&str>, deleting: bool) -> Pod {
        let mut v = serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": phase}
        });
        if let Some(ip) = ip {
            v["status"]["podIP"] = ip.into();
        }
        if deleting {
            v["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z".into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_ip_that_is_not_ipv4_is_kept_as_text() {
        let p = pod_info(&pod("Running", Some("100.64.1.5"), false));
        assert_eq!(p.ip, Some("100.64.1.5".parse().unwrap()));
        assert_eq!(p.ip_text, None);
        // Leading zeros stay rejected: they read as octal in some parsers.
        for bad in ["100.064.001.005", "fd00::5", "garbage"] {
            let p = pod_info(&pod("Running", Some(bad), false));
            assert_eq!(p.ip, None, "{bad}");
            assert_eq!(p.ip_text.as_deref(), Some(bad));
        }
        let p = pod_info(&pod("Pending", None, false));
        assert_eq!((p.ip, p.ip_text), (None, None));
        let p = pod_info(&pod("Pending", Some(""), false));
        assert_eq!(p.ip_text, None);
    }

    #[test]
    fn finished_and_deleted_pods() {
        for phase in ["Succeeded", "Failed"] {
            let p = pod_info(&pod(phase, Some("100.64.1.5"), false));
            assert!(p.completed && p.terminal, "{phase}");
        }
        let p = pod_info(&pod("Running", Some("100.64.1.5"), true));
        assert!(p.terminal && !p.completed);
        let p = pod_info(&pod("Running", Some("100.64.1.5"), false));
        assert!(!p.terminal && !p.completed);
    }

    proptest! {
        #[test]
        fn pod_eni_parser_never_panics(s in "\\PC*") {
            let _ = parse_pod_eni(&s);
        }

        #[test]
        fn pod_eni_parser_never_panics_on_json_shapes(
            vlan in any::<i64>(), ip in "\\PC{0,20}", id in "\\PC{0,20}"
        ) {
            let v = serde_json::json!([{"eniId": id, "privateIp": ip, "vlanId": vlan, "subnetCidr": ip}]);
            let _ = parse_pod_eni(&v.to_string());
        }

        /// A valid annotation (each field present or not, either spelling of
        /// the VLAN id, fields the agent does not read) parses to exactly
        /// the branch ENIs it was written from, in order.
        #[test]
        fn a_valid_pod_eni_annotation_parses_to_its_values(
            items in prop::collection::vec(branch(), 0..4)
        ) {
            let (json, want): (Vec<_>, Vec<_>) = items.into_iter().unzip();
            let text = serde_json::Value::Array(json).to_string();
            prop_assert_eq!(parse_pod_eni(&text), Ok(want));
        }
    }

    /// One branch ENI as the resource controller writes it, and what it says.
    fn branch() -> impl Strategy<Value = (serde_json::Value, BranchEni)> {
        (
            proptest::option::of("eni-[0-9a-f]{8,17}"),
            proptest::option::of(any::<[u8; 6]>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of((any::<u32>(), any::<bool>())),
            proptest::option::of((any::<u32>(), 0u8..=32)),
        )
            .prop_map(|(id, mac, ip, vlan, cidr)| {
                let mut m = serde_json::Map::new();
                m.insert("associationID".into(), "trunk-assoc-1".into());
                let mac = mac.map(crate::model::MacAddr);
                let ip = ip.map(Ipv4Addr::from);
                let cidr = cidr.map(|(a, len)| {
                    ipnet::Ipv4Net::new(Ipv4Addr::from(a), len).expect("prefix length <= 32")
                });
                if let Some(id) = &id {
                    m.insert("eniId".into(), id.as_str().into());
                }
                if let Some(mac) = mac {
                    m.insert("ifAddress".into(), mac.to_string().into());
                }
                if let Some(ip) = ip {
                    m.insert("privateIp".into(), ip.to_string().into());
                }
                if let Some((v, old_spelling)) = vlan {
                    let key = if old_spelling { "vlanID" } else { "vlanId" };
                    m.insert(key.into(), v.into());
                }
                if let Some(c) = cidr {
                    m.insert("subnetCidr".into(), c.to_string().into());
                }
                let want = BranchEni {
                    eni_id: id.map(|i| i.parse().expect("a valid ENI id")),
                    mac,
                    private_ip: ip,
                    vlan_id: vlan.map(|(v, _)| v),
                    subnet_cidr: cidr,
                };
                (serde_json::Value::Object(m), want)
            })
    }
}
