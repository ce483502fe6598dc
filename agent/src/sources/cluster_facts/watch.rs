//! The daemon's one watch on the published facts (see the parent module for
//! the policy): kube-runtime's watcher on the ConfigMap by name, mirrored
//! into the parsed [`ClusterFacts`] the loop reads each cycle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::mpsc;

use super::{forbidden, interpret, FactsRef, SOURCE, WATCH_TIMEOUT_SECS};
use eniwatch_core::backoff::Backoff;
use eniwatch_core::model::{ClusterFacts, Observed, Unavailable};
use eniwatch_core::sources::kube::{watch_error_kind, watch_error_text};
use eniwatch_core::sources::requests::RequestCounts;

/// Restarts of a failed watch: 0.5 s doubling to 30 s, each plus up to 20 %.
const RESTART: Backoff =
    Backoff::new(Duration::from_millis(500), 2, Duration::from_secs(30)).with_jitter_percent(20);

/// The parsed facts, shared between the watch task and the loop.
#[derive(Debug, Clone)]
pub struct FactsWatch {
    at: FactsRef,
    state: Arc<Mutex<Observed<ClusterFacts>>>,
}

impl FactsWatch {
    pub fn new(at: FactsRef) -> FactsWatch {
        let waiting = Unavailable::new(
            SOURCE,
            format!("waiting for the first read of ConfigMap {at}"),
        )
        .with_kind("unreachable");
        FactsWatch {
            at,
            state: Arc::new(Mutex::new(Err(waiting))),
        }
    }

    /// The facts as last read, or why there are none.
    pub fn view(&self) -> Observed<ClusterFacts> {
        self.lock().clone()
    }

    /// Stores `v`; true when it differs from what was there (only a change
    /// wakes the loop: a watch failing again and again must not).
    fn set(&self, v: Observed<ClusterFacts>) -> bool {
        let mut state = self.lock();
        let changed = *state != v;
        *state = v;
        changed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Observed<ClusterFacts>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the watch on `client` (whose read timeout outlasts a quiet
    /// watch); each change sends on `changed`.
    pub fn spawn(&self, client: Client, counts: RequestCounts, changed: mpsc::Sender<()>) {
        tokio::spawn(run(self.clone(), client, counts, changed));
    }
}

async fn run(w: FactsWatch, client: Client, counts: RequestCounts, changed: mpsc::Sender<()>) {
    let api: Api<ConfigMap> = Api::namespaced(client, &w.at.namespace);
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={}", w.at.name))
        .timeout(WATCH_TIMEOUT_SECS);
    let mut failures: u32 = 0;
    let mut rng = fastrand::Rng::new();
    loop {
        let mut stream = std::pin::pin!(watcher::watcher(api.clone(), config.clone()));
        // Objects of a list in progress (`None`: none yet).
        let mut pending: Option<ConfigMap> = None;
        let why = loop {
            let Some(item) = stream.next().await else {
                break (
                    Unavailable::new(SOURCE, format!("the watch on ConfigMap {} ended", w.at))
                        .with_kind("unreachable"),
                    false,
                );
            };
            let next = match item {
                Ok(Event::Init) => {
                    pending = None;
                    continue;
                }
                Ok(Event::InitApply(cm)) => {
                    pending = Some(cm);
                    continue;
                }
                Ok(Event::InitDone) => {
                    counts.add("kubernetes", "ok");
                    failures = 0;
                    interpret(&w.at, pending.take().as_ref())
                }
                Ok(Event::Apply(cm)) => interpret(&w.at, Some(&cm)),
                Ok(Event::Delete(_)) => interpret(&w.at, None),
                Err(e) => break (watch_failure(&w.at, &e), expired(&e)),
            };
            if changed.is_closed() {
                return;
            }
            if w.set(next) {
                let _ = changed.try_send(());
            }
        };
        let (failure, expired) = why;
        tracing::debug!(error = %failure.reason, "published facts watch failed; starting it again");
        // A list answered 404 (no ConfigMap resource where it is looked
        // for): nothing is published there.
        let now = if not_found(&failure) {
            interpret(&w.at, None)
        } else {
            Err(failure)
        };
        if w.set(now) {
            let _ = changed.try_send(());
        }
        let wait = if expired {
            Duration::ZERO
        } else {
            counts.add("kubernetes", "error");
            failures = failures.saturating_add(1);
            RESTART.jitter(RESTART.nominal(failures), &mut rng)
        };
        tokio::time::sleep(wait).await;
        if changed.is_closed() {
            return;
        }
    }
}

fn not_found(u: &Unavailable) -> bool {
    u.kind == "not_found"
}

fn expired(e: &watcher::Error) -> bool {
    matches!(e, watcher::Error::WatchError(s) if s.code == 410)
}

/// A failed watch in words; a refused list or watch names the RBAC rule.
fn watch_failure(at: &FactsRef, e: &watcher::Error) -> Unavailable {
    let refused = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code == 403,
        watcher::Error::WatchError(s) => s.code == 403,
        _ => false,
    };
    if refused {
        return Unavailable::new(SOURCE, forbidden(at)).with_kind("forbidden");
    }
    Unavailable::new(
        SOURCE,
        format!("watching ConfigMap {at}: {}", watch_error_text(e)),
    )
    .with_kind(watch_error_kind(e))
}
