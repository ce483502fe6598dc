//! Addresses ipamd lost, from hand-built snapshots: both directions of the
//! comparison (what IMDS lists, what pods use), prefix delegation, and the
//! ENIs and addresses that are not ipamd's to hold staying quiet.

use super::fixture::*;
use super::tests_declared::not_ok;
use super::*;
use crate::model::*;

fn mismatches(s: &Snapshot) -> Vec<Finding> {
    evaluate(s)
        .findings
        .into_iter()
        .filter(|f| f.reason == Reason::IPAMDStateMismatch)
        .collect()
}

/// ipamd forgets `addr` on every ENI: neither held nor assigned.
fn forget(s: &mut Snapshot, addr: &str) {
    for e in &mut ipamd(s).enis {
        e.ipv4_addresses.retain(|a| *a != ip(addr));
        e.assigned.retain(|(a, _)| *a != ip(addr));
    }
}

#[test]
fn the_witnessed_healthy_node_holds_every_address() {
    let s = healthy_witnessed();
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Ok);
    assert!(mismatches(&s).is_empty());
}

#[test]
fn a_pod_address_ipamd_lost_names_the_pod_and_the_witnesses() {
    let mut s = healthy_witnessed();
    forget(&mut s, "100.64.1.12");
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject.to_string(), "pod/default/b");
    assert_eq!(
        found[0].message,
        "IMDS lists 100.64.1.12 on ENI eni-0002 and the kernel routes it to pod default/b, \
         but ipamd does not hold it: ipamd can hand that address to a second pod once it \
         re-adds it as free"
    );
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Drift);
    assert_eq!(reasons(&s), vec![Reason::IPAMDStateMismatch]);
}

#[test]
fn a_pod_the_api_knows_without_a_route_is_still_compared() {
    let mut s = healthy_witnessed();
    forget(&mut s, "100.64.1.12");
    kernel(&mut s)
        .routes
        .retain(|r| r.destination.addr() != ip("100.64.1.12"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("the API gives it to pod default/b"),
        "{}",
        found[0].message
    );
    assert_eq!(
        reasons(&s),
        vec![Reason::PodRouteMissing, Reason::IPAMDStateMismatch]
    );
}

#[test]
fn a_free_address_ipamd_lost_is_one_finding_on_its_eni() {
    let mut s = healthy_witnessed();
    forget(&mut s, "100.64.1.13");
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject.to_string(), "eni/eni-0002");
    assert!(
        found[0].message.contains(
            "IMDS lists 100.64.1.13 on ENI eni-0002, which ipamd does not hold (no pod uses it)"
        ),
        "{}",
        found[0].message
    );
    // An address ipamd holds beyond IMDS on the same ENI joins that finding.
    ipamd(&mut s).enis[1].ipv4_addresses.push(ip("100.64.1.99"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "one finding per ENI: {found:#?}");
    assert!(found[0].message.contains("100.64.1.99") && found[0].message.contains("100.64.1.13"));
}

#[test]
fn an_address_ipamd_holds_on_another_eni_is_not_lost() {
    // ipamd has 100.64.1.13 on the wrong ENI: that is the "IMDS does not
    // list it" finding on that ENI, not a second one for a lost address.
    let mut s = healthy_witnessed();
    forget(&mut s, "100.64.1.13");
    ipamd(&mut s).enis[2].ipv4_addresses.push(ip("100.64.1.13"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject.to_string(), "eni/eni-0003");
    assert!(found[0].message.contains("IMDS does not list"));
}

#[test]
fn primary_eni_addresses_are_ipamds_only_outside_custom_networking() {
    // Custom networking: IMDS lists 10.0.1.11 on the primary ENI and ipamd
    // holds none of its addresses (the fixture): not ipamd's to hold.
    let s = healthy_witnessed();
    assert_eq!(imds_primary_secondaries(&s), vec![ip("10.0.1.11")]);
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Ok);
    // Outside it, ipamd pools the primary ENI: an address it lost there counts.
    let mut s = healthy_witnessed();
    ipamd(&mut s).enis[0].ipv4_addresses = vec![ip("10.0.1.11")];
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Ok);
    imds(&mut s).enis[0].local_ipv4s.push(ip("10.0.1.12"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject.to_string(), "eni/eni-0001");
    // The ENI's own primary address is never ipamd's.
    assert!(!found[0].message.contains("10.0.1.10"));
}

fn imds_primary_secondaries(s: &Snapshot) -> Vec<std::net::Ipv4Addr> {
    s.imds.as_ref().unwrap().enis[0].local_ipv4s[1..].to_vec()
}

#[test]
fn addresses_no_eni_carries_and_unknown_enis_are_other_findings() {
    // A pod on an address no ENI carries: PodIPNotOnAnyENI, not ipamd's.
    let mut s = healthy_witnessed();
    cluster(&mut s).pods.push(pod("z", "100.64.1.77"));
    wire_pod(kernel(&mut s), "100.64.1.77", 2, 20);
    assert_eq!(reasons(&s), vec![Reason::PodIPNotOnAnyENI]);
    // An ENI ipamd does not know: one finding for the ENI, none per address.
    let mut s = healthy_witnessed();
    ipamd(&mut s).enis.remove(2);
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("ipamd does not know"));
}

/// [`healthy_witnessed`] with a delegated /28 on the second secondary ENI
/// and one pod in it, as ipamd holds it: the prefix and the one address it
/// handed out.
fn with_prefix() -> Snapshot {
    let mut s = healthy_witnessed();
    imds(&mut s).enis[2].ipv4_prefixes = vec![net("100.64.1.48/28")];
    cluster(&mut s).pods.push(pod("p", "100.64.1.49"));
    wire_pod(kernel(&mut s), "100.64.1.49", 3, 21);
    let e = &mut ipamd(&mut s).enis[2];
    e.prefixes = vec![net("100.64.1.48/28")];
    e.ipv4_addresses.push(ip("100.64.1.49"));
    e.assigned.push((ip("100.64.1.49"), None));
    s
}

#[test]
fn under_prefix_delegation_ipamd_holds_prefixes_not_every_address() {
    let s = with_prefix();
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Ok);
    // ipamd lost the prefix: the pod in it is named; the free addresses are not.
    let mut s = with_prefix();
    let e = &mut ipamd(&mut s).enis[2];
    e.prefixes.clear();
    e.ipv4_addresses.retain(|a| *a != ip("100.64.1.49"));
    e.assigned.retain(|(a, _)| *a != ip("100.64.1.49"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject.to_string(), "pod/default/p");
    assert!(
        found[0].message.starts_with(
            "IMDS lists prefix 100.64.1.48/28 (with 100.64.1.49) on ENI eni-0003 and the kernel \
             routes it to pod default/p, but ipamd does not hold it"
        ),
        "{}",
        found[0].message
    );
    // A lost prefix no pod uses: one finding on the ENI.
    cluster(&mut s)
        .pods
        .retain(|p| p.name.as_deref() != Some("p"));
    kernel(&mut s)
        .routes
        .retain(|r| r.destination.addr() != ip("100.64.1.49"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject.to_string(), "eni/eni-0003");
    assert!(found[0].message.contains("prefix 100.64.1.48/28"));
}

#[test]
fn without_the_kernel_api_pods_are_still_compared() {
    let mut s = healthy_witnessed();
    forget(&mut s, "100.64.1.21");
    s.kernel = Err(Unavailable::new("kernel", "netlink refused"));
    let found = mismatches(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0]
        .message
        .contains("the API gives it to pod default/c"));
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Drift);
}
