//! The loop's test harness: a recording [`Sinks`], the lab's emulators on
//! loopback, triggers fed by hand (see `loop_tests.rs`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::daemon::CycleOutcome;
use crate::sources::imds::ImdsConfig;
use eniwatch_core::model::{FlagExpectation, PoolSettings, SelectionSettings};
use eniwatch_lab::imds_emulator::{self, ImdsState};
use eniwatch_lab::scenario::Scenario;

pub const GRACE: Duration = Duration::from_millis(400);

/// Hands each outcome to the test.
struct Recording(mpsc::UnboundedSender<Arc<CycleOutcome>>);

impl Sinks for Recording {
    async fn cycle(&mut self, outcome: &Arc<CycleOutcome>, _: &Counters) {
        let _ = self.0.send(outcome.clone());
    }
}

/// A running loop and its handles.
pub struct Harness {
    pub outcomes: mpsc::UnboundedReceiver<Arc<CycleOutcome>>,
    pub kernel: mpsc::Sender<KernelChange>,
    pub wake: mpsc::Sender<()>,
    pub imds: ImdsState,
}

impl Harness {
    /// The next cycle's outcome, within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Arc<CycleOutcome>> {
        tokio::time::timeout(within, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }

    /// Outcomes until one satisfies `done` (included), within `within`.
    pub async fn until(
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

    pub fn metadata_requests(&self) -> u64 {
        self.imds.stats().metadata_requests
    }
}

pub fn healthy() -> Scenario {
    Scenario::bundled("healthy").expect("bundled scenario loads")
}

pub fn sources(imds_endpoint: String) -> SourceConfig {
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
        cluster_facts: None,
        ipamd: None,
        pool: PoolSettings::default(),
    }
}

pub fn pace(imds_interval: Duration) -> LoopConfig {
    LoopConfig {
        imds_interval,
        grace: GRACE,
        debounce: Duration::from_millis(5),
        idle_cycle: Duration::from_secs(60),
    }
}

/// Runs `test` beside the loop, against an IMDS emulator serving
/// `scenario` (`imds: false`: with no usable IMDS endpoint, so no IMDS
/// client), the expectation from flags.
pub async fn with_loop<T: Future<Output = ()>>(
    scenario: &Scenario,
    imds: bool,
    pace: LoopConfig,
    test: impl FnOnce(Harness) -> T,
) {
    let (state, addr) = imds_emulator(scenario).await;
    let endpoint = if imds {
        format!("http://{addr}")
    } else {
        "ftp://nowhere".into()
    };
    let (wake, wake_rx) = mpsc::channel(1);
    drive(sources(endpoint), pace, None, state, (wake, wake_rx), test).await;
}

pub async fn imds_emulator(scenario: &Scenario) -> (ImdsState, std::net::SocketAddr) {
    let state = ImdsState::new(scenario);
    let addr = eniwatch_lab::serve_on_loopback(imds_emulator::router(state.clone()))
        .await
        .expect("serve the IMDS emulator");
    (state, addr)
}

/// Runs the loop and `test` side by side. The loop runs in the test's own
/// task (its future is not `Send`; the daemon runs it on its main task)
/// and ends with the test.
pub async fn drive<T: Future<Output = ()>>(
    sources: SourceConfig,
    pace: LoopConfig,
    cluster: Option<ClusterWatch>,
    imds: ImdsState,
    (wake, wake_rx): (mpsc::Sender<()>, mpsc::Receiver<()>),
    test: impl FnOnce(Harness) -> T,
) {
    let looper = Looper::new(
        sources,
        pace,
        cluster,
        Counters::default(),
        SharedState::new(),
    );
    let (out_tx, outcomes) = mpsc::unbounded_channel();
    let (kernel, kernel_rx) = mpsc::channel(8);
    let triggers = Triggers {
        kernel: kernel_rx,
        wake: wake_rx,
    };
    let harness = Harness {
        outcomes,
        kernel,
        wake,
        imds,
    };
    let mut sinks = Recording(out_tx);
    tokio::select! {
        () = looper.run(&mut sinks, triggers, std::future::pending()) => panic!("the loop ended"),
        () = test(harness) => {}
    }
}
