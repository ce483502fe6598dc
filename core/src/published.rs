//! The facts eniwatch-cluster publishes for the node agents: one ConfigMap,
//! read by every agent with one watch by name.
//!
//! Schema (version [`SCHEMA_VERSION`], JSON under the key [`DATA_KEY`];
//! documented for operators in `docs/cluster.md`):
//!
//! | field | meaning |
//! |---|---|
//! | `schema_version` | 1; a reader refuses a larger one (written by a newer eniwatch-cluster) |
//! | `vpc_id` | the cluster's VPC, when known |
//! | `subnets[]` | `id`, `cidr`, `availability_zone`, `availability_zone_id`, `free_addresses`, `free_prefixes` (aligned /28 blocks, pod subnets using prefix delegation only), `observed_at` (RFC 3339: when EC2 last gave these values) |
//! | `subnets_not_found[]` | ENIConfig subnets EC2 does not know |
//! | `enis_observed_at` | when the CNI's ENIs were last listed; absent when they could not be |
//! | `nodes[]` | only nodes with ENIs not attached to them: `name`, `instance_id`, `enis_not_attached[]` (`id`, `status`, `attachment_status`, `attached_to`) |
//! | `nodes_truncated` | more nodes had such ENIs than [`MAX_NODES`] |
//! | `cni_subnets[]` | enhanced subnet discovery: per zone (`availability_zone`, `availability_zone_id`), the `subnet_ids` of the VPC tagged `kubernetes.io/role/cni=1`; absent when EC2 could not be read |
//! | `node_classes[]` | EKS Auto Mode NodeClasses (`eks.amazonaws.com/v1`): `name`; `pod_subnets` per zone (as `cni_subnets`) resolved from `spec.podSubnetSelectorTerms`, absent when it has no pod terms (pods use the node's subnets); `pod_security_groups` from `spec.podSecurityGroupSelectorTerms`, absent without such terms; `problems[]` (a term that matched nothing, EC2 unreadable): a reader treats a class with problems as unknown |
//!
//! Every subnet named in `cni_subnets` or `node_classes` is also in
//! `subnets[]` (its CIDR and free addresses). Both lists are additive to
//! schema 1: a reader of an older document sees them empty.
//!
//! Why a ConfigMap: annotations on ENIConfigs would show as drift in GitOps
//! tools, and a ConfigMap in eniwatch's namespace needs no new CRD.
//!
//! Size: a ConfigMap holds at most 1 MiB. Subnets are bounded by the VPC
//! (at most [`MAX_SUBNETS`]), nodes are listed only when something is wrong
//! (at most [`MAX_NODES`], each with at most [`MAX_ENIS_PER_NODE`] ENIs), so
//! the object stays below ~400 KiB whatever the node count; in a healthy
//! cluster it is a few KiB, which is what every agent receives when it
//! changes. The writer writes only when the content changes: `observed_at`
//! moves only with the values it dates.

use serde::{Deserialize, Serialize};

use crate::model::{EniId, SubnetId, VpcId};

pub const SCHEMA_VERSION: u32 = 1;
/// The ConfigMap's default name (in eniwatch's namespace).
pub const CONFIGMAP_NAME: &str = "eniwatch-cluster-facts";
/// The key of the JSON document in the ConfigMap's `data`.
pub const DATA_KEY: &str = "facts.json";
pub const MAX_SUBNETS: usize = 512;
pub const MAX_NODES: usize = 200;
pub const MAX_ENIS_PER_NODE: usize = 16;
/// The largest document a reader accepts (a ConfigMap's limit is 1 MiB).
pub const MAX_BYTES: usize = 1024 * 1024;

/// The published document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFacts {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<VpcId>,
    #[serde(default)]
    pub subnets: Vec<PublishedSubnet>,
    #[serde(default)]
    pub subnets_not_found: Vec<SubnetId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enis_observed_at: Option<String>,
    #[serde(default)]
    pub nodes: Vec<PublishedNode>,
    #[serde(default)]
    pub nodes_truncated: bool,
    /// Subnets tagged `kubernetes.io/role/cni=1`, per zone; None when EC2
    /// could not be read (unknown), empty when none is tagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_subnets: Option<Vec<ZoneSubnets>>,
    /// EKS Auto Mode NodeClasses, resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_classes: Vec<PublishedNodeClass>,
}

/// The subnets of one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSubnets {
    pub availability_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_id: Option<String>,
    pub subnet_ids: Vec<SubnetId>,
}

/// An EKS Auto Mode NodeClass as eniwatch-cluster resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedNodeClass {
    pub name: String,
    /// From `spec.podSubnetSelectorTerms`, per zone; None: the class has no
    /// pod subnet terms, so pods use the node's subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnets: Option<Vec<ZoneSubnets>>,
    /// From `spec.podSecurityGroupSelectorTerms`; None: no such terms, so
    /// pods use the node's security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_groups: Option<Vec<crate::model::SecurityGroupId>>,
    /// Why the resolution is incomplete (a term matched nothing, EC2 could
    /// not be read); a reader judges nothing against a class with problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// One subnet's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedSubnet {
    pub id: SubnetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<ipnet::Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_addresses: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_prefixes: Option<u32>,
    pub observed_at: String,
}

/// A node with ENIs that are not attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedNode {
    pub name: String,
    pub instance_id: String,
    pub enis_not_attached: Vec<PublishedEni>,
}

/// One ENI the CNI created for a node that EC2 says is not attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedEni {
    pub id: EniId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_status: Option<String>,
    /// The instance it is attached to instead, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
}

/// Why a published document cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishedError {
    #[error("the ConfigMap has no key {DATA_KEY:?}: it was not written by eniwatch-cluster")]
    MissingKey,
    #[error("{DATA_KEY} is {0} bytes, more than the {MAX_BYTES} a ConfigMap can hold")]
    TooLarge(usize),
    #[error("{DATA_KEY} is not valid JSON of schema {SCHEMA_VERSION}: {0}")]
    Invalid(String),
    #[error(
        "{DATA_KEY} has schema version {0}, newer than this agent reads ({SCHEMA_VERSION}): \
         upgrade the node agent to eniwatch-cluster's version"
    )]
    NewerSchema(u32),
}

impl PublishedFacts {
    /// Parses the document, refusing what this version cannot read.
    pub fn parse(text: &str) -> Result<PublishedFacts, PublishedError> {
        if text.len() > MAX_BYTES {
            return Err(PublishedError::TooLarge(text.len()));
        }
        let facts: PublishedFacts =
            serde_json::from_str(text).map_err(|e| PublishedError::Invalid(e.to_string()))?;
        if facts.schema_version > SCHEMA_VERSION {
            return Err(PublishedError::NewerSchema(facts.schema_version));
        }
        if facts.schema_version == 0 {
            return Err(PublishedError::Invalid("schema_version 0".into()));
        }
        Ok(facts)
    }

    /// The compact JSON written to the ConfigMap.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn subnet(&self, id: &SubnetId) -> Option<&PublishedSubnet> {
        self.subnets.iter().find(|s| &s.id == id)
    }

    /// The NodeClass of that name, if published.
    pub fn node_class(&self, name: &str) -> Option<&PublishedNodeClass> {
        self.node_classes.iter().find(|c| c.name == name)
    }

    /// The entry for a node, by instance id or node name.
    pub fn node(&self, instance_id: Option<&str>, name: Option<&str>) -> Option<&PublishedNode> {
        self.nodes.iter().find(|n| {
            instance_id.is_some_and(|i| i == n.instance_id) || name.is_some_and(|m| m == n.name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PublishedFacts {
        PublishedFacts {
            schema_version: 1,
            vpc_id: Some("vpc-1".parse().unwrap()),
            subnets: vec![PublishedSubnet {
                id: "subnet-a".parse().unwrap(),
                cidr: Some("100.64.0.0/19".parse().unwrap()),
                availability_zone: Some("eu-west-1a".into()),
                availability_zone_id: Some("euw1-az1".into()),
                free_addresses: Some(8000),
                free_prefixes: None,
                observed_at: "2026-01-01T00:00:00Z".into(),
            }],
            subnets_not_found: vec!["subnet-gone".parse().unwrap()],
            enis_observed_at: Some("2026-01-01T00:00:00Z".into()),
            nodes: vec![PublishedNode {
                name: "ip-10-0-1-5.eu-west-1.compute.internal".into(),
                instance_id: "i-0abc".into(),
                enis_not_attached: vec![PublishedEni {
                    id: "eni-9".parse().unwrap(),
                    status: Some("available".into()),
                    attachment_status: None,
                    attached_to: None,
                }],
            }],
            nodes_truncated: false,
            cni_subnets: Some(vec![ZoneSubnets {
                availability_zone: "eu-west-1a".into(),
                availability_zone_id: Some("euw1-az1".into()),
                subnet_ids: vec!["subnet-a".parse().unwrap()],
            }]),
            node_classes: vec![PublishedNodeClass {
                name: "default".into(),
                pod_subnets: None,
                pod_security_groups: Some(vec!["sg-1".parse().unwrap()]),
                problems: vec![],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let f = sample();
        assert_eq!(PublishedFacts::parse(&f.to_json()).unwrap(), f);
    }

    #[test]
    fn refuses_newer_schema_and_garbage() {
        assert_eq!(
            PublishedFacts::parse(r#"{"schema_version":2}"#),
            Err(PublishedError::NewerSchema(2))
        );
        assert!(matches!(
            PublishedFacts::parse("{not json"),
            Err(PublishedError::Invalid(_))
        ));
        assert!(matches!(
            PublishedFacts::parse(
                r#"{"schema_version":1,"subnets":[{"id":"bogus","observed_at":"x"}]}"#
            ),
            Err(PublishedError::Invalid(_))
        ));
    }

    #[test]
    fn ignores_unknown_fields_of_the_same_version() {
        let f = PublishedFacts::parse(r#"{"schema_version":1,"later":true}"#).unwrap();
        assert!(f.subnets.is_empty());
    }

    #[test]
    fn finds_a_node_by_instance_or_name() {
        let f = sample();
        assert!(f.node(Some("i-0abc"), None).is_some());
        assert!(f
            .node(None, Some("ip-10-0-1-5.eu-west-1.compute.internal"))
            .is_some());
        assert!(f.node(Some("i-other"), Some("other")).is_none());
    }
}
