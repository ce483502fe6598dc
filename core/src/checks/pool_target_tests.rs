//! The warm-pool target against the rules in the module's doc, written
//! plainly, over all settings (unset, 0, small and huge values), limits and
//! prefix-delegation states.

use proptest::prelude::*;

use super::warm_target;
use crate::model::{InstanceLimits, WarmTargets};

/// The module doc's rules, in wide arithmetic so that nothing can wrap.
fn model(
    warm: &WarmTargets,
    limits: &Result<InstanceLimits, String>,
    prefix_delegation: &Result<bool, String>,
    assigned: u64,
) -> Option<u128> {
    let positive = |v: Option<u32>| v.filter(|n| *n > 0).map(u128::from);
    let ip = positive(warm.warm_ip_target);
    let minimum = positive(warm.minimum_ip_target);
    if ip.is_some() || minimum.is_some() {
        let short = minimum.unwrap_or(0).saturating_sub(u128::from(assigned));
        return Some(ip.unwrap_or(0).max(short));
    }
    match prefix_delegation {
        Err(_) => None,
        Ok(true) => Some(positive(warm.warm_prefix_target).unwrap_or(1) * 16),
        Ok(false) => {
            let per_eni = u128::from(limits.as_ref().ok()?.ipv4_per_eni.saturating_sub(1));
            Some(u128::from(warm.warm_eni_target.unwrap_or(1)) * per_eni)
        }
    }
}

fn setting() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        (1u32..40).prop_map(Some),
        any::<u32>().prop_map(Some),
        Just(Some(u32::MAX)),
    ]
}

fn warm() -> impl Strategy<Value = WarmTargets> {
    (setting(), setting(), setting(), setting()).prop_map(|(eni, ip, minimum, prefix)| {
        WarmTargets {
            warm_eni_target: eni,
            warm_ip_target: ip,
            minimum_ip_target: minimum,
            warm_prefix_target: prefix,
            max_eni: None,
        }
    })
}

fn limits() -> impl Strategy<Value = Result<InstanceLimits, String>> {
    prop_oneof![
        Just(Err("EC2 unknown".to_string())),
        (any::<u32>(), prop_oneof![0u32..3, 3u32..60, any::<u32>()]).prop_map(
            |(max_enis, ipv4_per_eni)| Ok(InstanceLimits {
                max_enis,
                ipv4_per_eni
            })
        ),
    ]
}

fn prefix_delegation() -> impl Strategy<Value = Result<bool, String>> {
    prop_oneof![
        Just(Err("not known yet".to_string())),
        any::<bool>().prop_map(Ok),
    ]
}

proptest! {
    #[test]
    fn warm_target_follows_the_documented_rules(
        warm in warm(),
        limits in limits(),
        pd in prefix_delegation(),
        assigned in prop_oneof![0u64..64, any::<u64>()],
    ) {
        let got = warm_target(&warm, &limits, &pd, assigned);
        match model(&warm, &limits, &pd, assigned) {
            Some(want) => prop_assert_eq!(got.map(u128::from), Ok(want)),
            None => prop_assert!(got.is_err(), "{:?}", got),
        }
    }

    /// Address targets need neither the instance limits nor prefix
    /// delegation: with either set, the target is known.
    #[test]
    fn address_targets_are_known_without_ec2_or_prefix_delegation(
        warm in warm(),
        assigned in any::<u64>(),
    ) {
        let address = warm.warm_ip_target.is_some_and(|n| n > 0)
            || warm.minimum_ip_target.is_some_and(|n| n > 0);
        let got = warm_target(&warm, &Err("no EC2".into()), &Err("unknown".into()), assigned);
        prop_assert_eq!(got.is_ok(), address, "{:?}", got);
    }
}

#[test]
fn documented_examples() {
    let unknown = || Err::<bool, String>("unknown".into());
    let m5 = Ok(InstanceLimits {
        max_enis: 3,
        ipv4_per_eni: 10,
    });
    let w = |eni, ip, minimum, prefix| WarmTargets {
        warm_eni_target: eni,
        warm_ip_target: ip,
        minimum_ip_target: minimum,
        warm_prefix_target: prefix,
        max_eni: None,
    };
    // Defaults: one ENI's worth of pod addresses.
    assert_eq!(
        warm_target(&w(None, None, None, None), &m5, &Ok(false), 0),
        Ok(9)
    );
    // WARM_ENI_TARGET=0 keeps nothing warm.
    assert_eq!(
        warm_target(&w(Some(0), None, None, None), &m5, &Ok(false), 0),
        Ok(0)
    );
    // Prefix delegation: one /28 by default.
    assert_eq!(
        warm_target(&w(None, None, None, None), &m5, &Ok(true), 0),
        Ok(16)
    );
    assert_eq!(
        warm_target(&w(None, None, None, Some(2)), &m5, &Ok(true), 0),
        Ok(32)
    );
    // MINIMUM_IP_TARGET minus the addresses in use, or WARM_IP_TARGET.
    assert_eq!(
        warm_target(&w(None, Some(2), Some(10), None), &m5, &unknown(), 3),
        Ok(7)
    );
    assert_eq!(
        warm_target(&w(None, Some(2), Some(10), None), &m5, &unknown(), 9),
        Ok(2)
    );
    assert!(warm_target(&w(None, None, None, None), &m5, &unknown(), 0).is_err());
}
