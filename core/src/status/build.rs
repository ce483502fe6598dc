//! The view assembled from the input: nodes judged once, summed per
//! nodegroup and per zone, each zone planned, each nodegroup given its
//! verdict from the plans of the zones it has nodes in.

use std::collections::{BTreeMap, HashMap};

use super::group_verdicts::group_verdict;
use super::input::{StatusInput, StatusPod};
use super::judge::{judge_node, Inputs};
use super::plan::{zone_plan, Outcome};
use super::view::{
    Filter, GroupRow, GroupState, Migration, NodeRow, PodCounts, Readiness, ReadyCounts,
    ReasonCount, StatusView, Verdict, ZoneRow, SCHEMA_VERSION,
};

/// The zone of a node without a zone label.
pub const NO_ZONE: &str = "(no zone label)";

impl StatusView {
    /// Judges everything listed, once.
    pub fn from_input(input: &StatusInput) -> StatusView {
        let inp = inputs(input);
        let mut words = input_words(input);
        let mut by_node: HashMap<&str, Vec<&StatusPod>> = HashMap::new();
        let mut pending = 0;
        for p in input.pods.iter().filter(|p| !p.deleting) {
            match &p.node_name {
                Some(n) => by_node.entry(n.as_str()).or_default().push(p),
                None => pending += 1,
            }
        }
        let mut nodes: Vec<NodeRow> = input
            .nodes
            .iter()
            .map(|n| {
                let pods = by_node
                    .get(n.info.name.as_str())
                    .map_or(&[][..], |v| &v[..]);
                judge_node(n, pods, &inp)
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let (zones, mut verdicts, outcomes) = zones(&nodes, &inp);
        let (nodegroups, mut group_verdicts) = groups(&nodes, &outcomes);
        group_verdicts.append(&mut verdicts);
        if input.nodes.is_empty() {
            words.push("no nodes were listed".to_string());
        }
        let mut all = input_verdicts(&words);
        all.append(&mut group_verdicts);
        StatusView {
            schema_version: SCHEMA_VERSION,
            nodes_listed: input.nodes.len(),
            pods_listed: input.pods.len(),
            pods_pending: pending,
            inputs: words,
            filter: None,
            nodegroups,
            zones,
            verdicts: all,
            nodes,
        }
    }

    /// The view cut to a nodegroup and/or a zone. The plan stays the whole
    /// cluster's (the capacity of other nodegroups in a zone is real), only
    /// the rows and verdicts shown are cut: a nodegroup's zones are kept
    /// with it, a zone keeps the nodegroups with nodes in it.
    pub fn filtered(&self, nodegroup: Option<&str>, zone: Option<&str>) -> StatusView {
        if nodegroup.is_none() && zone.is_none() {
            return self.clone();
        }
        let node_in = |r: &NodeRow| {
            nodegroup.is_none_or(|g| r.nodegroup.name == g)
                && zone.is_none_or(|z| r.zone.as_deref().unwrap_or(NO_ZONE) == z)
        };
        let nodes: Vec<NodeRow> = self.nodes.iter().filter(|r| node_in(r)).cloned().collect();
        let zone_kept = |z: &str| {
            nodes
                .iter()
                .any(|r| r.zone.as_deref().unwrap_or(NO_ZONE) == z)
        };
        let group_kept = |g: &str| nodes.iter().any(|r| r.nodegroup.name == g);
        let verdicts = self
            .verdicts
            .iter()
            .filter(|v| match (&v.zone, &v.nodegroup) {
                (Some(z), _) => zone_kept(z),
                (None, Some(g)) => group_kept(g),
                (None, None) => true,
            })
            .cloned()
            .collect();
        StatusView {
            filter: Some(Filter {
                nodegroup: nodegroup.map(str::to_string),
                zone: zone.map(str::to_string),
            }),
            nodegroups: self
                .nodegroups
                .iter()
                .filter(|g| group_kept(&g.name))
                .cloned()
                .collect(),
            zones: self
                .zones
                .iter()
                .filter(|z| zone_kept(&z.zone))
                .cloned()
                .collect(),
            verdicts,
            nodes,
            ..self.clone()
        }
    }
}

/// Each zone's row, plan, verdicts and outcome.
fn zones(
    nodes: &[NodeRow],
    inp: &Inputs,
) -> (Vec<ZoneRow>, Vec<Verdict>, BTreeMap<String, Outcome>) {
    let mut zone_rows: BTreeMap<&str, Vec<&NodeRow>> = BTreeMap::new();
    for r in nodes {
        zone_rows
            .entry(r.zone.as_deref().unwrap_or(NO_ZONE))
            .or_default()
            .push(r);
    }
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut zones = Vec::new();
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    for (zone, rows) in &zone_rows {
        let (plan, v, outcome) = zone_plan(zone, rows, inp);
        zones.push(ZoneRow {
            zone: zone.to_string(),
            nodes: rows.len() as u64,
            ready: ready_counts(rows),
            pods: pod_sum(rows),
            plan,
        });
        verdicts.extend(v);
        outcomes.insert(zone.to_string(), outcome);
    }
    (zones, verdicts, outcomes)
}

/// Each nodegroup's row and verdicts, from its nodes and its zones' outcomes.
fn groups(
    nodes: &[NodeRow],
    outcomes: &BTreeMap<String, Outcome>,
) -> (Vec<GroupRow>, Vec<Verdict>) {
    let mut group_rows: BTreeMap<(&str, _), Vec<&NodeRow>> = BTreeMap::new();
    for r in nodes {
        group_rows
            .entry((r.nodegroup.name.as_str(), r.nodegroup.source))
            .or_default()
            .push(r);
    }
    let mut nodegroups = Vec::new();
    let mut verdicts = Vec::new();
    for ((name, source), rows) in &group_rows {
        let mut zones: Vec<String> = rows
            .iter()
            .map(|r| r.zone.clone().unwrap_or_else(|| NO_ZONE.to_string()))
            .collect();
        zones.sort();
        zones.dedup();
        let row = GroupRow {
            name: name.to_string(),
            source: *source,
            nodes: rows.len() as u64,
            zones,
            ready: ready_counts(rows),
            pods: pod_sum(rows),
            state: group_state(rows),
        };
        verdicts.extend(group_verdict(&row, rows, outcomes));
        nodegroups.push(row);
    }
    (nodegroups, verdicts)
}

impl From<&StatusInput> for StatusView {
    fn from(input: &StatusInput) -> Self {
        StatusView::from_input(input)
    }
}

fn inputs(input: &StatusInput) -> Inputs<'_> {
    let eni_configs = match &input.eni_configs {
        Ok(Some(list)) => Ok(Some(list.iter().map(|c| (c.name.as_str(), c)).collect())),
        Ok(None) => Ok(None),
        Err(u) => Err(format!("ENIConfigs could not be listed: {}", u.reason)),
    };
    let facts = match &input.facts {
        Ok(f) => Ok(f.as_ref()),
        Err(u) => Err(format!(
            "eniwatch-cluster's facts could not be read: {}",
            u.reason
        )),
    };
    // The median heartbeat, not the newest: one clock far ahead (or a
    // garbage date) must not make every other node stale.
    let mut beats: Vec<i64> = input
        .nodes
        .iter()
        .filter_map(|n| n.condition.as_ref()?.last_heartbeat.as_deref())
        .filter_map(super::time::unix_seconds)
        .collect();
    beats.sort_unstable();
    let median_heartbeat = beats.get(beats.len() / 2).copied();
    Inputs {
        eni_configs,
        facts,
        selection: &input.selection,
        median_heartbeat,
    }
}

fn input_words(input: &StatusInput) -> Vec<String> {
    let mut w = Vec::new();
    match &input.eni_configs {
        Ok(Some(_)) => {}
        Ok(None) => {
            w.push("the ENIConfig CRD is not installed: custom networking is not set up".into())
        }
        Err(u) => w.push(format!("ENIConfigs could not be listed: {}", u.reason)),
    }
    match &input.facts {
        Ok(Some(_)) => {}
        Ok(None) => w.push(
            "eniwatch-cluster's facts are not published: subnet CIDRs and free addresses are unknown"
                .into(),
        ),
        Err(u) => w.push(format!("eniwatch-cluster's facts could not be read: {}", u.reason)),
    }
    if let Err(u) = &input.node_classes {
        w.push(format!("NodeClasses could not be listed: {}", u.reason));
    }
    w
}

fn input_verdicts(words: &[String]) -> Vec<Verdict> {
    words
        .iter()
        .map(|w| Verdict {
            severity: super::view::Severity::Unknown,
            subject: "cluster".into(),
            zone: None,
            nodegroup: None,
            text: w.clone(),
        })
        .collect()
}

fn pod_sum(rows: &[&NodeRow]) -> PodCounts {
    let mut c = PodCounts::default();
    for r in rows {
        c.add(&r.pods);
    }
    c
}

fn ready_counts(rows: &[&NodeRow]) -> ReadyCounts {
    let mut c = ReadyCounts::default();
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        match &r.ready {
            Readiness::True => c.r#true += 1,
            Readiness::False { reason } => {
                c.r#false += 1;
                *reasons
                    .entry(reason.as_deref().unwrap_or("(no reason)"))
                    .or_default() += 1;
            }
            Readiness::Unknown => c.unknown += 1,
            Readiness::NoAgent => c.no_agent += 1,
            Readiness::Stale { .. } => c.stale += 1,
        }
    }
    let mut top: Vec<ReasonCount> = reasons
        .into_iter()
        .map(|(reason, nodes)| ReasonCount {
            reason: reason.to_string(),
            nodes,
        })
        .collect();
    top.sort_by(|a, b| b.nodes.cmp(&a.nodes).then_with(|| a.reason.cmp(&b.reason)));
    top.truncate(3);
    c.top_reasons = top;
    c
}

fn group_state(rows: &[&NodeRow]) -> GroupState {
    let has = |m: Migration| rows.iter().any(|r| r.migration == m);
    let migrated = has(Migration::Migrated) || has(Migration::Drift);
    if has(Migration::NotMigrated) {
        if migrated {
            GroupState::Migrating
        } else {
            GroupState::NotMigrated
        }
    } else if has(Migration::Unknown) {
        GroupState::Unknown
    } else if has(Migration::Drift) {
        GroupState::Drift
    } else if has(Migration::Migrated) {
        GroupState::Migrated
    } else {
        GroupState::NotInPlan
    }
}
