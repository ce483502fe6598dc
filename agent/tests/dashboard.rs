//! Every query of the Grafana dashboard and every alert expression, run
//! against a real Prometheus scraping `eniwatch run` in a drifted lab node
//! with EC2: each one must parse and evaluate, and each dashboard query must
//! return data (except the few listed in `MAY_BE_EMPTY`). The queries of
//! eniwatch-cluster's dashboard must parse and evaluate too; no cluster
//! component runs here, so they may return nothing. Needs `prometheus`
//! (Debian's package) and moto's EC2 server (both installed by scripts/setup.sh).

#[macro_use]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::*;
use serde_json::Value;

const PROMETHEUS: &str = "127.0.0.1:9090";

/// Dashboard queries (after substitution) that return nothing on this lab
/// node, and why that is right.
const MAY_BE_EMPTY: &[&str] = &[
    // "Sources failing": every source (IMDS, kernel, API, ipamd, EC2) is up.
    "count by (source) (eniwatch_source_up == 0 and on (instance) eniwatch_info{zone=~\".*\", nodegroup=~\".*\"})",
];

/// Metrics the queries read that have no series on this node (none of the
/// agent's: even the error counters exist, at 0, once their source has been
/// read); eniwatch-cluster's (this prefix) do not run here.
const MAY_BE_ABSENT: &[&str] = &[];
const CLUSTER_PREFIX: &str = "eniwatch_cluster_";

fn prometheus_available() -> bool {
    match common::skip::runs("prometheus", &["--version"]) {
        Ok(()) => true,
        Err(e) => {
            let why = format!("prometheus is not installed ({e}; run scripts/setup.sh)");
            common::skip::skip_or_fail("dashboard queries on a real Prometheus", &why);
            false
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs an instant query in the node's namespace: Ok(series) or Err(answer).
fn query(d: &Daemon, q: &str) -> Result<Vec<Value>, String> {
    let url = format!("http://{PROMETHEUS}/api/v1/query?query={}", url_encode(q));
    let out = d
        .node
        .command(lab_bin())
        .args(["fetch", &url])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&out.stdout).to_string();
    match serde_json::from_str::<Value>(&body) {
        Ok(v) if v["status"] == "success" => Ok(v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![v["data"]["result"].clone()])),
        _ => Err(body),
    }
}

/// Every panel's target expressions, rows' nested panels included.
fn panel_exprs(panels: &Value, out: &mut Vec<(String, String)>) {
    for p in panels.as_array().into_iter().flatten() {
        let title = p["title"].as_str().unwrap_or("?");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((title.to_string(), e.to_string()));
            }
        }
        panel_exprs(&p["panels"], out);
    }
}

/// `label_values(metric{...}, label)` (Grafana's syntax) as the PromQL
/// selector it reads.
fn variable_expr(q: &str) -> String {
    let inner = q
        .trim()
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unsupported variable query: {q}"));
    let (metric, _label) = inner
        .rsplit_once(',')
        .unwrap_or_else(|| panic!("label_values without a metric: {q}"));
    metric.trim().to_string()
}

/// Replaces `$name` and `${name}` of every variable, longest names first
/// (`$node` is a prefix of `$nodegroup`).
fn substitute(expr: &str, vars: &[(String, String)]) -> String {
    let mut e = expr.to_string();
    for (name, value) in vars {
        e = e
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!e.contains('$'), "unsubstituted variable in {e}");
    e
}

/// A dashboard's queries (variables' selectors and panels' targets) with its
/// variables replaced: `node` by `node_name`, multi-value ones by their
/// "All" value, Grafana's interval variables by a window of several 1 s
/// scrapes.
fn dashboard_queries(dashboard: &Value, node_name: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = ["__rate_interval", "__interval", "__range"]
        .iter()
        .map(|v| (v.to_string(), "1m".to_string()))
        .collect();
    let mut queries: Vec<(String, String)> = Vec::new();
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap().to_string();
        let value = match (v["type"].as_str(), name.as_str()) {
            (Some("datasource"), _) => "prometheus".to_string(),
            (_, "node") => node_name.to_string(),
            _ if v["includeAll"] == true => v["allValue"].as_str().unwrap_or(".*").to_string(),
            _ => panic!("no value for dashboard variable {name}"),
        };
        let q = &v["query"];
        if let Some(q) = q["query"]
            .as_str()
            .or(q.as_str())
            .filter(|_| v["type"] == "query")
        {
            queries.push((format!("variable {name}"), variable_expr(q)));
        }
        vars.push((name, value));
    }
    vars.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    panel_exprs(&dashboard["panels"], &mut queries);
    queries
        .into_iter()
        .map(|(t, e)| (t, substitute(&e, &vars)))
        .collect()
}

#[test]
fn every_dashboard_query_and_alert_evaluates_on_a_real_prometheus() {
    lab_ec2!();
    if !prometheus_available() {
        return;
    }
    let started = Instant::now();
    let root = root().join("deploy/components/prometheus-operator");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("dashboards/eniwatch.json")).unwrap(),
    )
    .expect("dashboard JSON");

    // With an `ec2:` section the lab publishes eniwatch-cluster's facts for
    // the node's subnets, which feed the subnet panels.
    let mut s = scenario("drifted");
    s.ec2 = Some(Default::default());
    let node_name = s.node.name.clone();

    let queries = dashboard_queries(&dashboard, &node_name);
    let cluster_dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("dashboards/eniwatch-cluster.json")).unwrap(),
    )
    .expect("cluster dashboard JSON");
    let cluster_queries = dashboard_queries(&cluster_dashboard, &node_name);
    assert!(
        cluster_queries.len() > 10,
        "nothing to query in the cluster dashboard"
    );
    for allowed in MAY_BE_EMPTY {
        assert!(
            queries.iter().any(|(_, e)| e == allowed),
            "MAY_BE_EMPTY lists a query the dashboard no longer has: {allowed}"
        );
    }

    let rules: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(root.join("prometheusrule.yaml")).unwrap())
            .expect("rules YAML");
    let mut alerts: Vec<(String, String)> = Vec::new();
    for g in rules["spec"]["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            let name = r["alert"].as_str().or(r["record"].as_str()).unwrap();
            alerts.push((name.to_string(), r["expr"].as_str().unwrap().to_string()));
        }
    }
    assert!(!alerts.is_empty() && queries.len() > 20, "nothing to query");

    let d = Daemon::start(s, &["--grace-period", "0", "--debounce", "20ms"]);
    let dir = tempfile::tempdir().unwrap();
    let mut prom = d.start_prometheus(dir.path(), PROMETHEUS);
    let scraped = d.wait_for(Duration::from_secs(30), |d| {
        query(d, "eniwatch_cycles_total").is_ok_and(|r| !r.is_empty())
    });

    // A drift that begins after the first scrape, for increase() to see.
    let ip = d.scenario.pod("shop/web-00").unwrap().ip.unwrap();
    d.node
        .ip(&format!("route del {ip}/32 table main\n"))
        .unwrap();

    // Poll until every query that must have data has it (rate() and
    // increase() need two samples).
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut results;
    loop {
        results = queries
            .iter()
            .map(|(_, e)| query(&d, e))
            .collect::<Vec<_>>();
        let missing = queries.iter().zip(&results).any(|((_, e), r)| {
            !MAY_BE_EMPTY.contains(&e.as_str()) && r.as_ref().is_ok_and(|r| r.is_empty())
        });
        if !scraped || !missing || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let alert_results: Vec<_> = alerts.iter().map(|(_, e)| query(&d, e)).collect();
    let cluster_results: Vec<_> = cluster_queries.iter().map(|(_, e)| query(&d, e)).collect();
    // Every eniwatch metric read anywhere exists (`... or vector(0)` hides a
    // misspelt name from the checks above).
    let mut names: Vec<&str> = queries
        .iter()
        .chain(&alerts)
        .flat_map(|(_, e)| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.starts_with("eniwatch_") && !w.starts_with(CLUSTER_PREFIX))
        .collect();
    names.sort();
    names.dedup();
    let unknown: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !MAY_BE_ABSENT.contains(n) && query(&d, n).map_or(true, |r| r.is_empty()))
        .collect();
    let _ = prom.kill();
    let _ = prom.wait();
    assert!(
        scraped,
        "Prometheus never scraped eniwatch_cycles_total:\n{}",
        d.logs()
    );

    let mut failures: Vec<String> = unknown.iter().map(|n| format!("no metric {n}")).collect();
    for ((title, e), r) in queries.iter().zip(&results) {
        match r {
            Ok(series) => {
                let one = match &series[..] {
                    [s] => format!(" (value {})", s["value"][1]),
                    _ => String::new(),
                };
                println!("{:>3} series{one}  {title}: {e}", series.len());
                if series.is_empty() && !MAY_BE_EMPTY.contains(&e.as_str()) {
                    failures.push(format!("no data: {title}: {e}"));
                }
            }
            Err(body) => failures.push(format!("query failed: {title}: {e}\n  {body}")),
        }
    }
    for ((title, e), r) in cluster_queries.iter().zip(&cluster_results) {
        match r {
            Ok(series) => println!("{:>3} series  cluster {title}: {e}", series.len()),
            Err(body) => failures.push(format!("query failed: cluster {title}: {e}\n  {body}")),
        }
    }
    for ((name, e), r) in alerts.iter().zip(&alert_results) {
        match r {
            Ok(series) => println!("{:>3} series  alert {name}", series.len()),
            Err(body) => failures.push(format!("alert {name} failed: {e}\n  {body}")),
        }
    }
    println!(
        "{} + {} dashboard queries, {} alerts, {} metric names in {:?}",
        queries.len(),
        cluster_queries.len(),
        alerts.len(),
        names.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
