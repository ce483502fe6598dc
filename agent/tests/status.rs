//! `eniwatch status` against the lab's Kubernetes emulator over HTTP: the
//! lister's round trip (a status input loaded into the emulator is listed
//! back equal, across pages and with finished pods left out), and the
//! errors an operator meets (403 on pods, a CRD not installed, no facts).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;

use eniwatch::status::command::client;
use eniwatch::status::list::{list, ListOptions};
use eniwatch_core::model::{EniConfig, NodeInfo, SecurityGroupId, SelectionSettings, SubnetId};
use eniwatch_core::published::PublishedFacts;
use eniwatch_core::status::input::{
    NodeClassInfo, NodeCondition, StatusInput, StatusNode, StatusPod,
};
use eniwatch_lab::kube_emulator::{EmulatorOptions, KubeState};
use eniwatch_lab::status_load::{load, DEFAULT_FACTS_AT};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn node(i: usize, zone: &str, group: &str, condition: Option<NodeCondition>) -> StatusNode {
    let name = format!("ip-10-0-{i}-10.eu-west-1.compute.internal");
    let labels = BTreeMap::from([
        ("topology.kubernetes.io/zone".to_string(), zone.to_string()),
        (
            "node.kubernetes.io/instance-type".to_string(),
            "m5.large".to_string(),
        ),
        ("eks.amazonaws.com/nodegroup".to_string(), group.to_string()),
        ("k8s.amazonaws.com/eniConfig".to_string(), zone.to_string()),
    ]);
    StatusNode {
        info: NodeInfo {
            name,
            labels,
            annotations: BTreeMap::from([(
                "k8s.amazonaws.com/eniConfig".to_string(),
                zone.to_string(),
            )]),
            capacity_pods: Some(29),
        },
        allocatable_pods: i.is_multiple_of(2).then_some(20),
        internal_ips: vec![IpAddr::V4(Ipv4Addr::new(10, 0, i as u8, 10))],
        ready: [Some(true), Some(false), None][i % 3],
        unschedulable: i == 4,
        condition,
    }
}

/// A small cluster with every field varied, and enough pods for three pages.
fn input() -> StatusInput {
    let cond = |status: &str, reason: Option<&str>| NodeCondition {
        status: status.to_string(),
        reason: reason.map(str::to_string),
        message: reason.map(|r| format!("{r}: see eniwatch reasons")),
        last_heartbeat: Some("2026-01-01T00:00:00Z".to_string()),
    };
    let nodes = vec![
        node(1, "eu-west-1a", "old-ng", None),
        node(2, "eu-west-1a", "new-ng", Some(cond("True", Some("Ready")))),
        node(
            3,
            "eu-west-1b",
            "new-ng",
            Some(cond("False", Some("PodIpOutsideSubnet"))),
        ),
        node(4, "eu-west-1b", "old-ng", Some(cond("Unknown", None))),
    ];
    let pods = (0..1_203usize)
        .map(|i| StatusPod {
            namespace: format!("team-{}", i % 7),
            name: format!("web-{i:05}"),
            node_name: (!i.is_multiple_of(50)).then(|| nodes[i % 4].info.name.clone()),
            ip: (!i.is_multiple_of(50))
                .then(|| Ipv4Addr::new(100, 64, (i / 250) as u8, (i % 250) as u8)),
            host_network: i.is_multiple_of(97),
            owner_kind: [Some("ReplicaSet"), Some("DaemonSet"), None][i % 3].map(str::to_string),
            deleting: i.is_multiple_of(101),
        })
        .collect();
    let subnet = |s: &str| s.parse::<SubnetId>().ok();
    let sg = |s: &str| s.parse::<SecurityGroupId>().ok();
    StatusInput {
        nodes,
        pods,
        eni_configs: Ok(Some(vec![
            EniConfig {
                name: "eu-west-1a".into(),
                subnet: subnet("subnet-0aaa"),
                security_groups: sg("sg-0aaa").into_iter().collect(),
                problems: vec![],
            },
            EniConfig {
                name: "eu-west-1b".into(),
                subnet: subnet("subnet-0bbb"),
                security_groups: vec![],
                problems: vec![],
            },
        ])),
        node_classes: Ok(Some(vec![NodeClassInfo {
            name: "default".into(),
            has_pod_subnet_terms: true,
            has_pod_security_group_terms: false,
        }])),
        facts: PublishedFacts::parse(r#"{"schema_version": 1}"#)
            .map(Some)
            .map_err(|e| eniwatch_core::model::Unavailable::new("cluster_facts", e.to_string())),
        selection: SelectionSettings::default(),
    }
}

fn sorted(mut input: StatusInput) -> StatusInput {
    input.nodes.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    input
        .pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    input
}

/// The emulator loaded with `input`, served; its address and a kubeconfig.
async fn serve(
    input: &StatusInput,
) -> Result<(KubeState, SocketAddr, tempfile::NamedTempFile), Box<dyn std::error::Error>> {
    let state = KubeState::empty("none", EmulatorOptions::default());
    load(&state, &serde_json::to_value(input)?, DEFAULT_FACTS_AT)?;
    let addr =
        eniwatch_lab::serve_on_loopback(eniwatch_lab::kube_emulator::router(state.clone())).await?;
    let kubeconfig = tempfile::NamedTempFile::new()?;
    std::fs::write(
        kubeconfig.path(),
        eniwatch_lab::serve::kubeconfig(&addr.to_string()),
    )?;
    Ok((state, addr, kubeconfig))
}

fn options() -> ListOptions {
    ListOptions {
        facts_namespace: DEFAULT_FACTS_AT.0.into(),
        facts_name: DEFAULT_FACTS_AT.1.into(),
        selection: SelectionSettings::default(),
    }
}

#[tokio::test]
async fn loaded_input_is_listed_back_equal_across_pages() -> TestResult {
    let want = input();
    let (state, _, kubeconfig) = serve(&want).await?;
    let client = client(Some(kubeconfig.path()), None).await?;
    let before = state.request_count();
    let got = list(&client, &options()).await?;
    assert_eq!(sorted(got), sorted(want));
    // nodes 1 + pods 3 (1,203 in pages of 500) + ENIConfigs, NodeClasses, facts.
    assert_eq!(state.request_count() - before, 7, "pages of 500");
    Ok(())
}

#[tokio::test]
async fn missing_crds_and_facts_are_answers_not_errors() -> TestResult {
    let mut want = input();
    want.eni_configs = Ok(None);
    want.node_classes = Ok(None);
    want.facts = Ok(None);
    let (_state, _, kubeconfig) = serve(&want).await?;
    let client = client(Some(kubeconfig.path()), None).await?;
    let got = list(&client, &options()).await?;
    assert_eq!(got.eni_configs, Ok(None));
    assert_eq!(got.node_classes, Ok(None));
    assert_eq!(got.facts, Ok(None));
    Ok(())
}

#[tokio::test]
async fn a_refused_eniconfig_list_is_unavailable_with_the_rule() -> TestResult {
    let want = input();
    let (state, _, kubeconfig) = serve(&want).await?;
    state.refuse("eniconfigs", 403);
    let client = client(Some(kubeconfig.path()), None).await?;
    let got = list(&client, &options()).await?;
    let err = got.eni_configs.err().ok_or("ENIConfigs were refused")?;
    assert_eq!(err.kind, "forbidden");
    assert!(
        err.reason.contains(
            r#"{apiGroups: ["crd.k8s.amazonaws.com"], resources: ["eniconfigs"], verbs: ["list"]}"#
        ),
        "{}",
        err.reason
    );
    Ok(())
}

fn eniwatch(args: &[&str]) -> Command {
    let mut cmd = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_eniwatch")));
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_pods_fail_with_the_rule_to_add() -> TestResult {
    let (state, _, kubeconfig) = serve(&input()).await?;
    state.refuse("pods", 403);
    let path = kubeconfig.path().to_string_lossy().to_string();
    let out =
        tokio::task::spawn_blocking(move || eniwatch(&["status", "--kubeconfig", &path]).output())
            .await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "inconclusive; stderr: {stderr}");
    assert!(
        stderr.contains(r#"listing pods is forbidden"#)
            && stderr.contains(r#"{apiGroups: [""], resources: ["pods"], verbs: ["list"]}"#),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no view printed");
    Ok(())
}

#[test]
fn no_kubeconfig_says_how_to_give_one() -> TestResult {
    let out = eniwatch(&["status"])
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--kubeconfig") && stderr.contains("aws eks update-kubeconfig"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn help_teaches_examples_exit_codes_and_rbac() -> TestResult {
    for bin in [
        env!("CARGO_BIN_EXE_eniwatch"),
        env!("CARGO_BIN_EXE_kubectl-eniwatch"),
    ] {
        let out = Command::new(bin).args(["status", "--help"]).output()?;
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{bin}");
        for needle in [
            "Examples:",
            "Exit codes:",
            "nodeclasses",
            "--watch",
            "NO_COLOR",
        ] {
            assert!(
                help.contains(needle),
                "{bin} status --help lacks {needle}:\n{help}"
            );
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-eniwatch"))
        .arg("--help")
        .output()?;
    assert!(String::from_utf8_lossy(&out.stdout).contains("on PATH"));
    Ok(())
}

#[tokio::test]
async fn an_expired_continue_restarts_the_list_once() -> TestResult {
    let want = input();
    let (state, _, kubeconfig) = serve(&want).await?;
    let client = client(Some(kubeconfig.path()), None).await?;
    state.expire_continues(1);
    let got = list(&client, &options()).await?;
    assert_eq!(
        sorted(got).pods,
        sorted(want).pods,
        "restarted whole, nothing twice"
    );
    state.expire_continues(2);
    let err = list(&client, &options())
        .await
        .err()
        .ok_or("expired twice")?;
    assert!(
        err.to_string().contains("expired the list of pods twice"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_refreshes_until_interrupted() -> TestResult {
    let (state, _, kubeconfig) = serve(&input()).await?;
    let path = kubeconfig.path().to_string_lossy().to_string();
    let child = eniwatch(&[
        "status",
        "--watch",
        "1s",
        "--output",
        "json",
        "--kubeconfig",
        &path,
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()?;
    let pid = child.id().to_string();
    let before = state.request_count();
    let mut waited = 0;
    // Two refreshes: 5 list requests and the facts' GET each.
    while state.request_count() - before < 12 && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(
        state.request_count() - before >= 12,
        "refreshed twice in 10 s"
    );
    Command::new("kill").args(["-INT", &pid]).status()?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "ends with the view's exit code on Ctrl-C, not killed by it: {:?}",
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.matches("\"schema_version\"").count() >= 2,
        "one document per refresh"
    );
    assert!(!stdout.contains('\x1b'), "no screen clearing into a pipe");
    Ok(())
}
