//! Identifier newtypes: MAC addresses and AWS resource ids.
//!
//! Every id that crosses a module line is parsed once, at the edge, into one of
//! these types, so a check can never compare a subnet id with a security group
//! id or a MAC in another case. Parsing is strict and never panics: outside
//! input (IMDS bodies, annotations, flags) that does not look like the id gets a
//! [`IdError`] naming what was expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that should have been an id, and what kind of id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} (expected {expected})")]
pub struct IdError {
    pub kind: &'static str,
    pub expected: &'static str,
    pub value: String,
}

/// An Ethernet MAC address, displayed lowercase and colon-separated as IMDS does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub fn from_bytes(bytes: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }
}

impl FromStr for MacAddr {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError {
            kind: "MAC address",
            expected: "six hex octets separated by ':'",
            value: s.chars().take(64).collect(),
        };
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for slot in out.iter_mut() {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 {
                return Err(err());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Defines a string newtype for an AWS id of the form `<prefix>-<hex>`.
macro_rules! aws_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                let valid = s
                    .strip_prefix(concat!($prefix, "-"))
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.len() <= 32
                            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                    });
                if valid {
                    Ok($name(s.to_string()))
                } else {
                    Err(IdError {
                        kind: $kind,
                        expected: concat!("'", $prefix, "-' followed by letters and digits"),
                        value: s.chars().take(64).collect(),
                    })
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

aws_id!(
    /// An elastic network interface id (`eni-…`).
    EniId,
    "eni",
    "ENI id"
);
aws_id!(
    /// A subnet id (`subnet-…`).
    SubnetId,
    "subnet",
    "subnet id"
);
aws_id!(
    /// A security group id (`sg-…`).
    SecurityGroupId,
    "sg",
    "security group id"
);
aws_id!(
    /// A VPC id (`vpc-…`).
    VpcId,
    "vpc",
    "VPC id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mac_round_trips_lowercase() {
        let mac: MacAddr = "02:AB:cd:00:11:ff".parse().unwrap();
        assert_eq!(mac.to_string(), "02:ab:cd:00:11:ff");
    }

    #[test]
    fn mac_rejects_near_misses() {
        for bad in [
            "",
            "02:ab:cd:00:11",
            "02:ab:cd:00:11:ff:00",
            "zz:ab:cd:00:11:ff",
            "2:ab:cd:00:11:ff",
            "02-ab-cd-00-11-ff",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn aws_ids_check_their_prefix() {
        assert!("subnet-0a1b2c".parse::<SubnetId>().is_ok());
        assert!("sg-0a1b2c".parse::<SubnetId>().is_err());
        assert!("eni-".parse::<EniId>().is_err());
        assert!("eni-12 34".parse::<EniId>().is_err());
        assert_eq!(
            " sg-1 ".parse::<SecurityGroupId>().unwrap().as_str(),
            "sg-1"
        );
    }

    proptest! {
        #[test]
        fn id_parsers_never_panic(s in "\\PC*") {
            let _ = s.parse::<MacAddr>();
            let _ = s.parse::<EniId>();
            let _ = s.parse::<SubnetId>();
        }
    }
}
