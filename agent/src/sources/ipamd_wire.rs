//! ipamd's introspection JSON, and how it is read into the model.
//!
//! # Wire shapes (aws/amazon-vpc-cni-k8s: pkg/ipamd/introspect.go, datastore)
//! - `/v1/enis`: before v1.20, one `ENIInfos`: `{"TotalIPs", "AssignedIPs",
//!   "ENIs": {<id>: ENI}}`. From v1.20 (multi-NIC), `{"<card>": ENIInfos, ...}`.
//!   `ENI` is `{"ID", "IsPrimary", "IsTrunk", "IsEFA", "DeviceNumber",
//!   "AvailableIPv4Cidrs": {<cidr>: {"Cidr", "IPAddresses": {<ip>: {"Address",
//!   "IPAMKey": {"networkName", "containerID", "ifName"}, "IPAMMetadata":
//!   {"k8sPodNamespace", "k8sPodName"}, ...}}, "IsPrefix", ...}}, ...}`. An address is
//!   assigned when its IPAMKey is not all empty. Newer releases scrub the container
//!   id and interface name from this output, so a pod name counts as proof too.
//! - `/v1/eni-configs`: the node's ENIConfig name as a JSON string (v1.12+), or
//!   the older controller's `{"MyENI": <name>, ...}`.
//! - `/v1/ipamd-env-settings`: `{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": bool,
//!   "WARM_ENI_TARGET": int, "WARM_IP_TARGET": int}`, where an unset WARM_IP_TARGET
//!   reads 0. Other known keys are read if present. Strings are accepted too.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use eniwatch_core::model::{EniId, IpamdEni, WarmTargets};

/// Which `/v1/enis` shape an answer had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EnisShape {
    /// One `ENIInfos` for network card 0 (VPC CNI before v1.20).
    PreV120,
    /// `{"<card>": ENIInfos}` (VPC CNI v1.20 and later).
    PerNetworkCard,
}

/// The parts of `/v1/ipamd-env-settings` the view uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnvSettings {
    pub custom_networking: Option<bool>,
    pub warm: WarmTargets,
    pub prefix_delegation: Option<bool>,
    /// `ENABLE_IPv6`: an IPv6 cluster (custom networking is IPv4 only).
    pub ipv6: Option<bool>,
}

// The wire types hold only the fields eniwatch uses. Unknown fields are ignored,
// and a used field of the wrong type is an error. Go marshals nil maps as null,
// hence the Options.
#[derive(Deserialize)]
struct WireEniInfos {
    #[serde(rename = "ENIs", default)]
    enis: Option<BTreeMap<String, WireEni>>,
}

#[derive(Deserialize)]
struct WireEni {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "IsPrimary", default)]
    primary: bool,
    // IsTrunk and IsEFA were added in later releases: absent means false.
    #[serde(rename = "IsTrunk", default)]
    trunk: bool,
    #[serde(rename = "IsEFA", default)]
    efa: bool,
    #[serde(rename = "DeviceNumber")]
    device_number: u32,
    #[serde(rename = "AvailableIPv4Cidrs", default)]
    cidrs: Option<BTreeMap<String, WireCidr>>,
}

#[derive(Deserialize)]
struct WireCidr {
    #[serde(rename = "IPAddresses", default)]
    addresses: Option<BTreeMap<String, WireAddress>>,
    #[serde(rename = "IsPrefix", default)]
    prefix: bool,
}

#[derive(Deserialize)]
struct WireAddress {
    #[serde(rename = "Address")]
    address: Ipv4Addr,
    #[serde(rename = "IPAMKey", default)]
    key: BTreeMap<String, String>,
    #[serde(rename = "IPAMMetadata", default)]
    metadata: WireMetadata,
}

#[derive(Deserialize, Default)]
struct WireMetadata {
    #[serde(rename = "k8sPodNamespace", default)]
    namespace: String,
    #[serde(rename = "k8sPodName", default)]
    name: String,
}

impl WireAddress {
    fn assigned(&self) -> bool {
        self.key.values().any(|v| !v.is_empty()) || !self.metadata.name.is_empty()
    }

    fn pod(&self) -> Option<String> {
        match (
            self.metadata.namespace.as_str(),
            self.metadata.name.as_str(),
        ) {
            (_, "") => None,
            ("", name) => Some(name.to_string()),
            (ns, name) => Some(format!("{ns}/{name}")),
        }
    }
}

/// Parses a `/v1/enis` body of either shape.
pub fn parse_enis(body: &[u8]) -> Result<(EnisShape, Vec<IpamdEni>), String> {
    let value = json(body)?;
    let Value::Object(map) = value else {
        return Err("expected a JSON object".to_string());
    };
    let mut enis = Vec::new();
    let shape = if map.contains_key("ENIs") || map.contains_key("TotalIPs") {
        convert_infos(0, Value::Object(map), &mut enis)?;
        EnisShape::PreV120
    } else {
        for (key, infos) in map {
            // Digits only: u32's FromStr would also take "+1".
            let card = Some(&key)
                .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|k| k.parse::<u32>().ok())
                .ok_or_else(|| format!("key {key:?} is neither \"ENIs\" nor a network card"))?;
            convert_infos(card, infos, &mut enis)?;
        }
        EnisShape::PerNetworkCard
    };
    enis.sort_by(|a, b| {
        let key = |e: &IpamdEni| (e.network_card, e.device_number, e.id.clone());
        key(a).cmp(&key(b))
    });
    Ok((shape, enis))
}

fn convert_infos(card: u32, infos: Value, out: &mut Vec<IpamdEni>) -> Result<(), String> {
    let infos: WireEniInfos = serde_json::from_value(infos)
        .map_err(|e| format!("network card {card}: not an ENIInfos object: {e}"))?;
    for eni in infos.enis.unwrap_or_default().into_values() {
        out.push(convert_eni(card, eni)?);
    }
    Ok(())
}

fn convert_eni(card: u32, eni: WireEni) -> Result<IpamdEni, String> {
    let id: EniId = eni.id.parse().map_err(|e| format!("{e}"))?;
    let mut addresses = BTreeSet::new();
    let mut assigned = BTreeMap::new();
    let mut prefixes = BTreeSet::new();
    for (key, cidr) in eni.cidrs.unwrap_or_default() {
        let net: Ipv4Net = key
            .parse()
            .map_err(|_| format!("ENI {id}: {key:?} is not an IPv4 CIDR"))?;
        if cidr.prefix || net.prefix_len() != 32 {
            prefixes.insert(net.trunc());
        } else {
            addresses.insert(net.addr());
        }
        for addr in cidr.addresses.unwrap_or_default().into_values() {
            addresses.insert(addr.address);
            if addr.assigned() {
                assigned.insert(addr.address, addr.pod());
            }
        }
    }
    Ok(IpamdEni {
        id,
        network_card: card,
        device_number: eni.device_number,
        primary: eni.primary,
        trunk: eni.trunk,
        efa: eni.efa,
        ipv4_addresses: addresses.into_iter().collect(),
        assigned: assigned.into_iter().collect(),
        prefixes: prefixes.into_iter().collect(),
    })
}

/// Parses a `/v1/eni-configs` body: the selected ENIConfig's name, if any.
pub fn parse_eni_configs(body: &[u8]) -> Result<Option<String>, String> {
    let value = json(body)?;
    let name = match value {
        Value::String(name) => name,
        Value::Null => return Ok(None),
        Value::Object(mut map) => match map.remove("MyENI") {
            Some(Value::String(name)) => name,
            None | Some(Value::Null) => return Ok(None),
            Some(other) => return Err(format!("MyENI: expected a string, got {}", kind(&other))),
        },
        other => {
            return Err(format!(
                "expected a name or an object, got {}",
                kind(&other)
            ))
        }
    };
    Ok(Some(name).filter(|n| !n.is_empty()))
}

/// Parses a `/v1/ipamd-env-settings` body.
pub fn parse_env_settings(body: &[u8]) -> Result<EnvSettings, String> {
    let value = json(body)?;
    let Value::Object(map) = value else {
        return Err(format!("expected an object, got {}", kind(&value)));
    };
    Ok(EnvSettings {
        custom_networking: env_bool(&map, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG")?,
        prefix_delegation: env_bool(&map, "ENABLE_PREFIX_DELEGATION")?,
        ipv6: env_bool(&map, "ENABLE_IPv6")?,
        warm: WarmTargets {
            warm_eni_target: env_int(&map, "WARM_ENI_TARGET")?,
            warm_ip_target: env_int(&map, "WARM_IP_TARGET")?,
            minimum_ip_target: env_int(&map, "MINIMUM_IP_TARGET")?,
            warm_prefix_target: env_int(&map, "WARM_PREFIX_TARGET")?,
            max_eni: env_int(&map, "MAX_ENI")?,
        },
    })
}

type Object = serde_json::Map<String, Value>;

fn env_bool(map: &Object, key: &str) -> Result<Option<bool>, String> {
    let bad = |got: &str| format!("{key}: expected a boolean, got {got}");
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        // The spellings Go's strconv.ParseBool accepts, as the CNI parses them.
        Some(Value::String(s)) => match s.trim() {
            "" => Ok(None),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
            _ => Err(bad(&format!("{s:?}"))),
        },
        Some(other) => Err(bad(kind(other))),
    }
}

fn env_int<T: TryFrom<i64>>(map: &Object, key: &str) -> Result<Option<T>, String> {
    let bad = |got: &str| format!("{key}: expected an integer in range, got {got}");
    let n = match map.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| bad(&n.to_string()))?,
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad(&format!("{s:?}")))?,
        Some(other) => return Err(bad(kind(other))),
    };
    T::try_from(n).map(Some).map_err(|_| bad(&n.to_string()))
}

fn json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
