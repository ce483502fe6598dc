//! `eniwatch_pods{placement}` counts the checks' own placement.

use super::*;

#[test]
fn pods_the_check_proves_outside_are_placed_not_unplaced() {
    use eniwatch_core::checks::fixture::{cluster, imds, pod};
    // The ENIConfig subnet's CIDR is unknown; the pods are in other known
    // subnets (the secondaries' `subnet-pods`, the primary's node subnet).
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].subnet =
        Some("subnet-elsewhere".parse().unwrap());
    imds(&mut s).enis[0].subnet_cidr = None;
    cluster(&mut s).pods.push(pod("d", "10.0.1.11"));
    let outcome = cycle(s, &mut settler());
    let m = Metrics::new().unwrap();
    m.observe_cycle(&outcome);
    let pods = |p| value(&m, "eniwatch_pods", &[("placement", p)]);
    assert_eq!(
        (pods("other"), pods("node_subnet"), pods("unplaced")),
        (3.0, 1.0, 0.0)
    );
    let flagged = outcome
        .active
        .iter()
        .filter(|f| f.reason == eniwatch_core::checks::Reason::PodIPOutsideENIConfigSubnet)
        .count();
    assert_eq!(flagged as f64, pods("other") + pods("node_subnet"));
}
