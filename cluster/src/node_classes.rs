//! EKS Auto Mode NodeClasses (`eks.amazonaws.com/v1`, kind `NodeClass`,
//! cluster-scoped) and the subnets tagged for the VPC CNI's enhanced subnet
//! discovery, resolved against the VPC eniwatch-cluster already reads: the
//! `cni_subnets` and `node_classes` of the published facts. Pure: parsing a
//! NodeClass's spec and resolving its terms judge nothing and ask nothing.
//!
//! # What a NodeClass says about pods
//!
//! `spec.podSubnetSelectorTerms[]` and `spec.podSecurityGroupSelectorTerms[]`
//! (Auto Mode's "subnet selection for pods"): each term is `{id: ...}` or
//! `{tags: {key: value}}`. Rules, as EKS applies them:
//! - terms are ORed: a subnet (group) is selected when any term matches it;
//! - within a term, `id` and every tag must match (ANDed); a tag value `*`
//!   matches any value, the key must still be present;
//! - without pod subnet terms, pods take addresses from the node's subnets
//!   (published as `pod_subnets: None`); without pod group terms, pods use
//!   the node's groups (`pod_security_groups: None`).
//!
//! Candidates: the subnets of the cluster's VPC (`DescribeSubnets` filter
//! `vpc-id`, which keeps tags) and its security groups (by id, and the
//! VPC's whole list filtered by `vpc-id` when some NodeClass selects groups
//! by tag: [`needs_vpc_groups`]). A subnet or group of another VPC is never
//! selected: Auto Mode places pods in the cluster's VPC only.
//!
//! # What becomes a problem
//!
//! A term that matches nothing, a term that is neither `id` nor `tags`, a
//! malformed spec, or EC2 unreadable: the class is published with
//! `problems` in words, which the agents read as "unknown" for its nodes.
//! A selected subnet without a zone in EC2's answer cannot be placed in a
//! zone: left out, with a problem.

use std::collections::BTreeMap;

use eniwatch_core::model::{Observed, SecurityGroup, SecurityGroupId, Subnet, SubnetId, VpcId};
use eniwatch_core::published::{PublishedNodeClass, ZoneSubnets};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

/// The tag of subnets the VPC CNI's enhanced subnet discovery uses.
pub const CNI_ROLE_TAG: &str = "kubernetes.io/role/cni";
/// [`CNI_ROLE_TAG`]'s value that selects a subnet.
pub const CNI_ROLE_VALUE: &str = "1";
/// A tag value in a selector term that matches any value.
pub const ANY_VALUE: &str = "*";

/// The NodeClass resource.
pub fn nodeclass_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("eks.amazonaws.com", "v1", "NodeClass"),
        "nodeclasses",
    )
}

/// One selector term: `id`, or `tags`, or both (both must match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectorTerm {
    pub id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl SelectorTerm {
    fn matches(&self, id: &str, tags: &BTreeMap<String, String>) -> bool {
        self.id.as_deref().is_none_or(|want| want == id)
            && self.tags.iter().all(|(k, want)| {
                tags.get(k)
                    .is_some_and(|have| want == ANY_VALUE || have == want)
            })
    }

    /// The term in words: `id subnet-0a`, `tags Name=pods, tier=*`.
    fn words(&self) -> String {
        let tags = self
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        match (&self.id, tags.is_empty()) {
            (Some(id), true) => format!("id {id}"),
            (Some(id), false) => format!("id {id} and tags {tags}"),
            (None, _) => format!("tags {tags}"),
        }
    }
}

/// A NodeClass, reduced to what concerns pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeClass {
    pub name: String,
    /// `spec.podSubnetSelectorTerms`; None when absent or empty.
    pub pod_subnet_terms: Option<Vec<SelectorTerm>>,
    /// `spec.podSecurityGroupSelectorTerms`; None when absent or empty.
    pub pod_group_terms: Option<Vec<SelectorTerm>>,
    /// What could not be read from the spec, in words.
    pub problems: Vec<String>,
}

/// Reads a NodeClass object.
pub fn node_class(obj: &DynamicObject) -> NodeClass {
    let name = obj.metadata.name.clone().unwrap_or_default();
    node_class_from_spec(name, obj.data.get("spec"))
}

/// Reads a NodeClass's spec; a malformed part is a problem, never a panic.
pub fn node_class_from_spec(name: String, spec: Option<&Value>) -> NodeClass {
    let mut problems = Vec::new();
    let mut terms = |field: &str| -> Option<Vec<SelectorTerm>> {
        let list = match spec.and_then(|s| s.get(field)) {
            None | Some(Value::Null) => return None,
            Some(Value::Array(list)) => list,
            Some(_) => {
                problems.push(format!("spec.{field} is not a list"));
                return Some(Vec::new());
            }
        };
        if list.is_empty() {
            return None;
        }
        let parsed = list
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match term(t) {
                Ok(t) => Some(t),
                Err(why) => {
                    problems.push(format!("spec.{field}[{i}] {why}"));
                    None
                }
            })
            .collect();
        Some(parsed)
    };
    let pod_subnet_terms = terms("podSubnetSelectorTerms");
    let pod_group_terms = terms("podSecurityGroupSelectorTerms");
    NodeClass {
        name,
        pod_subnet_terms,
        pod_group_terms,
        problems,
    }
}

fn term(v: &Value) -> Result<SelectorTerm, &'static str> {
    let obj = v.as_object().ok_or("is not an object")?;
    let id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(_) => return Err("has an id that is not a string"),
    };
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect::<Option<_>>()
            .ok_or("has a tag value that is not a string")?,
        Some(_) => return Err("has tags that are not a map"),
    };
    if id.is_none() && tags.is_empty() {
        return Err("has neither id nor tags");
    }
    Ok(SelectorTerm { id, tags })
}

/// Whether some NodeClass selects pod security groups by tag (then the
/// VPC's groups are listed whole, filter `vpc-id`).
pub fn needs_vpc_groups(classes: &[NodeClass]) -> bool {
    classes
        .iter()
        .flat_map(|c| c.pod_group_terms.iter().flatten())
        .any(|t| !t.tags.is_empty() || t.id.is_none())
}

/// The group ids NodeClasses name (asked of EC2 by `group-id`).
pub fn named_groups(classes: &[NodeClass]) -> Vec<SecurityGroupId> {
    classes
        .iter()
        .flat_map(|c| c.pod_group_terms.iter().flatten())
        .filter_map(|t| t.id.as_deref()?.parse().ok())
        .collect()
}

/// Whether a subnet or group is a candidate: in the cluster's VPC (any,
/// while the VPC is not known).
fn in_vpc(theirs: Option<&VpcId>, ours: Option<&VpcId>) -> bool {
    match (theirs, ours) {
        (Some(t), Some(o)) => t == o,
        _ => true,
    }
}

/// Subnets per zone, zones and ids sorted; the subnets without a zone.
fn by_zone<'a>(subnets: impl Iterator<Item = &'a Subnet>) -> (Vec<ZoneSubnets>, Vec<SubnetId>) {
    let mut zones: BTreeMap<String, (Option<String>, Vec<SubnetId>)> = BTreeMap::new();
    let mut zoneless = Vec::new();
    for s in subnets {
        let Some(zone) = s.facts.availability_zone.clone() else {
            zoneless.push(s.facts.id.clone());
            continue;
        };
        let entry = zones.entry(zone).or_default();
        if entry.0.is_none() {
            entry.0.clone_from(&s.facts.availability_zone_id);
        }
        entry.1.push(s.facts.id.clone());
    }
    let zones = zones
        .into_iter()
        .map(
            |(availability_zone, (availability_zone_id, mut subnet_ids))| {
                subnet_ids.sort();
                subnet_ids.dedup();
                ZoneSubnets {
                    availability_zone,
                    availability_zone_id,
                    subnet_ids,
                }
            },
        )
        .collect();
    zoneless.sort();
    zoneless.dedup();
    (zones, zoneless)
}

/// The VPC's subnets tagged `kubernetes.io/role/cni=1`, per zone; None when
/// EC2 could not list the subnets.
pub fn cni_subnets(
    subnets: &Observed<Vec<Subnet>>,
    vpc: Option<&VpcId>,
) -> Option<Vec<ZoneSubnets>> {
    let subnets = subnets.as_ref().ok()?;
    let tagged = subnets.iter().filter(|s| {
        in_vpc(s.vpc_id.as_ref(), vpc)
            && s.tags.get(CNI_ROLE_TAG).map(|v| v.trim()) == Some(CNI_ROLE_VALUE)
    });
    Some(by_zone(tagged).0)
}

/// What a NodeClass's pod terms resolve to against the VPC.
pub fn resolve(
    class: &NodeClass,
    subnets: &Observed<Vec<Subnet>>,
    groups: &Observed<Vec<SecurityGroup>>,
    vpc: Option<&VpcId>,
) -> PublishedNodeClass {
    let mut problems = class.problems.clone();
    let pod_subnets = class
        .pod_subnet_terms
        .as_ref()
        .map(|terms| resolve_subnets(terms, subnets, vpc, &mut problems));
    let pod_security_groups = class
        .pod_group_terms
        .as_ref()
        .map(|terms| resolve_groups(terms, groups, vpc, &mut problems));
    PublishedNodeClass {
        name: class.name.clone(),
        pod_subnets,
        pod_security_groups,
        problems,
    }
}

fn resolve_subnets(
    terms: &[SelectorTerm],
    subnets: &Observed<Vec<Subnet>>,
    vpc: Option<&VpcId>,
    problems: &mut Vec<String>,
) -> Vec<ZoneSubnets> {
    let subnets = match subnets {
        Ok(s) => s,
        Err(u) => {
            problems.push(format!(
                "podSubnetSelectorTerms not resolved: EC2 did not list the VPC's subnets ({})",
                u.reason
            ));
            return Vec::new();
        }
    };
    let candidates: Vec<&Subnet> = subnets
        .iter()
        .filter(|s| in_vpc(s.vpc_id.as_ref(), vpc))
        .collect();
    let mut chosen: Vec<&Subnet> = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let matched: Vec<&Subnet> = candidates
            .iter()
            .copied()
            .filter(|s| t.matches(s.facts.id.as_str(), &s.tags))
            .collect();
        if matched.is_empty() {
            problems.push(format!(
                "podSubnetSelectorTerms[{i}] ({}) matches no subnet of the VPC",
                t.words()
            ));
        }
        chosen.extend(matched);
    }
    let (zones, zoneless) = by_zone(chosen.into_iter());
    for id in zoneless {
        problems.push(format!(
            "subnet {id} has no availability zone in EC2's answer: left out"
        ));
    }
    zones
}

fn resolve_groups(
    terms: &[SelectorTerm],
    groups: &Observed<Vec<SecurityGroup>>,
    vpc: Option<&VpcId>,
    problems: &mut Vec<String>,
) -> Vec<SecurityGroupId> {
    let groups = match groups {
        Ok(g) => g,
        Err(u) => {
            problems.push(format!(
                "podSecurityGroupSelectorTerms not resolved: EC2 did not list the security \
                 groups ({})",
                u.reason
            ));
            return Vec::new();
        }
    };
    let mut chosen: Vec<SecurityGroupId> = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let matched: Vec<SecurityGroupId> = groups
            .iter()
            .filter(|g| in_vpc(g.vpc_id.as_ref(), vpc))
            .filter(|g| t.matches(g.id.as_str(), &g.tags))
            .map(|g| g.id.clone())
            .collect();
        if matched.is_empty() {
            problems.push(format!(
                "podSecurityGroupSelectorTerms[{i}] ({}) matches no security group of the VPC",
                t.words()
            ));
        }
        chosen.extend(matched);
    }
    chosen.sort();
    chosen.dedup();
    chosen
}

/// Every NodeClass resolved, sorted by name; empty when the CRD is absent
/// or the NodeClasses could not be listed.
pub fn resolve_all(
    classes: &Observed<Option<Vec<NodeClass>>>,
    subnets: &Observed<Vec<Subnet>>,
    groups: &Observed<Vec<SecurityGroup>>,
    vpc: Option<&VpcId>,
) -> Vec<PublishedNodeClass> {
    let Ok(Some(classes)) = classes else {
        return Vec::new();
    };
    let mut out: Vec<PublishedNodeClass> = classes
        .iter()
        .map(|c| resolve(c, subnets, groups, vpc))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
#[path = "node_classes_tests.rs"]
mod tests;
