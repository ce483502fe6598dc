//! `zone-coverage`: in every zone with nodes in scope, some node selects an
//! ENIConfig that exists. A zone where none does has no pod subnet at all:
//! custom networking gives its pods no addresses. Judged only where custom
//! networking is in use (some ENIConfig exists); raised once per zone.

use std::collections::BTreeMap;

use eniwatch_core::checks::{Finding, Reason, Subject};

use super::context::{Context, NodeView};
use super::Outcome;

pub(crate) fn zone_coverage(ctx: &Context<'_>) -> Outcome {
    let configs = match &ctx.eni_configs {
        Err(why) => return Outcome::unknown(format!("ENIConfigs: {why}")),
        Ok(None) => return Outcome::not_applicable("the ENIConfig CRD is not installed"),
        Ok(Some(c)) if c.is_empty() => {
            return Outcome::not_applicable("no ENIConfig exists: custom networking is not in use")
        }
        Ok(Some(c)) => c,
    };
    let nodes = match &ctx.nodes {
        Err(why) => return Outcome::unknown(format!("Nodes: {why}")),
        Ok(n) => n,
    };
    let mut zones: BTreeMap<Option<&str>, Vec<&NodeView<'_>>> = BTreeMap::new();
    for n in nodes {
        zones.entry(n.zone.key()).or_default().push(n);
    }
    let mut out = Outcome::ok(format!(
        "every zone with nodes ({}) has one selecting an existing ENIConfig",
        zones.len()
    ));
    for members in zones.values() {
        if members
            .iter()
            .any(|n| configs.contains_key(n.selection.name.as_str()))
        {
            continue;
        }
        let Some(first) = members.first() else {
            continue;
        };
        let zone = first.zone.label();
        let selected: Vec<&str> = {
            let mut v: Vec<&str> = members.iter().map(|n| n.selection.name.as_str()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        // One name chosen by a label or annotation: the Event goes on the
        // ENIConfig to create. Otherwise on a node of the zone.
        let by_default = members
            .iter()
            .any(|n| n.selection.selected_by.starts_with("default"));
        let subject = match selected.as_slice() {
            [one] if !by_default => Subject::eniconfig(*one),
            _ => Subject::node(first.name()),
        };
        let names: Vec<String> = selected.iter().take(5).map(|n| format!("{n:?}")).collect();
        out.findings.push(Finding::new(
            "",
            Reason::ENIConfigMissingForZone,
            subject,
            format!(
                "{} node(s) in zone {zone} (e.g. {}) select ENIConfig {} ({}), which does not \
                 exist: create it with a pod subnet in {zone}",
                members.len(),
                first.name(),
                names.join(", "),
                first.selection.selected_by
            ),
        ));
    }
    out
}
