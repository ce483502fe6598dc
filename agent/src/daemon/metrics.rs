//! Prometheus metrics of the agent, on an explicit [`prometheus::Registry`]
//! (no global registry: each agent, and each test, owns its own).
//!
//! The metric names and labels are a public interface: alerts and dashboards
//! use them. Add metrics; never rename one or change a label's meaning.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `eniwatch_info` | gauge | `node`, `instance_type`, `zone`, `zone_id`, `eniconfig`, `nodegroup`, `mode` | 1: the node's identity (a field that a cycle could not read keeps its last known value); `mode` is the networking mode: `custom_networking`, `standard`, `eks_auto_mode` or `not_applicable` |
//! | `eniwatch_build_info` | gauge | `version` | 1 |
//! | `eniwatch_findings` | gauge | `reason` | findings past the grace period (drift, and the informational `ENILimitReached`); every reason, 0 when none |
//! | `eniwatch_drift_transitions_total` | counter | `reason`, `transition` | drifts that `began` or `resolved` |
//! | `eniwatch_check_status` | gauge | `check`, `status` | state set: per check, `ok`, `drift`, `unknown`, `skipped`, `not_applicable`, exactly one is 1 |
//! | `eniwatch_pods` | gauge | `placement` | pods on the node by where their IP is: `eniconfig_subnet`, `node_subnet`, `other`, `host_network`, `branch_eni`, `unplaced` |
//! | `eniwatch_enis` | gauge | `role` | attached ENIs by role: `primary`, `secondary`, `trunk`, `efa-only`, `unmanaged` |
//! | `eniwatch_enis_configured` | gauge | `configured` | ENIs the kernel has (`true`) or lacks (`false`, an active `ENINotConfigured`) |
//! | `eniwatch_secondary_ipv4_addresses` | gauge | `state` | pod addresses on secondary ENIs: `total`, `assigned` (to pods), `free` (the warm pool) |
//! | `eniwatch_eni_ipv4_addresses` | gauge | `device`, `card`, `state` | the same per ENI (device number, network card); detached ENIs disappear |
//! | `eniwatch_source_up` | gauge | `source` | 1 when the last read of the source succeeded |
//! | `eniwatch_source_errors_total` | counter | `source`, `kind` | failed reads by error kind (`timeout`, `unreachable`, `throttled`, ...; every kind from 0 once the source is read) |
//! | `eniwatch_source_last_success_timestamp_seconds` | gauge | `source` | Unix time of the last successful read |
//! | `eniwatch_requests_total` | counter | `target`, `outcome` | requests to outside systems |
//! | `eniwatch_cycle_duration_seconds` | histogram | | time to gather and judge one snapshot |
//! | `eniwatch_cycles_total` | counter | | cycles run |
//! | `eniwatch_last_cycle_timestamp_seconds` | gauge | | Unix time the last cycle ended |
//!
//!
//! Capacity, warm-pool, subnet and EC2 metrics: see [`super::metrics_pool`].
//!
//! Updating a metric never panics: every series is reached through [`with`]
//! (never the panicking `with_label_values`), which skips an update whose
//! labels do not fit the metric and says so at debug level.
//!
//! Cardinality policy: every label value comes from a closed set (reasons,
//! checks, roles, sources, error kinds, request outcomes) or is bounded by the
//! hardware (`device` and `card`: a node has at most ~50 ENIs), plus the one
//! identity series of `eniwatch_info`. No label ever carries a pod, an IP or a
//! message: those are in the events and on `/debug/snapshot`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use super::metrics_pool::PoolMetrics;
use eniwatch_core::checks::Reason;
use eniwatch_core::model::ERROR_KINDS;
use eniwatch_core::sources::requests::RequestCounts;

/// From 1 ms (a cycle on cached data) to 10 s (slow IMDS or API server).
const CYCLE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The agent's metrics and the registry they are rendered from.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    info: IntGaugeVec,
    findings: IntGaugeVec,
    transitions: IntCounterVec,
    check_status: IntGaugeVec,
    pods: IntGaugeVec,
    enis: IntGaugeVec,
    enis_configured: IntGaugeVec,
    secondary_ips: IntGaugeVec,
    eni_ips: IntGaugeVec,
    source_up: IntGaugeVec,
    source_errors: IntCounterVec,
    source_last_success: GaugeVec,
    requests: IntCounterVec,
    cycle_duration: Histogram,
    cycles: IntCounter,
    last_cycle: Gauge,
    /// Also serialises a cycle's reset-then-set against `render`, so a scrape
    /// never sees the per-ENI or info series half rebuilt.
    memory: Mutex<Memory>,
    /// Capacity, warm pool, subnet and EC2 metrics.
    pub pool: PoolMetrics,
}

#[derive(Debug, Default)]
struct Memory {
    /// Last known `eniwatch_info` labels, in label order.
    info: [String; 7],
    /// Request totals already added to `eniwatch_requests_total`.
    requests: BTreeMap<(&'static str, &'static str), u64>,
    /// Sources whose error counters exist (at 0 or more).
    sources: BTreeSet<String>,
}

fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// Applies `f` to the series with these label values. A wrong label count
/// is a programming error (the label sets are constants, and the tests
/// render every series); a scrape missing one series beats a panicking
/// agent, and a line per cycle at warn level would bury the logs, so it is
/// said at debug level.
pub(super) fn with<T: MetricVecBuilder>(vec: &MetricVec<T>, labels: &[&str], f: impl FnOnce(T::M)) {
    match vec.get_metric_with_label_values(labels) {
        Ok(m) => f(m),
        Err(e) => {
            let descs = vec.desc();
            let name = descs.first().map_or("?", |d| d.fq_name.as_str());
            tracing::debug!(
                metric = name,
                labels = %labels.join(","),
                error = %e,
                "metric series not updated: its labels do not fit the metric"
            );
        }
    }
}

/// Adds to `counter` what `counts` counted since `seen` was taken (and
/// updates `seen`). A smaller total means a fresh RequestCounts: all of it is new.
pub(super) fn add_new_counts(
    counter: &IntCounterVec,
    seen: &mut BTreeMap<(&'static str, &'static str), u64>,
    counts: &RequestCounts,
) {
    for (key, n) in counts.snapshot() {
        let before = seen.insert(key, n).unwrap_or(0);
        let delta = if n >= before { n - before } else { n };
        with(counter, &[key.0, key.1], |c| c.inc_by(delta));
    }
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
        let g = |name: &str, help: &str, labels: &[&str]| {
            register(&r, IntGaugeVec::new(Opts::new(name, help), labels)?)
        };
        let c = |name: &str, help: &str, labels: &[&str]| {
            register(&r, IntCounterVec::new(Opts::new(name, help), labels)?)
        };
        let info = [
            "node",
            "instance_type",
            "zone",
            "zone_id",
            "eniconfig",
            "nodegroup",
            "mode",
        ];
        let ips = ["device", "card", "state"];
        let timestamp = Opts::new(
            "eniwatch_source_last_success_timestamp_seconds",
            "Unix time of the last successful read of the source.",
        );
        let duration = HistogramOpts::new(
            "eniwatch_cycle_duration_seconds",
            "Time to gather and judge one snapshot.",
        )
        .buckets(CYCLE_BUCKETS.to_vec());
        let last = "Unix time the last cycle ended.";
        let m = Metrics {
            info: g("eniwatch_info", "The node's identity; always 1.", &info)?,
            findings: g(
                "eniwatch_findings",
                "Findings past the grace period: drift, and the informational ENILimitReached.",
                &["reason"],
            )?,
            transitions: c(
                "eniwatch_drift_transitions_total",
                "Drifts that began or resolved.",
                &["reason", "transition"],
            )?,
            check_status: g(
                "eniwatch_check_status",
                "Settled status of each check: one of ok, drift, unknown, skipped, not_applicable is 1.",
                &["check", "status"],
            )?,
            pods: g(
                "eniwatch_pods",
                "Pods by where their IP is.",
                &["placement"],
            )?,
            enis: g("eniwatch_enis", "Attached ENIs by role.", &["role"])?,
            enis_configured: g(
                "eniwatch_enis_configured",
                "Attached ENIs by whether the kernel has them configured.",
                &["configured"],
            )?,
            secondary_ips: g(
                "eniwatch_secondary_ipv4_addresses",
                "Pod IPv4 addresses on secondary ENIs; free is the warm pool.",
                &["state"],
            )?,
            eni_ips: g(
                "eniwatch_eni_ipv4_addresses",
                "Pod IPv4 addresses per ENI (device number, network card).",
                &ips,
            )?,
            source_up: g(
                "eniwatch_source_up",
                "1 when the last read of the source succeeded.",
                &["source"],
            )?,
            source_errors: c(
                "eniwatch_source_errors_total",
                "Failed reads of a source, by error kind.",
                &["source", "kind"],
            )?,
            source_last_success: register(&r, GaugeVec::new(timestamp, &["source"])?)?,
            requests: c(
                "eniwatch_requests_total",
                "Requests to outside systems, by target and outcome.",
                &["target", "outcome"],
            )?,
            cycle_duration: register(&r, Histogram::with_opts(duration)?)?,
            cycles: register(&r, IntCounter::new("eniwatch_cycles_total", "Cycles run.")?)?,
            last_cycle: register(
                &r,
                Gauge::new("eniwatch_last_cycle_timestamp_seconds", last)?,
            )?,
            memory: Mutex::new(Memory::default()),
            pool: PoolMetrics::new(&r)?,
            registry: r.clone(),
        };
        let build = g(
            "eniwatch_build_info",
            "The agent's version; always 1.",
            &["version"],
        )?;
        with(&build, &[env!("CARGO_PKG_VERSION")], |g| g.set(1));
        // Counters start at 0 for every bounded label set, so `increase()`
        // sees the first drift instead of a series appearing at 1.
        for r in Reason::ALL {
            for t in ["began", "resolved"] {
                with(&m.transitions, &[r.as_str(), t], |_| ());
            }
        }
        Ok(m)
    }

    /// Copies the request counts into `eniwatch_requests_total`, adding what
    /// was counted since the last call.
    pub fn observe_requests(&self, counts: &RequestCounts) {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        add_new_counts(&self.requests, &mut memory.requests, counts);
    }

    /// Records one read of a source (`imds`, `kernel`, `kubernetes`, ...).
    /// `error_kind` is the bounded kind of [`eniwatch_core::model::Unavailable`];
    /// `error` when absent.
    ///
    /// A source's first read creates its error counters at 0 for every kind
    /// in [`ERROR_KINDS`], so `rate()` and `increase()` see its first failure;
    /// a source that is switched off never gets series.
    pub fn observe_source(&self, source: &str, ok: bool, error_kind: Option<&str>, at: SystemTime) {
        {
            let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
            if !memory.sources.contains(source) {
                memory.sources.insert(source.to_string());
                for kind in ERROR_KINDS {
                    with(&self.source_errors, &[source, kind], |_| ());
                }
            }
        }
        with(&self.source_up, &[source], |g| g.set(i64::from(ok)));
        if ok {
            with(&self.source_last_success, &[source], |g| {
                g.set(unix_seconds(at))
            });
        } else {
            let kind = error_kind.unwrap_or("error");
            with(&self.source_errors, &[source, kind], |c| c.inc());
        }
    }

    /// The text exposition format (version 0.0.4) of every metric.
    pub fn render(&self) -> String {
        let families = {
            let _consistent = self.memory.lock().unwrap_or_else(|e| e.into_inner());
            self.registry.gather()
        };
        match TextEncoder::new().encode_to_string(&families) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode metrics");
                String::new()
            }
        }
    }
}

#[path = "metrics_cycle.rs"]
mod cycle;

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
