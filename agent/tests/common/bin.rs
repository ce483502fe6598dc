//! The `eniwatch` binary the tests run: `ENIWATCH_BIN` when set (CI sets it
//! to the agent built as the image ships it, `-p eniwatch` alone, without the
//! features the lab's dev-dependencies add), else the one `cargo test` built.

use std::path::PathBuf;

pub fn eniwatch_bin() -> PathBuf {
    std::env::var_os("ENIWATCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eniwatch")))
}
