//! A zone's plan in words: capacity first, then the pod subnet. Each
//! verdict names its numbers so an operator can redo the arithmetic.

use super::judge::Inputs;
use super::plan::Outcome;
use super::view::{Amount, NodeRow, Severity, Verdict, ZonePlan};

fn verdict(zone: &str, severity: Severity, subject: String, text: String) -> Verdict {
    Verdict {
        severity,
        subject,
        zone: Some(zone.to_string()),
        nodegroup: None,
        text,
    }
}

pub(crate) fn verdicts(
    zone: &str,
    rows: &[&NodeRow],
    plan: &ZonePlan,
    inp: &Inputs,
) -> (Vec<Verdict>, Outcome) {
    let mut out = Vec::new();
    let mut outcome = capacity(zone, plan, inp, &mut out);
    let undecided: u64 = rows.iter().map(|r| r.pods.undecided).sum();
    if undecided > 0 {
        out.push(verdict(
            zone,
            Severity::Unknown,
            format!("zone {zone}"),
            format!(
                "{undecided} pods are on nodes whose migration state is unknown (no fresh \
                 CustomNetworkingReady condition and no pod address in the ENIConfig's subnet)"
            ),
        ));
        if outcome == Outcome::Fits {
            outcome = Outcome::Unknown(format!("pods of unknown state in zone {zone}"));
        }
    }
    match subnet(zone, plan, &mut out) {
        Outcome::Fits => {}
        Outcome::Short => outcome = Outcome::Short,
        Outcome::Unknown(why) if outcome == Outcome::Fits => outcome = Outcome::Unknown(why),
        Outcome::Unknown(_) => {}
    }
    (out, outcome)
}

fn capacity(zone: &str, plan: &ZonePlan, inp: &Inputs, out: &mut Vec<Verdict>) -> Outcome {
    let p = plan.pods_to_move;
    let subject = format!("zone {zone}");
    if plan.subnets.is_empty() {
        if p == 0 {
            return Outcome::Fits;
        }
        let (severity, text) = match &inp.eni_configs {
            Ok(Some(_)) => (
                Severity::Blocking,
                format!(
                    "no ENIConfig applies to the nodes of zone {zone}: its {p} pods to move have \
                     no pod subnet to move to; create the zone's ENIConfig"
                ),
            ),
            Ok(None) => (
                Severity::Unknown,
                format!(
                    "the ENIConfig CRD is not installed: custom networking is not set up, so \
                     zone {zone}'s {p} pods have nowhere to move yet"
                ),
            ),
            Err(e) => (Severity::Unknown, format!("ENIConfigs unknown ({e})")),
        };
        let o = if severity == Severity::Blocking {
            Outcome::Short
        } else {
            Outcome::Unknown(text.clone())
        };
        out.push(verdict(zone, severity, subject, text));
        return o;
    }
    let (free, short) = match (&plan.free_slots, &plan.shortfall) {
        (Amount::Known(f), Amount::Known(s)) => (*f, *s),
        (Amount::Unknown { unknown }, _) | (_, Amount::Unknown { unknown }) => {
            let text = format!(
                "free pod slots on the migrated nodes are unknown ({unknown}); {p} pods to move"
            );
            out.push(verdict(zone, Severity::Unknown, subject, text.clone()));
            return Outcome::Unknown(text);
        }
    };
    if p == 0 {
        return Outcome::Fits;
    }
    if short == 0 {
        out.push(verdict(
            zone,
            Severity::Ok,
            subject,
            format!(
                "zone {zone}'s migrated nodes have {free} free pod slots for its {p} pods to move"
            ),
        ));
        return Outcome::Fits;
    }
    let sizes: Vec<String> = plan
        .nodes_to_add
        .iter()
        .map(|a| format!("{} {}", a.count, a.instance_type))
        .collect();
    if !plan.on_demand.is_empty() {
        let about = sizes
            .first()
            .map(|s| format!(" (about {s})"))
            .unwrap_or_default();
        out.push(verdict(
            zone,
            Severity::Ok,
            subject,
            format!(
                "zone {zone} has {p} pods to move and {free} free pod slots on migrated nodes; \
                 {} provisions nodes on demand for the other {short}{about}",
                plan.on_demand.join(", ")
            ),
        ));
        return Outcome::Fits;
    }
    let text = match sizes.split_first() {
        Some((first, [])) => {
            format!(
                "zone {zone} needs about {} to absorb {short} pods",
                more(first)
            )
        }
        Some((first, rest)) => format!(
            "zone {zone} needs about {} (or {}) to absorb {short} pods",
            more(first),
            rest.join(" or ")
        ),
        None => {
            format!("zone {zone} lacks room for {short} pods (no instance type to add is known)")
        }
    };
    out.push(verdict(
        zone,
        Severity::Blocking,
        subject,
        format!("{text}: {p} to move, {free} free pod slots on its migrated nodes"),
    ));
    Outcome::Short
}

/// "8 m5.large" → "8 more m5.large".
fn more(count_and_type: &str) -> String {
    match count_and_type.split_once(' ') {
        Some((n, t)) => format!("{n} more {t}"),
        None => count_and_type.to_string(),
    }
}

fn subnet(zone: &str, plan: &ZonePlan, out: &mut Vec<Verdict>) -> Outcome {
    let p = plan.pods_to_move;
    if plan.subnets.is_empty() || p == 0 {
        return Outcome::Fits;
    }
    let names: Vec<&str> = plan.subnets.iter().map(|s| s.subnet.as_str()).collect();
    let subject = format!("subnet {}", names.join(", "));
    let free = plan
        .subnets
        .iter()
        .try_fold(0u64, |acc, s| match &s.free_addresses {
            Amount::Known(n) => Ok(acc.saturating_add(*n)),
            Amount::Unknown { unknown } => Err(unknown.clone()),
        });
    let (free, warm) = match (free.as_ref(), &plan.warm_pool_addresses) {
        (Ok(f), Amount::Known(w)) => (*f, *w),
        (Err(why), _) | (_, Amount::Unknown { unknown: why }) => {
            let text = format!(
                "{subject}: free addresses for {p} pods plus warm pools are unknown ({why})"
            );
            out.push(verdict(zone, Severity::Unknown, subject, text.clone()));
            return Outcome::Unknown(text);
        }
    };
    let need = p.saturating_add(warm);
    let head =
        format!("{subject} has {free} free addresses for {p} pods plus warm pools of {warm}");
    if free >= need {
        out.push(verdict(zone, Severity::Ok, subject, head));
        return Outcome::Fits;
    }
    out.push(verdict(
        zone,
        Severity::Blocking,
        subject,
        format!(
            "{head}: {} short; add a pod subnet (a CIDR block on the VPC) for zone {zone}, or \
             free addresses in it",
            need - free
        ),
    ));
    Outcome::Short
}
