//! `eniwatch status` end to end on the fixture cluster: its input loaded
//! into the lab's Kubernetes emulator, the shipped binary run against it
//! over HTTP (stdout is a pipe: 80 columns, no colour), and its output
//! compared byte for byte with the golden files of the pure part
//! (`core/tests/golden/status.txt`, `status.json`). Equal output proves
//! the lister reads back exactly what was loaded.

use std::path::PathBuf;
use std::process::{Command, Output};

use eniwatch_core::status::fixture::migration_cluster;
use eniwatch_lab::kube_emulator::{router, EmulatorOptions, KubeState};
use eniwatch_lab::status_load::{load, DEFAULT_FACTS_AT};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn golden(name: &str) -> Result<String, std::io::Error> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/golden")
        .join(name);
    std::fs::read_to_string(path)
}

/// `BIN status ARGS` against the fixture cluster loaded into an emulator;
/// `label`: pass the fixture's ENI_CONFIG_LABEL_DEF (else it is inferred).
async fn status(
    bin: &'static str,
    args: &'static [&'static str],
    label: bool,
) -> Result<Output, Box<dyn std::error::Error>> {
    let state = KubeState::empty("none", EmulatorOptions::default());
    load(
        &state,
        &serde_json::to_value(migration_cluster())?,
        DEFAULT_FACTS_AT,
    )?;
    let addr = eniwatch_lab::serve_on_loopback(router(state)).await?;
    let kubeconfig = tempfile::NamedTempFile::new()?;
    std::fs::write(
        kubeconfig.path(),
        eniwatch_lab::serve::kubeconfig(&addr.to_string()),
    )?;
    let path = kubeconfig.path().to_string_lossy().to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(bin);
        cmd.arg("status")
            .args(args)
            .args(["--kubeconfig", &path])
            .env_remove("NO_COLOR")
            .env_remove("ENI_CONFIG_LABEL_DEF");
        if label {
            // The fixture's aws-node has ENI_CONFIG_LABEL_DEF set to the zone.
            cmd.args(["--eniconfig-label", "topology.kubernetes.io/zone"]);
        }
        cmd.output()
    })
    .await??;
    Ok(out)
}

const ENIWATCH: &str = env!("CARGO_BIN_EXE_eniwatch");

fn first_difference(want: &str, got: &str) -> String {
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
    format!(
        "first difference at line {}:\n--- golden\n{}\n--- eniwatch status\n{}",
        line + 1,
        want.lines().nth(line).unwrap_or("(end)"),
        got.lines().nth(line).unwrap_or("(end)")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_output_equals_the_golden_file() -> TestResult {
    let out = status(ENIWATCH, &[], true).await?;
    let got = String::from_utf8(out.stdout)?;
    let want = golden("status.txt")?;
    assert!(got == want, "{}", first_difference(&want, &got));
    assert!(
        !got.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the fixture's migration is not done"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_equals_the_golden_file() -> TestResult {
    let out = status(ENIWATCH, &["--output", "json"], true).await?;
    let got = String::from_utf8(out.stdout)?;
    let want = golden("status.json")?;
    assert!(got == want, "{}", first_difference(&want, &got));
    assert_eq!(out.status.code(), Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_plugin_prints_the_same() -> TestResult {
    let out = status(ENIWATCH, &["--output", "json"], true).await?;
    let plugin = status(
        env!("CARGO_BIN_EXE_kubectl-eniwatch"),
        &["--output", "json"],
        true,
    )
    .await?;
    assert!(
        plugin.stdout == out.stdout,
        "kubectl eniwatch status prints what eniwatch status does"
    );
    assert_eq!(plugin.status.code(), out.status.code());
    Ok(())
}

#[tokio::test]
async fn the_fixture_is_listed_back_equal() -> TestResult {
    use eniwatch::status::command::client;
    use eniwatch::status::list::{list, ListOptions};
    let want = migration_cluster();
    let state = KubeState::empty("none", EmulatorOptions::default());
    load(&state, &serde_json::to_value(&want)?, DEFAULT_FACTS_AT)?;
    let addr = eniwatch_lab::serve_on_loopback(router(state)).await?;
    let kubeconfig = tempfile::NamedTempFile::new()?;
    std::fs::write(
        kubeconfig.path(),
        eniwatch_lab::serve::kubeconfig(&addr.to_string()),
    )?;
    let client = client(Some(kubeconfig.path()), None).await?;
    let options = ListOptions {
        facts_namespace: DEFAULT_FACTS_AT.0.into(),
        facts_name: DEFAULT_FACTS_AT.1.into(),
        selection: want.selection.clone(),
    };
    let mut got = list(&client, &options).await?;
    let mut want = want;
    for input in [&mut got, &mut want] {
        input.nodes.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        input
            .pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    }
    for (g, w) in got.nodes.iter().zip(&want.nodes) {
        assert_eq!(g, w);
    }
    for (g, w) in got.pods.iter().zip(&want.pods) {
        assert_eq!(g, w);
    }
    assert_eq!(got, want);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_named_eniconfigs_are_selected_by_zone_without_the_flag() -> TestResult {
    let out = status(ENIWATCH, &[], false).await?;
    let got = String::from_utf8(out.stdout)?;
    let want = golden("status.txt")?;
    assert!(got == want, "{}", first_difference(&want, &got));
    let err = String::from_utf8(out.stderr)?;
    assert!(
        err.contains("selecting them by topology.kubernetes.io/zone"),
        "the inference is said: {err}"
    );
    Ok(())
}
