//! One pod placement: the `pod-subnet` check, the report's `pods` block and
//! the metric's input (`PodPlacement::by_label`) count the same pods the
//! same way, including where only the check's reasoning (subnets never
//! overlap) can place a pod.

use super::fixture::*;
use super::*;
use crate::model::*;
use crate::report::Report;

/// The ENIConfig names a subnet no ENI is in (and EC2 is off): its CIDR is
/// unknown. The pods on the secondaries are in `subnet-pods`, a known other
/// subnet; pod `d` is carried by the primary ENI, whose CIDR IMDS omits.
fn eniconfig_cidr_unknown() -> Snapshot {
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].subnet =
        Some("subnet-elsewhere".parse().unwrap());
    imds(&mut s).enis[0].subnet_cidr = None;
    cluster(&mut s).pods.push(pod("d", "10.0.1.11"));
    s
}

fn outside(e: &Evaluation) -> Vec<String> {
    e.findings
        .iter()
        .filter(|f| f.reason == Reason::PodIPOutsideENIConfigSubnet)
        .map(|f| f.subject.name.clone())
        .collect()
}

#[test]
fn provably_outside_pods_are_counted_where_the_check_places_them() {
    let s = eniconfig_cidr_unknown();
    let (e, report) = Report::judge(&s);
    assert_eq!(outside(&e), vec!["a", "b", "c", "d"], "{:#?}", e.findings);
    // By CIDR alone all four were `unplaced`: neither the ENIConfig subnet's
    // CIDR nor the node subnet's is known.
    let p = &report.pods;
    assert_eq!((p.other, p.node_subnet, p.unplaced), (3, 1, 0), "{p:?}");
    assert_eq!((p.eniconfig_subnet, p.host_network, p.total), (0, 1, 5));
    assert_eq!(*p, e.facts.placement.counts);
    let metric: Vec<(&str, usize)> = p.by_label().into_iter().collect();
    assert_eq!(
        metric,
        vec![
            ("eniconfig_subnet", 0),
            ("node_subnet", 1),
            ("other", 3),
            ("host_network", 1),
            ("branch_eni", 0),
            ("unplaced", 0),
        ]
    );
    // Each pod the check flags is one the placement puts outside.
    let pods = &cluster_pods(&s);
    for placed in &e.facts.placement.pods {
        let name = pods[placed.index].name.clone().unwrap_or_default();
        let flagged = outside(&e).contains(&name);
        assert_eq!(flagged, placed.outside.is_some(), "{name}: {placed:?}");
        if flagged {
            assert!(matches!(placed.place, Place::Other | Place::NodeSubnet));
        }
    }
}

#[test]
fn pods_the_check_cannot_place_are_the_reports_unplaced() {
    let mut s = healthy();
    subnet_cidrs_unknown(&mut s);
    let (e, report) = Report::judge(&s);
    let check = e.checks.iter().find(|c| c.name == "pod-subnet").unwrap();
    assert_eq!(check.status, CheckStatus::Unknown);
    assert!(check.detail.contains("3 pod IP(s)"), "{}", check.detail);
    assert_eq!(report.pods.unplaced, 3);
    assert_eq!(report.pods.other + report.pods.node_subnet, 0);
}

#[test]
fn a_known_eniconfig_cidr_places_as_before() {
    let mut s = healthy();
    // One pod moved into the node subnet (carried by the primary ENI).
    cluster(&mut s).pods[0].ip = Some(ip("10.0.1.11"));
    let (e, report) = Report::judge(&s);
    assert_eq!(outside(&e), vec!["a"]);
    let p = &report.pods;
    assert_eq!((p.eniconfig_subnet, p.node_subnet, p.other), (2, 1, 0));
}

fn cluster_pods(s: &Snapshot) -> Vec<PodInfo> {
    match &s.expectation {
        Expectation::Kubernetes(Ok(c)) => c.pods.clone(),
        _ => Vec::new(),
    }
}

#[test]
fn without_custom_networking_and_imds_unread_no_pod_is_counted_elsewhere() {
    // No ENIConfig (standard mode) and IMDS unreadable: the node's subnet is
    // unknown, so nothing proves a pod outside it.
    let mut s = healthy();
    cluster(&mut s).eni_configs = Some(vec![]);
    s.imds = Err(Unavailable::new("imds", "IMDS answered HTTP 500"));
    let (e, report) = Report::judge(&s);
    assert_eq!(e.mode, NetworkingMode::Standard, "the path under test");
    assert_eq!(
        report.pods.other + report.pods.node_subnet,
        0,
        "{:?}",
        report.pods
    );
    assert!(report.pods.unplaced > 0, "{:?}", report.pods);
    // With IMDS read, the same pods are provably outside the node subnet.
    let mut s = healthy();
    cluster(&mut s).eni_configs = Some(vec![]);
    let (_, report) = Report::judge(&s);
    assert!(report.pods.other > 0, "{:?}", report.pods);
}
