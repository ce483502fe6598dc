//! eniwatch-cluster: the part of eniwatch that owns what belongs to a subnet
//! or the VPC rather than to a node.
//!
//! Node agents run on every node; if each asked EC2 about its subnets, a
//! 5,000-node rollout would drain the account's EC2 request budget, which the
//! VPC CNI needs to give pods addresses. One replica per cluster asks EC2
//! instead (through `eniwatch-ec2`), O(subnets) and independent of the node
//! count, judges subnets, route tables, security groups and ENI attachment
//! with pure checks and the same `Finding` type as the agent
//! (`eniwatch-core`), and publishes subnet facts for the agents to read
//! ([`eniwatch_core::published`]).
//!
//! - [`cli`]: the command line and the checked configuration.
//! - [`sources`]: Nodes, ENIConfigs and NodeClasses from the Kubernetes API.
//! - [`snapshot`]: the question for EC2, the snapshot, the ENI history.
//! - [`model`]: the cluster snapshot (Nodes, ENIConfigs, the VPC).
//! - [`checks`]: the pure checks and per-subnet summaries.
//! - [`node_classes`]: EKS Auto Mode NodeClasses and CNI-tagged subnets, resolved.
//! - [`publish`]: the facts published for the node agents.
//! - [`check`]: the one-shot verdict; [`render`]: its text and JSON.
//! - [`daemon`]: `run`: the loop, metrics, Events, the facts ConfigMap.
#![forbid(unsafe_code)]

pub mod check;
pub mod checks;
pub mod cli;
pub mod daemon;
pub mod metrics;
pub mod model;
pub mod node_classes;
pub mod publish;
pub mod render;
pub mod snapshot;
pub mod sources;
