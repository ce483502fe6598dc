//! eniwatch: validates a node's AWS VPC CNI custom networking.
#![forbid(unsafe_code)]

#[cfg(feature = "lab")]
pub mod lab;
