//! eniwatch, the node agent: validates one node's AWS VPC CNI custom
//! networking, once (`check`) or continuously (`run`).
//!
//! Layout, following the flow of data:
//! - [`sources`]: the node's own outside systems (IMDS, netlink, ipamd) and
//!   the watches on the API, eniwatch-cluster's published facts among them;
//!   the Kubernetes API's reads are `eniwatch_core::sources::kube`. The agent
//!   calls no EC2 API and links no AWS SDK.
//! - [`witnesses`]: when to ask ipamd.
//! - [`gather`]: reads every source, bounded in time, into one
//!   `eniwatch_core::model::Snapshot`; it never judges.
//! - `eniwatch_core::checks` judges the snapshot once;
//!   `eniwatch_core::report` renders it for `check`.
//! - [`daemon`]: `run`: the loop, the metrics, the events, the condition.
//! - [`cli`], [`config`]: the command line and what it configures.
//! - [`signals`]: stop signals and the single-threaded runtime.
//! - [`status`]: `eniwatch status`, the cluster-wide migration view.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod gather;
pub mod signals;
pub mod sources;
pub mod status;
pub mod witnesses;
