//! Free aligned /28 blocks of a subnet: where EC2 can still delegate a
//! prefix. A block is free when none of its 16 addresses is used by any ENI
//! of the subnet (a private address, or inside a delegated prefix) and it
//! holds none of the addresses AWS reserves (the first 4 and the last of
//! the subnet). Counted from the used blocks, so the cost follows the
//! addresses and prefixes in use, not the subnet's size.

use std::net::Ipv4Addr;

use eniwatch_core::model::{NetworkInterface, SubnetId};
use ipnet::Ipv4Net;

/// The free /28 blocks of `cidr`, given every ENI that may sit in it (ENIs of
/// other subnets are ignored). None for a subnet smaller than a /28.
pub(crate) fn free_blocks<'a>(
    id: &SubnetId,
    cidr: Ipv4Net,
    enis: impl IntoIterator<Item = &'a NetworkInterface>,
) -> Option<u64> {
    let prefix_len = u32::from(cidr.prefix_len());
    if prefix_len > 28 {
        return None;
    }
    let base = u32::from(cidr.network());
    let total = 1u64 << (28 - prefix_len);
    let block_of = |ip: Ipv4Addr| -> Option<u64> {
        cidr.contains(&ip)
            .then(|| u64::from((u32::from(ip) - base) >> 4))
    };
    // Used blocks as closed ranges: the reserved first and last blocks, a
    // block per address, every block a prefix overlaps (a /28 exactly one).
    let mut used: Vec<(u64, u64)> = vec![(0, 0), (total - 1, total - 1)];
    for eni in enis {
        if eni.subnet_id.as_ref() != Some(id) {
            continue;
        }
        used.extend(
            eni.private_ips
                .iter()
                .filter_map(|ip| block_of(*ip))
                .map(|b| (b, b)),
        );
        for p in &eni.prefixes {
            let first = u32::from(p.network()).max(base);
            let last = u32::from(p.broadcast()).min(u32::from(cidr.broadcast()));
            if first <= last {
                used.push((
                    u64::from((first - base) >> 4),
                    u64::from((last - base) >> 4),
                ));
            }
        }
    }
    used.sort_unstable();
    let mut taken = 0u64;
    let mut end: Option<u64> = None;
    for (a, b) in used {
        let a = match end {
            Some(e) if a <= e => e + 1,
            _ => a,
        };
        if a <= b {
            taken += b - a + 1;
        }
        end = Some(end.map_or(b, |e| e.max(b)));
    }
    Some(total.saturating_sub(taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn eni(subnet: &str, ips: &[&str], prefixes: &[&str]) -> NetworkInterface {
        NetworkInterface {
            id: "eni-1".parse().unwrap(),
            subnet_id: Some(subnet.parse().unwrap()),
            vpc_id: None,
            status: Some("in-use".into()),
            interface_type: None,
            attachment: None,
            private_ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            prefixes: prefixes.iter().map(|s| s.parse().unwrap()).collect(),
            tags: BTreeMap::new(),
        }
    }

    const NONE: [NetworkInterface; 0] = [];

    #[test]
    fn counts_blocks_free_of_addresses_prefixes_and_reserved() {
        let id: SubnetId = "subnet-p".parse().unwrap();
        let cidr: Ipv4Net = "100.64.0.0/24".parse().unwrap();
        // 16 blocks; 0 and 15 reserved.
        assert_eq!(free_blocks(&id, cidr, &NONE), Some(14));
        let enis = [
            eni(
                "subnet-p",
                &["100.64.0.20", "100.64.0.21"],
                &["100.64.0.48/28"],
            ),
            eni("subnet-p", &["100.64.0.70"], &[]),
            // Another subnet's ENI does not count.
            eni("subnet-q", &["100.64.0.100"], &[]),
        ];
        assert_eq!(free_blocks(&id, cidr, &enis), Some(11));
        assert_eq!(
            free_blocks(&id, "100.64.0.0/29".parse().unwrap(), &enis),
            None
        );
        // A prefix wider than the subnet takes all of it, at no cost.
        let wide = [eni("subnet-p", &["100.64.0.20"], &["0.0.0.0/0"])];
        assert_eq!(
            free_blocks(&id, "100.64.0.0/16".parse().unwrap(), &wide),
            Some(0)
        );
        assert_eq!(
            free_blocks(&id, "0.0.0.0/0".parse().unwrap(), &NONE),
            Some((1 << 28) - 2)
        );
        // A /28 subnet: its one block holds the reserved addresses.
        assert_eq!(
            free_blocks(&id, "100.64.0.0/28".parse().unwrap(), &NONE),
            Some(0)
        );
    }
}
