//! Parsers for IMDS bodies: listings, newline lists, numbers, ids.
//!
//! Strict on purpose. An answer that is not what IMDS sends (an HTML error
//! page with status 200 from a proxy, a half-written body) must not be read as
//! "no addresses" or "device 0": that would turn a broken source into a false
//! drift. Every parser returns an error naming the field instead, and never
//! panics, whatever the bytes.

use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;

use eniwatch_core::model::MacAddr;

/// A body that is not what the field should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ParseError {
    pub field: String,
    pub problem: String,
}

fn err(field: &str, problem: impl Into<String>) -> ParseError {
    ParseError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

fn shown(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    format!("{cut:?}")
}

/// The non-empty lines of a body (IMDS separates list items with `\n`).
fn lines(body: &str) -> impl Iterator<Item = &str> {
    body.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// A single value: one non-empty line.
pub fn single<'a>(field: &str, body: &'a str) -> Result<&'a str, ParseError> {
    let mut it = lines(body);
    match (it.next(), it.next()) {
        (Some(v), None) => Ok(v),
        (None, _) => Err(err(field, "empty answer")),
        (Some(_), Some(_)) => Err(err(
            field,
            format!("expected one value, got several: {}", shown(body)),
        )),
    }
}

/// A single value parsed with `FromStr`.
pub fn value<T: FromStr>(field: &str, body: &str) -> Result<T, ParseError>
where
    T::Err: std::fmt::Display,
{
    let v = single(field, body)?;
    v.parse()
        .map_err(|e: T::Err| err(field, format!("{} ({e})", shown(v))))
}

/// A newline list, each item parsed with `FromStr`.
pub fn list<T: FromStr>(field: &str, body: &str) -> Result<Vec<T>, ParseError>
where
    T::Err: std::fmt::Display,
{
    lines(body)
        .map(|l| {
            l.parse()
                .map_err(|e: T::Err| err(field, format!("item {} ({e})", shown(l))))
        })
        .collect()
}

/// `network/interfaces/macs/`: one `<mac>/` per line.
pub fn mac_listing(body: &str) -> Result<Vec<MacAddr>, ParseError> {
    const FIELD: &str = "network/interfaces/macs/";
    let macs = lines(body)
        .map(|l| {
            let mac = l
                .strip_suffix('/')
                .ok_or_else(|| err(FIELD, format!("item {} does not end in '/'", shown(l))))?;
            mac.parse::<MacAddr>()
                .map_err(|e| err(FIELD, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if macs.is_empty() {
        return Err(err(FIELD, "no ENI listed"));
    }
    Ok(macs)
}

/// `local-ipv4s`.
pub fn ipv4_list(field: &str, body: &str) -> Result<Vec<Ipv4Addr>, ParseError> {
    list(field, body)
}

/// `ipv4-prefix`, `vpc-ipv4-cidr-blocks`: CIDRs, which must be in canonical
/// form (no host bits): IMDS always sends them so.
pub fn net_list(field: &str, body: &str) -> Result<Vec<Ipv4Net>, ParseError> {
    let nets: Vec<Ipv4Net> = list(field, body)?;
    match nets.iter().find(|n| n.trunc() != **n) {
        Some(n) => Err(err(field, format!("{n} has host bits set"))),
        None => Ok(nets),
    }
}

/// One CIDR, e.g. `subnet-ipv4-cidr-block`.
pub fn net(field: &str, body: &str) -> Result<Ipv4Net, ParseError> {
    let nets = net_list(field, body)?;
    match nets.as_slice() {
        [one] => Ok(*one),
        _ => Err(err(
            field,
            format!("expected one CIDR, got {}", shown(body)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eniwatch_core::model::{SecurityGroupId, SubnetId};
    use proptest::prelude::*;

    #[test]
    fn mac_listing_accepts_imds_format() {
        let macs = mac_listing("02:00:00:00:00:01/\n02:00:00:00:00:02/").unwrap();
        assert_eq!(macs.len(), 2);
        assert_eq!(macs[1].to_string(), "02:00:00:00:00:02");
        assert!(
            mac_listing("02:00:00:00:00:01/\n").is_ok(),
            "trailing newline"
        );
    }

    #[test]
    fn mac_listing_rejects_garbage() {
        for bad in [
            "",
            "02:00:00:00:00:01",
            "<html>",
            "zz:zz/",
            "02:00:00:00:00:01/\n\u{0}\u{1}",
        ] {
            assert!(mac_listing(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_and_lists() {
        assert_eq!(value::<u32>("device-number", "2").unwrap(), 2);
        assert!(value::<u32>("device-number", "not-a-number").is_err());
        assert!(value::<u32>("device-number", "1\n2").is_err());
        assert_eq!(
            ipv4_list("local-ipv4s", "10.0.0.1\n10.0.0.2")
                .unwrap()
                .len(),
            2
        );
        assert!(ipv4_list("local-ipv4s", "10.0.0.999\n<html>").is_err());
        assert!(net("subnet-ipv4-cidr-block", "100.64.1.0/33").is_err());
        assert!(net("subnet-ipv4-cidr-block", "100.64.1.5/24").is_err());
        assert_eq!(
            net("c", "100.64.1.0/24").unwrap().to_string(),
            "100.64.1.0/24"
        );
        assert!(list::<SecurityGroupId>("security-group-ids", "sg-1\nsg-2").is_ok());
        assert!(
            value::<SubnetId>("subnet-id", "<html><body>Service Unavailable</body></html>")
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(body in "\\PC*") {
            let _ = mac_listing(&body);
            let _ = ipv4_list("f", &body);
            let _ = net_list("f", &body);
            let _ = net("f", &body);
            let _ = value::<u32>("f", &body);
            let _ = list::<SubnetId>("f", &body);
        }

        /// IPv4 lists, as IMDS writes them (one per line, a trailing
        /// newline, stray blank lines or padding), parse to the same
        /// addresses in order.
        #[test]
        fn ipv4_lists_round_trip(ips in proptest::collection::vec(any::<u32>(), 0..16), sep in separator()) {
            let ips: Vec<Ipv4Addr> = ips.into_iter().map(Ipv4Addr::from).collect();
            let body: Vec<String> = ips.iter().map(|ip| format!(" {ip}")).collect();
            prop_assert_eq!(ipv4_list("local-ipv4s", &body.join(&sep)), Ok(ips));
        }

        /// Canonical CIDRs parse to themselves; one with host bits set makes
        /// the whole list an error naming the field, never a silently
        /// truncated network.
        #[test]
        fn cidr_lists_round_trip_and_host_bits_are_errors(
            nets in proptest::collection::vec((any::<u32>(), 0u8..=32), 1..8),
            sep in separator(),
            spoil in any::<prop::sample::Index>(),
        ) {
            let nets: Vec<Ipv4Net> = nets
                .into_iter()
                .map(|(a, len)| Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc())
                .collect();
            let body: Vec<String> = nets.iter().map(Ipv4Net::to_string).collect();
            prop_assert_eq!(net_list("ipv4-prefix", &body.join(&sep)), Ok(nets.clone()));
            if let [one] = nets.as_slice() {
                prop_assert_eq!(net("subnet-ipv4-cidr-block", &body[0]), Ok(*one));
            }
            let i = spoil.index(nets.len());
            if nets[i].prefix_len() < 32 {
                let mut bad = body.clone();
                let host = Ipv4Addr::from(u32::from(nets[i].network()) | 1);
                bad[i] = format!("{host}/{}", nets[i].prefix_len());
                let got = net_list("ipv4-prefix", &bad.join(&sep));
                prop_assert!(got.as_ref().is_err_and(|e| e.field == "ipv4-prefix" && e.problem.contains("host bits")), "{:?}", got);
            }
        }

        /// Device numbers: any u32, padded or with a trailing newline, is
        /// itself; two values or a negative one are errors.
        #[test]
        fn device_numbers_round_trip(n in any::<u32>(), m in any::<u32>()) {
            prop_assert_eq!(value::<u32>("device-number", &format!("{n}\n")), Ok(n));
            prop_assert_eq!(value::<u32>("device-number", &format!(" {n} ")), Ok(n));
            let two = format!("{n}\n{m}");
            prop_assert!(value::<u32>("device-number", &two).is_err());
            let negative = format!("-{}", u64::from(n) + 1);
            prop_assert!(value::<u32>("device-number", &negative).is_err());
        }

        /// Security-group and subnet lists parse to the ids written.
        #[test]
        fn id_lists_round_trip(ids in proptest::collection::vec("[0-9a-f]{8,17}", 0..6), sep in separator()) {
            let groups: Vec<String> = ids.iter().map(|i| format!("sg-{i}")).collect();
            let got: Vec<String> = list::<SecurityGroupId>("security-group-ids", &groups.join(&sep))
                .unwrap()
                .iter()
                .map(|g| g.as_str().to_string())
                .collect();
            prop_assert_eq!(got, groups);
            for i in &ids {
                let subnet = format!("subnet-{i}");
                prop_assert_eq!(value::<SubnetId>("subnet-id", &subnet).map(|s| s.as_str().to_string()), Ok(subnet));
            }
        }

        #[test]
        fn listing_round_trips(macs in proptest::collection::vec(any::<[u8; 6]>(), 1..16)) {
            let body: Vec<String> = macs.iter().map(|m| format!("{}/", MacAddr(*m))).collect();
            let parsed = mac_listing(&body.join("\n")).unwrap();
            prop_assert_eq!(parsed, macs.into_iter().map(MacAddr).collect::<Vec<_>>());
        }

        /// A listing with one item that is not `<mac>/` is an error, never
        /// a shorter list of ENIs.
        #[test]
        fn a_listing_with_one_bad_item_is_an_error(
            macs in proptest::collection::vec(any::<[u8; 6]>(), 1..8),
            at in any::<prop::sample::Index>(),
            bad in prop_oneof![Just("<html>".to_string()), "[0-9a-f:]{1,16}", "[0-9a-f]{2}(:[0-9a-f]{2}){5}"],
        ) {
            let mut body: Vec<String> = macs.iter().map(|m| format!("{}/", MacAddr(*m))).collect();
            body[at.index(macs.len())] = bad;
            prop_assert!(mac_listing(&body.join("\n")).is_err());
        }
    }

    /// How IMDS-like bodies separate items: a newline, with stray blank
    /// lines, trailing spaces or a trailing newline.
    fn separator() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\n".to_string()),
            Just("\n\n".to_string()),
            Just(" \n".to_string()),
            Just("\r\n".to_string()),
        ]
    }
}
