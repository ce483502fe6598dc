//! What the cluster's integration tests share: the binary, moto, the
//! Kubernetes API the seeded cluster's objects are served from, and what a
//! test does when a tool is missing.

#![allow(dead_code)]

pub mod bin;
pub mod kube;
pub mod moto;
pub mod skip;
