//! Prometheus metrics of eniwatch-cluster, on an explicit
//! [`prometheus::Registry`] (no global registry: each process, and each
//! test, owns its own). Names and labels are a public interface (alerts and
//! dashboards): add metrics, never rename one or change a label's meaning.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `eniwatch_cluster_build_info` | gauge | `version` | 1 |
//! | `eniwatch_cluster_subnet_size_ipv4_addresses` | gauge | `subnet`, `zone`, `zone_id`, `role` | addresses in the CIDR |
//! | `eniwatch_cluster_subnet_available_ipv4_addresses` | gauge | same | EC2's AvailableIpAddressCount |
//! | `eniwatch_cluster_subnet_free_prefixes` | gauge | same | free aligned /28 blocks (prefix subnets only) |
//! | `eniwatch_cluster_subnet_nodes` | gauge | same | nodes selecting (pod) or in (node) the subnet |
//! | `eniwatch_cluster_subnet_warm_demand_ipv4_addresses` | gauge | same | the zone's warm-pool demand (pod subnets) |
//! | `eniwatch_cluster_pod_subnet_route_ok` | gauge | `subnet`, `zone_id` | 1 ok, 0 a route finding; absent: unknown |
//! | `eniwatch_cluster_leaked_enis` | gauge | `subnet` | LeakedENI count |
//! | `eniwatch_cluster_findings` | gauge | `check`, `reason`, `severity` | current findings; every reason of every check, 0 when none |
//! | `eniwatch_cluster_check_status` | gauge | `check`, `status` | state set: exactly one status per check is 1 |
//! | `eniwatch_cluster_ec2_requests_total` | counter | `operation`, `outcome` | every EC2 attempt on the wire |
//! | `eniwatch_cluster_ec2_calls_deferred_total` | counter | `operation` | calls held back by the budget |
//! | `eniwatch_cluster_ec2_budget_calls_per_minute` | gauge | | `--ec2-calls-per-minute` |
//! | `eniwatch_cluster_source_up` | gauge | `source` (`kubernetes`, `ec2`) | 1 when the last read succeeded |
//! | `eniwatch_cluster_last_refresh_timestamp_seconds` | gauge | | Unix time the last refresh ended |
//! | `eniwatch_cluster_published_bytes` | gauge | | size of the published document |
//! | `eniwatch_cluster_publish_writes_total` | counter | `outcome` (`written`, `unchanged`, `error`) | ConfigMap writes |
//!
//! Cardinality: `subnet` is bounded by the VPC (at most a few hundred
//! subnets), every other label comes from a closed set. The per-subnet
//! series are rebuilt each refresh under a lock that `render` also takes,
//! so a scrape never sees them half rebuilt, and a subnet that left the VPC
//! leaves the metrics.
//!
//! Updating a metric never panics: every series is reached through [`with`]
//! (never the panicking accessor), which skips an update whose labels do not
//! fit and says so at debug level.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use eniwatch_core::checks::{CheckStatus, CLUSTER_CHECKS};
use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{Gauge, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::checks::ClusterEvaluation;

const SUBNET_LABELS: [&str; 4] = ["subnet", "zone", "zone_id", "role"];
const STATUSES: [CheckStatus; 5] = [
    CheckStatus::Ok,
    CheckStatus::Drift,
    CheckStatus::Unknown,
    CheckStatus::Skipped,
    CheckStatus::NotApplicable,
];
pub const PUBLISH_OUTCOMES: [&str; 3] = ["written", "unchanged", "error"];

/// The metrics and the registry they are rendered from.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    subnet_size: IntGaugeVec,
    subnet_available: IntGaugeVec,
    subnet_free_prefixes: IntGaugeVec,
    subnet_nodes: IntGaugeVec,
    subnet_warm_demand: IntGaugeVec,
    route_ok: IntGaugeVec,
    leaked: IntGaugeVec,
    findings: IntGaugeVec,
    check_status: IntGaugeVec,
    requests: IntCounterVec,
    deferred: IntCounterVec,
    budget: IntGauge,
    source_up: IntGaugeVec,
    last_refresh: Gauge,
    published_bytes: IntGauge,
    publish_writes: IntCounterVec,
    memory: Mutex<Memory>,
}

/// Totals already added to the counters fed from running counts.
#[derive(Debug, Default)]
struct Memory {
    requests: BTreeMap<(String, String), u64>,
    deferred: BTreeMap<String, u64>,
}

fn register<C: Collector + Clone + 'static>(r: &Registry, c: C) -> Result<C, prometheus::Error> {
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

/// Applies `f` to the series with these label values; a wrong label count
/// skips the update (said at debug level) rather than panicking.
pub fn with<T: MetricVecBuilder>(vec: &MetricVec<T>, labels: &[&str], f: impl FnOnce(T::M)) {
    match vec.get_metric_with_label_values(labels) {
        Ok(m) => f(m),
        Err(e) => {
            let descs = vec.desc();
            let name = descs.first().map_or("?", |d| d.fq_name.as_str());
            tracing::debug!(metric = name, error = %e, "metric series not updated");
        }
    }
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    register(r, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
}

impl Metrics {
    pub fn new(calls_per_minute: u32) -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
        let build = gauge_vec(
            &r,
            "eniwatch_cluster_build_info",
            "eniwatch-cluster's version (always 1).",
            &["version"],
        )?;
        with(&build, &[env!("CARGO_PKG_VERSION")], |g| g.set(1));
        let budget = register(
            &r,
            IntGauge::new(
                "eniwatch_cluster_ec2_budget_calls_per_minute",
                "The most EC2 calls made in any 60 s window.",
            )?,
        )?;
        budget.set(i64::from(calls_per_minute));
        let m = Metrics {
            subnet_size: gauge_vec(&r, "eniwatch_cluster_subnet_size_ipv4_addresses", "Addresses in the subnet's CIDR.", &SUBNET_LABELS)?,
            subnet_available: gauge_vec(&r, "eniwatch_cluster_subnet_available_ipv4_addresses", "Free addresses in the subnet, as EC2 counts them (AvailableIpAddressCount).", &SUBNET_LABELS)?,
            subnet_free_prefixes: gauge_vec(&r, "eniwatch_cluster_subnet_free_prefixes", "Free aligned /28 blocks in a pod subnet using prefix delegation.", &SUBNET_LABELS)?,
            subnet_nodes: gauge_vec(&r, "eniwatch_cluster_subnet_nodes", "Nodes whose ENIConfig names the subnet (pod) or whose address is in it (node).", &SUBNET_LABELS)?,
            subnet_warm_demand: gauge_vec(&r, "eniwatch_cluster_subnet_warm_demand_ipv4_addresses", "Addresses the warm pools of the subnet's nodes want (pod subnets).", &SUBNET_LABELS)?,
            route_ok: gauge_vec(&r, "eniwatch_cluster_pod_subnet_route_ok", "1 when the pod subnet's default route is private and as its zone's node subnets', 0 when not.", &["subnet", "zone_id"])?,
            leaked: gauge_vec(&r, "eniwatch_cluster_leaked_enis", "CNI ENIs left unattached (LeakedENI).", &["subnet"])?,
            findings: gauge_vec(&r, "eniwatch_cluster_findings", "Current findings of the cluster checks.", &["check", "reason", "severity"])?,
            check_status: gauge_vec(&r, "eniwatch_cluster_check_status", "1 for each cluster check's current status.", &["check", "status"])?,
            requests: counter_vec(&r, "eniwatch_cluster_ec2_requests_total", "EC2 attempts on the wire.", &["operation", "outcome"])?,
            deferred: counter_vec(&r, "eniwatch_cluster_ec2_calls_deferred_total", "EC2 calls held back by the calls-per-minute budget.", &["operation"])?,
            budget,
            source_up: gauge_vec(&r, "eniwatch_cluster_source_up", "1 when the last read of the source succeeded.", &["source"])?,
            last_refresh: register(&r, Gauge::new("eniwatch_cluster_last_refresh_timestamp_seconds", "Unix time the last refresh ended.")?)?,
            published_bytes: register(&r, IntGauge::new("eniwatch_cluster_published_bytes", "Size of the published facts document.")?)?,
            publish_writes: counter_vec(&r, "eniwatch_cluster_publish_writes_total", "Writes of the facts ConfigMap, by outcome.", &["outcome"])?,
            memory: Mutex::new(Memory::default()),
            registry: r,
        };
        for outcome in PUBLISH_OUTCOMES {
            with(&m.publish_writes, &[outcome], |c| c.inc_by(0));
        }
        Ok(m)
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One judgement: the per-subnet series, findings, check statuses.
    pub fn observe(&self, eval: &ClusterEvaluation, at: SystemTime) {
        let _guard = self.memory();
        for v in [
            &self.subnet_size,
            &self.subnet_available,
            &self.subnet_free_prefixes,
            &self.subnet_nodes,
            &self.subnet_warm_demand,
            &self.route_ok,
            &self.leaked,
        ] {
            v.reset();
        }
        for s in &eval.subnets {
            let zone = s.availability_zone.as_deref().unwrap_or("");
            let zone_id = s.availability_zone_id.as_deref().unwrap_or("");
            let labels = [s.id.as_str(), zone, zone_id, s.role];
            let set = |v: &IntGaugeVec, value: Option<u64>| {
                if let Some(value) = value {
                    with(v, &labels, |g| {
                        g.set(i64::try_from(value).unwrap_or(i64::MAX))
                    });
                }
            };
            set(&self.subnet_size, s.size);
            set(&self.subnet_available, s.free_addresses.map(u64::from));
            set(&self.subnet_free_prefixes, s.free_prefixes.map(u64::from));
            set(&self.subnet_nodes, Some(u64::from(s.nodes)));
            set(&self.subnet_warm_demand, s.warm_demand);
            match s.route {
                Some("ok") => with(&self.route_ok, &[s.id.as_str(), zone_id], |g| g.set(1)),
                Some("no_default_route" | "differs") => {
                    with(&self.route_ok, &[s.id.as_str(), zone_id], |g| g.set(0))
                }
                _ => {}
            }
        }
        for (subnet, n) in &eval.leaked_enis {
            let subnet = subnet.as_ref().map_or("", |s| s.as_str());
            with(&self.leaked, &[subnet], |g| g.add(i64::from(*n)));
        }
        for (check, reasons) in CLUSTER_CHECKS {
            for reason in *reasons {
                let n = eval.findings.iter().filter(|f| f.reason == *reason).count();
                let labels = [*check, reason.as_str(), reason.severity().as_str()];
                with(&self.findings, &labels, |g| {
                    g.set(i64::try_from(n).unwrap_or(i64::MAX))
                });
            }
            let status = eval
                .checks
                .iter()
                .find(|c| c.name == *check)
                .map_or(CheckStatus::Unknown, |c| c.status);
            for s in STATUSES {
                with(&self.check_status, &[*check, s.as_str()], |g| {
                    g.set(i64::from(s == status))
                });
            }
        }
        self.last_refresh.set(unix_seconds(at));
    }

    pub fn observe_source(&self, source: &str, up: bool) {
        with(&self.source_up, &[source], |g| g.set(i64::from(up)));
    }

    /// Adds what the running counts gained since the last call (a smaller
    /// total, from a fresh counter, only ever adds).
    pub fn observe_requests(&self, counts: &BTreeMap<(&'static str, &'static str), u64>) {
        let mut memory = self.memory();
        for ((op, outcome), total) in counts {
            let key = (op.to_string(), outcome.to_string());
            let seen = memory.requests.entry(key).or_insert(0);
            let delta = total.saturating_sub(*seen);
            *seen = (*seen).max(*total);
            with(&self.requests, &[op, outcome], |c| c.inc_by(delta));
        }
    }

    /// As [`Metrics::observe_requests`], for the calls the budget deferred.
    pub fn observe_deferred(&self, counts: &BTreeMap<&'static str, u64>) {
        let mut memory = self.memory();
        for (op, total) in counts {
            let seen = memory.deferred.entry(op.to_string()).or_insert(0);
            let delta = total.saturating_sub(*seen);
            *seen = (*seen).max(*total);
            with(&self.deferred, &[op], |c| c.inc_by(delta));
        }
    }

    /// A publish attempt: its outcome and the document's size.
    pub fn observe_publish(&self, outcome: &str, bytes: Option<usize>) {
        with(&self.publish_writes, &[outcome], |c| c.inc());
        if let Some(b) = bytes {
            self.published_bytes
                .set(i64::try_from(b).unwrap_or(i64::MAX));
        }
    }

    pub fn budget(&self) -> i64 {
        self.budget.get()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let guard = self.memory();
        let families = self.registry.gather();
        drop(guard);
        TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# metrics could not be encoded: {e}\n"))
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
