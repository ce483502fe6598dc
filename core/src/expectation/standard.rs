//! The expected subnets where no ENIConfig applies.
//!
//! - Standard mode: the node's subnet (the primary ENI's, from IMDS); with
//!   enhanced subnet discovery (VPC CNI 1.18+) also the subnets of the node's
//!   zone tagged `kubernetes.io/role/cni=1`, as eniwatch-cluster publishes
//!   them (`cni_subnets`). Without those facts the list is incomplete: an
//!   ENI or pod in another subnet is unknown, not drift, since the tag may
//!   allow it. Groups: the primary ENI's.
//! - EKS Auto Mode: the NodeClass's pod subnets of the node's zone and its
//!   pod security groups, as eniwatch-cluster resolved them; a class without
//!   pod subnet terms means the node's subnet. A class not published, or
//!   published with problems, leaves the expectation unresolved (unknown).

use super::{cidr_of, Expected, ExpectedSource, ExpectedSubnet, NoExpectation};
use crate::model::{InstanceMetadata, Snapshot, SubnetId};
use crate::published::{PublishedFacts, ZoneSubnets};

fn imds(snapshot: &Snapshot) -> Result<&InstanceMetadata, NoExpectation> {
    snapshot
        .imds
        .as_ref()
        .map_err(|u| NoExpectation::Unresolved {
            reason: format!("the node subnet is unknown (IMDS: {})", u.reason),
        })
}

/// The primary ENI's subnet.
fn node_subnet(m: &InstanceMetadata) -> Result<SubnetId, NoExpectation> {
    m.enis
        .iter()
        .find(|e| e.mac == m.primary_mac || (e.device_number == 0 && e.network_card == 0))
        .and_then(|e| e.subnet_id.clone())
        .ok_or_else(|| NoExpectation::Unresolved {
            reason: "IMDS gives no subnet-id for the primary ENI, so the node subnet is unknown"
                .to_string(),
        })
}

fn published(snapshot: &Snapshot) -> Option<&PublishedFacts> {
    snapshot.cluster_facts.data()?.published.as_ref()
}

/// The subnet ids listed for the node's zone.
fn in_zone<'z>(zones: &'z [ZoneSubnets], m: &InstanceMetadata) -> Option<&'z [SubnetId]> {
    zones
        .iter()
        .find(|z| {
            z.availability_zone == m.availability_zone
                || (z.availability_zone_id.is_some()
                    && z.availability_zone_id == m.availability_zone_id)
        })
        .map(|z| z.subnet_ids.as_slice())
}

fn with_cidrs(snapshot: &Snapshot, ids: &[SubnetId], skip: &SubnetId) -> Vec<ExpectedSubnet> {
    ids.iter()
        .filter(|id| *id != skip)
        .map(|id| ExpectedSubnet {
            id: id.clone(),
            cidr: cidr_of(snapshot, id),
        })
        .collect()
}

/// Standard mode.
pub(super) fn node_subnets(snapshot: &Snapshot) -> Result<Expected, NoExpectation> {
    let m = imds(snapshot)?;
    let subnet = node_subnet(m)?;
    let tagged = published(snapshot).and_then(|p| p.cni_subnets.as_deref());
    let (also, complete) = match tagged {
        Some(zones) => (
            with_cidrs(snapshot, in_zone(zones, m).unwrap_or_default(), &subnet),
            true,
        ),
        None => (Vec::new(), false),
    };
    Ok(Expected {
        selection: None,
        subnet_cidr: cidr_of(snapshot, &subnet),
        subnet,
        security_groups: None,
        source: ExpectedSource::NodeSubnet,
        also,
        complete,
    })
}

/// EKS Auto Mode.
pub(super) fn node_class(
    snapshot: &Snapshot,
    name: Option<&str>,
) -> Result<Expected, NoExpectation> {
    let unresolved = |reason: String| Err(NoExpectation::Unresolved { reason });
    let Some(name) = name else {
        return unresolved(format!(
            "the node has no {} label, so its NodeClass is unknown",
            super::mode::NODECLASS_LABEL
        ));
    };
    let facts = match &snapshot.cluster_facts {
        crate::model::Witness::On(Ok(f)) => f.published.as_ref(),
        _ => None,
    };
    let Some(facts) = facts else {
        return unresolved(format!(
            "NodeClass {name:?} is resolved by eniwatch-cluster, whose facts are not available"
        ));
    };
    let Some(class) = facts.node_class(name) else {
        return unresolved(format!(
            "NodeClass {name:?} is not in eniwatch-cluster's facts (not found, or not resolved yet)"
        ));
    };
    if !class.problems.is_empty() {
        return unresolved(format!(
            "NodeClass {name:?} could not be resolved: {}",
            class.problems.join("; ")
        ));
    }
    let m = imds(snapshot)?;
    let (subnet, also) = match &class.pod_subnets {
        None => (node_subnet(m)?, Vec::new()),
        Some(zones) => match in_zone(zones, m) {
            Some([first, rest @ ..]) => (first.clone(), with_cidrs(snapshot, rest, first)),
            _ => {
                return unresolved(format!(
                    "NodeClass {name:?} selects no pod subnet in the node's zone {}",
                    m.availability_zone
                ))
            }
        },
    };
    Ok(Expected {
        selection: None,
        subnet_cidr: cidr_of(snapshot, &subnet),
        subnet,
        security_groups: class.pod_security_groups.clone(),
        source: ExpectedSource::NodeClass,
        also,
        complete: true,
    })
}
