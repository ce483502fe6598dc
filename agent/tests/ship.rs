//! What ships beside the binary: the image, the manifests, the alerts, the
//! dashboard, the systemd unit and the docs that describe them.
//!
//! - `scripts/check-ship.sh` (hadolint, kustomize, Kubernetes schemas,
//!   promtool, systemd-analyze) passes. Its tools come from
//!   `scripts/setup-ship.sh`; without them the test is skipped with a printed
//!   reason, and fails in CI (`CI=true`).
//! - docs/configuration.md documents exactly the options of `eniwatch check`,
//!   `run` and `reasons`, with the same environment variables and defaults as
//!   `--help` says, and names no option that does not exist.
//! - The environment variables and flags used in deploy/ and
//!   systemd/eniwatch.env.example exist: the agent's in its `--help`,
//!   eniwatch-cluster's in the option table of docs/cluster.md.
//! - Every finding reason has a runbook entry and (unless informational) an
//!   alert; the alerts and the runbook name no reason that does not exist.
//! - The alerts and the dashboards use only metrics the agent exports or
//!   docs/cluster.md lists for eniwatch-cluster (and, where cluster/src names
//!   its metrics, the same ones).
//! - The RBAC for `eniwatch status` is read-only and grants what it lists;
//!   eniwatch-cluster may list and watch NodeClasses (`ship/rbac.rs`).

#[path = "common/bin.rs"]
mod bin;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "ship/help.rs"]
mod help;
#[path = "ship/missing_tools.rs"]
mod missing_tools;
#[path = "ship/rbac.rs"]
mod rbac;
#[path = "common/skip.rs"]
mod skip;

use help::{backticked, commands, doc_rows, help_options, DocRow};

const RULES: &str = "deploy/components/prometheus-operator/prometheusrule.yaml";
const DASHBOARD: &str = "deploy/components/prometheus-operator/dashboards/eniwatch.json";
const CLUSTER_DASHBOARD: &str =
    "deploy/components/prometheus-operator/dashboards/eniwatch-cluster.json";
const CLUSTER_DOC: &str = "docs/cluster.md";
const CONFIGURATION: &str = "docs/configuration.md";
const RUNBOOK: &str = "docs/runbook.md";
const ENV_EXAMPLE: &str = "systemd/eniwatch.env.example";

/// Reasons whose alert reads metrics rather than `eniwatch_findings`
/// (one alert per subnet instead of one per node), with that alert.
const METRIC_ALERTS: &[(&str, &str)] =
    &[("SubnetNearlyExhausted", "EniwatchSubnetNearlyExhausted")];

/// Environment variables the binary reads that are not an option's.
const ENV_ONLY: &[&str] = &["RUST_LOG"];

/// The workspace's root.
fn root() -> PathBuf {
    let agent = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    agent.parent().unwrap_or(agent).to_path_buf()
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Runs the binary with an empty environment, so that `--help` shows
/// `[env: NAME=]` without anyone's values.
fn eniwatch(args: &[&str]) -> String {
    let out = Command::new(bin::eniwatch_bin())
        .args(args)
        .env_clear()
        .output()
        .expect("run eniwatch");
    assert!(
        out.status.success(),
        "eniwatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn check_ship_passes() {
    let out = Command::new("bash")
        .arg(root().join("scripts/check-ship.sh"))
        .env("ENIWATCH_BIN", bin::eniwatch_bin())
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => print!("{stdout}"),
        Some(77) => skip::skip_or_fail("scripts/check-ship.sh", stderr.trim()),
        _ => panic!("scripts/check-ship.sh failed:\n{stdout}{stderr}"),
    }
}

#[test]
fn configuration_doc_matches_the_cli() {
    let doc = read(CONFIGURATION);
    let rows = doc_rows(&doc);
    assert!(
        rows.len() > 20,
        "option tables not found in {CONFIGURATION}"
    );
    let mut problems = Vec::new();

    let mut seen = BTreeSet::new();
    for row in &rows {
        if !seen.insert(row.flag.clone()) {
            problems.push(format!("{} documented twice", row.flag));
        }
    }

    let commands = commands();
    let mut all_flags = BTreeSet::new();
    for command in &commands {
        if !doc.contains(&format!("`eniwatch {command}`")) {
            problems.push(format!("`eniwatch {command}` is not described"));
        }
        let help = help_options(command);
        all_flags.extend(help.keys().cloned());
        let documented: BTreeMap<&str, &DocRow> = rows
            .iter()
            .filter(|r| r.used_by.contains(command.as_str()))
            .map(|r| (r.flag.as_str(), r))
            .collect();
        for (flag, opt) in &help {
            match documented.get(flag.as_str()) {
                None => problems.push(format!(
                    "`{command} {flag}` is not documented (or its row lacks `{command}` under used by)"
                )),
                Some(row) if row.opt != *opt => problems.push(format!(
                    "`{command} {flag}`: --help says env {:?}, default {:?}; the doc says env {:?}, default {:?}",
                    opt.env, opt.default, row.opt.env, row.opt.default
                )),
                Some(_) => {}
            }
        }
        for flag in documented.keys() {
            if !help.contains_key(*flag) {
                problems.push(format!(
                    "`{command} {flag}` is documented but `{command} --help` has no such option"
                ));
            }
        }
    }
    for row in &rows {
        for command in &row.used_by {
            if !commands.contains(command) {
                problems.push(format!("{}: used by unknown command {command:?}", row.flag));
            }
        }
    }

    // Any --flag named anywhere on the page must exist.
    for word in doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if let Some(name) = word.strip_prefix("--") {
            let flag = format!("--{name}");
            if name.starts_with(|c: char| c.is_ascii_lowercase())
                && !all_flags.contains(&flag)
                && flag != "--help"
                && flag != "--version"
            {
                problems.push(format!(
                    "{CONFIGURATION} names {flag}, which no command has"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{CONFIGURATION} and the CLI disagree:\n- {}",
        problems.join("\n- ")
    );
}

/// eniwatch-cluster's settings as docs/cluster.md documents them: the
/// environment variables of its options, and the options of `run`.
fn cluster_settings() -> (BTreeSet<String>, BTreeSet<String>) {
    let rows = doc_rows(&read(CLUSTER_DOC));
    assert!(rows.len() > 10, "option table not found in {CLUSTER_DOC}");
    let mut envs: BTreeSet<String> = ENV_ONLY.iter().map(|s| s.to_string()).collect();
    envs.extend(rows.iter().filter_map(|r| r.opt.env.clone()));
    let run = rows
        .iter()
        .filter(|r| r.used_by.contains("run"))
        .map(|r| r.flag.clone())
        .collect();
    (envs, run)
}

/// Every environment variable and flag that deploy/ and the systemd example
/// hand to the binaries exists. A manifest line belongs to eniwatch-cluster
/// in deploy/components/cluster/ and after a `name: eniwatch-cluster` (a
/// patch's target, the container), to the agent after `name: eniwatch`.
#[test]
fn deploy_and_systemd_use_existing_settings() {
    let mut envs: BTreeSet<String> = ENV_ONLY.iter().map(|s| s.to_string()).collect();
    let run = help_options("run");
    for command in commands() {
        envs.extend(help_options(&command).into_values().filter_map(|o| o.env));
    }
    let (cluster_envs, cluster_run) = cluster_settings();
    let mut problems = Vec::new();

    for line in read(ENV_EXAMPLE).lines() {
        let line = line.trim_start_matches('#');
        if let Some((name, _)) = line.split_once('=') {
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                && !envs.contains(name)
            {
                problems.push(format!("{ENV_EXAMPLE}: {name} is not read by eniwatch"));
            }
        }
    }

    let mut files = Vec::new();
    collect(&root().join("deploy"), &mut files);
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        if rel.contains("/tests/") || rel.ends_with("prometheusrule.yaml") {
            continue;
        }
        let text = fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let mut cluster = rel.starts_with("deploy/components/cluster/");
        for (i, line) in lines.iter().enumerate() {
            match line.trim_start_matches("- ") {
                "name: eniwatch-cluster" => cluster = true,
                "name: eniwatch" => cluster = false,
                _ => {}
            }
            let (envs, run_flags, program) = if cluster {
                (&cluster_envs, &cluster_run, "eniwatch-cluster")
            } else {
                (&envs, &run.keys().cloned().collect(), "eniwatch")
            };
            // Container env entries: `- name: X` followed by value/valueFrom.
            if let Some(name) = line
                .strip_prefix("- name: ")
                .or_else(|| line.strip_prefix("name: "))
            {
                let next = lines.get(i + 1).copied().unwrap_or("");
                let is_env = next.starts_with("value:") || next.starts_with("valueFrom:");
                if is_env
                    && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    && !envs.contains(name)
                {
                    problems.push(format!("{rel}: env {name} is not read by {program}"));
                }
            }
            // Flags appended to the container's args.
            if let Some(flag) = line.strip_prefix("value: --").map(|f| format!("--{f}")) {
                if !run_flags.contains(&flag) {
                    problems.push(format!("{rel}: `{program} run` has no {flag}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "unknown settings:\n- {}",
        problems.join("\n- ")
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The reasons `eniwatch reasons` prints, with their severity.
fn reasons() -> BTreeMap<String, String> {
    let table = eniwatch(&["reasons"]);
    let mut reasons = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`').to_string();
        reasons.insert(name, cells.get(1).copied().unwrap_or("").to_string());
    }
    assert!(reasons.len() >= 10, "no reasons in:\n{table}");
    reasons
}

/// Reasons named in the alert expressions: `reason="X"` and `reason=~"X|Y"`.
fn alerted_reasons(rules: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for start in ["reason=\"", "reason=~\""] {
        for (at, _) in rules.match_indices(start) {
            let rest = &rules[at + start.len()..];
            let value = &rest[..rest.find('"').expect("closing quote")];
            found.extend(value.split('|').map(str::to_string));
        }
    }
    found
}

#[test]
fn every_reason_has_a_runbook_entry_and_an_alert() {
    let reasons = reasons();
    let rules = read(RULES);
    let runbook = read(RUNBOOK);
    let alerted = alerted_reasons(&rules);
    let mut problems = Vec::new();
    for (reason, severity) in &reasons {
        if !runbook.contains(&format!("`{reason}`")) {
            problems.push(format!("{reason} is not in {RUNBOOK}"));
        }
        let by_metrics = METRIC_ALERTS.iter().find(|(r, _)| *r == reason.as_str());
        if severity == "info" {
            // Informational findings never count as drift, so an alert on
            // eniwatch_findings for them could never fire.
            if alerted.contains(reason) {
                problems.push(format!(
                    "{reason} is informational but an alert waits for it"
                ));
            }
        } else if let Some((_, alert)) = by_metrics {
            if !rules.contains(&format!("alert: {alert}\n")) {
                problems.push(format!("{reason}: its alert {alert} is missing"));
            }
        } else if !alerted.contains(reason) {
            problems.push(format!("{reason} ({severity}) raises no alert in {RULES}"));
        }
    }
    for reason in &alerted {
        if !reasons.contains_key(reason) {
            problems.push(format!(
                "{RULES} names {reason}, which `eniwatch reasons` does not list"
            ));
        }
    }
    // The runbook's reason table names only real reasons.
    for line in runbook.lines().filter(|l| l.starts_with("| `")) {
        let first = line.trim_matches('|').split('|').next().unwrap_or("");
        for reason in backticked(first) {
            if !reasons.contains_key(reason) {
                problems.push(format!(
                    "{RUNBOOK} names {reason}, which `eniwatch reasons` does not list"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "reasons, alerts and runbook disagree:\n- {}",
        problems.join("\n- ")
    );
}

/// Metric names in `text`: `eniwatch_...` words.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("eniwatch_"))
        .map(str::to_string)
        .collect()
}

/// The metric names a crate's source spells out: `"eniwatch_..."` literals.
fn named_in_source(dir: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    collect(&root().join(dir), &mut files);
    let mut names = BTreeSet::new();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        let text = fs::read_to_string(path).unwrap();
        for (at, _) in text.match_indices("\"eniwatch_") {
            let rest = &text[at + 1..];
            // A literal that is a name and nothing more (test expectations
            // such as `eniwatch_x{label=...}` are not registrations).
            if let Some(end) = rest.find('"') {
                let name = &rest[..end];
                if name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names
}

/// The metrics table of docs/cluster.md: eniwatch-cluster's public names.
fn cluster_doc_metrics() -> BTreeSet<String> {
    let names: BTreeSet<String> = read(CLUSTER_DOC)
        .lines()
        .filter(|l| l.starts_with("| `eniwatch_cluster_"))
        .filter_map(|l| backticked(l).first().map(|n| n.to_string()))
        .collect();
    assert!(names.len() > 10, "no metrics table in {CLUSTER_DOC}");
    names
}

#[test]
fn alerts_and_dashboard_use_exported_metrics() {
    // The names the agent registers: string literals in its source; the
    // cluster component's: its documented table, which its source must
    // match once it spells the names out.
    let mut exported = named_in_source("agent/src");
    let documented = cluster_doc_metrics();
    let in_cluster_src: BTreeSet<String> = named_in_source("cluster/src")
        .into_iter()
        .filter(|n| n.starts_with("eniwatch_cluster_"))
        .collect();
    let mut problems = Vec::new();
    if !in_cluster_src.is_empty() && in_cluster_src != documented {
        problems.push(format!(
            "cluster/src names {:?} that {CLUSTER_DOC} does not list, and lacks {:?} that it lists",
            in_cluster_src.difference(&documented).collect::<Vec<_>>(),
            documented.difference(&in_cluster_src).collect::<Vec<_>>()
        ));
    }
    exported.extend(documented);
    for file in [RULES, DASHBOARD, CLUSTER_DASHBOARD] {
        for name in metric_names(&read(file)) {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name.as_str());
            if !exported.contains(&name) && !exported.contains(base) {
                problems.push(format!("{file} uses {name}, which neither program exports"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "unknown metrics:\n- {}",
        problems.join("\n- ")
    );
}
