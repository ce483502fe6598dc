//! What the agent reads from IMDS. With host networking it could fetch the
//! node's instance-profile credentials (`iam/security-credentials/`), which
//! the lab's IMDS serves as a real EKS node's does; it must never ask for
//! them, nor for anything outside the fixed set of metadata docs/security.md
//! lists.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;

/// The IMDS paths the agent may read (docs/security.md, "IMDS").
const ALLOWED: &[&str] = &[
    "/latest/api/token",
    "/latest/meta-data/instance-id",
    "/latest/meta-data/instance-type",
    "/latest/meta-data/mac",
    "/latest/meta-data/local-ipv4",
    "/latest/meta-data/placement/",
    "/latest/meta-data/network/interfaces/macs/",
];

#[test]
fn the_agent_reads_network_metadata_and_never_credentials() {
    lab!();
    for name in ["healthy", "prefix-delegation", "multi-card-efa"] {
        let d = Daemon::start(
            scenario(name),
            &["--imds-interval", "1s", "--debounce", "20ms"],
        );
        // The first full cycle, then a few of the 1 s IMDS polls.
        assert!(d.wait_for(Duration::from_secs(20), |d| d
            .metric("eniwatch_cycles_total")
            .is_some_and(|n| n >= 1.0)));
        std::thread::sleep(Duration::from_secs(3));
        let recorded = d.node.recorded().expect("recorded");
        let paths: Vec<String> = recorded["imds"]["paths"]
            .as_array()
            .expect("the IMDS emulator records paths")
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        assert!(
            paths.iter().any(|p| p.ends_with("/subnet-id")),
            "{name}: the ENIs were read: {paths:?}"
        );
        for path in &paths {
            assert!(
                !path.contains("iam") && !path.contains("credentials"),
                "{name}: asked IMDS for credentials: {path}"
            );
            assert!(
                ALLOWED.iter().any(|a| path.starts_with(a)),
                "{name}: {path} is not among the paths docs/security.md lists"
            );
        }
    }
}
