//! The human-readable report: node, ENIs, pod placement, checks, findings.

use std::fmt::Write;

use super::Report;
use crate::checks::{CheckStatus, NetworkingMode};

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Ok => "ok",
        CheckStatus::Drift => "DRIFT",
        CheckStatus::Unknown => "unknown",
        CheckStatus::Skipped => "skipped",
        CheckStatus::NotApplicable => "n/a",
    }
}

/// The subnets and groups of a mode other than custom networking.
fn expected_line(r: &Report) -> String {
    let m = &r.mode;
    if let Some(why) = &m.unresolved {
        return format!("unknown: {why}");
    }
    let subnets: Vec<String> = m
        .subnets
        .iter()
        .map(|s| match s.cidr {
            Some(c) => format!("{} ({c})", s.id),
            None => s.id.to_string(),
        })
        .collect();
    let groups = match &m.security_groups {
        Some(g) => g
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        None => "the primary ENI's".to_string(),
    };
    let more = if m.subnets_complete {
        ""
    } else {
        " (CNI-tagged subnets unknown: no eniwatch-cluster facts)"
    };
    format!(
        "subnets {}{more}, security groups {groups}",
        subnets.join(", ")
    )
}

/// Renders the report for a terminal (plain text, 100 columns or so).
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    // Writing to a String cannot fail; the results are ignored for brevity.
    let _ = writeln!(o, "Node       {}", r.node.name);
    let _ = writeln!(
        o,
        "Instance   {} ({}) in {} ({}), max-pods {}",
        or_dash(&r.node.instance_id),
        or_dash(&r.node.instance_type),
        or_dash(&r.node.availability_zone),
        or_dash(&r.node.availability_zone_id),
        or_dash(&r.node.max_pods)
    );
    let e = &r.eniconfig;
    let groups = match &e.security_groups {
        Some(g) => g
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        None => "the primary ENI's".to_string(),
    };
    let _ = writeln!(o, "Mode       {}", r.mode.words);
    let custom = r.mode.mode.is_custom_networking();
    if !custom && r.not_applicable.is_none() {
        let _ = writeln!(o, "Expected   {}", expected_line(r));
    }
    let expectation = match (e.source, &e.name, e.found) {
        _ if r.not_applicable.is_some() => "not applicable: the node is out of scope".to_string(),
        _ if !custom => "none applies (custom networking is off for this node)".to_string(),
        ("flags", _, _) => format!("from flags: subnet {}", or_dash(&e.subnet)),
        (_, Some(name), Some(false)) => format!(
            "{name} (selected by {}) DOES NOT EXIST",
            or_dash(&e.selected_by)
        ),
        (_, Some(name), _) => format!(
            "{name} (selected by {}): subnet {}",
            or_dash(&e.selected_by),
            or_dash(&e.subnet)
        ),
        _ => "unknown (Kubernetes API unavailable)".to_string(),
    };
    let _ = writeln!(o, "ENIConfig  {expectation}");
    if e.subnet.is_some() {
        let _ = writeln!(
            o,
            "           subnet CIDR {}, security groups {groups}",
            e.subnet_cidr
                .map_or("unknown (no attached ENI is in it)".to_string(), |c| c
                    .to_string())
        );
    }

    let _ = writeln!(o, "\nENIs");
    let _ = writeln!(
        o,
        "  {:<4} {:<4} {:<17} {:<21} {:<10} {:<24} {:<10} {:>14}",
        "DEV", "CARD", "MAC", "ENI", "LINK", "SUBNET", "ROLE", "POD IPS used/free"
    );
    for eni in &r.enis {
        let subnet = match (&eni.subnet_id, eni.subnet_cidr) {
            (Some(s), Some(c)) if s.len() + c.to_string().len() < 22 => format!("{s} {c}"),
            (Some(s), _) => s.clone(),
            _ => "-".into(),
        };
        let ips = if eni.ips_total == 0 {
            "-".to_string()
        } else {
            format!("{}/{}", eni.ips_used, eni.ips_free)
        };
        let _ = writeln!(
            o,
            "  {:<4} {:<4} {:<17} {:<21} {:<10} {:<24} {:<10} {:>14}",
            eni.device_number,
            eni.network_card,
            eni.mac,
            or_dash(&eni.eni_id),
            eni.link.as_deref().unwrap_or("(none)"),
            subnet,
            eni.role.as_str(),
            ips
        );
    }
    if r.enis.is_empty() {
        let _ = writeln!(o, "  (unknown: IMDS unavailable)");
    }

    let p = &r.pods;
    let pod_subnet = match &r.mode.mode {
        NetworkingMode::EksAutoMode { .. } => "the NodeClass pod subnet",
        NetworkingMode::Standard => "a CNI-tagged subnet",
        _ => "the ENIConfig subnet",
    };
    let _ = writeln!(
        o,
        "\nPods       {} on this node: {} in {pod_subnet}, {} in the node subnet, {} elsewhere, \
         {} host-network, {} on branch ENIs, {} not placed",
        p.total,
        p.eniconfig_subnet,
        p.node_subnet,
        p.other,
        p.host_network,
        p.branch_eni,
        p.unplaced
    );

    let c = &r.capacity;
    let supply = match (&c.limits, &c.capacity) {
        (Ok(l), Ok(n)) => format!(
            "{} ENIs x {} IPv4 addresses: {} hosts {n} pods",
            l.max_enis,
            l.ipv4_per_eni,
            if c.custom_networking {
                "custom networking"
            } else {
                "the standard formula"
            }
        ),
        (Err(e), _) | (_, Err(e)) => format!("limits unknown ({e})"),
    };
    let target = c
        .target
        .as_ref()
        .map_or("unknown".to_string(), |t| t.to_string());
    let _ = writeln!(
        o,
        "Capacity   {supply}; kubelet max-pods {}; warm pool {} free of {} (target {target})",
        or_dash(&c.kubelet_max_pods),
        c.free,
        c.total
    );
    if let Some(sn) = &r.subnet {
        let _ = writeln!(
            o,
            "Subnet     {} {} in {}: {} addresses free",
            sn.id,
            or_dash(&sn.cidr),
            or_dash(&sn.availability_zone),
            or_dash(&sn.available_ips)
        );
    }

    let _ = writeln!(o, "\nChecks");
    for c in &r.checks {
        let _ = writeln!(
            o,
            "  {:<8} {:<20} {}",
            status_word(c.status),
            c.name,
            c.detail
        );
    }

    if !r.findings.is_empty() {
        let _ = writeln!(o, "\nFindings ({})", r.findings.len());
        for f in &r.findings {
            let sev = f.severity.as_str().to_uppercase();
            let _ = writeln!(o, "  {sev:<7} {:<32} {}", f.reason.as_str(), f.subject);
            let _ = writeln!(o, "          {}", f.message);
            let _ = writeln!(o, "          fix: {}", f.hint);
        }
    }

    let failing: Vec<String> = r
        .sources
        .iter()
        .filter(|s| !s.ok)
        .map(|s| format!("{}: {}", s.name, s.error.as_deref().unwrap_or("failed")))
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(o, "\nSources that could not be read");
        for f in failing {
            let _ = writeln!(o, "  {f}");
        }
    }
    if let Some(na) = &r.not_applicable {
        let _ = writeln!(o, "\nNot applicable: {}", na.message);
    }
    let verdict = match (r.status, &r.not_applicable, &r.mode.mode) {
        (_, Some(_), _) => "NOT APPLICABLE: eniwatch has nothing to judge on this node",
        (CheckStatus::Drift, _, _) => "DRIFT: see the findings above",
        (CheckStatus::Unknown, _, _) => {
            "INCONCLUSIVE: no drift seen, but some checks could not be judged"
        }
        (_, None, NetworkingMode::Standard) => {
            "OK: standard mode (custom networking off): ENIs and pods are where the VPC CNI puts them"
        }
        (_, None, NetworkingMode::EksAutoMode { .. }) => {
            "OK: EKS Auto Mode: ENIs and pods follow the NodeClass"
        }
        (_, None, _) => "OK: custom networking is as the ENIConfig says",
    };
    let _ = writeln!(o, "\n{verdict} (exit {})", r.exit_code);
    o
}
