//! The `eniwatch-cluster` binary the tests run: `ENIWATCH_CLUSTER_BIN` when
//! set (CI sets it to the binary built as the image ships it), else the one
//! `cargo test` built beside this test.

#![allow(dead_code)]

use std::path::PathBuf;

pub fn cluster_bin() -> PathBuf {
    std::env::var_os("ENIWATCH_CLUSTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eniwatch-cluster")))
}
