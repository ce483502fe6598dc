//! The view as text for a terminal and as JSON. Rendering decides nothing:
//! both show the one judged [`StatusView`].
//!
//! Text: two tables (nodegroups, zones) that fit 80 columns whatever the
//! names (long names are cut with `…`), then the verdicts wrapped at the
//! given width. ANSI colour only when asked (the caller decides: a TTY and
//! no `NO_COLOR`).

use std::fmt::Write;

use super::view::{
    Amount, GroupRow, Migration, NodeMode, NodeRow, Readiness, ReadyCounts, Severity, StatusView,
    ZoneRow,
};
use crate::model::node_kind::GroupSource;

/// The narrowest width verdicts are wrapped at.
const MIN_WIDTH: usize = 40;

/// The view as JSON, `schema_version` 1 (docs/status.md, field by field).
pub fn render_json(view: &StatusView) -> serde_json::Value {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// The view as text, verdicts wrapped at `width` columns.
pub fn render_text(view: &StatusView, width: usize, colour: bool) -> String {
    let mut s = String::new();
    let pending = if view.pods_pending > 0 {
        format!(" ({} pending)", view.pods_pending)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "eniwatch status: {} nodes, {} pods{pending}, {} nodegroups, {} zones",
        view.nodes_listed,
        view.pods_listed,
        view.nodegroups.len(),
        view.zones.len()
    );
    if let Some(f) = &view.filter {
        let mut parts = Vec::new();
        parts.extend(f.nodegroup.as_ref().map(|g| format!("nodegroup {g}")));
        parts.extend(f.zone.as_ref().map(|z| format!("zone {z}")));
        let _ = writeln!(
            s,
            "shown: {} (the plan counts the whole cluster)",
            parts.join(", ")
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "{:<14}{:<9}{:>5}{}{:>7}{:>6}  STATE",
        "NODEGROUP", "SOURCE", "NODES", READY_HEAD, "ONSUB", "ELSE"
    );
    for g in &view.nodegroups {
        group_line(&mut s, g);
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "{:<14}{:>5}{}{:>7}{:>6}{:>6}{:>6}{:>7}",
        "ZONE", "NODES", READY_HEAD, "ONSUB", "ELSE", "MOVE", "FREE", "ADDR"
    );
    for z in &view.zones {
        zone_line(&mut s, z);
    }
    s.push_str(
        "\nTRUE..NOAG: CustomNetworkingReady (UNKN: Unknown or stale, NOAG: no agent).\n\
         ONSUB/ELSE: pod addresses in/outside the ENIConfig subnet. MOVE: pods to move;\n\
         FREE: free pod slots on migrated nodes; ADDR: free pod-subnet addresses.\n",
    );
    reasons(&mut s, view);
    attention(&mut s, view);
    s.push_str("\nPlan\n");
    let width = width.max(MIN_WIDTH);
    for v in &view.verdicts {
        let (tag, code) = tag(v.severity);
        let body = wrap(&v.text, width.saturating_sub(10));
        for (i, line) in body.iter().enumerate() {
            if i == 0 && colour {
                let _ = writeln!(s, "  \x1b[{code}m{tag:<7}\x1b[0m {line}");
            } else if i == 0 {
                let _ = writeln!(s, "  {tag:<7} {line}");
            } else {
                let _ = writeln!(s, "          {line}");
            }
        }
    }
    s
}

const READY_HEAD: &str = "  TRUE FALSE UNKN NOAG";

fn ready_cols(r: &ReadyCounts) -> String {
    format!(
        "{:>6}{:>6}{:>5}{:>5}",
        r.r#true,
        r.r#false,
        r.unknown + r.stale,
        r.no_agent
    )
}

fn group_line(s: &mut String, g: &GroupRow) {
    let source = match g.source {
        GroupSource::ManagedNodegroup => "managed",
        GroupSource::KarpenterNodePool => "karpenter",
        GroupSource::Eksctl => "eksctl",
        GroupSource::Unlabelled => "none",
    };
    let _ = writeln!(
        s,
        "{:<14}{:<9}{:>5}{}{:>7}{:>6}  {}",
        cut(&g.name, 13),
        source,
        g.nodes,
        ready_cols(&g.ready),
        g.pods.on_eniconfig_subnet,
        g.pods.elsewhere,
        g.state.words()
    );
}

fn amount(a: &Amount) -> String {
    a.known().map_or_else(|| "?".to_string(), |n| n.to_string())
}

fn zone_line(s: &mut String, z: &ZoneRow) {
    let addr = if z.plan.subnets.is_empty() {
        "-".to_string()
    } else {
        let total = z
            .plan
            .subnets
            .iter()
            .try_fold(0u64, |acc, sn| sn.free_addresses.known().map(|n| acc + n));
        total.map_or_else(|| "?".to_string(), |n| n.to_string())
    };
    let _ = writeln!(
        s,
        "{:<14}{:>5}{}{:>7}{:>6}{:>6}{:>6}{:>7}",
        cut(&z.zone, 13),
        z.nodes,
        ready_cols(&z.ready),
        z.pods.on_eniconfig_subnet,
        z.pods.elsewhere,
        z.plan.pods_to_move,
        amount(&z.plan.free_slots),
        addr
    );
}

fn reasons(s: &mut String, view: &StatusView) {
    let lines: Vec<String> = view
        .zones
        .iter()
        .filter(|z| !z.ready.top_reasons.is_empty())
        .map(|z| {
            let rs: Vec<String> = z
                .ready
                .top_reasons
                .iter()
                .map(|r| format!("{} ({})", r.reason, r.nodes))
                .collect();
            format!("  {}: {}", z.zone, rs.join(", "))
        })
        .collect();
    if !lines.is_empty() {
        s.push_str("\nTop reasons (CustomNetworkingReady=False)\n");
        for l in lines {
            let _ = writeln!(s, "{l}");
        }
    }
}

/// Nodes shown by name: drift and unknown state (the others are counted).
const NODES_SHOWN: usize = 10;

fn attention(s: &mut String, view: &StatusView) {
    let nodes: Vec<&NodeRow> = view
        .nodes
        .iter()
        .filter(|n| matches!(n.migration, Migration::Drift | Migration::Unknown))
        .collect();
    if nodes.is_empty() {
        return;
    }
    s.push_str("\nNodes with drift or of unknown state\n");
    for n in nodes.iter().take(NODES_SHOWN) {
        let why = match (&n.ready, &n.mode) {
            (_, NodeMode::Unknown { why }) => why.clone(),
            (Readiness::False { reason }, _) => {
                format!("False: {}", reason.as_deref().unwrap_or("no reason"))
            }
            (Readiness::Stale { last_heartbeat }, _) => format!("stale since {last_heartbeat}"),
            (Readiness::NoAgent, _) => "no agent, no pod address placed".to_string(),
            _ => "no pod address placed".to_string(),
        };
        let line = format!("  {} ({}): {why}", n.name, n.nodegroup.name);
        let _ = writeln!(s, "{}", cut(&line, 79));
    }
    if nodes.len() > NODES_SHOWN {
        let _ = writeln!(
            s,
            "  and {} more (--output json lists them)",
            nodes.len() - NODES_SHOWN
        );
    }
}

fn tag(sev: Severity) -> (&'static str, &'static str) {
    match sev {
        Severity::Ok => ("ok", "32"),
        Severity::ToDo => ("to do", "36"),
        Severity::Drift => ("drift", "33"),
        Severity::Blocking => ("blocked", "31"),
        Severity::Unknown => ("unknown", "35"),
    }
}

/// At most `n` characters, the last one `…` when cut.
fn cut(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut out: String = text.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Words into lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}
