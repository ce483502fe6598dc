//! Where custom networking is not configured, or the node is an EKS Auto Mode
//! node: the checks that compare with an ENIConfig are not applicable, never
//! drift; the others still run; the exit code is 0.

use super::fixture::*;
use super::mode::{AUTO_MODE, COMPUTE_TYPE_LABEL, NEEDS_CUSTOM_NETWORKING, NOT_CONFIGURED};
use super::*;
use crate::model::*;
use crate::report::{render_text, Report};

/// The report as JSON, the way `eniwatch check --output json` prints it.
fn json(s: &Snapshot) -> serde_json::Value {
    let report = Report::build(s, &evaluate(s));
    serde_json::to_value(&report).unwrap()
}

fn json_status(report: &serde_json::Value, check: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == check)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn no_eniconfig() -> Snapshot {
    let mut s = healthy();
    cluster(&mut s).eni_configs = Some(vec![]);
    s
}

fn assert_not_configured(s: &Snapshot) -> Evaluation {
    let e = evaluate(s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    for name in NEEDS_CUSTOM_NETWORKING {
        assert_eq!(status(s, name), CheckStatus::NotApplicable, "{name}");
    }
    let na = e.not_applicable.as_ref().expect("not applicable");
    assert_eq!(na.reason, NOT_CONFIGURED);
    assert!(
        na.message
            .starts_with("custom networking is not configured on this node"),
        "{}",
        na.message
    );
    e
}

#[test]
fn no_eniconfig_and_no_ipamd_is_not_applicable_with_exit_0() {
    let s = no_eniconfig();
    let e = assert_not_configured(&s);
    // The checks that do not need an ENIConfig still run.
    for name in ["eni-configured", "pod-ip-on-eni", "pod-routes", "pod-rules"] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
    assert_eq!(status(&s, "cni-settings"), CheckStatus::Skipped);
    assert_eq!(e.overall(), CheckStatus::Ok);
    let r = json(&s);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["status"], "ok");
    assert_eq!(json_status(&r, "eniconfig"), "not_applicable");
    assert_eq!(json_status(&r, "pod-subnet"), "not_applicable");
    assert_eq!(
        r["not_applicable"]["reason"],
        "CustomNetworkingNotConfigured"
    );
    let text = render_text(&Report::build(&s, &e));
    assert!(text.contains("n/a      eniconfig"), "{text}");
    assert!(text.contains("NOT APPLICABLE"), "{text}");
    assert!(text.contains("(exit 0)"), "{text}");
}

#[test]
fn check_results_alone_tell_not_applicable_and_why() {
    let e = evaluate(&no_eniconfig());
    let na = super::mode::not_applicable_in(&e.checks).unwrap();
    assert_eq!(na.reason, NOT_CONFIGURED);
    assert_eq!(
        na.message,
        "custom networking is not configured on this node"
    );
    let mut s = healthy();
    auto_mode(&mut s);
    let na = super::mode::not_applicable_in(&evaluate(&s).checks).unwrap();
    assert_eq!(na.reason, AUTO_MODE);
    assert_eq!(
        super::mode::not_applicable_in(&evaluate(&healthy()).checks),
        None
    );
}

#[test]
fn missing_crd_and_no_ipamd_is_not_applicable() {
    let mut s = healthy();
    cluster(&mut s).eni_configs = None;
    let e = assert_not_configured(&s);
    let na = e.not_applicable.unwrap();
    assert!(na.message.contains("CRD"), "{}", na.message);
}

#[test]
fn ipamd_reporting_custom_networking_off_keeps_cni_settings_ok() {
    let mut s = healthy_witnessed();
    cluster(&mut s).eni_configs = Some(vec![]);
    ipamd(&mut s).custom_networking = Some(false);
    ipamd(&mut s).selected_eniconfig = None;
    assert_not_configured(&s);
    for name in [
        "cni-settings",
        "eni-configured",
        "pod-rules",
        "warm-pool",
        "ipamd-state",
        "eni-attachment",
    ] {
        assert_eq!(status(&s, name), CheckStatus::Ok, "{name}");
    }
    assert_eq!(json(&s)["exit_code"], 0);
}

#[test]
fn unreachable_ipamd_without_eniconfig_is_not_configured_and_exits_0() {
    let mut s = no_eniconfig();
    s.ipamd = Witness::On(Err(Unavailable::new("ipamd", "connection refused")));
    assert_not_configured(&s);
    // Most likely no aws-node: ipamd's checks do not apply, the rest runs.
    for name in ["cni-settings", "ipamd-state"] {
        assert_eq!(status(&s, name), CheckStatus::NotApplicable, "{name}");
    }
    assert_eq!(status(&s, "pod-rules"), CheckStatus::Ok);
    assert_eq!(json(&s)["exit_code"], 0);
}

#[test]
fn ipamd_running_custom_networking_without_eniconfig_is_still_an_error() {
    let mut s = healthy_witnessed();
    cluster(&mut s).eni_configs = Some(vec![]);
    let e = evaluate(&s);
    assert_eq!(e.not_applicable, None);
    assert!(e
        .findings
        .iter()
        .any(|f| f.reason == Reason::ENIConfigNotFound && f.severity == Severity::Error));
    assert_eq!(status(&s, "eniconfig"), CheckStatus::Drift);
    assert_eq!(status(&s, "eni-subnet"), CheckStatus::Unknown);
    assert_eq!(json(&s)["exit_code"], 1);
}

#[test]
fn eniconfigs_elsewhere_keep_the_node_judged() {
    // ENIConfigs exist, none for this node: configured, and missing here.
    let mut s = healthy();
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].name = "ap-southeast-1b".into();
    assert_eq!(evaluate(&s).not_applicable, None);
    assert_eq!(reasons(&s), vec![Reason::ENIConfigNotFound]);
}

fn auto_mode(s: &mut Snapshot) {
    cluster(s)
        .node
        .labels
        .insert(COMPUTE_TYPE_LABEL.into(), "auto".into());
}

#[test]
fn auto_mode_node_is_not_applicable_even_with_eniconfigs() {
    let mut s = no_eniconfig();
    auto_mode(&mut s);
    s.ipamd = Witness::On(Err(Unavailable::new("ipamd", "connection refused")));
    let e = evaluate(&s);
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    let na = e.not_applicable.clone().unwrap();
    assert_eq!(na.reason, AUTO_MODE);
    assert!(na.message.contains("NodeClass"), "{}", na.message);
    for name in NEEDS_CUSTOM_NETWORKING
        .iter()
        .chain(["cni-settings", "ipamd-state"].iter())
    {
        assert_eq!(status(&s, name), CheckStatus::NotApplicable, "{name}");
    }
    assert_eq!(status(&s, "pod-rules"), CheckStatus::Ok);
    let r = json(&s);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["not_applicable"]["reason"], "EKSAutoModeNode");

    // ENIConfigs of other nodes in the cluster do not apply to it either.
    let mut s = healthy();
    auto_mode(&mut s);
    cluster(&mut s).eni_configs.as_mut().unwrap()[0].name = "other".into();
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(status(&s, "eniconfig"), CheckStatus::NotApplicable);
}

#[test]
fn not_applicable_does_not_hide_data_plane_drift() {
    let mut s = no_eniconfig();
    let host = ipnet::Ipv4Net::from(ip("100.64.1.11"));
    kernel(&mut s).routes.retain(|r| r.destination != host);
    assert_eq!(reasons(&s), vec![Reason::PodRouteMissing]);
    assert_eq!(json(&s)["exit_code"], 1);
}

#[test]
fn flags_expectation_is_always_applicable() {
    let mut s = healthy();
    s.expectation = Expectation::Flags(FlagExpectation {
        subnet: "subnet-pods".parse().unwrap(),
        security_groups: Some(vec!["sg-pods".parse().unwrap()]),
    });
    assert_eq!(evaluate(&s).not_applicable, None);
    assert_eq!(status(&s, "eniconfig"), CheckStatus::Ok);
}
