//! eniwatch-ec2: EC2 as a witness, and the only eniwatch crate that links the
//! AWS SDK.
//!
//! - [`client`]: the calls (`DescribeSubnets`, `DescribeInstanceTypes`,
//!   `DescribeNetworkInterfaces`), read-only, one attempt each, bounded
//!   bodies, errors in words with a bounded kind.
//! - [`api`]: the three calls as a trait, [`Ec2Api`], which the client
//!   implements.
//! - [`vpc`]: the VPC as eniwatch-cluster reads it ([`VpcReader`]):
//!   subnets, route tables, security groups and the CNI's ENIs, O(subnets)
//!   calls a refresh whatever the node count, under a calls-per-minute
//!   budget ([`vpc::budget`]) and per-operation backoff ([`vpc::policy`]),
//!   through the [`VpcApi`] trait so the schedule is tested on a simulated
//!   clock.
//! - [`tracker`]: the per-node call policy: what to ask, when, what to remember, how
//!   to back off (the table is there). Its clock is passed in and it calls
//!   EC2 through [`Ec2Api`], so the policy is tested on a simulated clock
//!   against answers from memory.
//! - `wire`: the SDK interceptor that bounds answer bodies and counts every
//!   attempt on the wire by operation and outcome.
#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod tracker;
pub mod vpc;
mod wire;

pub use api::Ec2Api;
pub use client::{Ec2Client, Ec2Config, Ec2Error};
pub use tracker::{Ec2Needs, Ec2Policy, Ec2Tracker, ATTACHMENT_INTERVAL};
pub use vpc::{VpcApi, VpcAsk, VpcPlan, VpcPolicy, VpcReader};
