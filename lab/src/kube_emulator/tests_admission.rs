//! The shipped admission policies (deploy/base/admission-policy.yaml)
//! against requests over HTTP: what the node agent's token may and may not
//! write, and the Status a denial is answered with.

use serde_json::{json, Value};

use super::tests::{scenario, TestResult, NODE};
use super::{admission, fleet, router, KubeState, UserInfo};

const AGENT: &str = "agent-token";
const NO_CLAIM: &str = "agent-token-without-claim";
const OTHER_USER: &str = "kubelet-token";
const MOVED_AGENT: &str = "agent-in-another-namespace-token";
const CLUSTER: &str = "eniwatch-cluster-token";
const CNR: &str = "CustomNetworkingReady";

struct Api {
    base: String,
    http: reqwest::Client,
    other: String,
}

async fn api() -> Api {
    let state = KubeState::new(&scenario());
    state.add_nodes(fleet(1, &[("us-west-2a", "usw2-az1")]));
    let other = fleet(1, &[("us-west-2a", "usw2-az1")])[0].name.clone();
    let agent = UserInfo::service_account("kube-system", "eniwatch");
    state.add_identity(AGENT, agent.clone().on_node(NODE));
    state.add_identity(NO_CLAIM, agent);
    let moved = UserInfo::service_account("monitoring", "eniwatch").on_node(NODE);
    state.add_identity(MOVED_AGENT, moved);
    let cluster = UserInfo::service_account("kube-system", "eniwatch-cluster").on_node(NODE);
    state.add_identity(CLUSTER, cluster);
    state.add_identity(
        OTHER_USER,
        UserInfo {
            username: format!("system:node:{NODE}"),
            groups: vec!["system:nodes".into()],
            ..UserInfo::default()
        },
    );
    let addr = crate::serve_on_loopback(router(state))
        .await
        .expect("bind loopback");
    Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        other,
    }
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder, token: &str, body: Value) -> (u16, Value) {
        let resp = req
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .expect("emulator answers");
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn patch_status(&self, token: &str, node: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/api/v1/nodes/{node}/status", self.base);
        let req = self
            .http
            .patch(url)
            .header("content-type", "application/strategic-merge-patch+json");
        self.send(req, token, body).await
    }

    async fn merge_status(&self, token: &str, node: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/api/v1/nodes/{node}/status", self.base);
        let req = self
            .http
            .patch(url)
            .header("content-type", "application/merge-patch+json");
        self.send(req, token, body).await
    }

    async fn create_event(&self, token: &str, event: Value) -> (u16, Value) {
        let url = format!(
            "{}/apis/events.k8s.io/v1/namespaces/default/events",
            self.base
        );
        let req = self
            .http
            .post(url)
            .header("content-type", "application/json");
        self.send(req, token, event).await
    }
}

fn condition(type_: &str) -> Value {
    json!({"type": type_, "status": "True", "reason": "Validated", "message": "ok",
           "lastHeartbeatTime": "2026-01-01T00:00:00Z",
           "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn cnr_patch() -> Value {
    json!({"status": {"conditions": [condition(CNR)]}})
}

fn reference(kind: &str, name: &str) -> Value {
    match kind {
        "Node" => json!({"apiVersion": "v1", "kind": "Node", "name": name, "uid": name}),
        _ => json!({"apiVersion": "v1", "kind": kind, "namespace": "default", "name": name}),
    }
}

fn event(instance: &str, regarding: Value, related: Option<Value>) -> Value {
    let mut ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"generateName": "eniwatch-", "namespace": "default"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "eniwatch", "reportingInstance": instance,
        "action": "Detect", "reason": "PodRouteMissing", "type": "Warning",
        "note": "pod default/web-1 has no /32 route", "regarding": regarding,
    });
    if let Some(r) = related {
        ev["related"] = r;
    }
    ev
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or("")
}

#[test]
fn the_shipped_policies_compile() {
    assert_eq!(admission::loads(), Ok(3));
}

#[tokio::test]
async fn node_status_patches_are_confined_to_the_own_nodes_condition() -> TestResult {
    let api = api().await;
    let other = api.other.clone();
    let own_denied = |what: &str| {
        format!(
            "nodes \"{NODE}\" is forbidden: ValidatingAdmissionPolicy 'eniwatch-node-status' \
             with binding 'eniwatch-node-status' denied request: eniwatch may patch only its \
             own Node's CustomNetworkingReady condition: the request to Node {NODE} also \
             changes {what}"
        )
    };
    let table: Vec<(&str, &str, &str, Value, u16, String)> = vec![
        (
            "own condition",
            AGENT,
            NODE,
            cnr_patch(),
            200,
            String::new(),
        ),
        (
            "own condition again",
            AGENT,
            NODE,
            cnr_patch(),
            200,
            String::new(),
        ),
        (
            "another node's condition",
            AGENT,
            &other,
            cnr_patch(),
            403,
            format!(
                "nodes \"{other}\" is forbidden: ValidatingAdmissionPolicy 'eniwatch-node-status' \
                 with binding 'eniwatch-node-status' denied request: eniwatch may patch only its \
                 own Node's CustomNetworkingReady condition: this token's node is {NODE}, the \
                 request is for {other}"
            ),
        ),
        (
            "a second condition",
            AGENT,
            NODE,
            json!({"status": {"conditions": [condition(CNR), condition("Ready")]}}),
            403,
            own_denied("status.conditions (a condition other than CustomNetworkingReady)"),
        ),
        (
            "capacity",
            AGENT,
            NODE,
            json!({"status": {"capacity": {"pods": "500"}}}),
            403,
            own_denied("status.capacity"),
        ),
        (
            "allocatable",
            AGENT,
            NODE,
            json!({"status": {"allocatable": {"cpu": "64"}}}),
            403,
            own_denied("status.allocatable"),
        ),
        (
            "addresses",
            AGENT,
            NODE,
            json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.9.9.9"}]}}),
            403,
            own_denied("status.addresses"),
        ),
        (
            "a label",
            AGENT,
            NODE,
            json!({"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}}),
            403,
            own_denied("metadata.labels"),
        ),
        (
            "no node claim",
            NO_CLAIM,
            NODE,
            cnr_patch(),
            403,
            format!(
                "nodes \"{NODE}\" is forbidden: ValidatingAdmissionPolicy 'eniwatch-node-status' \
                 with binding 'eniwatch-node-status' denied request: eniwatch may patch only its \
                 own Node's CustomNetworkingReady condition, and this token has no node-name \
                 claim (Kubernetes older than 1.30, or a token not bound to a pod): see \
                 docs/security.md"
            ),
        ),
        (
            "another user, another node's capacity",
            OTHER_USER,
            &other,
            json!({"status": {"capacity": {"pods": "500"}}}),
            200,
            String::new(),
        ),
    ];
    for (what, token, node, body, code, want) in table {
        let (got, status) = api.patch_status(token, node, body).await;
        assert_eq!(got, code, "{what}: {status}");
        if code == 403 {
            assert_eq!(status["reason"], "Forbidden", "{what}");
            assert_eq!(status["code"], 403, "{what}");
            assert_eq!(message(&status), want, "{what}");
            let cause = status["details"]["causes"][0]["message"]
                .as_str()
                .unwrap_or("");
            assert!(
                want.ends_with(cause) && !cause.is_empty(),
                "{what}: {status}"
            );
            assert_eq!(status["details"]["kind"], "nodes", "{what}");
            assert_eq!(status["details"]["name"], node, "{what}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_policy_that_cannot_be_evaluated_denies() -> TestResult {
    let api = api().await;
    // No status at all: the field comparisons cannot be evaluated.
    let (code, status) = api.merge_status(AGENT, NODE, json!({"status": null})).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    let text = message(&status);
    assert!(
        text.contains(
            "ValidatingAdmissionPolicy 'eniwatch-node-status' with binding \
                       'eniwatch-node-status' denied request: expression '"
        ) && text.contains("resulted in error"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn events_are_confined_to_the_own_node_and_its_pods() -> TestResult {
    let api = api().await;
    let other = api.other.clone();
    let prefix = "events.events.k8s.io \"eniwatch-";
    let policy = "ValidatingAdmissionPolicy 'eniwatch-events' with binding 'eniwatch-events' \
                  denied request: ";
    let wrong_controller = {
        let mut ev = event(NODE, reference("Node", NODE), None);
        ev["reportingController"] = json!("kubelet");
        ev
    };
    let table: Vec<(&str, &str, Value, u16, String)> = vec![
        (
            "own node",
            AGENT,
            event(NODE, reference("Node", NODE), None),
            201,
            String::new(),
        ),
        (
            "a pod, related to the own node",
            AGENT,
            event(
                NODE,
                reference("Pod", "web-1"),
                Some(reference("Node", NODE)),
            ),
            201,
            String::new(),
        ),
        (
            "another node",
            AGENT,
            event(NODE, reference("Node", &other), None),
            403,
            format!(
                "eniwatch may write events only about its own Node {NODE}, or about a Pod with \
                 related set to that Node: this event is about Node {other}"
            ),
        ),
        (
            "a pod without related",
            AGENT,
            event(NODE, reference("Pod", "web-1"), None),
            403,
            format!(
                "eniwatch may write events only about its own Node {NODE}, or about a Pod with \
                 related set to that Node: this event is about Pod web-1 with no related object"
            ),
        ),
        (
            "a pod related to another node",
            AGENT,
            event(
                NODE,
                reference("Pod", "web-1"),
                Some(reference("Node", &other)),
            ),
            403,
            format!(
                "eniwatch may write events only about its own Node {NODE}, or about a Pod with \
                 related set to that Node: this event is about Pod web-1 with related Node {other}"
            ),
        ),
        (
            "another reportingInstance",
            AGENT,
            event(&other, reference("Node", NODE), None),
            403,
            format!(
                "eniwatch may write only events reported from its own node: this token's node \
                 is {NODE}, the event's reportingInstance is {other}"
            ),
        ),
        (
            "another reportingController",
            AGENT,
            wrong_controller,
            403,
            "eniwatch may write only events it reports itself: reportingController must be \
             eniwatch, the event's is kubelet"
                .to_string(),
        ),
        (
            "no node claim",
            NO_CLAIM,
            event(NODE, reference("Node", NODE), None),
            403,
            "eniwatch may write events only about its own node, and this token has no \
             node-name claim (Kubernetes older than 1.30, or a token not bound to a pod): see \
             docs/security.md"
                .to_string(),
        ),
        (
            "another user",
            OTHER_USER,
            event(&other, reference("Node", &other), None),
            201,
            String::new(),
        ),
    ];
    for (what, token, ev, code, want) in table {
        let (got, status) = api.create_event(token, ev).await;
        assert_eq!(got, code, "{what}: {status}");
        if code == 403 {
            let text = message(&status);
            assert!(text.starts_with(prefix), "{what}: {text}");
            assert!(
                text.ends_with(&format!("is forbidden: {policy}{want}")),
                "{what}: {text}"
            );
            assert_eq!(status["reason"], "Forbidden", "{what}");
            assert_eq!(status["details"]["group"], "events.k8s.io", "{what}");
            assert_eq!(status["details"]["kind"], "events", "{what}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_agent_is_confined_in_any_namespace_and_no_other_account_is() -> TestResult {
    let api = api().await;
    let other = api.other.clone();
    // An overlay that moves the agent to its own namespace keeps it confined.
    let (code, body) = api.patch_status(MOVED_AGENT, &other, cnr_patch()).await;
    assert_eq!(code, 403, "{body}");
    assert!(message(&body).contains("this token's node is"), "{body}");
    assert_eq!(
        api.patch_status(MOVED_AGENT, NODE, cnr_patch()).await.0,
        200
    );
    // Another ServiceAccount (eniwatch-cluster's) is not matched.
    let (code, body) = api.patch_status(CLUSTER, &other, cnr_patch()).await;
    assert_eq!(code, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn eniwatch_cluster_creates_only_its_own_config_map() -> TestResult {
    let api = api().await;
    let create = |name: &str| {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "kube-system"}, "data": {}});
        let url = format!("{}/api/v1/namespaces/kube-system/configmaps", api.base);
        let req = api
            .http
            .post(url)
            .header("content-type", "application/json");
        (req, body)
    };
    let (req, body) = create("aws-auth");
    let (code, answer) = api.send(req, CLUSTER, body).await;
    assert_eq!(code, 403, "{answer}");
    assert!(
        message(&answer).contains(
            "ValidatingAdmissionPolicy 'eniwatch-cluster-configmaps' with binding \
             'eniwatch-cluster-configmaps' denied request: eniwatch-cluster may create only \
             the ConfigMap eniwatch-cluster-facts, not aws-auth"
        ),
        "{answer}"
    );
    let (req, body) = create("eniwatch-cluster-facts");
    let (code, answer) = api.send(req, CLUSTER, body).await;
    assert_eq!(code, 201, "{answer}");
    // Other users are not matched.
    let (req, body) = create("someone-elses");
    assert_eq!(api.send(req, OTHER_USER, body).await.0, 201);
    Ok(())
}
