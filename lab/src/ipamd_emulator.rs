//! An emulator of ipamd's introspection API (the VPC CNI on `127.0.0.1:61679`),
//! serving a lab [`Scenario`] over real HTTP.
//!
//! It serves the shapes real ipamd serves (amazon-vpc-cni-k8s, `pkg/ipamd`:
//! `introspect.go` registers the paths, `datastore` marshals the bodies). The
//! paths below are written from ipamd's source, not shared with eniwatch's
//! client, so a wrong path on either side fails the tests. Like ipamd (Go's `http.ServeMux` with a `/`
//! handler), it answers any method on any path. The JSON bodies go out as
//! `text/plain; charset=utf-8`, which is what Go's content sniffing gives ipamd's
//! un-typed writes. Unknown paths get `{"AvailableCommands": [...]}` with a 200.
//!
//! The datastore is derived from the scenario as ipamd would hold it (see
//! [`data_from_scenario`]). The ENI's own primary address is never in it. A pod
//! whose IP is a secondary address or inside a prefix of an ENI is assigned, on
//! that ENI. Host-network pods, pods on branch ENIs and finished pods hold
//! nothing. Addresses the scenario's `ipamd.forget_ips` lists are lost from
//! the datastore entirely (neither held nor assigned). Switches:
//! [`IpamdState::set_shape`], `set_custom_networking`, `set_selected_eniconfig`
//! (None: 404, as when ipamd cannot read its Node), `set_unavailable` (503 on
//! every path) and `set_delay`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ipnet::Ipv4Net;
use serde_json::{json, Value};

use crate::scenario::{EniKind, Scenario};

mod json;
pub use json::enis_json;

/// ipamd's introspection paths (`pkg/ipamd/introspect.go`).
pub const ENIS_PATH: &str = "/v1/enis";
pub const ENI_CONFIGS_PATH: &str = "/v1/eni-configs";
pub const ENV_SETTINGS_PATH: &str = "/v1/ipamd-env-settings";

/// Which `/v1/enis` shape to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnisShape {
    /// One `ENIInfos` for network card 0 (VPC CNI before v1.20).
    PreV120,
    /// `{"<card>": ENIInfos}` (VPC CNI v1.20 and later).
    PerNetworkCard,
}

const NETWORK_ENV_PATH: &str = "/v1/networkutils-env-settings";
/// The CNI's ENIConfig selection keys (pkg/eniconfig).
const EXTERNAL_LABEL: &str = "vpc.amazonaws.com/externalEniConfig";
const DEFAULT_SELECTION_KEY: &str = "k8s.amazonaws.com/eniConfig";
const DEFAULT_ENICONFIG: &str = "default";
/// The main table: ipamd's `RouteTableID` for the primary ENI.
const MAIN_TABLE: u32 = 254;

/// One ENI as ipamd's datastore holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatedEni {
    pub id: String,
    pub network_card: u32,
    pub device_number: u32,
    pub primary: bool,
    pub trunk: bool,
    pub efa: bool,
    pub route_table: u32,
    /// Secondary addresses: ipamd never holds the ENI's own primary address.
    pub secondary_ips: Vec<Ipv4Addr>,
    pub prefixes: Vec<Ipv4Net>,
    /// Assigned addresses and their pods, as (namespace, name).
    pub pods: BTreeMap<Ipv4Addr, (String, String)>,
}

/// Everything the emulator serves, before the switches apply.
#[derive(Debug, Clone, PartialEq)]
pub struct IpamdData {
    pub enis: Vec<EmulatedEni>,
    pub custom_networking: bool,
    pub warm_eni_target: u32,
    /// ipamd reports an unset WARM_IP_TARGET as 0.
    pub warm_ip_target: u32,
    pub selected_eniconfig: String,
    pub mtu: u32,
    pub veth_prefix: String,
}

/// The datastore ipamd would build for `scenario`.
pub fn data_from_scenario(scenario: &Scenario) -> IpamdData {
    let spec = &scenario.ipamd;
    let mut enis: Vec<EmulatedEni> = scenario
        .enis
        .iter()
        .filter(|e| !spec.forget_enis.contains(&e.id))
        .map(|e| EmulatedEni {
            id: e.id.clone(),
            network_card: e.network_card,
            device_number: e.device_number,
            primary: e.is_primary(),
            trunk: e.kind == EniKind::Trunk,
            efa: e.kind == EniKind::EfaOnly,
            route_table: if e.is_primary() {
                MAIN_TABLE
            } else {
                e.route_table()
            },
            secondary_ips: e
                .ips
                .iter()
                .skip(1)
                .filter(|ip| !spec.forget_ips.contains(ip))
                .copied()
                .collect(),
            prefixes: e.prefixes.clone(),
            pods: BTreeMap::new(),
        })
        .collect();
    let finished =
        |phase: &Option<String>| matches!(phase.as_deref(), Some("Succeeded") | Some("Failed"));
    for pod in &scenario.pods {
        let Some(ip) = pod.ip else { continue };
        if pod.host_network
            || pod.branch_eni.is_some()
            || finished(&pod.phase)
            || spec.forget_ips.contains(&ip)
        {
            continue;
        }
        let owner = enis
            .iter_mut()
            .find(|e| e.secondary_ips.contains(&ip) || e.prefixes.iter().any(|p| p.contains(&ip)));
        if let Some(eni) = owner {
            eni.pods
                .insert(ip, (pod.namespace.clone(), pod.name.clone()));
        }
    }
    IpamdData {
        enis,
        custom_networking: spec
            .custom_networking
            .unwrap_or(!scenario.eniconfigs.is_empty()),
        warm_eni_target: spec.warm_eni_target.unwrap_or(1),
        warm_ip_target: spec.warm_ip_target.unwrap_or(0),
        selected_eniconfig: spec
            .selected_eniconfig
            .clone()
            .unwrap_or_else(|| selected_eniconfig(scenario)),
        mtu: scenario.cni.mtu,
        veth_prefix: scenario.cni.veth_prefix.clone(),
    }
}

/// The ENIConfig name the CNI selects for the scenario's node. The external
/// label comes first, then the annotation (`ENI_CONFIG_ANNOTATION_DEF`), then the
/// label (`ENI_CONFIG_LABEL_DEF`), else `default`.
pub fn selected_eniconfig(scenario: &Scenario) -> String {
    let node = &scenario.node;
    let cni = &scenario.cni;
    let annotation = cni
        .eni_config_annotation_def
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SELECTION_KEY);
    let label = cni
        .eni_config_label_def
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SELECTION_KEY);
    node.labels
        .get(EXTERNAL_LABEL)
        .or_else(|| node.annotations.get(annotation))
        .or_else(|| node.labels.get(label))
        .cloned()
        .unwrap_or_else(|| DEFAULT_ENICONFIG.to_string())
}

/// Shared, cloneable handle on the emulator. The lock is only taken in synchronous code.
#[derive(Clone)]
pub struct IpamdState {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    data: IpamdData,
    shape: EnisShape,
    custom_networking: Option<bool>,
    /// None: computed from the scenario; Some(None): 404.
    eniconfig: Option<Option<String>>,
    unavailable: bool,
    delay: Duration,
    requests: u64,
}

impl IpamdState {
    /// Serve `scenario` in the current (per-network-card) shape.
    pub fn new(scenario: &Scenario) -> Self {
        let shape = match scenario.ipamd.shape {
            Some(crate::scenario::IpamdShape::PreV120) => EnisShape::PreV120,
            _ => EnisShape::PerNetworkCard,
        };
        let inner = Inner {
            data: data_from_scenario(scenario),
            shape,
            custom_networking: None,
            eniconfig: None,
            unavailable: false,
            delay: Duration::ZERO,
            requests: 0,
        };
        IpamdState {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// Serve different data from now on; overrides stay in force.
    pub fn set_scenario(&self, scenario: &Scenario) {
        let data = data_from_scenario(scenario);
        self.lock().data = data;
    }

    pub fn set_shape(&self, shape: EnisShape) {
        self.lock().shape = shape;
    }

    /// Override `AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG` (otherwise: ENIConfigs exist).
    pub fn set_custom_networking(&self, enabled: bool) {
        self.lock().custom_networking = Some(enabled);
    }

    /// Override the selected ENIConfig; None answers 404.
    pub fn set_selected_eniconfig(&self, name: Option<String>) {
        self.lock().eniconfig = Some(name);
    }

    /// Answer every request with 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// Delay every answer.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere mid-update leaves at worst a stale switch; keep answering.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator as an axum router; serve it with `axum::serve`.
pub fn router(state: IpamdState) -> Router {
    // One fallback handler: ipamd answers every path and method itself.
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<IpamdState>, uri: Uri) -> Response {
    let delay = state.lock().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let reply = state.lock().answer(uri.path());
    reply.into_response()
}

enum Reply {
    Json(Value),
    Error(StatusCode),
}

impl Inner {
    fn answer(&mut self, path: &str) -> Reply {
        self.requests += 1;
        if self.unavailable {
            return Reply::Error(StatusCode::SERVICE_UNAVAILABLE);
        }
        let data = &self.data;
        match path {
            ENIS_PATH => Reply::Json(enis_json(&data.enis, self.shape)),
            ENI_CONFIGS_PATH => match &self.eniconfig {
                None => Reply::Json(Value::from(data.selected_eniconfig.clone())),
                Some(Some(name)) => Reply::Json(Value::from(name.clone())),
                Some(None) => Reply::Error(StatusCode::NOT_FOUND),
            },
            ENV_SETTINGS_PATH => Reply::Json(json!({
                "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":
                    self.custom_networking.unwrap_or(data.custom_networking),
                "WARM_ENI_TARGET": data.warm_eni_target,
                "WARM_IP_TARGET": data.warm_ip_target,
            })),
            NETWORK_ENV_PATH => Reply::Json(json!({
                "AWS_VPC_ENI_MTU": data.mtu,
                "AWS_VPC_K8S_CNI_EXTERNALSNAT": false,
                "AWS_VPC_K8S_CNI_VETHPREFIX": data.veth_prefix,
            })),
            _ => Reply::Json(json!({ "AvailableCommands": [
                ENIS_PATH, ENI_CONFIGS_PATH, NETWORK_ENV_PATH, ENV_SETTINGS_PATH
            ]})),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let text = HeaderValue::from_static("text/plain; charset=utf-8");
        match self {
            Reply::Json(v) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, text)],
                v.to_string(),
            ),
            // Go's http.Error: the status text and a newline.
            Reply::Error(s) => {
                let body = format!("{}\n", s.canonical_reason().unwrap_or("Error"));
                (s, [(header::CONTENT_TYPE, text)], body)
            }
        }
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Scenario {
        Scenario::bundled("healthy").expect("healthy scenario loads")
    }

    #[test]
    fn eniconfig_selection_follows_the_cni_order() {
        let mut s = healthy();
        assert_eq!(selected_eniconfig(&s), "ap-southeast-1a");
        s.node
            .annotations
            .insert(DEFAULT_SELECTION_KEY.into(), "by-annotation".into());
        assert_eq!(selected_eniconfig(&s), "by-annotation");
        s.node
            .labels
            .insert(EXTERNAL_LABEL.into(), "external".into());
        assert_eq!(selected_eniconfig(&s), "external");
        s.node.labels.clear();
        s.node.annotations.clear();
        assert_eq!(selected_eniconfig(&s), "default");
        s.cni.eni_config_annotation_def = Some("example.com/cfg".into());
        s.node
            .annotations
            .insert("example.com/cfg".into(), "custom-key".into());
        assert_eq!(selected_eniconfig(&s), "custom-key");
    }
}
