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
//! - [`model`]: the cluster snapshot (Nodes, ENIConfigs, the VPC).
//! - [`checks`]: the pure checks and per-subnet summaries.
//! - [`publish`]: the facts published for the node agents.
#![forbid(unsafe_code)]

pub mod checks;
pub mod model;
pub mod publish;
