//! eniwatch-cluster: the part of eniwatch that owns what belongs to a subnet
//! or the VPC rather than to a node.
//!
//! Node agents run on every node; if each asked EC2 about its subnets, a
//! 5,000-node rollout would drain the account's EC2 request budget, which the
//! VPC CNI needs to give pods addresses. This crate is where one replica per
//! cluster asks EC2 instead (through `eniwatch-ec2`), O(subnets) and
//! independent of the node count, judges subnets, route tables, security
//! groups and ENI attachment with the same pure checks and `Finding` type as
//! the agent (`eniwatch-core`), and publishes subnet facts for the
//! agents to read.
//!
//! It has no program yet: today the node agent still reads EC2 itself, through
//! the same `eniwatch-ec2` crate.
#![forbid(unsafe_code)]
