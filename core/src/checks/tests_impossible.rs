//! Impossible data (IMDS answers no real instance gives, malformed
//! ENIConfigs) and pods that cannot be placed: *unknown* or one finding about
//! the ENIConfig itself, never per-ENI or per-pod drift.

use super::fixture::*;
use super::tests_declared::not_ok;
use super::*;
use crate::model::*;
use crate::report::Report;

fn json(s: &Snapshot) -> serde_json::Value {
    serde_json::to_value(Report::build(s, &evaluate(s))).unwrap()
}

fn detail(s: &Snapshot, check: &str) -> String {
    evaluate(s)
        .checks
        .iter()
        .find(|c| c.name == check)
        .unwrap()
        .detail
        .clone()
}

#[test]
fn empty_local_ipv4s_on_every_eni_is_unknown_not_pods_off_eni() {
    let mut s = healthy_witnessed();
    for e in imds(&mut s).enis.iter_mut() {
        e.local_ipv4s.clear();
    }
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(status(&s, "pod-ip-on-eni"), CheckStatus::Unknown);
    let d = detail(&s, "pod-ip-on-eni");
    assert!(
        d.contains("IMDS: local-ipv4s of ENI eni-0002 (02:00:00:00:00:02) is empty"),
        "{d}"
    );
    // The primary's empty list is impossible as well.
    assert!(
        d.contains("eni-0001 (02:00:00:00:00:01) is empty, but it is the primary ENI"),
        "{d}"
    );
    // The address pool and ipamd's view rest on the same lists.
    assert_eq!(status(&s, "warm-pool"), CheckStatus::Unknown);
    assert_eq!(status(&s, "ipamd-state"), CheckStatus::Unknown);
    // The kernel uses them, so they are no EFA-only interfaces.
    let r = json(&s);
    assert_eq!(r["enis"][1]["role"], "secondary");
    assert_eq!(r["exit_code"], 2);
    assert_eq!(r["status"], "unknown");
}

#[test]
fn efa_only_interfaces_still_have_no_addresses_legitimately() {
    let mut s = healthy();
    let mut efa = eni(9, 3, "subnet-node", "10.0.1.0/24", "sg-node", &[]);
    efa.network_card = 1;
    imds(&mut s).enis.push(efa);
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(not_ok(&s), vec![]);
    assert_eq!(e.overall(), CheckStatus::Ok);
    assert_eq!(json(&s)["enis"][3]["role"], "efa-only");
}

#[test]
fn empty_security_group_ids_is_unknown_not_wrong_groups() {
    let mut s = healthy();
    imds(&mut s).enis[1].security_groups.clear();
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(status(&s, "eni-security-groups"), CheckStatus::Unknown);
    let d = detail(&s, "eni-security-groups");
    assert!(
        d.contains("IMDS: security-group-ids of ENI eni-0002 (02:00:00:00:00:02) is empty"),
        "{d}"
    );
    assert_eq!(json(&s)["exit_code"], 2);
    // The other ENI is still judged.
    imds(&mut s).enis[2].security_groups = vec!["sg-other".parse().unwrap()];
    assert_eq!(reasons(&s), vec![Reason::SecondaryENIWrongSecurityGroups]);
    // The primary's groups are the expectation when the ENIConfig lists none.
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0]
        .security_groups
        .clear();
    imds(&mut s).enis[0].security_groups.clear();
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(status(&s, "eni-security-groups"), CheckStatus::Unknown);
    assert!(detail(&s, "eni-security-groups").contains("security-group-ids of ENI eni-0001"));
}

#[test]
fn two_enis_in_one_slot_is_unknown_not_wrong_tables() {
    let mut s = healthy();
    imds(&mut s).enis[2].device_number = 1;
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(status(&s, "pod-rules"), CheckStatus::Unknown);
    assert_eq!(status(&s, "eni-configured"), CheckStatus::Unknown);
    let d = detail(&s, "pod-rules");
    assert!(
        d.contains("both report network-card 0 device-number 1"),
        "{d}"
    );
    assert_eq!(json(&s)["exit_code"], 2);
}

fn invalid(spec: serde_json::Value) -> Snapshot {
    let mut s = healthy();
    let cfg = crate::sources::kube::eniconfig_from_spec("ap-southeast-1a".into(), Some(&spec));
    cluster(&mut s).eni_configs = Some(vec![cfg]);
    s
}

#[test]
fn malformed_eniconfig_is_one_finding_about_it() {
    for spec in [
        serde_json::json!({"subnet": "subnet-pods", "securityGroups": "sg-pods"}),
        serde_json::json!({"subnet": "subnet-pods", "securityGroups": {"a": "sg-pods"}}),
        serde_json::json!({"subnet": "subnet-pods", "securityGroups": [1, 2]}),
        serde_json::json!({"subnet": "subnet-pods", "securityGroups": ["pods"]}),
        serde_json::json!({"subnet": "pods-1a", "securityGroups": ["sg-pods"]}),
    ] {
        let s = invalid(spec.clone());
        let e = evaluate(&s);
        assert_eq!(e.findings.len(), 1, "{spec}: {:#?}", e.findings);
        let f = &e.findings[0];
        assert_eq!(f.reason, Reason::ENIConfigInvalid);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.subject, Subject::eniconfig("ap-southeast-1a"));
        assert!(f.message.contains("spec."), "{}", f.message);
        for check in ["eni-subnet", "eni-security-groups", "pod-subnet"] {
            assert_eq!(status(&s, check), CheckStatus::Unknown, "{spec}: {check}");
        }
        let r = json(&s);
        assert_eq!(r["exit_code"], 1);
        assert_eq!(r["findings"][0]["subject"]["kind"], "ENIConfig");
        assert_eq!(r["findings"][0]["reason"], "ENIConfigInvalid");
    }
}

#[test]
fn eniconfig_without_subnet_is_invalid() {
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].subnet = None;
    assert_eq!(reasons(&s), vec![Reason::ENIConfigInvalid]);
    let e = evaluate(&s);
    assert!(e.findings[0].message.contains("spec.subnet is missing"));
}

fn garbage_pod(name: &str, text: &str) -> PodInfo {
    let mut p = pod(name, "1.1.1.1");
    p.ip = None;
    p.ip_text = Some(text.into());
    p
}

#[test]
fn pods_with_unplaceable_ips_make_placement_unknown_and_are_named() {
    for (text, what) in [
        ("100.064.001.005", "not an IPv4 address"),
        ("fd00:100:64::5", "IPv6"),
        ("<none>", "not an IPv4 address"),
    ] {
        let mut s = healthy();
        cluster(&mut s).pods.push(garbage_pod("odd", text));
        assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
        for check in ["pod-subnet", "pod-ip-on-eni"] {
            assert_eq!(status(&s, check), CheckStatus::Unknown, "{text}: {check}");
            let d = detail(&s, check);
            assert!(
                d.contains(&format!("pod default/odd has status.podIP {text:?}")),
                "{d}"
            );
            assert!(d.contains(what), "{d}");
        }
        let r = json(&s);
        assert_eq!(r["exit_code"], 2);
        assert_eq!(r["pods"]["unplaced"], 1);
    }
}

#[test]
fn finished_pods_are_not_counted_and_deleted_ones_not_judged() {
    let mut s = healthy();
    for i in 0..50 {
        let mut p = garbage_pod(&format!("job-{i}"), "");
        p.ip_text = None;
        p.terminal = true;
        p.completed = true;
        cluster(&mut s).pods.push(p);
    }
    // Being deleted, with its network gone: not judged, but still on the node.
    let mut leaving = pod("leaving", "100.64.1.99");
    leaving.terminal = true;
    cluster(&mut s).pods.push(leaving);
    let r = json(&s);
    assert_eq!(r["exit_code"], 0, "{}", r["checks"]);
    assert_eq!(r["pods"]["total"], 5);
    assert_eq!(r["pods"]["completed"], 50);
    assert_eq!(r["pods"]["unplaced"], 1);
}
