//! How many pods an instance type can host, with and without custom
//! networking (domain brief §5). Pure arithmetic over the limits EC2's
//! `DescribeInstanceTypes` reports; the `MaxPodsExceedsCapacity` check and
//! the capacity metrics use it.
//!
//! - standard: `ENIs * (IPs per ENI - 1) + 2`
//! - custom networking (the primary ENI takes no pods): `(ENIs - 1) * (IPs per ENI - 1) + 2`
//! - prefix delegation: each secondary address slot holds a /28 (16 addresses):
//!   `ENIs * ((IPs per ENI - 1) * 16) + 2`, one ENI fewer under custom networking.
//!
//! The `+ 2` is for the host-network pods (aws-node, kube-proxy) that need no
//! address. Only network card 0 is counted: the CNI places pods there unless
//! multi-NIC attachment is requested per pod. Arithmetic saturates: absurd
//! limits from a bad answer give large numbers, never a panic.

use serde::Serialize;

pub use crate::model::InstanceLimits;

/// How pods get their addresses on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AddressingMode {
    pub custom_networking: bool,
    pub prefix_delegation: bool,
}

/// The most pods the CNI can give an address to, plus the two host-network pods.
pub fn max_pods(limits: InstanceLimits, mode: AddressingMode) -> u64 {
    let enis = u64::from(limits.max_enis);
    let usable_enis = if mode.custom_networking {
        enis.saturating_sub(1)
    } else {
        enis
    };
    let slots = u64::from(limits.ipv4_per_eni).saturating_sub(1);
    let per_slot = if mode.prefix_delegation { 16 } else { 1 };
    usable_enis
        .saturating_mul(slots)
        .saturating_mul(per_slot)
        .saturating_add(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const M5_LARGE: InstanceLimits = InstanceLimits {
        max_enis: 3,
        ipv4_per_eni: 10,
    };
    const T3_2XLARGE: InstanceLimits = InstanceLimits {
        max_enis: 4,
        ipv4_per_eni: 15,
    };

    fn mode(custom_networking: bool, prefix_delegation: bool) -> AddressingMode {
        AddressingMode {
            custom_networking,
            prefix_delegation,
        }
    }

    #[test]
    fn the_domain_briefs_numbers() {
        assert_eq!(max_pods(M5_LARGE, mode(false, false)), 29);
        assert_eq!(max_pods(M5_LARGE, mode(true, false)), 20);
        assert_eq!(max_pods(T3_2XLARGE, mode(true, false)), 44);
        assert_eq!(max_pods(T3_2XLARGE, mode(false, false)), 58);
    }

    #[test]
    fn prefix_delegation_multiplies_slots_by_sixteen() {
        assert_eq!(max_pods(M5_LARGE, mode(false, true)), 3 * 9 * 16 + 2);
        assert_eq!(max_pods(M5_LARGE, mode(true, true)), 2 * 9 * 16 + 2);
    }

    #[test]
    fn degenerate_limits() {
        let none = InstanceLimits {
            max_enis: 0,
            ipv4_per_eni: 0,
        };
        assert_eq!(max_pods(none, mode(true, true)), 2);
        let one = InstanceLimits {
            max_enis: 1,
            ipv4_per_eni: 50,
        };
        assert_eq!(
            max_pods(one, mode(true, false)),
            2,
            "custom networking on a single-ENI type"
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_custom_networking_never_adds(enis in any::<u32>(), ips in any::<u32>(), pd in any::<bool>()) {
            let l = InstanceLimits { max_enis: enis, ipv4_per_eni: ips };
            let custom = max_pods(l, mode(true, pd));
            let standard = max_pods(l, mode(false, pd));
            prop_assert!(custom <= standard);
        }
    }
}
