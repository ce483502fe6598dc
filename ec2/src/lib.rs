//! eniwatch-ec2: EC2 as a witness, and the only eniwatch crate that links the
//! AWS SDK.
//!
//! - [`client`]: the calls (`DescribeSubnets`, `DescribeInstanceTypes`,
//!   `DescribeNetworkInterfaces`), read-only, one attempt each, bounded
//!   bodies, errors in words with a bounded kind.
//! - [`tracker`]: the call policy: what to ask, when, what to remember, how
//!   to back off. Its clock is passed in, so the policy is tested on a
//!   simulated one.
//! - `wire`: the SDK interceptor that bounds answer bodies and counts every
//!   attempt on the wire by operation and outcome.
#![forbid(unsafe_code)]

pub mod client;
pub mod tracker;
mod wire;

pub use client::{Ec2Client, Ec2Config, Ec2Error};
pub use tracker::{Ec2Needs, Ec2Tracker, ATTACHMENT_INTERVAL};
