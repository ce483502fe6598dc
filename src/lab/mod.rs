//! The lab: a simulated EKS node built from a scenario file, so that the real
//! `eniwatch` binary can be run and tested on any Linux machine.
//!
//! - [`scenario`]: the YAML format describing a node, its ENIs, pods and ENIConfigs.
//! - [`imds_emulator`]: IMDSv2 as the node sees it, with switchable faults.
//! - [`kube_emulator`]: the slice of the Kubernetes API the agent uses, over HTTP.

pub mod imds_emulator;
pub mod kube_emulator;
pub mod scenario;
