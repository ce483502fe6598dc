//! `eniwatch run` with a pod-bound ServiceAccount token (its node-name
//! claim), against an API emulator that admits its writes through the
//! shipped admission policies (deploy/base/admission-policy.yaml): the
//! node condition and the drift events, pod events included, all land.

#[macro_use]
mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

fn condition_status(d: &Daemon) -> String {
    d.condition()
        .map(|c| c["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn the_admission_policies_admit_the_agents_own_writes() {
    lab!();
    let d = Daemon::start_as_agent(
        scenario("healthy"),
        &["--grace-period", "0", "--debounce", "20ms"],
    );
    assert!(
        d.wait_for(WAIT, |d| condition_status(d) == "True"),
        "condition True through the policy:\n{}",
        d.logs()
    );
    let ip = d.scenario.pod("shop/web-00").unwrap().ip.unwrap();
    d.node
        .ip(&format!("route del {ip}/32 table main\n"))
        .unwrap();
    assert!(
        d.wait_for(WAIT, |d| !d
            .events_with_reason("PodRouteMissing")
            .is_empty()),
        "the pod's drift event was not admitted:\n{}",
        d.logs()
    );
    let ev = &d.events_with_reason("PodRouteMissing")[0];
    assert_eq!(ev["regarding"]["kind"], "Pod");
    assert_eq!(ev["related"]["kind"], "Node");
    assert_eq!(ev["related"]["name"], d.scenario.node.name.as_str());
    assert!(
        d.wait_for(WAIT, |d| condition_status(d) == "False"),
        "the condition's change was not admitted:\n{}",
        d.logs()
    );
    assert!(
        !d.logs().contains("is forbidden"),
        "a write was denied:\n{}",
        d.logs()
    );
}
