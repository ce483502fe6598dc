//! Prometheus metrics of the agent, on an explicit [`prometheus::Registry`]
//! (no global registry: each agent, and each test, owns its own).
//!
//! The metric names and labels are a public interface: alerts and dashboards
//! use them. Add metrics; never rename one or change a label's meaning.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `eniwatch_info` | gauge | `node`, `instance_type`, `zone`, `zone_id`, `eniconfig`, `nodegroup` | 1: the node's identity (a field that a cycle could not read keeps its last known value) |
//! | `eniwatch_build_info` | gauge | `version` | 1 |
//! | `eniwatch_findings` | gauge | `reason` | findings that count as drift now (past the grace period); every reason, 0 when none |
//! | `eniwatch_drift_transitions_total` | counter | `reason`, `transition` | drifts that `began` or `resolved` |
//! | `eniwatch_check_status` | gauge | `check`, `status` | state set: per check, `ok`, `drift`, `unknown`, exactly one is 1 |
//! | `eniwatch_pods` | gauge | `placement` | pods on the node by where their IP is: `eniconfig_subnet`, `node_subnet`, `other`, `host_network`, `branch_eni`, `unplaced` |
//! | `eniwatch_enis` | gauge | `role` | attached ENIs by role: `primary`, `secondary`, `trunk`, `efa-only`, `unmanaged` |
//! | `eniwatch_enis_configured` | gauge | `configured` | ENIs the kernel has (`true`) or lacks (`false`, an active `ENINotConfigured`) |
//! | `eniwatch_secondary_ipv4_addresses` | gauge | `state` | pod addresses on secondary ENIs: `total`, `assigned` (to pods), `free` (the warm pool) |
//! | `eniwatch_eni_ipv4_addresses` | gauge | `device`, `card`, `state` | the same per ENI (device number, network card); detached ENIs disappear |
//! | `eniwatch_source_up` | gauge | `source` | 1 when the last read of the source succeeded |
//! | `eniwatch_source_errors_total` | counter | `source`, `kind` | failed reads by error kind (`timeout`, `unreachable`, `throttled`, ...) |
//! | `eniwatch_source_last_success_timestamp_seconds` | gauge | `source` | Unix time of the last successful read |
//! | `eniwatch_requests_total` | counter | `target`, `outcome` | requests to outside systems |
//! | `eniwatch_cycle_duration_seconds` | histogram | | time to gather and judge one snapshot |
//! | `eniwatch_cycles_total` | counter | | cycles run |
//! | `eniwatch_last_cycle_timestamp_seconds` | gauge | | Unix time the last cycle ended |
//!
//!
//! Capacity, warm-pool, subnet and EC2 metrics: see [`super::metrics_pool`].
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
use super::{CycleOutcome, Transition};
use crate::checks::{check_names, CheckStatus, EniRole, Reason, SubjectKind};
use crate::sources::requests::RequestCounts;

/// From 1 ms (a cycle on cached data) to 10 s (slow IMDS or API server).
const CYCLE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const STATUSES: [CheckStatus; 4] = [
    CheckStatus::Ok,
    CheckStatus::Drift,
    CheckStatus::Unknown,
    CheckStatus::Skipped,
];

const ROLES: [EniRole; 5] = [
    EniRole::Primary,
    EniRole::Secondary,
    EniRole::Trunk,
    EniRole::EfaOnly,
    EniRole::Unmanaged,
];

/// Index into [`ROLES`]; the exhaustive match makes a new role a compile
/// error here until it is listed.
const fn role_slot(role: EniRole) -> usize {
    match role {
        EniRole::Primary => 0,
        EniRole::Secondary => 1,
        EniRole::Trunk => 2,
        EniRole::EfaOnly => 3,
        EniRole::Unmanaged => 4,
    }
}

fn status_str(status: CheckStatus) -> &'static str {
    status.as_str()
}

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
    info: [String; 6],
    /// Request totals already added to `eniwatch_requests_total`.
    requests: BTreeMap<(&'static str, &'static str), u64>,
}

fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// Applies `f` to the series with these label values. A wrong label count is
/// a programming error; a scrape missing one series beats a panicking agent.
fn with<T: MetricVecBuilder>(vec: &MetricVec<T>, labels: &[&str], f: impl FnOnce(T::M)) {
    match vec.get_metric_with_label_values(labels) {
        Ok(m) => f(m),
        Err(e) => tracing::warn!(error = %e, ?labels, "metric series not updated"),
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

fn count<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
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
                "Findings that count as drift now (past the grace period).",
                &["reason"],
            )?,
            transitions: c(
                "eniwatch_drift_transitions_total",
                "Drifts that began or resolved.",
                &["reason", "transition"],
            )?,
            check_status: g(
                "eniwatch_check_status",
                "Settled status of each check: one of ok, drift, unknown is 1.",
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

    /// Records everything derived from one cycle. Source health is not read
    /// from here but from [`Metrics::observe_source`], called where the
    /// sources are read (so each failed read counts once).
    pub fn observe_cycle(&self, outcome: &CycleOutcome) {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let report = &outcome.report;

        let node = &report.node;
        let fresh = [
            Some(&node.name),
            node.instance_type.as_ref(),
            node.availability_zone.as_ref(),
            node.availability_zone_id.as_ref(),
            report.eniconfig.name.as_ref(),
            node.nodegroup.as_ref(),
        ];
        for (known, now) in memory.info.iter_mut().zip(fresh) {
            if let Some(now) = now {
                known.clone_from(now);
            }
        }
        self.info.reset();
        let labels: Vec<&str> = memory.info.iter().map(String::as_str).collect();
        with(&self.info, &labels, |g| g.set(1));

        let mut by_reason: BTreeMap<Reason, i64> = Reason::ALL.iter().map(|r| (*r, 0)).collect();
        for f in &outcome.active {
            *by_reason.entry(f.reason).or_insert(0) += 1;
        }
        for (reason, n) in by_reason {
            with(&self.findings, &[reason.as_str()], |g| g.set(n));
        }
        for t in &outcome.transitions {
            let kind = match t {
                Transition::Began(_) => "began",
                Transition::Resolved(_) => "resolved",
            };
            with(
                &self.transitions,
                &[t.finding().reason.as_str(), kind],
                |c| c.inc(),
            );
        }

        for check in check_names() {
            // A check missing from the outcome could not be judged.
            let status = outcome
                .checks
                .iter()
                .find(|c| c.name == check)
                .map_or(CheckStatus::Unknown, |c| c.status);
            for s in STATUSES {
                with(&self.check_status, &[check, status_str(s)], |g| {
                    g.set(i64::from(s == status))
                });
            }
        }

        let p = &report.pods;
        for (placement, n) in [
            ("eniconfig_subnet", p.eniconfig_subnet),
            ("node_subnet", p.node_subnet),
            ("other", p.other),
            ("host_network", p.host_network),
            ("branch_eni", p.branch_eni),
            ("unplaced", p.unplaced),
        ] {
            with(&self.pods, &[placement], |g| g.set(count(n)));
        }

        let mut roles = [0i64; ROLES.len()];
        for e in &report.enis {
            roles[role_slot(e.role)] += 1;
        }
        for role in ROLES {
            with(&self.enis, &[role.as_str()], |g| {
                g.set(roles[role_slot(role)])
            });
        }

        let unconfigured: BTreeSet<&str> = outcome
            .active
            .iter()
            .filter(|f| f.reason == Reason::ENINotConfigured && f.subject.kind == SubjectKind::Eni)
            .map(|f| f.subject.name.as_str())
            .collect();
        let not_configured = report
            .enis
            .iter()
            .filter(|e| {
                unconfigured.contains(e.mac.as_str())
                    || e.eni_id
                        .as_deref()
                        .is_some_and(|id| unconfigured.contains(id))
            })
            .count();
        let configured = report.enis.len() - not_configured;
        with(&self.enis_configured, &["true"], |g| {
            g.set(count(configured))
        });
        with(&self.enis_configured, &["false"], |g| {
            g.set(count(not_configured))
        });

        let (mut total, mut assigned, mut free) = (0u64, 0u64, 0u64);
        self.eni_ips.reset();
        for e in &report.enis {
            if e.role == EniRole::Secondary {
                total += e.ips_total;
                assigned += e.ips_used;
                free += e.ips_free;
            }
            let (device, card) = (e.device_number.to_string(), e.network_card.to_string());
            for (state, n) in [
                ("total", e.ips_total),
                ("assigned", e.ips_used),
                ("free", e.ips_free),
            ] {
                with(&self.eni_ips, &[&device, &card, state], |g| g.set(count(n)));
            }
        }
        for (state, n) in [("total", total), ("assigned", assigned), ("free", free)] {
            with(&self.secondary_ips, &[state], |g| g.set(count(n)));
        }

        self.pool.observe(outcome);
        self.cycle_duration.observe(outcome.duration.as_secs_f64());
        self.cycles.inc();
        self.last_cycle.set(unix_seconds(outcome.at));
    }

    /// Copies the request counts into `eniwatch_requests_total`, adding what
    /// was counted since the last call.
    pub fn observe_requests(&self, counts: &RequestCounts) {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        add_new_counts(&self.requests, &mut memory.requests, counts);
    }

    /// Records one read of a source (`imds`, `kernel`, `kubernetes`, ...).
    /// `error_kind` is the bounded kind of [`crate::model::Unavailable`];
    /// `error` when absent.
    pub fn observe_source(&self, source: &str, ok: bool, error_kind: Option<&str>, at: SystemTime) {
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

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
