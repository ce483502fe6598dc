//! The loop through its sinks, without network namespaces: a recording
//! [`Sinks`] keeps each cycle's outcome, triggers are fed by hand, IMDS is
//! the lab's emulator over loopback (or off: an endpoint no client accepts),
//! the kernel is this test's own namespace (read only), Kubernetes is off
//! (the expectation from flags) or the lab's emulator behind the real
//! watches, with ipamd's emulator beside it.
//!
//! The scenario's ENIs are not in this namespace's kernel, so IMDS shows
//! ENIs that no link carries: `ENINotConfigured` findings, which settle for
//! the grace period, begin, and resolve when the ENIs leave IMDS.
//!
//! Real time with a short pacing (the loop's clock is tokio's; a paused
//! clock would need tokio's `test-util`): each test runs for about a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::loop_harness::*;
use super::*;
use crate::daemon::{CycleOutcome, Transition};
use eniwatch_core::checks::{CheckStatus, Reason};
use eniwatch_core::model::Expectation;
use eniwatch_lab::ipamd_emulator::{self, IpamdState};
use eniwatch_lab::kube_emulator::{self, KubeState};

fn unconfigured(o: &CycleOutcome) -> Vec<String> {
    o.report
        .findings
        .iter()
        .filter(|f| f.reason == Reason::ENINotConfigured)
        .map(|f| f.subject.to_string())
        .collect()
}

fn began(o: &CycleOutcome) -> usize {
    (o.transitions.iter())
        .filter(|t| matches!(t, Transition::Began(f) if f.reason == Reason::ENINotConfigured))
        .count()
}

fn resolved(o: &CycleOutcome) -> usize {
    (o.transitions.iter())
        .filter(|t| matches!(t, Transition::Resolved(f) if f.reason == Reason::ENINotConfigured))
        .count()
}

const SOON: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_finding_is_drift_only_after_its_grace_and_each_transition_reaches_the_sinks_once() {
    let scenario = healthy();
    let emptied = {
        let mut alone = scenario.clone();
        alone.enis.truncate(1);
        alone
    };
    with_loop(
        &scenario,
        true,
        pace(Duration::from_secs(60)),
        |mut h| async move {
            let first = h.next(SOON).await.expect("a first cycle");
            let seen = unconfigured(&first);
            assert!(!seen.is_empty(), "{:?}", first.report.findings);
            assert!(
                first.active.is_empty() && first.transitions.is_empty(),
                "settling first: {:?}",
                first.active
            );
            assert_eq!(first.settling.len(), first.report.findings.len());
            assert!(
                first.checks.iter().all(|c| c.status != CheckStatus::Drift),
                "no check says drift while its findings settle"
            );
            // The loop wakes itself when the findings come of age.
            let cycles = h.until(SOON, |o| began(o) > 0).await;
            let due = cycles.last().expect("a cycle");
            assert!(
                due.at.duration_since(first.at).unwrap_or_default() >= GRACE,
                "not before the grace period"
            );
            assert_eq!(began(due), seen.len(), "every ENI's drift began, once");
            assert!(
                due.checks.iter().any(|c| c.status == CheckStatus::Drift),
                "the check says drift once its finding has come of age"
            );
            // The secondary ENIs leave IMDS: a link change (an ENI detached) makes the next
            // cycle read IMDS again, and the drifts resolve.
            h.imds.set_scenario(&emptied);
            h.kernel.send(KernelChange::Link).await.expect("loop runs");
            let cycles = h.until(SOON, |o| resolved(o) > 0).await;
            let all: Vec<&Arc<CycleOutcome>> = cycles.iter().collect();
            assert_eq!(
                all.iter().map(|o| began(o)).sum::<usize>(),
                0,
                "no second begin"
            );
            let last = all[all.len() - 1];
            let left = unconfigured(last);
            assert_eq!(left.len(), 1, "the primary ENI stays: {left:?}");
            assert_eq!(resolved(last), seen.len() - 1, "the others resolved, once");
            // Later cycles repeat neither.
            h.wake.send(()).await.expect("loop runs");
            let after = h.next(SOON).await.expect("a woken cycle");
            assert!(after.transitions.is_empty(), "{:?}", after.transitions);
        },
    )
    .await;
}

#[tokio::test]
async fn a_watch_event_wakes_the_loop_without_reading_imds() {
    with_loop(
        &healthy(),
        true,
        pace(Duration::from_secs(60)),
        |mut h| async move {
            h.next(SOON).await.expect("a first cycle");
            // The settling findings ask for one recheck, five seconds on; none yet.
            let read = h.metadata_requests();
            for _ in 0..3 {
                h.wake.send(()).await.expect("loop runs");
                h.next(SOON).await.expect("a woken cycle");
            }
            assert_eq!(
                h.metadata_requests(),
                read,
                "IMDS is read on its schedule, not per wake-up"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_link_change_makes_a_full_read_other_kernel_changes_none() {
    with_loop(
        &healthy(),
        true,
        pace(Duration::from_secs(60)),
        |mut h| async move {
            h.next(SOON).await.expect("a first cycle");
            let full = h.metadata_requests();
            assert!(full > 0);
            h.kernel.send(KernelChange::Other).await.expect("loop runs");
            h.next(SOON).await.expect("a cycle");
            assert_eq!(
                h.metadata_requests(),
                full,
                "a route or address change costs no IMDS read"
            );
            h.kernel.send(KernelChange::Link).await.expect("loop runs");
            h.next(SOON).await.expect("a cycle");
            assert_eq!(h.metadata_requests(), 2 * full, "one more full read");
        },
    )
    .await;
}

#[tokio::test]
async fn a_timer_read_is_light_and_one_that_finds_nothing_new_publishes_no_cycle() {
    // The IMDS timer (300 ms) is due before the findings come of age (400 ms).
    with_loop(&healthy(), true, pace(Duration::from_millis(300)), |mut h| async move {
        let first = h.next(SOON).await.expect("a first cycle");
        let full = h.metadata_requests();
        let waited = tokio::time::Instant::now();
        while h.metadata_requests() == full {
            assert!(waited.elapsed() < SOON, "no timer read");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            waited.elapsed() >= Duration::from_millis(200),
            "not before the interval: {:?}",
            waited.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let light = h.metadata_requests() - full;
        assert!(light < full, "a light read asks less: {light} requests, a full one {full}");
        let next = h.next(SOON).await.expect("the settle deadline's cycle");
        assert!(
            began(&next) > 0,
            "the timer read found nothing new, so the next cycle is the one the settle deadline woke"
        );
        assert!(next.at.duration_since(first.at).unwrap_or_default() >= GRACE);
    })
    .await;
}

#[tokio::test]
async fn with_imds_off_the_loop_still_runs_and_judges_what_it_can() {
    with_loop(
        &healthy(),
        false,
        pace(Duration::from_millis(100)),
        |mut h| async move {
            let first = h.next(SOON).await.expect("a first cycle");
            assert!(first.snapshot.imds.is_err());
            assert!(first.snapshot.kernel.is_ok(), "{:?}", first.snapshot.kernel);
            h.wake.send(()).await.expect("loop runs");
            h.next(SOON).await.expect("a woken cycle");
            assert_eq!(h.metadata_requests(), 0);
        },
    )
    .await;
}

/// The node's pods in the cycle's view of the API, if it had one.
fn view_pods(o: &CycleOutcome) -> Option<Vec<String>> {
    match &o.snapshot.expectation {
        Expectation::Kubernetes(Ok(view)) => {
            Some(view.pods.iter().filter_map(|p| p.name.clone()).collect())
        }
        _ => None,
    }
}

#[tokio::test]
async fn watch_events_wake_the_loop_and_each_cycle_judges_the_current_view() {
    let s = healthy();
    let kube = KubeState::new(&s);
    let api = eniwatch_lab::serve_on_loopback(kube_emulator::router(kube.clone()))
        .await
        .expect("serve the Kubernetes emulator");
    let client = kube::Client::try_from(kube::Config::new(
        format!("http://{api}").parse().expect("URL"),
    ))
    .expect("client");
    let ipamd = eniwatch_lab::serve_on_loopback(ipamd_emulator::router(IpamdState::new(&s)))
        .await
        .expect("serve the ipamd emulator");
    let (imds, addr) = imds_emulator(&s).await;
    let mut config = sources(format!("http://{addr}"));
    config.node_name = Some(s.node.name.clone());
    config.kube = crate::config::KubeMode::Api { kubeconfig: None };
    config.ipamd = Some(format!("http://{ipamd}"));
    // No timer and no settle deadline within the test: only the watches wake the loop.
    let mut pace = pace(Duration::from_secs(60));
    pace.grace = Duration::from_secs(60);
    let (wake, wake_rx) = mpsc::channel(1);
    let watch = ClusterWatch::default();
    watch.spawn(
        client.clone(),
        client,
        &s.node.name,
        Default::default(),
        wake.clone(),
    );
    let mut gone = s.clone();
    gone.pods.retain(|p| p.name != "web-00");
    let within = Duration::from_secs(3);
    drive(
        config,
        pace,
        Some(watch),
        imds,
        (wake, wake_rx),
        |mut h| async move {
            let listed = h.until(within, |o| view_pods(o).is_some()).await;
            let o = listed.last().expect("a cycle");
            assert!(
                view_pods(o)
                    .unwrap_or_default()
                    .contains(&"web-00".to_string()),
                "{:?}",
                view_pods(o)
            );
            assert!(
                o.snapshot.ipamd.data().is_some(),
                "ipamd is read in a full cycle"
            );
            kube.apply_scenario(&gone);
            h.until(within, |o| {
                view_pods(o).is_some_and(|p| !p.contains(&"web-00".to_string()))
            })
            .await;
        },
    )
    .await;
}
