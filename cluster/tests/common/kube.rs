//! The seeded cluster's Nodes, ENIConfigs and NodeClasses served over HTTP as the API
//! server serves them, for `eniwatch-cluster --kubeconfig`.
//!
//! [`serve`] is the one place that decides which server holds them. The
//! lab's Kubernetes emulator renders one node from a lab scenario; until it
//! can be loaded with a cluster's worth of Nodes, this is a read-only
//! server of fixed objects: LIST (one page, the selectors ignored: the
//! cluster component asks for all Nodes and all ENIConfigs), GET by name,
//! WATCH (open, silent: nothing changes), and 404 `Status` for anything
//! else (ConfigMaps included: none is published before the first run; and
//! NodeClasses unless given, as on a cluster without their CRD).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A served API and the kubeconfig that points at it.
pub struct KubeApi {
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

struct Objects {
    nodes: Vec<Value>,
    eni_configs: Vec<Value>,
    /// None: the NodeClass CRD is not installed (404).
    node_classes: Option<Vec<Value>>,
}

const NODES: &str = "/api/v1/nodes";
const ENI_CONFIGS: &str = "/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs";
const NODE_CLASSES: &str = "/apis/eks.amazonaws.com/v1/nodeclasses";
const RESOURCE_VERSION: &str = "1";

/// Serves `nodes` and `eni_configs` (wire-form objects) on loopback.
pub async fn serve(nodes: Vec<Value>, eni_configs: Vec<Value>) -> KubeApi {
    serve_with_node_classes(nodes, eni_configs, None).await
}

/// As [`serve`], and the NodeClasses (`Some`: their CRD is installed).
pub async fn serve_with_node_classes(
    nodes: Vec<Value>,
    eni_configs: Vec<Value>,
    node_classes: Option<Vec<Value>>,
) -> KubeApi {
    let objects = Arc::new(Objects {
        nodes: nodes.into_iter().map(identify).collect(),
        eni_configs: eni_configs.into_iter().map(identify).collect(),
        node_classes: node_classes.map(|c| c.into_iter().map(identify).collect()),
    });
    let app = axum::Router::new().fallback(answer).with_state(objects);
    let addr = eniwatch_lab::serve_on_loopback(app).await.expect("serve");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        eniwatch_lab::serve::kubeconfig(&addr.to_string()),
    )
    .expect("write kubeconfig");
    KubeApi {
        kubeconfig,
        _dir: dir,
    }
}

/// The identity metadata a stored object has.
fn identify(mut obj: Value) -> Value {
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let meta = &mut obj["metadata"];
    meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", fnv(&name)));
    meta["resourceVersion"] = json!(RESOURCE_VERSION);
    meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    obj
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3) & 0xffff_ffff_ffff
    })
}

async fn answer(State(objects): State<Arc<Objects>>, req: Request) -> Response {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let query = req.uri().query().unwrap_or("");
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    if *req.method() != axum::http::Method::GET {
        return status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", &path);
    }
    let (items, list_kind, api_version, base) = if path.starts_with(NODES) {
        (&objects.nodes, "NodeList", "v1", NODES)
    } else if path.starts_with(ENI_CONFIGS) {
        (
            &objects.eni_configs,
            "ENIConfigList",
            "crd.k8s.amazonaws.com/v1alpha1",
            ENI_CONFIGS,
        )
    } else if let (true, Some(classes)) = (path.starts_with(NODE_CLASSES), &objects.node_classes) {
        (
            classes,
            "NodeClassList",
            "eks.amazonaws.com/v1",
            NODE_CLASSES,
        )
    } else {
        return status(StatusCode::NOT_FOUND, "NotFound", &path);
    };
    if let Some(name) = path.strip_prefix(base).and_then(|r| r.strip_prefix('/')) {
        return match items.iter().find(|o| o["metadata"]["name"] == name) {
            Some(o) => axum::Json(o.clone()).into_response(),
            None => status(StatusCode::NOT_FOUND, "NotFound", name),
        };
    }
    if watch {
        // Nothing ever changes: the watch stays open and says nothing.
        let silent = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(silent))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    axum::Json(json!({
        "apiVersion": api_version,
        "kind": list_kind,
        "metadata": {"resourceVersion": RESOURCE_VERSION},
        "items": items,
    }))
    .into_response()
}

fn status(code: StatusCode, reason: &str, what: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": format!("{what}: {reason}"),
        "reason": reason, "code": code.as_u16(),
    });
    (code, axum::Json(body)).into_response()
}
