//! SCENARIO TESTS: the shipped `eniwatch-cluster check --output json` on
//! the cluster scenario (moto seeded through the EC2 API, `vpc_seed`; the
//! Nodes and ENIConfigs served from `common::kube`). Each breakage raises
//! its reason and no other; the healthy cluster has no finding and every
//! check ok; the EC2 calls of a refresh do not grow with the nodes; EC2
//! unreachable or refusing is unknown, never a finding.
//!
//! What the scenario itself looks like in EC2 is proven by `moto_seed.rs`;
//! a failure here with `moto_seed` passing is eniwatch-cluster's.

mod common;

use std::collections::BTreeSet;

use common::check::{check, Outcome};
use common::{kube, moto};
use eniwatch_lab::vpc_seed::{self, Breakage, ClusterScenario, Seeded, REGION};

/// Seeds `scenario` into a fresh moto, serves its objects, runs `check`.
async fn run(scenario: &ClusterScenario, extra: &[&str]) -> Option<(Seeded, Outcome)> {
    let m = moto::start("eniwatch-cluster on the moto scenario")?;
    let ec2 = eniwatch_lab::ec2_seed::client(&m.endpoint, REGION).await;
    let seeded = vpc_seed::seed(&ec2, scenario)
        .await
        .expect("the scenario seeds");
    let api = kube::serve(seeded.node_objects(), seeded.eni_config_objects()).await;
    let mut args = vec!["--vpc-id", seeded.vpc_id.as_str()];
    args.extend_from_slice(extra);
    let endpoint = m.endpoint.clone();
    let kubeconfig = api.kubeconfig.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let outcome = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&endpoint, &kubeconfig, &args)
    })
    .await
    .expect("check ran");
    drop(api);
    Some((seeded, outcome))
}

/// The reasons the scenario must raise on this EC2: a prefix subnet needs
/// EC2 to keep prefixes on ENIs (moto 5 does not; see `vpc_seed`).
fn expected(seeded: &Seeded) -> BTreeSet<String> {
    let mut want: BTreeSet<String> = seeded
        .scenario
        .reasons()
        .into_iter()
        .map(str::to_string)
        .collect();
    if !seeded.prefixes_kept && want.remove("PrefixFragmentation") {
        eprintln!(
            "NOTE: this EC2 emulator keeps no IPv4 prefixes on ENIs, so no subnet uses \
             prefix delegation and PrefixFragmentation cannot fire; asserting no finding instead"
        );
    }
    want
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_cluster_has_no_finding_and_every_check_ok() {
    let Some((_, out)) = run(&ClusterScenario::healthy(5), &[]).await else {
        return;
    };
    assert_eq!(out.reasons(), BTreeSet::new(), "{}", out.report);
    let statuses = out.statuses();
    assert!(!statuses.is_empty(), "{}", out.report);
    for (name, status) in &statuses {
        assert_eq!(status, "ok", "{name}: {}", out.report);
    }
    assert_eq!(out.report["status"], "ok");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.report.get("node_classes").is_none() && out.report.get("node_classes_error").is_none(),
        "no NodeClass CRD (404): none, and no error: {}",
        out.report
    );
    assert_eq!(
        out.report["cni_subnets"],
        serde_json::json!([]),
        "none tagged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_breakage_raises_its_reason_and_nothing_else() {
    for b in Breakage::ALL {
        let Some((seeded, out)) = run(&ClusterScenario::healthy(5).with(b), &[]).await else {
            return;
        };
        let want = expected(&seeded);
        assert_eq!(out.reasons(), want, "{b:?}: {}", out.report);
        let code = if want.is_empty() { 0 } else { 1 };
        assert_eq!(out.code, code, "{b:?}: {}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_breakage_at_once_at_fifty_nodes() {
    let Some((seeded, out)) = run(&ClusterScenario::broken(50), &[]).await else {
        return;
    };
    assert_eq!(out.reasons(), expected(&seeded), "{}", out.report);
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vpc_is_learnt_from_the_eniconfig_subnets_without_vpc_id() {
    let m = moto::start("eniwatch-cluster on the moto scenario");
    let Some(m) = m else { return };
    let ec2 = eniwatch_lab::ec2_seed::client(&m.endpoint, REGION).await;
    let seeded = vpc_seed::seed(&ec2, &ClusterScenario::healthy(5))
        .await
        .expect("the scenario seeds");
    let api = kube::serve(seeded.node_objects(), seeded.eni_config_objects()).await;
    let (endpoint, kubeconfig) = (m.endpoint.clone(), api.kubeconfig.clone());
    let out = tokio::task::spawn_blocking(move || check(&endpoint, &kubeconfig, &[]))
        .await
        .expect("check ran");
    assert_eq!(
        out.report["vpc_id"],
        seeded.vpc_id.as_str(),
        "{}",
        out.report
    );
    assert_eq!(out.reasons(), BTreeSet::new(), "{}", out.report);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn ec2_calls_per_refresh_do_not_grow_with_the_nodes() {
    let Some((_, five)) = run(&ClusterScenario::broken(5), &[]).await else {
        return;
    };
    let Some((_, fifty)) = run(&ClusterScenario::broken(50), &[]).await else {
        return;
    };
    let (a, b) = (five.ec2_calls(), fifty.ec2_calls());
    println!("EC2 calls of one refresh: 5 nodes {a:?}, 50 nodes {b:?}");
    assert!(!a.is_empty(), "{}", five.report);
    assert_eq!(a, b);
    assert!(
        !a.contains_key("DescribeInstances"),
        "nodes are found from the API, not EC2: {a:?}"
    );
}

/// EC2 that cannot be asked, on the broken cluster: no finding that needs
/// EC2, every check that needs it unknown. The one breakage the API alone
/// proves (zone c's nodes select an ENIConfig that does not exist) is still
/// found, so the verdict is drift (exit 1), not a false all-clear.
fn assert_unknown(out: &Outcome) {
    let api_only = BTreeSet::from(["ENIConfigMissingForZone".to_string()]);
    assert_eq!(out.reasons(), api_only, "{}", out.report);
    let statuses = out.statuses();
    for (check, status) in &statuses {
        if check != "zone-coverage" {
            assert_eq!(status, "unknown", "{check}: {}", out.report);
        }
    }
    assert_eq!(out.report["status"], "drift");
    assert_eq!(out.code, 1, "{}", out.stderr);
}

async fn against(endpoint: String) -> Option<Outcome> {
    let m = moto::start("eniwatch-cluster with EC2 failing")?;
    let ec2 = eniwatch_lab::ec2_seed::client(&m.endpoint, REGION).await;
    let seeded = vpc_seed::seed(&ec2, &ClusterScenario::broken(5))
        .await
        .expect("the scenario seeds");
    let api = kube::serve(seeded.node_objects(), seeded.eni_config_objects()).await;
    let kubeconfig = api.kubeconfig.clone();
    let vpc = seeded.vpc_id.clone();
    let out = tokio::task::spawn_blocking(move || {
        check(&endpoint, &kubeconfig, &["--vpc-id", vpc.as_str()])
    })
    .await
    .expect("check ran");
    Some(out)
}

#[tokio::test(flavor = "multi_thread")]
async fn ec2_refusing_connections_is_unknown_not_a_finding() {
    let closed = eniwatch_lab::test_servers::closed_port().await;
    let Some(out) = against(closed).await else {
        return;
    };
    assert_unknown(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn ec2_answering_403_is_unknown_not_a_finding() {
    const DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
        <Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this \
        operation.</Message></Error></Errors><RequestID>00000000-0000-0000-0000-000000000000\
        </RequestID></Response>";
    let denied =
        eniwatch_lab::test_servers::serve(eniwatch_lab::test_servers::answering(403, DENIED)).await;
    let Some(out) = against(denied).await else {
        return;
    };
    assert_unknown(&out);
}
