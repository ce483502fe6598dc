//! The ENIConfig subnet as EC2 knows it: does it exist, is it in the node's
//! zone, and has it addresses left?
//!
//! Headroom threshold: `SubnetNearlyExhausted` when `AvailableIpAddressCount`
//! is below the larger of `--subnet-min-free` (default 32) and
//! `--subnet-min-free-percent` (default 10) of the subnet's size.

use super::context::{Context, Expected};
use super::{no_expectation_detail, Finding, Outcome, Reason, Subject};
use crate::model::{SubnetFacts, Witness};

/// The ENIConfig subnet's EC2 facts, or the outcome to return instead.
fn pod_subnet<'c>(ctx: &'c Context) -> Result<(&'c Expected, Option<&'c SubnetFacts>), Outcome> {
    let expected = ctx
        .expected
        .as_ref()
        .map_err(|ne| Outcome::unknown(no_expectation_detail(ne)))?;
    let view = match &ctx.snapshot.ec2 {
        Witness::Off => return Err(Outcome::skipped("needs EC2 (--no-ec2)")),
        Witness::On(Err(u)) => return Err(Outcome::unknown(u.reason.clone())),
        Witness::On(Ok(v)) => v,
    };
    match view.subnet(&expected.subnet) {
        Some(Ok(facts)) => Ok((expected, facts.as_ref())),
        Some(Err(u)) => Err(Outcome::unknown(u.reason.clone())),
        None => Err(Outcome::unknown(format!(
            "EC2 was not asked about {}",
            expected.subnet
        ))),
    }
}

/// `eniconfig-subnet`: the subnet exists and is in the node's zone.
pub(crate) fn eniconfig_subnet(ctx: &Context) -> Outcome {
    let (expected, facts) = match pod_subnet(ctx) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let node = Subject::node(ctx.node_name.clone());
    let name = expected
        .selection
        .as_ref()
        .map_or("--expect-subnet".to_string(), |s| {
            format!("ENIConfig {:?}", s.name)
        });
    let Some(facts) = facts else {
        let mut out = Outcome::ok(String::new());
        out.findings.push(Finding::new(
            "",
            Reason::ENIConfigSubnetNotFound,
            node,
            format!(
                "{name} names subnet {}, which EC2 does not know in this account and region",
                expected.subnet
            ),
        ));
        return out;
    };
    let (zone, zone_id) = match &ctx.imds {
        Ok(m) => (
            m.availability_zone.clone(),
            m.availability_zone_id.as_deref(),
        ),
        Err(e) => return Outcome::unknown(format!("the node's zone is unknown: {e}")),
    };
    // Zone names map to zones differently in each account (a subnet shared
    // from another account, or EC2 answering for another account's
    // credentials); zone ids do not. Names are compared only without ids.
    let same = match (zone_id, facts.availability_zone_id.as_deref()) {
        (Some(ours), Some(theirs)) => ours == theirs,
        _ => facts.availability_zone.as_deref() == Some(zone.as_str()),
    };
    let zone = match zone_id {
        Some(id) => format!("{zone} ({id})"),
        None => zone,
    };
    let subnet_zone = facts
        .availability_zone
        .as_ref()
        .map(|z| match &facts.availability_zone_id {
            Some(id) => format!("{z} ({id})"),
            None => z.clone(),
        });
    match subnet_zone {
        Some(z) if !same => {
            let mut out = Outcome::ok(String::new());
            out.findings.push(Finding::new(
                "",
                Reason::ENIConfigSubnetZoneMismatch,
                node,
                format!(
                    "{name} names subnet {} in {z}, but the node is in {zone}: the CNI cannot \
                     create ENIs there",
                    expected.subnet
                ),
            ));
            out
        }
        Some(z) => Outcome::ok(format!(
            "{} exists, in the node's zone {z}",
            expected.subnet
        )),
        None => Outcome::unknown(format!("EC2 gave no zone for {}", expected.subnet)),
    }
}

/// The free-address floor for a subnet of `size` addresses: the larger of
/// `min_percent` of it and `min_free`, where `min_free` counts for at most a
/// quarter of the subnet (a /27 cannot ever have 32 free addresses, and must
/// not be reported as nearly exhausted while empty).
pub fn headroom_floor(size: u64, min_free: u32, min_percent: u32) -> u64 {
    let absolute = u64::from(min_free).min(size / 4);
    (size.saturating_mul(u64::from(min_percent)) / 100).max(absolute)
}

/// `subnet-headroom`: the ENIConfig subnet has addresses left.
pub(crate) fn subnet_headroom(ctx: &Context) -> Outcome {
    let (expected, facts) = match pod_subnet(ctx) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let Some(facts) = facts else {
        return Outcome::unknown(format!("{} does not exist", expected.subnet));
    };
    let (Some(cidr), Some(available)) = (facts.cidr, facts.available_ips) else {
        return Outcome::unknown(format!(
            "EC2 gave no size or free count for {}",
            expected.subnet
        ));
    };
    let size = 1u64 << (32 - u32::from(cidr.prefix_len()));
    let pool = &ctx.snapshot.pool;
    let floor = headroom_floor(size, pool.subnet_min_free, pool.subnet_min_free_percent);
    if u64::from(available) >= floor {
        return Outcome::ok(format!(
            "{} ({cidr}) has {available} free addresses (floor {floor})",
            expected.subnet
        ));
    }
    let mut out = Outcome::ok(String::new());
    out.findings.push(Finding::new(
        "",
        Reason::SubnetNearlyExhausted,
        Subject::node(ctx.node_name.clone()),
        format!(
            "{} ({cidr}) has {available} free addresses, below the floor of {floor} \
             (the larger of {} and {}% of {size})",
            expected.subnet,
            u64::from(pool.subnet_min_free).min(size / 4),
            pool.subnet_min_free_percent
        ),
    ));
    out
}
