//! eniwatch, the node agent: validates one node's AWS VPC CNI custom
//! networking, once (`check`) or continuously (`run`).
//!
//! Layout, following the flow of data:
//! - [`sources`]: the node's own outside systems (IMDS, netlink, ipamd); the
//!   Kubernetes API is `eniwatch_core::sources::kube`, EC2 the
//!   `eniwatch_ec2` crate.
//! - [`witnesses`]: when to ask ipamd and EC2, and what to remember.
//! - [`gather`]: reads every source, bounded in time, into one
//!   `eniwatch_core::model::Snapshot`; it never judges.
//! - `eniwatch_core::checks` judges the snapshot once;
//!   `eniwatch_core::report` renders it for `check`.
//! - [`daemon`]: `run`: the loop, the metrics, the events, the condition.
//! - [`cli`], [`config`]: the command line and what it configures.
//! - [`signals`]: stop signals and the single-threaded runtime.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod gather;
pub mod signals;
pub mod sources;
pub mod witnesses;
