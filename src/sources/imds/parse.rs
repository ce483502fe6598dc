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

use crate::model::MacAddr;

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
    use crate::model::{SecurityGroupId, SubnetId};
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

        #[test]
        fn listing_round_trips(macs in proptest::collection::vec(any::<[u8; 6]>(), 1..16)) {
            let body: Vec<String> = macs.iter().map(|m| format!("{}/", MacAddr(*m))).collect();
            let parsed = mac_listing(&body.join("\n")).unwrap();
            prop_assert_eq!(parsed, macs.into_iter().map(MacAddr).collect::<Vec<_>>());
        }
    }
}
