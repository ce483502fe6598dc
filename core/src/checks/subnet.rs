//! The ENIConfig subnet as EC2 knows it: does it exist, is it in the node's
//! zone, and has it addresses left?
//!
//! The node agent asks EC2 nothing: the subnet's zone and free addresses
//! come from eniwatch-cluster's published facts; a subnet it has not
//! published (yet) exists in the node's zone when an ENI IMDS lists is in it
//! (an ENI is attached only in its instance's zone), and its CIDR comes from
//! IMDS first ([`crate::expectation`]). Without them
//! (`--no-cluster-facts`, or eniwatch-cluster not installed) these checks are
//! *skipped*; with a ConfigMap that cannot be read they are *unknown*.
//!
//! Headroom threshold: `SubnetNearlyExhausted` when the published free count
//! is below the larger of `--subnet-min-free` (default 32, at most a quarter
//! of the subnet) and `--subnet-min-free-percent` (default 10) of its size.

use super::context::{Context, Expected};
use super::{no_expectation_detail, Finding, Outcome, Reason, Subject};
use crate::model::Witness;
use crate::published::{PublishedFacts, PublishedSubnet};

/// eniwatch-cluster's published document, or the outcome to return instead:
/// skipped when off or not installed, unknown when it could not be read.
pub(crate) fn published<'c>(ctx: &'c Context) -> Result<&'c PublishedFacts, Outcome> {
    match &ctx.snapshot.cluster_facts {
        Witness::Off => Err(Outcome::skipped(
            "needs eniwatch-cluster's published facts (--no-cluster-facts or --no-kube)",
        )),
        Witness::On(Err(u)) => Err(Outcome::unknown(u.reason.clone())),
        Witness::On(Ok(f)) => f
            .published
            .as_ref()
            .ok_or_else(|| Outcome::skipped(f.not_installed())),
    }
}

/// What is known of the ENIConfig subnet.
enum Known<'c> {
    /// eniwatch-cluster published it.
    Published(&'c PublishedSubnet),
    /// eniwatch-cluster says EC2 does not know it.
    NotFound,
    /// eniwatch-cluster has not published it.
    Unpublished,
}

/// The ENIConfig subnet's published facts, or the outcome to return instead.
fn pod_subnet<'c>(ctx: &'c Context) -> Result<(&'c Expected, Known<'c>), Outcome> {
    let expected = ctx
        .expected
        .as_ref()
        .map_err(|ne| Outcome::unknown(no_expectation_detail(ne)))?;
    let facts = published(ctx)?;
    let known = match facts.subnet(&expected.subnet) {
        Some(s) => Known::Published(s),
        None if facts.subnets_not_found.contains(&expected.subnet) => Known::NotFound,
        None => Known::Unpublished,
    };
    Ok((expected, known))
}

fn unpublished(expected: &Expected) -> Outcome {
    Outcome::unknown(format!(
        "eniwatch-cluster has not published {} (it publishes every ENIConfig's subnet; \
         has it seen this ENIConfig yet?)",
        expected.subnet
    ))
}

/// A subnet eniwatch-cluster has not published (yet): an ENI IMDS lists in
/// it proves it exists in the node's zone (an ENI attaches only in its
/// instance's zone); without one, unknown.
fn attached_in(ctx: &Context, expected: &Expected) -> Outcome {
    let attached = ctx.imds.as_ref().ok().and_then(|m| {
        m.enis
            .iter()
            .find(|e| e.subnet_id.as_ref() == Some(&expected.subnet))
    });
    match attached {
        Some(e) => Outcome::ok(format!(
            "{} exists, in the node's zone: ENI {} (device {}) is attached in it",
            expected.subnet,
            e.interface_id
                .as_ref()
                .map_or_else(|| e.mac.to_string(), ToString::to_string),
            e.device_number
        )),
        None => unpublished(expected),
    }
}

/// `eniconfig-subnet`: the subnet exists and is in the node's zone.
pub(crate) fn eniconfig_subnet(ctx: &Context) -> Outcome {
    let (expected, known) = match pod_subnet(ctx) {
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
    let facts = match known {
        Known::Published(f) => f,
        Known::Unpublished => return attached_in(ctx, expected),
        Known::NotFound => {
            let mut out = Outcome::ok(String::new());
            out.findings.push(Finding::new(
                "",
                Reason::ENIConfigSubnetNotFound,
                node,
                format!(
                    "{name} names subnet {}, which EC2 does not know in this account and \
                     region (as eniwatch-cluster published)",
                    expected.subnet
                ),
            ));
            return out;
        }
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
        None => Outcome::unknown(format!(
            "eniwatch-cluster published no zone for {}",
            expected.subnet
        )),
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
    let (expected, known) = match pod_subnet(ctx) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let facts = match known {
        Known::Published(f) => f,
        Known::NotFound => return Outcome::unknown(format!("{} does not exist", expected.subnet)),
        Known::Unpublished => return unpublished(expected),
    };
    let (Some(cidr), Some(available)) = (facts.cidr.or(expected.subnet_cidr), facts.free_addresses)
    else {
        return Outcome::unknown(format!(
            "eniwatch-cluster published no size or free count for {}",
            expected.subnet
        ));
    };
    let size = 1u64 << (32 - u32::from(cidr.prefix_len()));
    let pool = &ctx.snapshot.pool;
    let floor = headroom_floor(size, pool.subnet_min_free, pool.subnet_min_free_percent);
    if u64::from(available) >= floor {
        return Outcome::ok(format!(
            "{} ({cidr}) has {available} free addresses (floor {floor}), as of {}",
            expected.subnet, facts.observed_at
        ));
    }
    let mut out = Outcome::ok(String::new());
    out.findings.push(Finding::new(
        "",
        Reason::SubnetNearlyExhausted,
        Subject::node(ctx.node_name.clone()),
        format!(
            "{} ({cidr}) has {available} free addresses as of {}, below the floor of {floor} \
             (the larger of {} and {}% of {size})",
            expected.subnet,
            facts.observed_at,
            u64::from(pool.subnet_min_free).min(size / 4),
            pool.subnet_min_free_percent
        ),
    ));
    out
}
