//! The tasks behind [`ClusterWatch`]: one per watched collection, each
//! running kube-runtime's watcher until it fails (or an outage asks every
//! watch to re-list), then waiting out a backoff and starting afresh; and
//! the prober that notices the API server answering again.

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::DynamicObject;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};

use super::{ClusterWatch, Mirror, Mirrors, Update, PROBE_INTERVAL, RETRY_MAX, WATCH_TIMEOUT_SECS};
use eniwatch_core::backoff::Backoff;
use eniwatch_core::sources::kube::{
    eniconfig, eniconfig_resource, node_info, pod_info, watch_error_kind, watch_error_text,
};
use eniwatch_core::sources::requests::RequestCounts;

/// The first wait before a failed watch is started again.
const RETRY_FIRST: Duration = Duration::from_millis(500);

/// The restarts of a failed watch ([`eniwatch_core::backoff`]): 0.5 s doubling to
/// [`RETRY_MAX`], each plus up to 20 %: at most 4.8 s, so a watch is started
/// again within 5 s of the API server answering even without the prober's
/// wake-up. Each watch draws its own jitter: the three do not restart in step.
const RESTART: Backoff = Backoff::new(RETRY_FIRST, 2, RETRY_MAX).with_jitter_percent(20);

/// How often a missing ENIConfig CRD is looked for again.
const CRD_RECHECK: Duration = Duration::from_secs(60);

type Select<T> = fn(&mut Mirrors) -> &mut Mirror<T>;

/// What one watched collection needs to run.
struct Spec<T> {
    watch: ClusterWatch,
    counts: RequestCounts,
    changed: mpsc::Sender<()>,
    /// The ENIConfigs: a 404 means the CRD is not installed.
    is_crd: bool,
    select: Select<T>,
}

pub(super) fn spawn_all(
    w: &ClusterWatch,
    client: Client,
    requests: Client,
    node_name: &str,
    counts: RequestCounts,
    changed: mpsc::Sender<()>,
) {
    let config = || watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let eniconfigs: Api<DynamicObject> = Api::all_with(client, &eniconfig_resource());
    let by_name = config().fields(&format!("metadata.name={node_name}"));
    let on_node = config().fields(&format!("spec.nodeName={node_name}"));
    fn spec<T>(
        w: &ClusterWatch,
        counts: &RequestCounts,
        changed: &mpsc::Sender<()>,
        is_crd: bool,
        select: Select<T>,
    ) -> Spec<T> {
        Spec {
            watch: w.clone(),
            counts: counts.clone(),
            changed: changed.clone(),
            is_crd,
            select,
        }
    }
    let spec_node = spec(w, &counts, &changed, false, |m| &mut m.node);
    let spec_pods = spec(w, &counts, &changed, false, |m| &mut m.pods);
    let spec_cfg = spec(w, &counts, &changed, true, |m| &mut m.eniconfigs);
    tokio::spawn(run(spec_node, move || {
        watcher::watcher(nodes.clone(), by_name.clone())
            .map(|r| r.map(|ev| update(ev, |n| (key(&n.metadata), node_info(&n)))))
    }));
    tokio::spawn(run(spec_pods, move || {
        watcher::watcher(pods.clone(), on_node.clone())
            .map(|r| r.map(|ev| update(ev, |p| (key(&p.metadata), pod_info(&p)))))
    }));
    tokio::spawn(run(spec_cfg, move || {
        watcher::watcher(eniconfigs.clone(), config())
            .map(|r| r.map(|ev| update(ev, |o| (key(&o.metadata), eniconfig(&o)))))
    }));
    tokio::spawn(probe(
        w.clone(),
        requests,
        node_name.to_string(),
        counts,
        changed,
    ));
}

fn key(meta: &kube::api::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

fn update<K, T>(ev: Event<K>, mut f: impl FnMut(K) -> (String, T)) -> Update<T> {
    match ev {
        Event::Init => Update::Init,
        Event::InitApply(o) => {
            let (k, v) = f(o);
            Update::InitApply(k, v)
        }
        Event::InitDone => Update::InitDone,
        Event::Apply(o) => {
            let (k, v) = f(o);
            Update::Apply(k, v)
        }
        Event::Delete(o) => Update::Delete(f(o).0),
    }
}

/// Why one run of a watcher ended.
enum Ended {
    /// An outage began elsewhere: list again now.
    Relist,
    /// The watch failed, in words, and the kind of failure.
    Failed(String, &'static str),
    /// The API server answered that the watch's resourceVersion expired
    /// (410): it is up, so the list is made again at once.
    Expired(String, &'static str),
    /// The ENIConfig CRD is not installed.
    CrdMissing,
    /// The loop is gone.
    Closed,
}

async fn run<T, S>(spec: Spec<T>, make: impl Fn() -> S)
where
    S: Stream<Item = Result<Update<T>, watcher::Error>> + Send,
{
    let mut relist = spec.watch.control.relist.subscribe();
    let mut failures: u32 = 0;
    let mut rng = fastrand::Rng::new();
    loop {
        relist.borrow_and_update();
        let wait = match follow(&spec, make(), &mut relist, &mut failures).await {
            Ended::Closed => return,
            Ended::Relist => continue,
            Ended::Failed(why, kind) => {
                spec.counts.add("kubernetes", "error");
                tracing::debug!(error = %why, "Kubernetes watch failed; starting it again after a backoff");
                record_failure(&spec, why, kind);
                failures = failures.saturating_add(1);
                RESTART.jitter(retry_delay(failures), &mut rng)
            }
            Ended::Expired(why, kind) => {
                tracing::debug!(error = %why, "Kubernetes watch expired; listing again");
                record_failure(&spec, why, kind);
                Duration::ZERO
            }
            Ended::CrdMissing => {
                let mut m = spec.watch.lock();
                m.crd_missing = true;
                m.eniconfigs.items.clear();
                m.eniconfigs.error = None;
                CRD_RECHECK
            }
        };
        let _ = spec.changed.try_send(());
        relist.borrow_and_update();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = spec.watch.control.retry_now.notified() => {}
            _ = relist.changed() => {}
        }
        if spec.changed.is_closed() {
            return;
        }
    }
}

/// Mirrors one run of a watcher until it fails or must re-list.
async fn follow<T, S>(
    spec: &Spec<T>,
    stream: S,
    relist: &mut watch::Receiver<u64>,
    failures: &mut u32,
) -> Ended
where
    S: Stream<Item = Result<Update<T>, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            r = relist.changed() => return if r.is_ok() { Ended::Relist } else { Ended::Closed },
        };
        match item {
            None => return Ended::Failed("the watch ended".into(), "unreachable"),
            Some(Err(e)) if spec.is_crd && crd_missing(&e) => return Ended::CrdMissing,
            Some(Err(e)) if expired(&e) => {
                return Ended::Expired(describe(&e), watch_error_kind(&e))
            }
            Some(Err(e)) => return Ended::Failed(describe(&e), watch_error_kind(&e)),
            Some(Ok(ev)) => {
                let done = matches!(ev, Update::InitDone);
                let mut m = spec.watch.lock();
                (spec.select)(&mut m).apply(ev);
                if done {
                    spec.counts.add("kubernetes", "ok");
                    *failures = 0;
                    if spec.is_crd {
                        m.crd_missing = false;
                    }
                    if m.all_listed() && !m.failing() {
                        m.ever_listed = true;
                        m.stale = None;
                    }
                }
            }
        }
        if spec.changed.is_closed() {
            return Ended::Closed;
        }
        // A full channel means a wake-up is already pending.
        let _ = spec.changed.try_send(());
    }
}

/// The wait after the `failures`-th failure in a row, before jitter: 0.5 s,
/// doubling, at most [`RETRY_MAX`] (see [`RESTART`]).
fn retry_delay(failures: u32) -> Duration {
    RESTART.nominal(failures)
}

/// Records a failed watch (in words, and its kind); the first failure of an
/// outage makes every other watch re-list too.
fn record_failure<T>(spec: &Spec<T>, why: String, kind: &'static str) {
    let mut m = spec.watch.lock();
    let begins = !m.failing();
    let mirror = (spec.select)(&mut m);
    mirror.error = Some(why);
    mirror.error_kind = kind;
    mirror.pending = None;
    mirror.listed = false;
    if begins {
        m.stale = None;
        m.begin_outage();
        drop(m);
        spec.watch.control.relist.send_modify(|g| *g += 1);
    }
}

fn expired(e: &watcher::Error) -> bool {
    matches!(e, watcher::Error::WatchError(s) if s.code == 410)
}

fn crd_missing(e: &watcher::Error) -> bool {
    matches!(e, watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 404)
}

/// A watcher error in words: the one mapping,
/// [`eniwatch_core::sources::kube::watch_error_text`].
fn describe(e: &watcher::Error) -> String {
    watch_error_text(e)
}

/// While a watch is failing, GETs the Node every [`PROBE_INTERVAL`]; when
/// the API server answers, the watches waiting out a backoff start now.
async fn probe(
    w: ClusterWatch,
    requests: Client,
    node: String,
    counts: RequestCounts,
    changed: mpsc::Sender<()>,
) {
    let api: Api<Node> = Api::all(requests);
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        if changed.is_closed() {
            return;
        }
        if !w.lock().failing() {
            continue;
        }
        if api.get_metadata_opt(&node).await.is_ok() {
            counts.add("kubernetes", "ok");
            w.control.retry_now.notify_waiters();
        } else {
            counts.add("kubernetes", "error");
        }
    }
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
