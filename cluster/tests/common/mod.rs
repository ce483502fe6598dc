//! What the cluster's integration tests share: the binary, moto, the lab's
//! Kubernetes emulator, the Kubernetes API the seeded cluster's objects are
//! served from, and what a test does when a tool is missing.

#![allow(dead_code)]

pub mod bin;
pub mod check;
pub mod kube;
pub mod lab;

#[allow(unused_imports)]
pub use eniwatch_lab::skip::skip_or_fail;
#[allow(unused_imports)]
pub use eniwatch_lab::{moto, skip};
#[allow(unused_imports)]
pub use lab::{closed_port, command, run, Emulator};
