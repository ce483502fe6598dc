//! The daemon's view of the Kubernetes API: watches on this Node
//! (`metadata.name`), the pods on it (`spec.nodeName`) and the ENIConfigs,
//! mirrored into the reduced types the checks use (a pod is kept as a
//! [`PodInfo`], never as the whole object: a 250-pod node's pod objects are
//! megabytes, their `PodInfo`s a few kilobytes).
//!
//! Policy:
//! - kube-runtime's watcher (list, then watch from the list's
//!   resourceVersion; re-list on 410) with its default exponential backoff
//!   on errors, so a restarting API server is retried, never hammered.
//! - While any watch is failing, or before each has listed once, the view
//!   is *unavailable*: the checks that need it say unknown. A stale mirror
//!   could judge pods deleted during the outage and raise false drift.
//! - After a watch error the watcher resumes from its last resourceVersion,
//!   which yields no event while nothing changes; so a prober GETs the Node
//!   every [`PROBE_INTERVAL`] while a watch is failing, and clears the error
//!   once the API server answers (the resumed watch replays what was missed,
//!   or re-lists on 410).
//! - Every change wakes the loop through `changed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::DynamicObject;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::sync::mpsc;

use crate::model::{ClusterView, EniConfig, NodeInfo, Observed, PodInfo, Unavailable};
use crate::sources::kube::{eniconfig, eniconfig_resource, node_info, pod_info};
use crate::sources::requests::RequestCounts;

/// How often the API server is probed while a watch is failing.
pub const PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// One watched collection, mirrored.
#[derive(Debug)]
struct Mirror<T> {
    items: BTreeMap<String, T>,
    /// Items of a re-list in progress (swapped in at `InitDone`).
    pending: Option<BTreeMap<String, T>>,
    synced: bool,
    error: Option<String>,
}

impl<T> Default for Mirror<T> {
    fn default() -> Self {
        Mirror {
            items: BTreeMap::new(),
            pending: None,
            synced: false,
            error: None,
        }
    }
}

impl<T> Mirror<T> {
    fn apply(&mut self, ev: Event<(String, T)>) {
        self.error = None;
        match ev {
            Event::Init => self.pending = Some(BTreeMap::new()),
            Event::InitApply((k, v)) => {
                self.pending.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
            Event::InitDone => {
                self.items = self.pending.take().unwrap_or_default();
                self.synced = true;
            }
            Event::Apply((k, v)) => {
                self.items.insert(k, v);
            }
            Event::Delete((k, _)) => {
                self.items.remove(&k);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Mirrors {
    node: Mirror<NodeInfo>,
    pods: Mirror<PodInfo>,
    eniconfigs: Mirror<EniConfig>,
    /// The ENIConfig CRD is not installed (the watch answered 404).
    crd_missing: bool,
}

/// The mirrored cluster view, shared between the watch tasks and the loop.
#[derive(Debug, Clone, Default)]
pub struct ClusterWatch {
    inner: Arc<Mutex<Mirrors>>,
}

impl ClusterWatch {
    /// The current view, or why there is none.
    pub fn view(&self, node_name: &str) -> Observed<ClusterView> {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let unavailable =
            |why: String| Err(Unavailable::new("kubernetes", why).with_kind("unreachable"));
        for (what, error) in [
            ("node", &m.node.error),
            ("pods", &m.pods.error),
            ("ENIConfigs", &m.eniconfigs.error),
        ] {
            if let Some(e) = error {
                return unavailable(format!("watching {what}: {e}"));
            }
        }
        if !(m.node.synced && m.pods.synced && (m.eniconfigs.synced || m.crd_missing)) {
            return unavailable(
                "waiting for the first list of the node, its pods and the ENIConfigs".into(),
            );
        }
        let Some(node) = m.node.items.values().next().cloned() else {
            return Err(Unavailable::new(
                "kubernetes",
                format!("node {node_name:?} does not exist in the API server (is --node-name / NODE_NAME right?)"),
            )
            .with_kind("not_found"));
        };
        Ok(ClusterView {
            node,
            pods: m.pods.items.values().cloned().collect(),
            eni_configs: (!m.crd_missing).then(|| m.eniconfigs.items.values().cloned().collect()),
        })
    }

    /// Starts the three watches (on `client`, whose read timeout outlasts a
    /// quiet watch) and the prober (on `requests`); each change sends on `changed`.
    pub fn spawn(
        &self,
        client: Client,
        requests: Client,
        node_name: &str,
        counts: RequestCounts,
        changed: mpsc::Sender<()>,
    ) {
        let client_for_probe = requests;
        let nodes: Api<Node> = Api::all(client.clone());
        let pods: Api<Pod> = Api::all(client.clone());
        let eniconfigs: Api<DynamicObject> = Api::all_with(client, &eniconfig_resource());
        let by_name = watcher::Config::default().fields(&format!("metadata.name={node_name}"));
        let on_node = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));

        let node_stream = watcher::watcher(nodes, by_name)
            .map(|r| r.map(|ev| ev.map(|n| (key(&n.metadata), node_info(&n)))));
        let pod_stream = watcher::watcher(pods, on_node)
            .map(|r| r.map(|ev| ev.map(|p| (key(&p.metadata), pod_info(&p)))));
        let cfg_stream = watcher::watcher(eniconfigs, watcher::Config::default())
            .map(|r| r.map(|ev| ev.map(|o| (key(&o.metadata), eniconfig(&o)))));

        let prober = self.clone();
        let probe_api: Api<Node> = Api::all(client_for_probe);
        let probe_changed = changed.clone();
        let probe_counts = counts.clone();
        let node = node_name.to_string();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_INTERVAL).await;
                if probe_changed.is_closed() {
                    return;
                }
                if !prober.failing() {
                    continue;
                }
                if probe_api.get_opt(&node).await.is_ok() {
                    probe_counts.add("kubernetes", "ok");
                    prober.clear_errors();
                    let _ = probe_changed.try_send(());
                } else {
                    probe_counts.add("kubernetes", "error");
                }
            }
        });
        let w = self.clone();
        tokio::spawn(drive(
            node_stream,
            w.clone(),
            counts.clone(),
            changed.clone(),
            false,
            |m: &mut Mirrors| &mut m.node,
        ));
        tokio::spawn(drive(
            pod_stream,
            w.clone(),
            counts.clone(),
            changed.clone(),
            false,
            |m: &mut Mirrors| &mut m.pods,
        ));
        tokio::spawn(drive(
            cfg_stream,
            w,
            counts,
            changed,
            true,
            |m: &mut Mirrors| &mut m.eniconfigs,
        ));
    }
}

impl ClusterWatch {
    fn failing(&self) -> bool {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.node.error.is_some() || m.pods.error.is_some() || m.eniconfigs.error.is_some()
    }

    fn clear_errors(&self) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.node.error = None;
        m.pods.error = None;
        m.eniconfigs.error = None;
    }
}

fn key(meta: &kube::api::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

trait MapEvent<K> {
    fn map<T>(self, f: impl FnMut(K) -> T) -> Event<T>;
}

impl<K> MapEvent<K> for Event<K> {
    fn map<T>(self, mut f: impl FnMut(K) -> T) -> Event<T> {
        match self {
            Event::Apply(k) => Event::Apply(f(k)),
            Event::Delete(k) => Event::Delete(f(k)),
            Event::Init => Event::Init,
            Event::InitApply(k) => Event::InitApply(f(k)),
            Event::InitDone => Event::InitDone,
        }
    }
}

async fn drive<T, S>(
    stream: S,
    watch: ClusterWatch,
    counts: RequestCounts,
    changed: mpsc::Sender<()>,
    is_crd: bool,
    select: fn(&mut Mirrors) -> &mut Mirror<T>,
) where
    S: Stream<Item = Result<Event<(String, T)>, watcher::Error>> + Send,
{
    // Errors are retried by the watcher after the backoff; each one is
    // counted and makes the view unavailable until the next good event.
    let mut stream = std::pin::pin!(stream.default_backoff());
    while let Some(item) = stream.next().await {
        {
            let mut m = watch.inner.lock().unwrap_or_else(|e| e.into_inner());
            match item {
                Ok(ev) => {
                    if matches!(ev, Event::InitDone) {
                        counts.add("kubernetes", "ok");
                    }
                    if is_crd {
                        m.crd_missing = false;
                    }
                    select(&mut m).apply(ev);
                }
                Err(e) => {
                    counts.add("kubernetes", "error");
                    let text = e.to_string();
                    // No ENIConfig CRD: an answer ("none exist"), not an outage.
                    if is_crd && text.contains("404") {
                        m.crd_missing = true;
                    } else {
                        tracing::warn!(error = %text, "Kubernetes watch failed; retrying with backoff");
                        select(&mut m).error = Some(text);
                    }
                }
            }
        }
        // A full channel means a wake-up is already pending.
        let _ = changed.try_send(());
    }
}
