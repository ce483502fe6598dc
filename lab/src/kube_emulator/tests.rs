//! The emulator against the real kube-rs client, over HTTP on loopback:
//! kube's own connector, URLs, headers, bodies, chunked watch decoding,
//! Status errors and watcher state machine.

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::{router, KubeState, DECOY_NODE, POD_ENI_ANNOTATION};
use crate::scenario::Scenario;

pub(super) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(super) const NODE: &str = "ip-10-0-1-10.us-west-2.compute.internal";

pub(super) const SCENARIO: &str = r#"
name: kube-emulator-test
node:
  name: ip-10-0-1-10.us-west-2.compute.internal
  instance_id: i-0123456789abcdef0
  instance_type: m5.large
  region: us-west-2
  availability_zone: us-west-2a
  availability_zone_id: usw2-az1
  labels: {k8s.amazonaws.com/eniConfig: us-west-2a, role: worker}
  max_pods: 29
vpc: {id: vpc-0abc, cidrs: [10.0.0.0/16, 100.64.0.0/16]}
subnets:
  - {id: subnet-node, cidr: 10.0.1.0/24, availability_zone: us-west-2a}
  - {id: subnet-pods, cidr: 100.64.0.0/19, availability_zone: us-west-2a}
enis:
  - {mac: "02:00:00:00:00:01", id: eni-primary, device_number: 0, subnet: subnet-node, ips: [10.0.1.10]}
  - {mac: "02:00:00:00:00:02", id: eni-pods, device_number: 1, subnet: subnet-pods,
     ips: [100.64.0.10, 100.64.0.11, 100.64.0.12, 100.64.0.13]}
pods:
  - {namespace: default, name: web-1, ip: 100.64.0.11}
  - {namespace: default, name: web-2, ip: 100.64.0.12,
     branch_eni: {eni_id: eni-branch, mac: "0a:00:00:00:00:09", vlan_id: 3, subnet_cidr: 100.64.0.0/19}}
  - {namespace: kube-system, name: aws-node-abcde, host_network: true}
  - {namespace: default, name: pending-1}
eniconfigs:
  - {name: us-west-2a, subnet: subnet-pods, security_groups: [sg-1, sg-2]}
"#;

pub(super) fn scenario() -> Scenario {
    let s: Scenario = serde_norway::from_str(SCENARIO).expect("test scenario parses");
    s.validate().expect("test scenario is valid");
    s
}

/// Serve `state` on an ephemeral loopback port; returns its base URL.
async fn listen(state: &KubeState) -> String {
    let addr = crate::serve_on_loopback(router(state.clone()))
        .await
        .expect("bind loopback");
    format!("http://{addr}")
}

/// Serve `state` and return a kube client for it (plain http://).
pub(super) async fn serve(state: &KubeState) -> kube::Client {
    let base = listen(state).await;
    let config = kube::Config::new(base.parse().expect("valid URL"));
    kube::Client::try_from(config).expect("kube client for http://")
}

pub(super) async fn next<S, T>(stream: &mut S) -> T
where
    S: Stream<Item = T> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("stream item within 10 s")
        .expect("stream still open")
}

fn api_code(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason, s.message),
        other => (0, String::new(), other.to_string()),
    }
}

fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

#[tokio::test]
async fn get_node_discovery_and_errors() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get(NODE).await?;
    let labels = node.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("kubernetes.io/hostname").map(String::as_str),
        Some(NODE)
    );
    assert_eq!(
        labels
            .get("topology.kubernetes.io/zone")
            .map(String::as_str),
        Some("us-west-2a")
    );
    assert_eq!(
        labels
            .get("k8s.amazonaws.com/eniConfig")
            .map(String::as_str),
        Some("us-west-2a")
    );
    let spec = node.spec.clone().unwrap_or_default();
    assert_eq!(
        spec.provider_id.as_deref(),
        Some("aws:///us-west-2a/i-0123456789abcdef0")
    );
    let status = node.status.clone().unwrap_or_default();
    let pods = status
        .capacity
        .unwrap_or_default()
        .get("pods")
        .map(|q| q.0.clone());
    assert_eq!(pods.as_deref(), Some("29"));
    let addresses = status.addresses.unwrap_or_default();
    assert!(addresses
        .iter()
        .any(|a| a.type_ == "InternalIP" && a.address == "10.0.1.10"));
    let ready = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready");
    assert_eq!(ready.map(|c| c.status).as_deref(), Some("True"));
    assert!(node.metadata.uid.is_some() && node.metadata.resource_version.is_some());

    let err = nodes.get("ip-10-0-9-9.lab").await.err().map(api_code);
    assert_eq!(
        err.as_ref().map(|e| (e.0, e.1.as_str())),
        Some((404, "NotFound"))
    );
    assert!(err.is_some_and(|e| e.2 == "nodes \"ip-10-0-9-9.lab\" not found"));

    assert_eq!(client.apiserver_version().await?.git_version, "v1.33.0");
    let groups = client.list_api_groups().await?;
    assert!(groups
        .groups
        .iter()
        .any(|g| g.name == "crd.k8s.amazonaws.com"));
    assert!(groups.groups.iter().any(|g| g.name == "events.k8s.io"));
    let core = client.list_core_api_resources("v1").await?;
    assert!(core.resources.iter().any(|r| r.name == "nodes/status"));
    let aggregated = client.list_api_groups_aggregated().await?;
    assert!(aggregated
        .items
        .iter()
        .any(|g| g.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some("events.k8s.io")));

    let unknown = axum::http::Request::get("/api/v1/widgets").body(Vec::new())?;
    let err = client.request_text(unknown).await.err().map(api_code);
    assert_eq!(err.map(|e| e.0), Some(404));
    assert!(state.request_count() >= 7, "every request is counted");
    Ok(())
}

#[tokio::test]
async fn pod_lists_honour_selectors_and_pages() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let mine = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={NODE}")))
        .await?;
    assert_eq!(
        names(&mine.items),
        ["pending-1", "web-1", "web-2", "aws-node-abcde"]
    );
    let everything = pods.list(&ListParams::default()).await?;
    assert_eq!(
        everything.items.len(),
        6,
        "decoys are visible without the selector"
    );
    assert!(everything
        .iter()
        .any(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(DECOY_NODE)));

    let by_name = |n: &str| {
        mine.iter()
            .find(|p| p.metadata.name.as_deref() == Some(n))
            .cloned()
    };
    let host = by_name("aws-node-abcde")
        .and_then(|p| p.status)
        .and_then(|s| s.pod_ip);
    assert_eq!(
        host.as_deref(),
        Some("10.0.1.10"),
        "host-network pods use the node IP"
    );
    assert_eq!(
        by_name("pending-1")
            .and_then(|p| p.status)
            .and_then(|s| s.pod_ip),
        None
    );
    let annotation = by_name("web-2")
        .and_then(|p| p.metadata.annotations)
        .and_then(|a| a.get(POD_ENI_ANNOTATION).cloned());
    assert_eq!(
        annotation.as_deref(),
        Some(
            r#"[{"eniId":"eni-branch","ifAddress":"0a:00:00:00:00:09","privateIp":"100.64.0.12","vlanId":3,"subnetCidr":"100.64.0.0/19"}]"#
        )
    );

    let running_here = format!("spec.nodeName=={NODE},status.phase!=Pending");
    assert_eq!(
        pods.list(&ListParams::default().fields(&running_here))
            .await?
            .items
            .len(),
        4
    );
    let decoys = pods
        .list(&ListParams::default().labels("app in (decoy),lab.eniwatch.io/decoy"))
        .await?;
    assert_eq!(names(&decoys.items), ["decoy-0", "decoy-1"]);
    let nodes: Api<Node> = Api::all(client.clone());
    let workers = nodes
        .list(&ListParams::default().labels("role=worker,!node-role.kubernetes.io/control-plane"))
        .await?;
    assert_eq!(workers.items.len(), 1);
    assert!(nodes
        .list(&ListParams::default().labels("role notin (worker)"))
        .await?
        .items
        .is_empty());
    let bad = pods
        .list(&ListParams::default().fields("spec.foo=bar"))
        .await
        .err()
        .map(api_code);
    assert_eq!(
        bad,
        Some((
            400,
            "BadRequest".into(),
            "field label not supported: spec.foo".into()
        ))
    );
    let namespaced: Api<Pod> = Api::namespaced(client.clone(), "default");
    assert_eq!(
        names(&namespaced.list(&ListParams::default()).await?.items),
        ["pending-1", "web-1", "web-2"]
    );

    // Pages are consistent: a change between pages does not show up in them.
    let first = pods.list(&ListParams::default().limit(2)).await?;
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let mut changed = scenario();
    changed.pods.retain(|p| p.name != "web-2");
    state.apply_scenario(&changed);
    let mut seen = names(&first.items);
    let mut token = first.metadata.continue_.clone();
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        let page = pods
            .list(&ListParams::default().limit(2).continue_token(&t))
            .await?;
        assert_eq!(
            page.metadata.resource_version,
            first.metadata.resource_version
        );
        seen.extend(names(&page.items));
        token = page.metadata.continue_;
    }
    assert_eq!(seen.len(), 6, "the snapshot still holds web-2: {seen:?}");
    assert!(seen.contains(&"web-2".to_string()));
    assert_eq!(pods.list(&ListParams::default()).await?.items.len(), 5);

    // resourceVersion=0 is served whole, limit or not (kube drops rv=0 when
    // a limit is set, so ask by hand).
    let any = pods.list(&ListParams::default().match_any()).await?;
    assert_eq!(any.items.len(), 5);
    let raw = axum::http::Request::get("/api/v1/pods?limit=1&resourceVersion=0").body(Vec::new())?;
    let whole: serde_json::Value = serde_json::from_str(&client.request_text(raw).await?)?;
    assert_eq!(whole["items"].as_array().map(Vec::len), Some(5));
    assert!(whole["metadata"].get("continue").is_none());
    Ok(())
}

#[tokio::test]
async fn eniconfig_as_dynamic_object() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let gvk = GroupVersionKind::gvk("crd.k8s.amazonaws.com", "v1alpha1", "ENIConfig");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "eniconfigs");
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let cfg = api.get("us-west-2a").await?;
    assert_eq!(cfg.data["spec"]["subnet"], "subnet-pods");
    assert_eq!(
        cfg.data["spec"]["securityGroups"],
        serde_json::json!(["sg-1", "sg-2"])
    );
    let list = api.list(&ListParams::default()).await?;
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0].types.as_ref().map(|t| t.kind.as_str()),
        Some("ENIConfig")
    );
    let missing = api.get("us-west-2b").await.err().map(api_code);
    assert_eq!(
        missing.map(|e| e.2),
        Some("eniconfigs.crd.k8s.amazonaws.com \"us-west-2b\" not found".to_string())
    );
    Ok(())
}
