//! The daemon's view of the Kubernetes API: watches on this Node
//! (`metadata.name`), the pods on it (`spec.nodeName`) and the ENIConfigs,
//! mirrored into the reduced types the checks use (a pod is kept as a
//! [`PodInfo`], never as the whole object: a 250-pod node's pod objects are
//! megabytes, their `PodInfo`s a few kilobytes).
//!
//! Policy:
//! - Each watch is kube-runtime's watcher (list, then watch from the list's
//!   resourceVersion). On any error the watch is dropped and started
//!   afresh, with a list, after a backoff of 0.5 s doubling to
//!   [`RETRY_MAX`], plus up to 20 % jitter (at most 4.8 s); a resumed watch
//!   is never trusted after an error.
//! - An *outage* begins with the first watch error (or with evidence that a
//!   watch missed a change, see below). From then until every watch has
//!   listed again, the view is *unavailable* and the checks that need it say
//!   unknown: a mirror from before the outage could judge pods deleted
//!   during it and raise false drift. Watches that did not fail are
//!   restarted too, so that every collection is re-listed.
//! - While a watch is failing, a prober GETs the Node every
//!   [`PROBE_INTERVAL`]; when the API server answers again, the watches
//!   waiting out their backoff start at once, so the view recovers within
//!   a probe interval of the API coming back.
//! - Each watch request asks the server to end it after
//!   [`WATCH_TIMEOUT_SECS`]; the watcher treats a watch that delivered
//!   nothing, not even a bookmark, for that long plus 5 s as dead and
//!   reconnects. The API server sends a bookmark about every minute, so a
//!   watch silent for twice that is stalled.
//! - Before a pod finding becomes drift, the loop confirms the pod with
//!   one GET ([`ClusterWatch::pod_exists`]); a pod the API says is gone
//!   while the mirror still has it means a watch missed its deletion: the
//!   pod is dropped and every watch re-lists, as after an outage.
//! - Watch errors are logged at debug level only: the loop logs one line
//!   when the Kubernetes source goes down and one when it is back.
//! - Every change wakes the loop through `changed`.
//! - eniwatch-cluster's published facts are a fourth watch, on one
//!   ConfigMap by name, kept apart ([`FactsWatch`]): its failures are that
//!   source's, and never make the node's view re-list.

mod task;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use tokio::sync::{mpsc, watch, Notify};

use crate::sources::cluster_facts::{FactsWatch, SOURCE};
use eniwatch_core::model::{
    ClusterFacts, ClusterView, EniConfig, NodeInfo, Observed, PodInfo, Unavailable,
};
use eniwatch_core::sources::kube::error_text;

/// How often the API server is probed while a watch is failing.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// The longest wait before a failed watch is started again, before jitter.
pub const RETRY_MAX: Duration = Duration::from_secs(4);

/// How long the server may keep one watch request open; see the module docs.
pub const WATCH_TIMEOUT_SECS: u32 = 120;

/// One watched collection, mirrored.
#[derive(Debug)]
struct Mirror<T> {
    items: BTreeMap<String, T>,
    /// Items of a list in progress (swapped in at `InitDone`).
    pending: Option<BTreeMap<String, T>>,
    /// A list has completed since the last outage began.
    listed: bool,
    error: Option<String>,
    /// The error's kind (the one mapping's, for metric labels).
    error_kind: &'static str,
}

impl<T> Default for Mirror<T> {
    fn default() -> Self {
        Mirror {
            items: BTreeMap::new(),
            pending: None,
            listed: false,
            error: None,
            error_kind: "unreachable",
        }
    }
}

/// What a mirror was told.
#[derive(Debug)]
enum Update<T> {
    Init,
    InitApply(String, T),
    InitDone,
    Apply(String, T),
    Delete(String),
}

impl<T> Mirror<T> {
    fn apply(&mut self, ev: Update<T>) {
        match ev {
            Update::Init => self.pending = Some(BTreeMap::new()),
            Update::InitApply(k, v) => {
                self.pending.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
            Update::InitDone => {
                self.items = self.pending.take().unwrap_or_default();
                self.listed = true;
                self.error = None;
            }
            Update::Apply(k, v) => {
                self.items.insert(k, v);
            }
            Update::Delete(k) => {
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
    /// The ENIConfig CRD is not installed (the list answered 404).
    crd_missing: bool,
    /// Every collection has listed at least once.
    ever_listed: bool,
    /// Why the current outage began, when it was not a watch error.
    stale: Option<String>,
    /// For GETs outside the watches (pod confirmations).
    requests: Requests,
}

/// The client for single requests, once the watches are started.
#[derive(Default, Clone)]
struct Requests(Option<Client>);

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Requests(client)"
        } else {
            "Requests(none)"
        })
    }
}

impl Mirrors {
    fn failing(&self) -> bool {
        self.node.error.is_some() || self.pods.error.is_some() || self.eniconfigs.error.is_some()
    }

    fn all_listed(&self) -> bool {
        self.node.listed && self.pods.listed && (self.eniconfigs.listed || self.crd_missing)
    }

    /// An outage begins: no view until every watch has listed again.
    fn begin_outage(&mut self) {
        self.node.listed = false;
        self.pods.listed = false;
        self.eniconfigs.listed = false;
    }
}

/// Signals from the mirrors to the watch tasks.
#[derive(Debug)]
struct Control {
    /// Bumped when an outage begins: every watch re-lists.
    relist: watch::Sender<u64>,
    /// The API server answered again: watches waiting out a backoff start now.
    retry_now: Notify,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            relist: watch::Sender::new(0),
            retry_now: Notify::new(),
        }
    }
}

/// The mirrored cluster view, shared between the watch tasks and the loop.
#[derive(Debug, Clone, Default)]
pub struct ClusterWatch {
    inner: Arc<Mutex<Mirrors>>,
    control: Arc<Control>,
    /// eniwatch-cluster's published facts, watched beside the rest.
    facts: Option<FactsWatch>,
}

/// Whether the API server still has a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodPresence {
    Present,
    Gone,
    /// The API server could not be asked, and why.
    Unknown(String),
}

impl ClusterWatch {
    /// The same watches, with the published facts' watch beside them.
    pub fn with_facts(mut self, facts: FactsWatch) -> ClusterWatch {
        self.facts = Some(facts);
        self
    }

    /// The published facts as last read, or why there are none.
    pub fn facts(&self) -> Observed<ClusterFacts> {
        match &self.facts {
            Some(f) => f.view(),
            None => Err(
                Unavailable::new(SOURCE, "the published facts are not watched")
                    .with_kind("dependency"),
            ),
        }
    }

    /// The current view, or why there is none.
    pub fn view(&self, node_name: &str) -> Observed<ClusterView> {
        let m = self.lock();
        let unavailable = |why: String, kind: &'static str| {
            Err(Unavailable::new("kubernetes", why).with_kind(kind))
        };
        for (what, error, kind) in [
            ("node", &m.node.error, m.node.error_kind),
            ("pods", &m.pods.error, m.pods.error_kind),
            ("ENIConfigs", &m.eniconfigs.error, m.eniconfigs.error_kind),
        ] {
            if let Some(e) = error {
                return unavailable(format!("watching {what}: {e}"), kind);
            }
        }
        if !m.all_listed() {
            return unavailable(match (&m.stale, m.ever_listed) {
                (Some(why), _) => format!("{why}; re-listing the node, its pods and the ENIConfigs"),
                (None, true) => "re-listing the node, its pods and the ENIConfigs after the API server was unreachable (a view from before could judge pods deleted meanwhile)".into(),
                (None, false) => {
                    "waiting for the first list of the node, its pods and the ENIConfigs".into()
                }
            }, "unreachable");
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

    /// Asks the API server whether a pod still exists (one GET of its
    /// metadata). A pod that is gone while the mirror still has it means
    /// the pod watch missed its deletion: it is dropped, and every watch
    /// re-lists.
    pub async fn pod_exists(&self, namespace: &str, name: &str) -> PodPresence {
        let Requests(Some(client)) = self.lock().requests.clone() else {
            return PodPresence::Unknown("no Kubernetes client".into());
        };
        let api: Api<Pod> = Api::namespaced(client, namespace);
        match api.get_metadata_opt(name).await {
            Ok(Some(_)) => PodPresence::Present,
            Ok(None) => {
                self.forget_pod(namespace, name);
                PodPresence::Gone
            }
            Err(e) => PodPresence::Unknown(format!(
                "looking up pod {namespace}/{name} in the API server: {}",
                error_text(&e)
            )),
        }
    }

    fn forget_pod(&self, namespace: &str, name: &str) {
        let mut m = self.lock();
        let key = format!("{namespace}/{name}");
        if m.pods.items.remove(&key).is_some() && m.all_listed() {
            m.stale = Some(format!(
                "the pod watch missed that pod {key} was deleted (a stalled watch?)"
            ));
            m.begin_outage();
            drop(m);
            self.control.relist.send_modify(|g| *g += 1);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mirrors> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the three watches (on `client`, whose read timeout outlasts a
    /// quiet watch) and the prober (on `requests`); each change sends on `changed`.
    pub fn spawn(
        &self,
        client: Client,
        requests: Client,
        node_name: &str,
        counts: eniwatch_core::sources::requests::RequestCounts,
        changed: mpsc::Sender<()>,
    ) {
        self.lock().requests = Requests(Some(requests.clone()));
        task::spawn_all(self, client, requests, node_name, counts, changed);
    }
}

#[cfg(test)]
mod tests;
