//! The Kubernetes API as eniwatch-cluster reads it: every Node, reduced at
//! once to a [`ClusterNode`], the ENIConfigs, parsed one by one with
//! eniwatch-core's parser, and the EKS Auto Mode NodeClasses
//! ([`crate::node_classes`]). A malformed object cannot hide the others; a
//! missing CRD is `Ok(None)`, "none exist" (most clusters have no
//! NodeClass CRD: that is no error, and nothing is logged for it).
//!
//! Policy:
//! - `check` lists (pages of 500) with eniwatch-core's one-shot client: no
//!   retries, connect 5 s, read 15 s, so a hung API server ends the check
//!   with the cause in words ([`read_nodes`], [`read_eniconfigs`]).
//! - `run` keeps both collections mirrored by watches ([`watch`]); the loop
//!   judges a fresh copy of the mirror each refresh.
//! - Errors are eniwatch-core's [`KubeError`] (status or transport cause in
//!   words), turned into an [`Unavailable`] of source `kubernetes`.

pub mod watch;

use std::net::Ipv4Addr;

use eniwatch_core::model::node_kind;
use eniwatch_core::model::{EniConfig, Unavailable};
use eniwatch_core::sources::kube::{self as core_kube, KubeError};
use k8s_openapi::api::core::v1::Node;
use kube::api::{DynamicObject, ListParams};
use kube::{Api, Client};

use crate::model::ClusterNode;
use crate::node_classes::{node_class, nodeclass_resource, NodeClass};

pub use eniwatch_core::model::node_kind::{INSTANCE_TYPE_LABEL, ZONE_ID_LABEL, ZONE_LABEL};
const PAGE_SIZE: u32 = 500;

/// Reduces a Node to what the cluster checks need.
pub fn cluster_node(node: &Node) -> ClusterNode {
    let info = core_kube::node_info(node);
    let label = |k: &str| {
        info.labels
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let internal_ips = node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .map(|addrs| {
            addrs
                .iter()
                .filter(|a| a.type_ == "InternalIP")
                .filter_map(|a| a.address.parse::<Ipv4Addr>().ok())
                .collect()
        })
        .unwrap_or_default();
    let instance_id = node
        .spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .and_then(instance_of_provider_id);
    ClusterNode {
        instance_id,
        instance_type: label(INSTANCE_TYPE_LABEL),
        zone: label(ZONE_LABEL),
        zone_id: label(ZONE_ID_LABEL),
        internal_ips,
        nodegroup: Some(node_kind::node_group(&info.labels))
            .filter(|g| g.source != node_kind::GroupSource::Unlabelled)
            .map(|g| g.name),
        out_of_scope: out_of_scope(node_kind::platform(&info.labels)),
        info,
    }
}

/// `aws:///eu-west-1a/i-0abc` → `i-0abc`; anything else (Fargate's
/// `aws:///zone/<id>/fargate-...`, another cloud) → None.
pub fn instance_of_provider_id(provider_id: &str) -> Option<String> {
    let rest = provider_id.trim().strip_prefix("aws://")?;
    let last = rest.rsplit('/').next()?;
    let hex = last.strip_prefix("i-")?;
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| last.to_string())
}

/// Nodes the cluster checks leave out. Auto Mode nodes too: their pod
/// subnets come from their NodeClass, not from ENIConfigs.
fn out_of_scope(platform: node_kind::Platform) -> Option<String> {
    match platform {
        node_kind::Platform::AutoMode => {
            Some("an EKS Auto Mode node (its pod subnets come from its NodeClass)".to_string())
        }
        other => other.out_of_scope().map(str::to_string),
    }
}

/// A Kubernetes error as the snapshot keeps it.
/// (eniwatch-core's text of a missing configuration names the node
/// agent's flags; this one names eniwatch-cluster's.)
pub fn unavailable(e: &KubeError) -> Unavailable {
    let text = match e {
        KubeError::Config(why) => format!(
            "no Kubernetes configuration: {why} (pass --kubeconfig, set KUBECONFIG, or run \
             in a pod with a service account)"
        ),
        other => other.to_string(),
    };
    Unavailable::new("kubernetes", text).with_kind(e.kind())
}

/// Every Node, in pages.
pub async fn read_nodes(client: &Client) -> Result<Vec<ClusterNode>, KubeError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut nodes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(PAGE_SIZE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api
            .list(&lp)
            .await
            .map_err(|e| request_error("nodes", &e))?;
        nodes.extend(page.items.iter().map(cluster_node));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(nodes);
        }
    }
}

/// All ENIConfigs; None when the CRD is not installed.
pub async fn read_eniconfigs(client: &Client) -> Result<Option<Vec<EniConfig>>, KubeError> {
    core_kube::read_eniconfigs(client).await
}

/// All NodeClasses (cluster-scoped; one list: a cluster has a handful);
/// None when the CRD is not installed (not an EKS Auto Mode cluster).
pub async fn read_node_classes(client: &Client) -> Result<Option<Vec<NodeClass>>, KubeError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &nodeclass_resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(Some(list.items.iter().map(node_class).collect())),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(request_error("NodeClasses", &e)),
    }
}

fn request_error(what: &str, e: &kube::Error) -> KubeError {
    KubeError::Request {
        what: what.to_string(),
        message: core_kube::error_text(e),
        kind: core_kube::error_kind(e),
        server: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eniwatch_core::model::node_kind::{COMPUTE_TYPE_LABEL, OS_LABEL};

    fn node(labels: serde_json::Value, provider: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": labels},
            "spec": {"providerID": provider},
            "status": {"addresses": [
                {"type": "InternalIP", "address": "10.0.1.5"},
                {"type": "Hostname", "address": "ip-10-0-1-5"},
                {"type": "InternalIP", "address": "fd00::5"}
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn a_node_reduced_to_what_the_checks_need() {
        let n = cluster_node(&node(
            serde_json::json!({
                ZONE_LABEL: "eu-west-1a", ZONE_ID_LABEL: "euw1-az1",
                INSTANCE_TYPE_LABEL: "m5.large",
                "karpenter.sh/nodepool": "general",
                "alpha.eksctl.io/nodegroup-name": "ng"
            }),
            "aws:///eu-west-1a/i-0abc123",
        ));
        assert_eq!(n.instance_id.as_deref(), Some("i-0abc123"));
        assert_eq!(n.zone.as_deref(), Some("eu-west-1a"));
        assert_eq!(n.zone_id.as_deref(), Some("euw1-az1"));
        assert_eq!(n.instance_type.as_deref(), Some("m5.large"));
        assert_eq!(n.nodegroup.as_deref(), Some("general"));
        assert_eq!(n.internal_ips, vec![Ipv4Addr::new(10, 0, 1, 5)]);
        assert_eq!(n.out_of_scope, None);
        assert_eq!(n.info.name, "n1");
    }

    #[test]
    fn nodes_custom_networking_does_not_apply_to() {
        for (labels, word) in [
            (
                serde_json::json!({COMPUTE_TYPE_LABEL: "fargate"}),
                "Fargate",
            ),
            (serde_json::json!({COMPUTE_TYPE_LABEL: "hybrid"}), "hybrid"),
            (serde_json::json!({COMPUTE_TYPE_LABEL: "auto"}), "Auto Mode"),
            (serde_json::json!({OS_LABEL: "windows"}), "Windows"),
        ] {
            let n = cluster_node(&node(labels, ""));
            assert!(n.out_of_scope.unwrap().contains(word), "{word}");
            assert_eq!(n.instance_id, None);
        }
    }

    #[test]
    fn provider_ids() {
        assert_eq!(
            instance_of_provider_id("aws:///us-east-1b/i-0123456789abcdef0").as_deref(),
            Some("i-0123456789abcdef0")
        );
        for bad in [
            "",
            "aws:///us-east-1b/",
            "gce://p/z/i-1",
            "aws:///z/i-",
            "aws:///z/i-xyz",
        ] {
            assert_eq!(instance_of_provider_id(bad), None, "{bad}");
        }
    }
}
