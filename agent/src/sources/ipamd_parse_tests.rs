//! ipamd's JSON, generated: valid `/v1/enis` documents of both shapes parse
//! to exactly the ENIs and addresses they were written from, and valid
//! `/v1/ipamd-env-settings` documents to exactly their settings.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use eniwatch_core::model::{IpamdEni, WarmTargets};

/// Whom ipamd gave an address to.
#[derive(Debug, Clone)]
enum Holder {
    /// Free: listed with an empty IPAM key, or not listed at all.
    Free { listed: bool },
    /// A pod ipamd recorded (namespace may be empty).
    Pod { namespace: String, name: String },
    /// Assigned (a container id) without pod metadata.
    Anonymous,
}

impl Holder {
    fn wire(&self, addr: Ipv4Addr) -> Option<Value> {
        let (key, ns, name) = match self {
            Holder::Free { listed: false } => return None,
            Holder::Free { listed: true } => (json!({}), "", ""),
            Holder::Pod { namespace, name } => (
                json!({"networkName": "aws-cni", "containerID": "c0ffee", "ifName": "eth0"}),
                namespace.as_str(),
                name.as_str(),
            ),
            Holder::Anonymous => (json!({"containerID": "c0ffee"}), "", ""),
        };
        Some(json!({
            "Address": addr.to_string(),
            "IPAMKey": key,
            "IPAMMetadata": {"k8sPodNamespace": ns, "k8sPodName": name},
            "AssignedTime": "2026-01-01T00:00:00Z",
        }))
    }

    /// `Some(pod)` when assigned (the pod's `ns/name`, or None without one).
    fn assigned(&self) -> Option<Option<String>> {
        match self {
            Holder::Free { .. } => None,
            Holder::Pod { namespace, name } if namespace.is_empty() => Some(Some(name.clone())),
            Holder::Pod { namespace, name } => Some(Some(format!("{namespace}/{name}"))),
            Holder::Anonymous => Some(None),
        }
    }
}

fn holder() -> impl Strategy<Value = Holder> {
    prop_oneof![
        any::<bool>().prop_map(|listed| Holder::Free { listed }),
        ("[a-z]{0,6}", "[a-z][a-z0-9-]{0,10}")
            .prop_map(|(namespace, name)| Holder::Pod { namespace, name }),
        Just(Holder::Anonymous),
    ]
}

/// One generated ENI: its flags, /32 secondary addresses (in 10.0.0.0/16) and
/// /28 prefixes (in 100.64.0.0/16) with the addresses handed out from them.
#[derive(Debug, Clone)]
struct Eni {
    card: u32,
    device: u32,
    flags: (bool, bool, bool),
    addresses: BTreeMap<u16, Holder>,
    prefixes: BTreeMap<u16, BTreeMap<u8, Holder>>,
}

fn eni(cards: u32) -> impl Strategy<Value = Eni> {
    (
        0..cards,
        any::<u32>(),
        any::<(bool, bool, bool)>(),
        prop::collection::btree_map(any::<u16>(), holder(), 0..5),
        prop::collection::btree_map(
            0u16..4096,
            prop::collection::btree_map(0u8..16, holder(), 0..4),
            0..3,
        ),
    )
        .prop_map(|(card, device, flags, addresses, prefixes)| Eni {
            card,
            device,
            flags,
            addresses,
            prefixes,
        })
}

fn id(i: usize) -> String {
    format!("eni-{i:017x}")
}

fn ten(n: u16) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) | u32::from(n))
}

fn prefix(n: u16) -> Ipv4Net {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) | (u32::from(n) << 4);
    Ipv4Net::new(Ipv4Addr::from(base), 28).expect("/28")
}

/// The ENI as ipamd writes it, and as the parser should read it.
fn written(i: usize, e: &Eni) -> (Value, IpamdEni) {
    let mut cidrs = Map::new();
    let mut addresses = BTreeSet::new();
    let mut assigned = BTreeMap::new();
    for (n, h) in &e.addresses {
        let a = ten(*n);
        let listed: Map<String, Value> =
            h.wire(a).map(|w| (a.to_string(), w)).into_iter().collect();
        cidrs.insert(
            format!("{a}/32"),
            json!({"Cidr": {"IP": a.to_string()}, "IPAddresses": listed, "IsPrefix": false}),
        );
        addresses.insert(a);
        if let Some(pod) = h.assigned() {
            assigned.insert(a, pod);
        }
    }
    for (n, handed) in &e.prefixes {
        let p = prefix(*n);
        let mut listed = Map::new();
        for (offset, h) in handed {
            let a = Ipv4Addr::from(u32::from(p.network()) + u32::from(*offset));
            if let Some(w) = h.wire(a) {
                listed.insert(a.to_string(), w);
                addresses.insert(a);
            }
            if let Some(pod) = h.assigned() {
                addresses.insert(a);
                assigned.insert(a, pod);
            }
        }
        cidrs.insert(
            p.to_string(),
            json!({"IPAddresses": listed, "IsPrefix": true}),
        );
    }
    let (primary, trunk, efa) = e.flags;
    let wire = json!({
        "ID": id(i),
        "IsPrimary": primary,
        "IsTrunk": trunk,
        "IsEFA": efa,
        "DeviceNumber": e.device,
        "AvailableIPv4Cidrs": cidrs,
        "IPv6Cidrs": {},
    });
    let want = IpamdEni {
        id: id(i).parse().expect("a valid ENI id"),
        network_card: e.card,
        device_number: e.device,
        primary,
        trunk,
        efa,
        ipv4_addresses: addresses.into_iter().collect(),
        assigned: assigned.into_iter().collect(),
        prefixes: e.prefixes.keys().map(|n| prefix(*n)).collect(),
    };
    (wire, want)
}

fn sorted(mut enis: Vec<IpamdEni>) -> Vec<IpamdEni> {
    enis.sort_by(|a, b| {
        (a.network_card, a.device_number, a.id.as_str()).cmp(&(
            b.network_card,
            b.device_number,
            b.id.as_str(),
        ))
    });
    enis
}

proptest! {
    #[test]
    fn per_network_card_documents_parse_to_their_enis(enis in prop::collection::vec(eni(3), 0..5)) {
        let mut cards: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let mut want = Vec::new();
        for (i, e) in enis.iter().enumerate() {
            let (wire, w) = written(i, e);
            cards.entry(e.card.to_string()).or_default().insert(id(i), wire);
            want.push(w);
        }
        let body: Map<String, Value> = cards
            .into_iter()
            .map(|(card, enis)| (card, json!({"TotalIPs": 0, "AssignedIPs": 0, "ENIs": enis})))
            .collect();
        let got = parse_enis(Value::Object(body).to_string().as_bytes());
        prop_assert_eq!(got, Ok((EnisShape::PerNetworkCard, sorted(want))));
    }

    #[test]
    fn pre_v120_documents_parse_to_their_enis(enis in prop::collection::vec(eni(1), 0..5)) {
        let mut map = Map::new();
        let mut want = Vec::new();
        for (i, e) in enis.iter().enumerate() {
            let (wire, w) = written(i, e);
            map.insert(id(i), wire);
            want.push(w);
        }
        let body = json!({"TotalIPs": 0, "AssignedIPs": 0, "ENIs": map});
        let got = parse_enis(body.to_string().as_bytes());
        prop_assert_eq!(got, Ok((EnisShape::PreV120, sorted(want))));
    }

    #[test]
    fn env_settings_parse_to_their_values(
        custom in setting_bool(), pd in setting_bool(),
        eni in setting_int(0..=i64::from(u32::MAX)), ip in setting_int(0..=i64::from(u32::MAX)),
        minimum in setting_int(0..=i64::from(u32::MAX)), prefix in setting_int(0..=i64::from(u32::MAX)),
        max_eni in setting_int(i64::from(i32::MIN)..=i64::from(i32::MAX)),
    ) {
        let mut map = Map::new();
        map.insert("AWS_VPC_K8S_CNI_LOGLEVEL".into(), "DEBUG".into());
        let mut put = |key: &str, v: &Option<Value>| {
            if let Some(v) = v {
                map.insert(key.into(), v.clone());
            }
        };
        put("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", &custom.0);
        put("ENABLE_PREFIX_DELEGATION", &pd.0);
        put("WARM_ENI_TARGET", &eni.0);
        put("WARM_IP_TARGET", &ip.0);
        put("MINIMUM_IP_TARGET", &minimum.0);
        put("WARM_PREFIX_TARGET", &prefix.0);
        put("MAX_ENI", &max_eni.0);
        let narrow = |v: Option<i64>| v.map(|n| u32::try_from(n).expect("generated in range"));
        let want = EnvSettings {
            custom_networking: custom.1,
            prefix_delegation: pd.1,
            ipv6: None,
            warm: WarmTargets {
                warm_eni_target: narrow(eni.1),
                warm_ip_target: narrow(ip.1),
                minimum_ip_target: narrow(minimum.1),
                warm_prefix_target: narrow(prefix.1),
                max_eni: max_eni.1.map(|n| i32::try_from(n).expect("generated in range")),
            },
        };
        let got = parse_env_settings(Value::Object(map).to_string().as_bytes()).map_err(|e| e.to_string());
        prop_assert_eq!(got, Ok(want));
    }

    /// A count out of its type's range is an error naming the setting, never
    /// a wrapped or clamped number.
    #[test]
    fn env_settings_out_of_range_are_errors(
        n in prop_oneof![i64::MIN..0, i64::from(u32::MAX) + 1..=i64::MAX],
        as_text in any::<bool>(),
    ) {
        let v: Value = if as_text { n.to_string().into() } else { n.into() };
        let body = json!({ "WARM_IP_TARGET": v });
        let got = parse_env_settings(body.to_string().as_bytes());
        prop_assert!(got.as_ref().is_err_and(|e| e.contains("WARM_IP_TARGET")), "{:?}", got);
    }
}

/// A boolean setting as ipamd may write it (absent, null, a JSON boolean or
/// one of Go's spellings, blank), and what it means.
fn setting_bool() -> impl Strategy<Value = (Option<Value>, Option<bool>)> {
    prop_oneof![
        Just((None, None)),
        Just((Some(Value::Null), None)),
        Just((Some(Value::from("")), None)),
        any::<bool>().prop_map(|b| (Some(Value::from(b)), Some(b))),
        prop::sample::select(&["1", "t", "T", "true", "TRUE", "True"][..])
            .prop_map(|s| (Some(Value::from(format!(" {s}"))), Some(true))),
        prop::sample::select(&["0", "f", "F", "false", "FALSE", "False"][..])
            .prop_map(|s| (Some(Value::from(s)), Some(false))),
    ]
}

/// An integer setting: absent, null, blank, a JSON number or a (padded)
/// decimal string, and its value.
fn setting_int(
    range: std::ops::RangeInclusive<i64>,
) -> impl Strategy<Value = (Option<Value>, Option<i64>)> {
    prop_oneof![
        Just((None, None)),
        Just((Some(Value::Null), None)),
        Just((Some(Value::from(" ")), None)),
        range.clone().prop_map(|n| (Some(Value::from(n)), Some(n))),
        range.prop_map(|n| (Some(Value::from(format!("{n} "))), Some(n))),
    ]
}
