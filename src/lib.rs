//! eniwatch: validates a node's AWS VPC CNI custom networking.
//!
//! Layout, following the flow of data:
//! - [`model`]: plain data: ids and the [`model::Snapshot`] of one moment.
//! - `sources`: one module per outside system (IMDS, netlink, Kubernetes API),
//!   each returning plain data or its own error.
//! - [`expectation`]: what is expected of the node (its ENIConfig, whether
//!   custom networking applies), from the model alone; checks and gathering
//!   both read it.
//! - [`checks`]: pure functions from a snapshot to statuses and findings.
//! - `report`: the CLI's text and JSON renderings and exit codes.
//! - [`lab`]: the simulated node the tests and the demo run on.
//! - [`backoff`]: the one retry policy (exponential, capped, jittered) every
//!   retry waits by.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod checks;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod expectation;
pub mod gather;
pub mod model;
pub mod report;
pub mod signals;
pub mod sources;
pub mod witnesses;

#[cfg(feature = "lab")]
pub mod lab;
