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
use serde_json::{json, Map, Value};

use crate::scenario::{EniKind, Scenario};

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
/// Go's zero `time.Time`, as ipamd marshals a never-set time.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
const ASSIGNED_AT: &str = "2024-01-01T00:00:00Z";
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

/// `/v1/enis` in `shape`. Before v1.20 ipamd only managed network card 0.
pub fn enis_json(enis: &[EmulatedEni], shape: EnisShape) -> Value {
    let mut cards: BTreeMap<u32, Vec<&EmulatedEni>> = BTreeMap::new();
    for eni in enis {
        cards.entry(eni.network_card).or_default().push(eni);
    }
    match shape {
        EnisShape::PreV120 => {
            let card0 = cards.remove(&0).unwrap_or_default();
            eni_infos(&card0, shape)
        }
        EnisShape::PerNetworkCard => Value::Object(
            cards
                .iter()
                .map(|(card, enis)| (card.to_string(), eni_infos(enis, shape)))
                .collect(),
        ),
    }
}

fn eni_infos(enis: &[&EmulatedEni], shape: EnisShape) -> Value {
    let (mut total, mut assigned) = (0u64, 0usize);
    let mut map = Map::new();
    for eni in enis {
        let mut cidrs = Map::new();
        for ip in &eni.secondary_ips {
            let net = Ipv4Net::from(*ip);
            cidrs.insert(net.to_string(), cidr_json(eni, net, false, shape));
        }
        for p in &eni.prefixes {
            cidrs.insert(p.to_string(), cidr_json(eni, *p, true, shape));
        }
        total += eni.secondary_ips.len() as u64;
        total += eni
            .prefixes
            .iter()
            .map(|p| 1u64 << (32 - u32::from(p.prefix_len())))
            .sum::<u64>();
        assigned += eni.pods.len();
        let mut v = json!({
            "ID": eni.id,
            "IsPrimary": eni.primary,
            "IsTrunk": eni.trunk,
            "IsEFA": eni.efa,
            "DeviceNumber": eni.device_number,
            "AvailableIPv4Cidrs": cidrs,
            "IPv6Cidrs": {},
        });
        if shape == EnisShape::PerNetworkCard {
            v["RouteTableID"] = Value::from(eni.route_table);
        }
        map.insert(eni.id.clone(), v);
    }
    json!({ "TotalIPs": total, "AssignedIPs": assigned, "ENIs": map })
}

/// One `AvailableIPv4Cidrs` entry. Under prefix delegation ipamd only lists the
/// addresses it has handed out, and a never-used /32 has no entries at all.
fn cidr_json(eni: &EmulatedEni, net: Ipv4Net, prefix: bool, shape: EnisShape) -> Value {
    let addresses: Map<String, Value> = eni
        .pods
        .iter()
        .filter(|(ip, _)| net.contains(*ip))
        .map(|(ip, (ns, name))| (ip.to_string(), address_json(*ip, ns, name, shape)))
        .collect();
    // v1.20+ writes "" here, v1.12-era releases "4".
    let family = if shape == EnisShape::PreV120 { "4" } else { "" };
    json!({
        "Cidr": { "IP": net.network().to_string(), "Mask": mask_base64(net.prefix_len()) },
        "IPAddresses": addresses,
        "IsPrefix": prefix,
        "AddressFamily": family,
    })
}

fn address_json(ip: Ipv4Addr, namespace: &str, name: &str, shape: EnisShape) -> Value {
    let mut metadata = json!({ "k8sPodNamespace": namespace, "k8sPodName": name });
    if shape == EnisShape::PerNetworkCard {
        metadata["interfacesCount"] = Value::from(1);
    }
    json!({
        "Address": ip.to_string(),
        "IPAMKey": {
            "networkName": "aws-cni",
            "containerID": format!("{:064x}", u32::from(ip)),
            "ifName": "eth0",
        },
        "IPAMMetadata": metadata,
        "AssignedTime": ASSIGNED_AT,
        "UnassignedTime": GO_ZERO_TIME,
    })
}

/// A `net.IPMask` as Go's JSON encodes it: the 4 mask bytes in base64.
fn mask_base64(prefix_len: u8) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    let [a, b, c, d] = mask.to_be_bytes();
    let first = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
    let last = u32::from(d) << 16;
    let sextet = |n: u32, shift: u32| char::from(ALPHABET[(n >> shift & 63) as usize]);
    let mut out: String = [18, 12, 6, 0].iter().map(|s| sextet(first, *s)).collect();
    out.push(sextet(last, 18));
    out.push(sextet(last, 12));
    out.push_str("==");
    out
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

    #[test]
    fn enis_json_has_the_shapes_ipamd_serves() {
        let mut s = healthy();
        s.enis[1].network_card = 1;
        s.enis[2].prefixes = vec!["100.64.1.64/28".parse().expect("net")];
        let data = data_from_scenario(&s);
        let old = enis_json(&data.enis, EnisShape::PreV120);
        assert_eq!(old["ENIs"].as_object().map(|m| m.len()), Some(3));
        assert_eq!(old["TotalIPs"], 14 + 14 + 16);
        let eni = &old["ENIs"]["eni-0a000000000000002"];
        assert!(eni.get("RouteTableID").is_none());
        assert_eq!(
            eni["AvailableIPv4Cidrs"]["100.64.1.64/28"]["IsPrefix"],
            true
        );
        let new = enis_json(&data.enis, EnisShape::PerNetworkCard);
        let cards: Vec<&String> = new
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(cards, ["0", "1"]);
        let primary = &new["0"]["ENIs"]["eni-0a000000000000000"];
        assert_eq!(primary["RouteTableID"], 254);
        assert_eq!(
            new["1"]["ENIs"]["eni-0a000000000000001"]["RouteTableID"],
            10_101
        );
        let addr = &new["1"]["ENIs"]["eni-0a000000000000001"]["AvailableIPv4Cidrs"]
            ["100.64.1.11/32"]["IPAddresses"]["100.64.1.11"];
        assert_eq!(addr["IPAMMetadata"]["k8sPodName"], "web-00");
        assert_eq!(addr["IPAMKey"]["ifName"], "eth0");
        assert_eq!(addr["UnassignedTime"], GO_ZERO_TIME);
    }

    #[test]
    fn masks_encode_as_go_does() {
        assert_eq!(mask_base64(32), "/////w==");
        assert_eq!(mask_base64(28), "////8A==");
        assert_eq!(mask_base64(24), "////AA==");
        assert_eq!(mask_base64(0), "AAAAAA==");
    }
}
