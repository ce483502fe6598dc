//! A nodegroup's verdict. "Can be deleted" is said only when every zone
//! its unmigrated nodes are in can take their pods (free slots or on-demand
//! provisioning, and pod-subnet addresses), all of it known; an unknown
//! anywhere makes it "cannot tell", never a false "can be deleted".

use std::collections::BTreeMap;

use super::plan::Outcome;
use super::view::{GroupRow, GroupState, Migration, NodeRow, Severity, Verdict};
use crate::model::node_kind::GroupSource;

pub(crate) fn group_verdict(
    g: &GroupRow,
    rows: &[&NodeRow],
    outcomes: &BTreeMap<String, Outcome>,
) -> Vec<Verdict> {
    let subject = match g.source {
        GroupSource::KarpenterNodePool => format!("NodePool {}", g.name),
        _ => format!("nodegroup {}", g.name),
    };
    let v = |severity: Severity, text: String| Verdict {
        severity,
        subject: subject.clone(),
        zone: None,
        nodegroup: Some(g.name.clone()),
        text,
    };
    let count = |m: Migration| rows.iter().filter(|r| r.migration == m).count();
    let mut out = Vec::new();
    match g.state {
        GroupState::Migrated => out.push(v(
            Severity::Ok,
            format!("{subject} is migrated ({} nodes)", g.nodes),
        )),
        GroupState::Drift => {
            let top = g
                .ready
                .top_reasons
                .first()
                .map(|r| format!(" (most: {})", r.reason))
                .unwrap_or_default();
            out.push(v(
                Severity::Drift,
                format!(
                    "{subject}: {} of {} migrated nodes report CustomNetworkingReady=False{top}",
                    count(Migration::Drift),
                    g.nodes
                ),
            ));
        }
        GroupState::Unknown => out.push(v(
            Severity::Unknown,
            format!(
                "{subject}: {} of {} nodes are of unknown migration state",
                count(Migration::Unknown),
                g.nodes
            ),
        )),
        GroupState::NotInPlan => out.push(v(
            Severity::Ok,
            format!("{subject}: EKS Auto Mode or not applicable to custom networking"),
        )),
        GroupState::NotMigrated | GroupState::Migrating => {
            out.push(unmigrated(g, &subject, rows, outcomes, v))
        }
    }
    let outside: u64 = rows
        .iter()
        .filter(|r| matches!(r.migration, Migration::Migrated | Migration::Drift))
        .map(|r| r.pods.to_move)
        .sum();
    if outside > 0 {
        out.push(v(
            Severity::Drift,
            format!(
                "{subject}: {outside} pods on migrated nodes have addresses outside their \
                 ENIConfig's subnet; restart them to move them"
            ),
        ));
    }
    out
}

fn unmigrated(
    g: &GroupRow,
    subject: &str,
    rows: &[&NodeRow],
    outcomes: &BTreeMap<String, Outcome>,
    v: impl Fn(Severity, String) -> Verdict,
) -> Verdict {
    let old: Vec<&&NodeRow> = rows
        .iter()
        .filter(|r| r.migration == Migration::NotMigrated)
        .collect();
    let pods: u64 = old.iter().map(|r| r.pods.to_move).sum();
    let progress = if g.state == GroupState::Migrating {
        format!(" ({} of {} nodes not migrated yet)", old.len(), g.nodes)
    } else {
        String::new()
    };
    let mut zones: Vec<&str> = old
        .iter()
        .map(|r| r.zone.as_deref().unwrap_or(super::build::NO_ZONE))
        .collect();
    zones.sort();
    zones.dedup();
    let mut short = Vec::new();
    let mut unknown = Vec::new();
    for z in &zones {
        match outcomes.get(*z) {
            Some(Outcome::Fits) => {}
            Some(Outcome::Short) => short.push(*z),
            Some(Outcome::Unknown(_)) | None => unknown.push(*z),
        }
    }
    if !short.is_empty() {
        return v(
            Severity::Blocking,
            format!(
                "{subject} {}{progress}: zone {} cannot take the pods that would move (see \
                 below)",
                if g.source == GroupSource::KarpenterNodePool {
                    "cannot replace its nodes yet"
                } else {
                    "cannot be deleted yet"
                },
                short.join(", zone ")
            ),
        );
    }
    if !unknown.is_empty() {
        return v(
            Severity::Unknown,
            format!(
                "whether {subject} {} is unknown{progress}: the plan of zone {} is not known",
                if g.source == GroupSource::KarpenterNodePool {
                    "can replace its nodes"
                } else {
                    "can be deleted"
                },
                unknown.join(", zone ")
            ),
        );
    }
    if g.source == GroupSource::KarpenterNodePool {
        return v(
            Severity::ToDo,
            format!(
                "{subject}{progress}: Karpenter replaces its unmigrated nodes with nodes that use \
                 their zone's ENIConfig once they are disrupted (delete their NodeClaims, or let \
                 drift or expiry replace them); {pods} pods move"
            ),
        );
    }
    v(
        Severity::ToDo,
        format!(
            "{subject} can be deleted{progress}: its {pods} pods to move fit on migrated nodes \
             and pod subnets of zone {} (drain it, then delete it)",
            zones.join(", ")
        ),
    )
}
