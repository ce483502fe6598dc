//! Policy rules and routes in the words `ip rule` and `ip route` use, for
//! the messages operators read.

use crate::model::{KernelState, Route, Rule, RuleAction, MAIN_TABLE};

/// A rule as `ip rule show` prints it: `100: from all lookup 200`.
pub fn describe(r: &Rule) -> String {
    let mut parts = vec![format!("{}:", r.priority)];
    if r.invert {
        parts.push("not".into());
    }
    parts.push(match r.source {
        Some(n) => format!("from {n}"),
        None => "from all".into(),
    });
    if let Some(n) = r.destination {
        parts.push(format!("to {n}"));
    }
    if let Some(m) = r.fwmark {
        match r.fwmask {
            Some(mask) if mask != u32::MAX => parts.push(format!("fwmark {m:#x}/{mask:#x}")),
            _ => parts.push(format!("fwmark {m:#x}")),
        }
    }
    if let Some(i) = &r.iif {
        parts.push(format!("iif {i}"));
    }
    if let Some(o) = &r.oif {
        parts.push(format!("oif {o}"));
    }
    let action = match r.action {
        RuleAction::Lookup => format!("lookup {}", table_name(r.table)),
        RuleAction::Goto => format!("goto {}", r.goto.map_or("?".into(), |g| g.to_string())),
        RuleAction::Nop => "nop".into(),
        RuleAction::Other => "(unknown action)".into(),
        a => a.drops().unwrap_or("?").to_string(),
    };
    parts.push(action);
    if let Some(n) = r.suppress_prefixlen {
        parts.push(format!("suppress_prefixlength {n}"));
    }
    parts.join(" ")
}

fn table_name(t: u32) -> String {
    match t {
        MAIN_TABLE => "main".into(),
        255 => "local".into(),
        253 => "default".into(),
        t => t.to_string(),
    }
}

/// Where a route sends traffic: `out of eth0 via 10.0.1.1`.
pub fn describe_route(kernel: &KernelState, r: &Route) -> String {
    let link = r
        .out_link
        .and_then(|i| kernel.links.iter().find(|l| l.index == i));
    match (link, r.gateway) {
        (Some(l), Some(gw)) => format!("out of {} via {gw}", l.name),
        (Some(l), None) => format!("out of {}", l.name),
        (None, _) => {
            "to no single interface (a blackhole, unreachable, prohibit or multipath route)".into()
        }
    }
}
