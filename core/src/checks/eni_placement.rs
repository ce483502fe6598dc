//! Are the secondary ENIs in the expected subnet, with the expected
//! security groups? Under custom networking those are the ENIConfig's; in
//! standard mode the node's subnet (or CNI-tagged subnets of its zone) and
//! the primary ENI's groups; on EKS Auto Mode the NodeClass's. Outside
//! custom networking an ENI in an unlisted subnet is unknown, never drift,
//! while the list may be incomplete (no eniwatch-cluster facts).
//!
//! Only ENIs the CNI allocates pod IPs from are judged: not the primary, not a
//! trunk, not EFA-only interfaces, not addressless ENIs on other network cards.

use std::collections::BTreeSet;

use super::context::{Context, EniRole, EniView};
use super::imds_integrity::ProblemKind;
use super::{no_expectation_detail, Finding, Outcome, Reason, Subject};
use crate::expectation::ExpectedSource;
use crate::model::SecurityGroupId;

fn judged<'c, 'a>(ctx: &'c Context<'a>) -> Vec<&'c EniView<'a>> {
    ctx.enis
        .iter()
        .filter(|e| e.role == EniRole::Secondary)
        .collect()
}

fn subnet_of(e: &EniView) -> String {
    match (&e.meta.subnet_id, e.meta.subnet_cidr) {
        (Some(s), Some(c)) => format!("{s} ({c})"),
        (Some(s), None) => s.to_string(),
        (None, _) => "an unknown subnet".to_string(),
    }
}

pub(crate) fn eni_subnet(ctx: &Context) -> Outcome {
    let expected = match (&ctx.expected, &ctx.imds) {
        (Err(ne), _) => return Outcome::unknown(no_expectation_detail(ne)),
        (_, Err(reason)) => return Outcome::unknown(format!("IMDS: {reason}")),
        (Ok(e), Ok(_)) => e,
    };
    let enis = judged(ctx);
    if enis.is_empty() {
        return Outcome::ok("no secondary ENI attached yet");
    }
    let unknown: Vec<String> = enis
        .iter()
        .filter(|e| e.meta.subnet_id.is_none())
        .map(|e| e.display_name())
        .collect();
    let right = enis
        .iter()
        .filter(|e| {
            e.meta
                .subnet_id
                .as_ref()
                .is_some_and(|s| expected.allows(s))
        })
        .count();
    let wrong: Vec<&&EniView> = enis
        .iter()
        .filter(|e| matches!(&e.meta.subnet_id, Some(s) if !expected.allows(s)))
        .collect();
    let mut out = Outcome::ok(format!(
        "{right} secondary ENI{} in {}",
        if right == 1 { "" } else { "s" },
        expected.subnets_text()
    ));
    if !unknown.is_empty() {
        out.unknown = Some(format!("IMDS has no subnet-id for {}", unknown.join(", ")));
    }
    if !ctx.mode.is_custom_networking() {
        return outside_custom_networking(ctx, expected, wrong, out);
    }
    if right == 0 && !wrong.is_empty() {
        let list: Vec<String> = wrong
            .iter()
            .map(|e| format!("{} in {}", e.display_name(), subnet_of(e)))
            .collect();
        out.findings.push(Finding::new(
            "",
            Reason::CustomNetworkingNotApplied,
            Subject::node(ctx.node_name.clone()),
            format!(
                "none of the {} secondary ENIs is in the ENIConfig subnet {}: {}",
                wrong.len(),
                expected.subnet,
                list.join(", ")
            ),
        ));
        return out;
    }
    for e in wrong {
        out.findings.push(Finding::new(
            "",
            Reason::SecondaryENIWrongSubnet,
            Subject::eni(e.display_name()),
            format!(
                "secondary ENI {} (device {}, card {}) is in {}, not in the ENIConfig subnet {}",
                e.display_name(),
                e.meta.device_number,
                e.meta.network_card,
                subnet_of(e),
                expected.subnet
            ),
        ));
    }
    out
}

/// Standard mode and EKS Auto Mode: each ENI outside the expected subnets
/// is a finding when the list is complete, else unknown.
fn outside_custom_networking(
    ctx: &Context,
    expected: &super::Expected,
    wrong: Vec<&&EniView>,
    mut out: Outcome,
) -> Outcome {
    if wrong.is_empty() {
        return out;
    }
    let list: Vec<String> = wrong
        .iter()
        .map(|e| format!("{} in {}", e.display_name(), subnet_of(e)))
        .collect();
    if !expected.complete {
        let more = format!(
            "{} outside {} {}; whether that subnet is tagged kubernetes.io/role/cni=1 \
             (enhanced subnet discovery) is unknown without eniwatch-cluster's facts",
            list.join(", "),
            expected.source.words(),
            expected.subnets_text()
        );
        out.unknown = Some(match out.unknown.take() {
            Some(u) => format!("{u}; {more}"),
            None => more,
        });
        return out;
    }
    let allowed = match ctx.mode {
        super::NetworkingMode::Standard => {
            "the node subnet or a CNI-tagged subnet of its zone".to_string()
        }
        _ => expected.source.words().to_string(),
    };
    for e in wrong {
        out.findings.push(Finding::new(
            "",
            Reason::SecondaryENIUnexpectedSubnet,
            Subject::eni(e.display_name()),
            format!(
                "{}: secondary ENI {} (device {}, card {}) is in {}, not in {allowed} ({})",
                ctx.mode.words(),
                e.display_name(),
                e.meta.device_number,
                e.meta.network_card,
                subnet_of(e),
                expected.subnets_text()
            ),
        ));
    }
    out
}

/// The impossible-data message for an ENI IMDS lists without groups.
fn no_groups(ctx: &Context, e: &EniView) -> Option<String> {
    ctx.imds_problems
        .iter()
        .find(|p| p.kind == ProblemKind::NoSecurityGroups && p.mac == e.meta.mac)
        .map(|p| p.message.clone())
}

fn show(groups: &BTreeSet<&SecurityGroupId>) -> String {
    let list: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
    format!("[{}]", list.join(", "))
}

pub(crate) fn eni_security_groups(ctx: &Context) -> Outcome {
    let expected = match (&ctx.expected, &ctx.imds) {
        (Err(ne), _) => return Outcome::unknown(no_expectation_detail(ne)),
        (_, Err(reason)) => return Outcome::unknown(format!("IMDS: {reason}")),
        (Ok(e), Ok(_)) => e,
    };
    let none_listed = match expected.source {
        ExpectedSource::Eniconfig | ExpectedSource::Flags => "the ENIConfig lists none",
        ExpectedSource::NodeSubnet => "standard mode",
        ExpectedSource::NodeClass => "the NodeClass selects no pod security groups",
    };
    let (want, origin): (BTreeSet<&SecurityGroupId>, String) = match &expected.security_groups {
        Some(groups) => (
            groups.iter().collect(),
            match (&expected.selection, expected.source) {
                (Some(s), _) => format!("ENIConfig {:?} lists", s.name),
                (None, ExpectedSource::NodeClass) => "the NodeClass selects".to_string(),
                (None, _) => "--expect-security-groups lists".to_string(),
            },
        ),
        None => match ctx.primary() {
            Some(p) if !p.meta.security_groups.is_empty() => (
                p.meta.security_groups.iter().collect(),
                format!("the primary ENI has ({none_listed})"),
            ),
            Some(p) => {
                let why = no_groups(ctx, p).unwrap_or_default();
                return Outcome::unknown(format!(
                    "the ENIConfig lists no security groups, so the primary ENI's are expected: {why}"
                ));
            }
            None => {
                return Outcome::unknown(
                    "the ENIConfig lists no security groups and IMDS lists no primary ENI",
                )
            }
        },
    };
    // ENIs in another subnet are already reported by `eni-subnet`: their
    // groups follow from the same root cause, so they are not reported twice.
    let enis: Vec<&EniView> = judged(ctx)
        .into_iter()
        .filter(|e| {
            e.meta
                .subnet_id
                .as_ref()
                .is_some_and(|s| expected.allows(s))
        })
        .collect();
    let mut out = Outcome::ok(format!(
        "{} ENI{} in {} with {}",
        enis.len(),
        if enis.len() == 1 { "" } else { "s" },
        expected.source.words(),
        show(&want)
    ));
    let mut unjudged = Vec::new();
    for e in enis {
        if let Some(why) = no_groups(ctx, e) {
            unjudged.push(why);
            continue;
        }
        let have: BTreeSet<&SecurityGroupId> = e.meta.security_groups.iter().collect();
        if have != want {
            out.findings.push(Finding::new(
                "",
                Reason::SecondaryENIWrongSecurityGroups,
                Subject::eni(e.display_name()),
                format!(
                    "secondary ENI {} has security groups {}, but {origin} {}",
                    e.display_name(),
                    show(&have),
                    show(&want)
                ),
            ));
        }
    }
    if !unjudged.is_empty() {
        out.unknown = Some(unjudged.join("; "));
    }
    out
}
