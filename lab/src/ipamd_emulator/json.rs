//! The bodies the ipamd emulator serves, as ipamd's `datastore` marshals
//! them: `/v1/enis` in either shape, down to Go's encoding of an IP mask and
//! of a never-set time.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::{json, Map, Value};

use super::{EmulatedEni, EnisShape};

/// Go's zero `time.Time`, as ipamd marshals a never-set time.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
const ASSIGNED_AT: &str = "2024-01-01T00:00:00Z";

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
    use crate::ipamd_emulator::data_from_scenario;
    use crate::scenario::Scenario;

    fn healthy() -> Scenario {
        Scenario::bundled("healthy").expect("healthy scenario loads")
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
