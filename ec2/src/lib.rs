//! eniwatch-ec2: EC2 as a witness, and the only eniwatch crate that links the
//! AWS SDK.
//!
//! - [`client`]: the SDK client as eniwatch configures it: read-only calls,
//!   one attempt each, bounded bodies, errors in words with a bounded kind.
//! - [`vpc`]: the VPC as eniwatch-cluster reads it ([`VpcReader`]):
//!   subnets, route tables, security groups and the CNI's ENIs, O(subnets)
//!   calls a refresh whatever the node count, under a calls-per-minute
//!   budget ([`vpc::budget`]) and per-operation backoff ([`vpc::policy`]),
//!   through the [`VpcApi`] trait so the schedule is tested on a simulated
//!   clock.
//! - `wire`: the SDK interceptor that bounds answer bodies and counts every
//!   attempt on the wire by operation and outcome.
#![forbid(unsafe_code)]

pub mod client;
pub mod vpc;
mod wire;

pub use client::{Ec2Client, Ec2Config, Ec2Error};
pub use vpc::{VpcApi, VpcAsk, VpcPlan, VpcPolicy, VpcReader};
