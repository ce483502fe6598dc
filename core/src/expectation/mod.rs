//! What is expected of a node, decided in one place from the model alone:
//! the node's networking mode ([`mode`]), and by mode the subnets and
//! security groups its secondary ENIs and pods belong in: the ENIConfig's
//! (chosen by [`selection`], in the VPC CNI's order) under custom
//! networking, the node's subnet or CNI-tagged subnets of its zone in
//! standard mode ([`standard`]), the NodeClass's on an EKS Auto Mode node.
//! The checks judge against it; the EC2 scheduling reads it to know which
//! subnet to ask about. Nothing here does I/O or judges drift.

pub mod mode;
pub mod selection;
mod standard;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::model::{Expectation, SecurityGroupId, Snapshot, SubnetId};
pub use mode::NetworkingMode;
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
    /// Explicit groups (ENIConfig `securityGroups`, `--expect-security-groups`,
    /// a NodeClass's pod groups); None means "the primary ENI's groups".
    pub security_groups: Option<Vec<SecurityGroupId>>,
    /// Where the expectation comes from.
    pub source: ExpectedSource,
    /// Further subnets ENIs and pods may be in: CNI-tagged subnets of the
    /// node's zone (standard mode), a NodeClass's other pod subnets there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<ExpectedSubnet>,
    /// False when the list of subnets may be incomplete (standard mode
    /// without eniwatch-cluster's facts on CNI-tagged subnets): an ENI or
    /// pod outside the listed subnets is then unknown, never drift.
    pub complete: bool,
}

/// Where the expected subnets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedSource {
    Eniconfig,
    Flags,
    /// Standard mode: the primary ENI's subnet (and CNI-tagged ones).
    NodeSubnet,
    /// EKS Auto Mode: the NodeClass's pod subnets, or the node's.
    NodeClass,
}

impl ExpectedSource {
    /// The expectation, in words: "the ENIConfig subnet", ...
    pub fn words(self) -> &'static str {
        match self {
            ExpectedSource::Eniconfig => "the ENIConfig subnet",
            ExpectedSource::Flags => "the --expect-subnet subnet",
            ExpectedSource::NodeSubnet => "the node subnet",
            ExpectedSource::NodeClass => "the NodeClass pod subnet",
        }
    }
}

/// A subnet, with its CIDR where known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedSubnet {
    pub id: SubnetId,
    pub cidr: Option<Ipv4Net>,
}

impl Expected {
    /// Whether `subnet` is one the node's ENIs may be in.
    pub fn allows(&self, subnet: &SubnetId) -> bool {
        self.subnet == *subnet || self.also.iter().any(|s| s.id == *subnet)
    }

    /// Whether `ip` is inside an expected subnet whose CIDR is known.
    pub fn contains(&self, ip: std::net::Ipv4Addr) -> bool {
        self.subnet_cidr.is_some_and(|c| c.contains(&ip))
            || self
                .also
                .iter()
                .any(|s| s.cidr.is_some_and(|c| c.contains(&ip)))
    }

    /// Whether every expected subnet's CIDR is known.
    pub fn cidrs_known(&self) -> bool {
        self.subnet_cidr.is_some() && self.also.iter().all(|s| s.cidr.is_some())
    }

    /// The subnets, for messages: "subnet-a" or "subnet-a, subnet-b".
    pub fn subnets_text(&self) -> String {
        std::iter::once(self.subnet.as_str())
            .chain(self.also.iter().map(|s| s.id.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
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
    /// Standard mode or EKS Auto Mode, and the subnets cannot be told (IMDS
    /// unread, the NodeClass not published, published with problems).
    Unresolved { reason: String },
    /// The node is out of scope (see [`mode`]).
    NotApplicable,
}

/// What is expected of the node in its mode.
pub fn expected(snapshot: &Snapshot, mode: &NetworkingMode) -> Result<Expected, NoExpectation> {
    match mode {
        NetworkingMode::CustomNetworking { .. } => custom_networking(snapshot),
        NetworkingMode::Standard => standard::node_subnets(snapshot),
        NetworkingMode::EksAutoMode { node_class } => {
            standard::node_class(snapshot, node_class.as_deref())
        }
        NetworkingMode::NotApplicable(_) => Err(NoExpectation::NotApplicable),
    }
}

/// Custom networking: the node's ENIConfig (chosen in the CNI's order), the
/// subnet and groups it names, and the subnet's CIDR where known.
fn custom_networking(snapshot: &Snapshot) -> Result<Expected, NoExpectation> {
    let cluster = match &snapshot.expectation {
        Expectation::Kubernetes(c) => Some(c.as_ref().map_err(|u| u.reason.clone())),
        Expectation::Flags(_) => None,
    };
    let cluster = cluster.as_ref();
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
    let source = if selection.is_some() {
        ExpectedSource::Eniconfig
    } else {
        ExpectedSource::Flags
    };
    Ok(Expected {
        selection,
        subnet_cidr: cidr_of(snapshot, &subnet),
        subnet,
        security_groups,
        source,
        also: Vec::new(),
        complete: true,
    })
}

/// A subnet's CIDR: from IMDS, when an attached ENI is in it; else (no ENI
/// in it yet, a node created before the switch) from eniwatch-cluster's
/// published facts.
pub(crate) fn cidr_of(snapshot: &Snapshot, subnet: &SubnetId) -> Option<Ipv4Net> {
    let from_imds = snapshot.imds.as_ref().ok().and_then(|m| {
        m.enis
            .iter()
            .find(|e| e.subnet_id.as_ref() == Some(subnet))
            .and_then(|e| e.subnet_cidr)
    });
    from_imds.or_else(|| {
        let published = snapshot.cluster_facts.data()?.published.as_ref()?;
        published.subnet(subnet)?.cidr
    })
}
