//! `eniwatch run` where custom networking does not apply: a cluster without
//! any ENIConfig (and ipamd not running custom networking), and an EKS Auto
//! Mode node. Quiet: no Warning event, no drift metric, the condition
//! `Unknown` with a reason that says why.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

fn condition(d: &Daemon) -> (String, String) {
    d.condition()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (s("status"), s("reason"))
        })
        .unwrap_or_default()
}

fn quiet_with_reason(name: &str, reason: &str) {
    let d = Daemon::start(
        scenario(name),
        &["--grace-period", "0", "--debounce", "20ms"],
    );
    assert!(
        d.wait_for(WAIT, |d| condition(d) == ("Unknown".into(), reason.into())),
        "condition {:?}:\n{}",
        condition(&d),
        d.logs()
    );
    assert_eq!(
        d.metric("eniwatch_check_status{check=\"eniconfig\",status=\"not_applicable\"}"),
        Some(1.0)
    );
    // Several cycles later: still no Warning of any kind.
    std::thread::sleep(Duration::from_secs(3));
    let warnings: Vec<_> = d
        .events()
        .into_iter()
        .filter(|e| e["type"] == "Warning")
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(
        d.metric("eniwatch_findings{reason=\"ENIConfigNotFound\"}"),
        Some(0.0)
    );
}

#[test]
fn a_cluster_without_eniconfigs_is_quiet_and_says_not_configured() {
    lab!();
    quiet_with_reason("no-eniconfig", "CustomNetworkingNotConfigured");
}

#[test]
fn an_auto_mode_node_is_quiet_and_says_so() {
    lab!();
    quiet_with_reason("auto-mode", "EKSAutoModeNode");
}
