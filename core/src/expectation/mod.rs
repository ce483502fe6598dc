//! What is expected of a node, decided in one place from the model alone:
//! which ENIConfig applies ([`selection`], in the VPC CNI's order), the
//! subnet and security groups it names, and whether custom networking
//! applies at all ([`mode`]). The checks judge against it; the EC2
//! scheduling reads it to know which subnet to ask about. Nothing here does
//! I/O or judges drift.

pub mod mode;
pub mod selection;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::model::{Expectation, SecurityGroupId, Snapshot, SubnetId};
pub use selection::{select_eniconfig, Selection, EXTERNAL_ENICONFIG_LABEL};

/// The subnet and groups the node's ENIs and pods should be in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    /// The ENIConfig and why it was chosen; None with `--no-kube`.
    pub selection: Option<Selection>,
    pub subnet: SubnetId,
    /// From IMDS, when an attached ENI is in that subnet; else from
    /// eniwatch-cluster's published facts.
    pub subnet_cidr: Option<Ipv4Net>,
    /// Explicit groups (ENIConfig `securityGroups` or `--expect-security-groups`);
    /// None means "the primary ENI's groups".
    pub security_groups: Option<Vec<SecurityGroupId>>,
}

/// Why the expected subnet is not known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoExpectation {
    /// The selected ENIConfig does not exist: that is drift in itself.
    NotFound {
        selection: Selection,
        crd_missing: bool,
    },
    /// The ENIConfig exists but is malformed (`spec.subnet` missing or not a
    /// subnet id, `spec.securityGroups` not a list of `sg-` ids): that is
    /// drift in itself (`ENIConfigInvalid`).
    Invalid {
        selection: Selection,
        problems: Vec<String>,
    },
    /// The API server could not be read.
    Unavailable { reason: String },
}

/// What is expected of the node: its ENIConfig (chosen in the CNI's order),
/// the subnet and groups it names, and the subnet's CIDR where known.
pub fn expected(snapshot: &Snapshot) -> Result<Expected, NoExpectation> {
    let cluster = match &snapshot.expectation {
        Expectation::Kubernetes(c) => Some(c.as_ref().map_err(|u| u.reason.clone())),
        Expectation::Flags(_) => None,
    };
    let cluster = cluster.as_ref();
    let imds = snapshot.imds.as_ref().ok();
    let (selection, subnet, security_groups) = match (&snapshot.expectation, cluster) {
        (Expectation::Flags(f), _) => (None, f.subnet.clone(), f.security_groups.clone()),
        (_, Some(Ok(c))) => {
            let selection = select_eniconfig(&c.node, &snapshot.selection);
            let found = c
                .eni_configs
                .as_ref()
                .and_then(|list| list.iter().find(|e| e.name == selection.name));
            let Some(cfg) = found else {
                return Err(NoExpectation::NotFound {
                    crd_missing: c.eni_configs.is_none(),
                    selection,
                });
            };
            let subnet = match (&cfg.subnet, cfg.problems.is_empty()) {
                (Some(subnet), true) => subnet.clone(),
                (None, true) => {
                    return Err(NoExpectation::Invalid {
                        selection,
                        problems: vec!["spec.subnet is missing".to_string()],
                    })
                }
                (_, false) => {
                    return Err(NoExpectation::Invalid {
                        selection,
                        problems: cfg.problems.clone(),
                    })
                }
            };
            let groups = (!cfg.security_groups.is_empty()).then(|| cfg.security_groups.clone());
            (Some(selection), subnet, groups)
        }
        (_, Some(Err(reason))) => {
            return Err(NoExpectation::Unavailable {
                reason: reason.clone(),
            })
        }
        (_, None) => {
            return Err(NoExpectation::Unavailable {
                reason: "no expectation source".into(),
            })
        }
    };
    let subnet_cidr = imds.and_then(|m| {
        m.enis
            .iter()
            .find(|e| e.subnet_id.as_ref() == Some(&subnet))
            .and_then(|e| e.subnet_cidr)
    });
    // No ENI in that subnet (a node created before the switch):
    // eniwatch-cluster's published facts know it.
    let subnet_cidr = subnet_cidr.or_else(|| {
        let published = snapshot.cluster_facts.data()?.published.as_ref()?;
        published.subnet(&subnet)?.cidr
    });
    Ok(Expected {
        selection,
        subnet,
        subnet_cidr,
        security_groups,
    })
}
