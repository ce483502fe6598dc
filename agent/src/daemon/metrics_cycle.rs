//! What one cycle's outcome sets: the node's identity, findings and drift
//! transitions, check states, pod placement, ENIs and their addresses (the
//! pool metrics are in [`crate::daemon::metrics_pool`]).
//!
//! Everything here is read from the cycle's report, which renders the facts
//! the checks judged from (`eniwatch_core::checks::Facts`): pod placement
//! and address counts are the checks' own, never classified or summed again.

use std::collections::{BTreeMap, BTreeSet};

use super::{unix_seconds, with, Metrics};
use crate::daemon::{CycleOutcome, Transition};
use eniwatch_core::checks::{check_names, CheckStatus, EniRole, Reason, SubjectKind};

const STATUSES: [CheckStatus; 5] = [
    CheckStatus::Ok,
    CheckStatus::Drift,
    CheckStatus::Unknown,
    CheckStatus::Skipped,
    CheckStatus::NotApplicable,
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

fn count<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl Metrics {
    /// Records everything derived from one cycle. Source health is not read
    /// from here but from [`Metrics::observe_source`], called where the
    /// sources are read (so each failed read counts once).
    pub fn observe_cycle(&self, outcome: &CycleOutcome) {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let report = &outcome.report;

        let node = &report.node;
        let mode = report.mode.mode.as_str().to_string();
        let fresh = [
            Some(&node.name),
            node.instance_type.as_ref(),
            node.availability_zone.as_ref(),
            node.availability_zone_id.as_ref(),
            report.eniconfig.name.as_ref(),
            node.nodegroup.as_ref(),
            Some(&mode),
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

        // The checks' own placement (the report's `pods` block), not a second one.
        for (placement, n) in report.pods.by_label() {
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

        self.eni_ips.reset();
        for e in &report.enis {
            let (device, card) = (e.device_number.to_string(), e.network_card.to_string());
            for (state, n) in [
                ("total", e.ips_total),
                ("assigned", e.ips_used),
                ("free", e.ips_free),
            ] {
                with(&self.eni_ips, &[&device, &card, state], |g| g.set(count(n)));
            }
        }
        let secondary = &report.capacity.secondary;
        for (state, n) in [
            ("total", secondary.total),
            ("assigned", secondary.assigned),
            ("free", secondary.free),
        ] {
            with(&self.secondary_ips, &[state], |g| g.set(count(n)));
        }

        self.pool.observe(outcome);
        self.cycle_duration.observe(outcome.duration.as_secs_f64());
        self.cycles.inc();
        self.last_cycle.set(unix_seconds(outcome.at));
    }
}
