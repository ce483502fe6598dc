//! The loop through its sinks, without network namespaces: a recording
//! [`Sinks`] keeps each cycle's outcome, triggers are fed by hand, IMDS is
//! the lab's emulator over loopback (or off: an endpoint no client accepts),
//! the kernel is this test's own namespace (read only), Kubernetes is off
//! (the expectation from flags).
//!
//! The scenario's ENIs are not in this namespace's kernel, so IMDS shows
//! ENIs that no link carries: `ENINotConfigured` findings, which settle for
//! the grace period, begin, and resolve when the ENIs leave IMDS.
//!
//! Real time with a short pacing (the loop's clock is tokio's; a paused
//! clock would need tokio's `test-util`): each test runs for about a second.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::daemon::{CycleOutcome, Transition};
use crate::sources::imds::ImdsConfig;
use eniwatch_core::checks::{CheckStatus, Reason};
use eniwatch_core::model::{FlagExpectation, PoolSettings, SelectionSettings};
use eniwatch_lab::imds_emulator::{self, ImdsState};
use eniwatch_lab::scenario::Scenario;

const GRACE: Duration = Duration::from_millis(400);

/// Hands each outcome to the test.
struct Recording(mpsc::UnboundedSender<Arc<CycleOutcome>>);

impl Sinks for Recording {
    async fn cycle(&mut self, outcome: &Arc<CycleOutcome>, _: &Counters) {
        let _ = self.0.send(outcome.clone());
    }
}

/// A running loop and its handles.
struct Harness {
    outcomes: mpsc::UnboundedReceiver<Arc<CycleOutcome>>,
    kernel: mpsc::Sender<KernelChange>,
    wake: mpsc::Sender<()>,
    imds: ImdsState,
}

impl Harness {
    /// The next cycle's outcome, within `within`.
    async fn next(&mut self, within: Duration) -> Option<Arc<CycleOutcome>> {
        tokio::time::timeout(within, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }

    /// Outcomes until one satisfies `done` (included), within `within`.
    async fn until(
        &mut self,
        within: Duration,
        done: impl Fn(&CycleOutcome) -> bool,
    ) -> Vec<Arc<CycleOutcome>> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        while let Ok(Some(o)) = tokio::time::timeout_at(deadline, self.outcomes.recv()).await {
            let stop = done(&o);
            seen.push(o);
            if stop {
                return seen;
            }
        }
        panic!(
            "no such cycle within {within:?} among {} cycles",
            seen.len()
        );
    }

    fn metadata_requests(&self) -> u64 {
        self.imds.stats().metadata_requests
    }
}

fn healthy() -> Scenario {
    Scenario::bundled("healthy").expect("bundled scenario loads")
}

fn sources(imds_endpoint: String) -> SourceConfig {
    SourceConfig {
        node_name: Some("n".into()),
        imds: ImdsConfig {
            endpoint: imds_endpoint,
            request_timeout: Duration::from_secs(2),
            ..ImdsConfig::default()
        },
        kube: crate::config::KubeMode::Flags(FlagExpectation {
            subnet: "subnet-0pods1a".parse().expect("subnet id"),
            security_groups: None,
        }),
        selection: SelectionSettings::default(),
        veth_prefix: "eni".into(),
        gather_timeout: Duration::from_secs(5),
        ec2: None,
        subnet_refresh: Duration::from_secs(60),
        ipamd: None,
        pool: PoolSettings::default(),
    }
}

fn pace(imds_interval: Duration) -> LoopConfig {
    LoopConfig {
        imds_interval,
        grace: GRACE,
        debounce: Duration::from_millis(5),
        idle_cycle: Duration::from_secs(60),
    }
}

/// Runs `test` beside the loop, against an IMDS emulator serving
/// `scenario` (`imds: false`: with no usable IMDS endpoint, so no IMDS
/// client). The loop runs in the test's own task (its future is not
/// `Send`, as in the daemon) and ends with the test.
async fn with_loop<T: Future<Output = ()>>(
    scenario: &Scenario,
    imds: bool,
    pace: LoopConfig,
    test: impl FnOnce(Harness) -> T,
) {
    let state = ImdsState::new(scenario);
    let addr = eniwatch_lab::serve_on_loopback(imds_emulator::router(state.clone()))
        .await
        .expect("serve the IMDS emulator");
    let endpoint = if imds {
        format!("http://{addr}")
    } else {
        "ftp://nowhere".into()
    };
    let looper = Looper::new(
        sources(endpoint),
        pace,
        None,
        Counters::default(),
        SharedState::new(),
    );
    let (out_tx, outcomes) = mpsc::unbounded_channel();
    let (kernel, kernel_rx) = mpsc::channel(8);
    let (wake, wake_rx) = mpsc::channel(1);
    let triggers = Triggers {
        kernel: kernel_rx,
        wake: wake_rx,
    };
    let harness = Harness {
        outcomes,
        kernel,
        wake,
        imds: state,
    };
    let mut sinks = Recording(out_tx);
    tokio::select! {
        () = looper.run(&mut sinks, triggers, std::future::pending()) => panic!("the loop ended"),
        () = test(harness) => {}
    }
}

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
