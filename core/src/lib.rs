//! eniwatch-core: what both eniwatch programs share, following the flow of
//! data from what is read to what is shown.
//!
//! - [`model`]: plain data: ids and the [`model::Snapshot`] of one moment.
//! - [`sources`]: the outside systems both programs read (the Kubernetes API),
//!   each returning plain data or its own error, and [`sources::bounded`]:
//!   one read bounded in time, as a snapshot part.
//! - [`expectation`]: what is expected of a node (its ENIConfig, whether
//!   custom networking applies), from the model alone; the checks and the
//!   scheduling of reads both use it.
//! - [`checks`]: pure functions from a snapshot to statuses and findings,
//!   judged once per snapshot ([`checks::evaluate`]).
//! - [`report`]: the text and JSON renderings of a judged snapshot and the
//!   exit codes.
//! - [`instance_limits`]: every EC2 instance type's network limits, embedded
//!   at build time instead of asked of EC2 by every node.
//! - [`status`]: the cluster-wide migration view of `eniwatch status`, pure.
//! - [`duration`]: durations as both programs' flags take them.
//! - [`backoff`]: the one retry policy (exponential, capped, jittered) every
//!   retry waits by.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod checks;
pub mod duration;
pub mod expectation;
pub mod instance_limits;
pub mod model;
pub mod published;
pub mod report;
pub mod sources;
pub mod status;
