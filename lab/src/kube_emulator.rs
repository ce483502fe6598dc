//! An HTTP emulator of the slice of the Kubernetes API server that the agent
//! uses, driven by a lab [`Scenario`]. The agent's real client (kube-rs) is
//! tested only against this, so it speaks the real wire format: JSON
//! objects and lists, `Status` errors, chunked watch streams, continue
//! tokens, the four patch content types.
//!
//! # What is emulated
//! - Objects rendered from the scenario (`objects`): the Node, its pods
//!   (plus two decoy pods on another node, so a client that forgets
//!   `spec.nodeName=` is caught), and the `crd.k8s.amazonaws.com/v1alpha1`
//!   ENIConfigs. [`KubeState::apply_scenario`] re-renders them and publishes
//!   only the differences.
//! - The rest of the cluster's Nodes, loaded by tests at any scale
//!   ([`KubeState::add_nodes`], [`fleet`]), listed in consistent pages.
//! - get / list / watch on nodes, pods, ENIConfigs, events and ConfigMaps, with field
//!   and label selectors, `limit`/`continue` (consistent pages), the
//!   resourceVersion rules (`0`, `NotOlderThan`, `Exact`, 410 Expired),
//!   bookmarks, `sendInitialEvents` and `timeoutSeconds` (`store`,
//!   `watch`, `selectors`).
//! - ConfigMaps (`v1`, namespaced): get / list / watch as above, and
//!   create, update, patch (every patch type) and delete, with the
//!   server's ConfigMap validation (`configmaps`, `replace`): the object
//!   the cluster component publishes and the node agents watch.
//! - Event create and patch on both `events.k8s.io/v1` and core `v1`, with
//!   the server's Event validation; node and node-status patches with
//!   merge, strategic-merge (conditions merge by `type`), JSON-patch and
//!   apply bodies, optimistic concurrency and `dryRun=All` (`writes`,
//!   `patch`).
//! - Discovery (`/version`, `/api`, `/apis`, resource lists, aggregated
//!   discovery) and `PartialObjectMetadata` responses.
//!
//! # What is not, deliberately
//! - Writes other than event create/patch, node patches and ConfigMaps
//!   (pods and ENIConfigs come from the scenario; a client write there
//!   would be overwritten by the next re-render, so it is refused with
//!   405), `deletecollection`, and every other resource (404 like an
//!   unknown resource).
//! - Namespaces as objects: any namespace in a URL exists.
//! - Authentication and authorization of the requests themselves: any or
//!   no bearer token is accepted. A token registered with
//!   [`KubeState::add_identity`] is that user: its node status patches and
//!   event writes go through the shipped admission policies (`admission`),
//!   and TokenReview and SubjectAccessReview answer for it (`auth`). RBAC
//!   failures are a cluster property, not something this agent's protocol
//!   handling can be tested against here.
//! - The conversion between the two Event APIs: the real server stores one
//!   object and shows it through both; here each API holds its own events.
//! - Server-side apply's field ownership (`managedFields`, conflicts,
//!   dropping fields a manager no longer applies): apply bodies are merged
//!   strategically, which is what an agent applying its own status sees.
//! - Protobuf and Table output: clients that ask for them also accept JSON.
//! - Waiting: a resourceVersion newer than the store is answered with the
//!   504 the real server sends only after waiting ~3 s.
//! - Whether the API is reachable at all (`Scenario::kube_api`): that is the
//!   lab runner's decision to serve this router or not.

mod admission;
mod auth;
pub mod cluster_facts;
mod cluster_load;
mod configmaps;
mod events;
mod fleet;
mod handlers;
mod identity;
mod json_patch;
mod labels;
mod objects;
mod patch;
mod replace;
mod resources;
mod selectors;
mod status;
mod store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_admission;
#[cfg(test)]
mod tests_cluster_load;
#[cfg(test)]
mod tests_configmaps;
#[cfg(test)]
mod tests_fleet;
#[cfg(test)]
mod tests_watch;
#[cfg(test)]
mod tests_writes;
mod watch;
mod writes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::scenario::Scenario;
use patch::PatchType;
use resources::Kind;
use store::{ObjKey, Store};

pub use auth::IdentitySpec;
pub use cluster_load::{LoadError, Loaded};
pub use fleet::{fleet, FleetNode};
pub use identity::{UserInfo, NODE_NAME_CLAIM};
pub use objects::{DECOY_NODE, POD_ENI_ANNOTATION};

/// One client request, as received (for assertions on what the agent sent).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// URL path without the query.
    pub path: String,
    /// Raw query string ("" when none), e.g. `fieldManager=eniwatch`.
    pub query: String,
    pub content_type: Option<String>,
    /// The body as JSON (YAML apply bodies converted); a string if neither.
    pub body: Value,
}

/// Tunables; the defaults suit both the lab and tests.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Changes kept for watch replay and consistent lists; older
    /// resourceVersions get 410 Expired.
    pub history_limit: usize,
    /// Period of BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            history_limit: 1000,
            bookmark_interval: Duration::from_secs(5),
        }
    }
}

/// A client patch to a node, kept so re-rendering can re-apply it.
pub(crate) struct LoggedPatch {
    pub node: String,
    /// Made on `nodes/{name}/status` (else on the node itself).
    pub status: bool,
    pub kind: PatchType,
    pub body: Value,
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub(crate) store: Store,
    /// Timestamp used in rendered objects, fixed so re-renders are stable.
    stamp: String,
    pub(crate) node_patches: Vec<LoggedPatch>,
    pub(crate) event_order: Vec<ObjKey>,
    pub(crate) event_requests: Vec<RecordedRequest>,
    pub(crate) node_status_patches: Vec<RecordedRequest>,
    pub(crate) node_patch_requests: Vec<RecordedRequest>,
    pub(crate) config_map_requests: Vec<RecordedRequest>,
    /// The scenario's node name (the Node [`KubeState::node`] returns).
    pub(crate) node_name: String,
    /// Rendered fleet nodes by name (see [`KubeState::add_nodes`]).
    pub(crate) fleet: std::collections::BTreeMap<String, Value>,
    /// Counter behind `generateName` suffixes.
    pub(crate) generated: u64,
    pub(crate) requests: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    options: EmulatorOptions,
    /// Watches deliver nothing, not even bookmarks, while set (see
    /// [`KubeState::set_watches_stalled`]).
    stalled: AtomicBool,
    /// Resources (by plural) answered with an error status whatever the
    /// request (see [`KubeState::refuse`]).
    refused: Mutex<std::collections::BTreeMap<String, u16>>,
    /// Continue tokens still to answer with 410 Gone (see
    /// [`KubeState::expire_continues`]).
    expire_continues: std::sync::atomic::AtomicU32,
    identities: identity::Identities,
    /// Identities and review rules (`identity`, `auth`).
    auth: Mutex<auth::AuthRules>,
}

/// The emulated API server's state, shared by the HTTP handlers and the lab.
#[derive(Clone)]
pub struct KubeState {
    shared: Arc<Shared>,
}

/// The kinds rendered from the scenario (as opposed to created by clients).
const SCENARIO_KINDS: [Kind; 3] = [Kind::Node, Kind::Pod, Kind::EniConfig];

impl KubeState {
    pub fn new(scenario: &Scenario) -> Self {
        Self::with_options(scenario, EmulatorOptions::default())
    }

    pub fn with_options(scenario: &Scenario, options: EmulatorOptions) -> Self {
        let state = Self::empty(&scenario.node.name, options);
        state.apply_scenario(scenario);
        if let Some(cm) = cluster_facts::config_map(scenario, &jiff::Timestamp::now().to_string()) {
            // Rendered from the scenario's own data: valid by construction.
            let _ = state.put_config_map(cm);
        }
        state
    }

    /// A server holding nothing yet (`node_name` is the node
    /// [`KubeState::node`] returns): what [`KubeState::load`] fills with a
    /// whole cluster.
    pub fn empty(node_name: &str, options: EmulatorOptions) -> Self {
        let inner = Inner {
            store: Store::new(options.history_limit),
            stamp: store::now(),
            node_patches: Vec::new(),
            event_order: Vec::new(),
            event_requests: Vec::new(),
            node_status_patches: Vec::new(),
            node_patch_requests: Vec::new(),
            config_map_requests: Vec::new(),
            node_name: node_name.to_string(),
            fleet: std::collections::BTreeMap::new(),
            generated: 0,
            requests: 0,
        };
        KubeState {
            shared: Arc::new(Shared {
                inner: Mutex::new(inner),
                options,
                stalled: AtomicBool::new(false),
                refused: Mutex::new(std::collections::BTreeMap::new()),
                expire_continues: std::sync::atomic::AtomicU32::new(0),
                identities: identity::Identities::default(),
                auth: Mutex::default(),
            }),
        }
    }

    /// The lock; a panic elsewhere while holding it leaves data that is
    /// still consistent enough for a test emulator, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn bookmark_interval(&self) -> Duration {
        self.shared.options.bookmark_interval
    }

    /// Stalls (true) or releases (false) every watch, open or new: while
    /// stalled, a watch keeps its connection open and sends nothing, not
    /// even bookmarks, as behind a stuck proxy; changes are delivered once
    /// released. Lists and GETs are answered as usual.
    pub fn set_watches_stalled(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::Relaxed);
    }

    /// The next `count` list requests with a continue token are answered
    /// 410 Gone, as when etcd compacted past the list's snapshot (a list
    /// paged over more than about five minutes).
    pub fn expire_continues(&self, count: u32) {
        self.shared.expire_continues.store(count, Ordering::Relaxed);
    }

    /// Whether this continued list is to be expired (and one fewer is).
    pub(crate) fn take_expired_continue(&self) -> bool {
        self.shared
            .expire_continues
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn watches_stalled(&self) -> bool {
        self.shared.stalled.load(Ordering::Relaxed)
    }

    /// Re-render node, pods and ENIConfigs from a changed scenario and
    /// publish the differences (ADDED / MODIFIED / DELETED, each with its own
    /// resourceVersion) to watchers. Client patches to the node (status
    /// conditions, labels ...) are re-applied on top of the new rendering.
    pub fn apply_scenario(&self, scenario: &Scenario) {
        let mut inner = self.lock();
        inner.node_name = scenario.node.name.clone();
        let fleet = inner
            .fleet
            .iter()
            .filter(|(name, _)| **name != scenario.node.name)
            .map(|(name, obj)| (ObjKey::new(Kind::Node, "", name), obj.clone()));
        let rendered: Vec<(ObjKey, Value)> = objects::render(scenario, &inner.stamp)
            .into_iter()
            .chain(fleet)
            .map(|(key, obj)| match key.kind {
                Kind::Node => {
                    let obj = writes::reconcile_node(obj, &key.name, &inner.node_patches);
                    (key, obj)
                }
                _ => (key, obj),
            })
            .collect();
        inner.store.sync(&SCENARIO_KINDS, rendered);
        drop(inner);
        self.apply_identities(&scenario.identities);
    }

    /// Every Event created (both APIs), current state, in creation order.
    pub fn events(&self) -> Vec<Value> {
        let inner = self.lock();
        inner
            .event_order
            .iter()
            .filter_map(|key| inner.store.get(key).cloned())
            .collect()
    }

    /// Raw create and patch requests on events, accepted or not.
    pub fn event_requests(&self) -> Vec<RecordedRequest> {
        self.lock().event_requests.clone()
    }

    /// Every `PATCH` to `nodes/{name}/status`, accepted or not.
    pub fn node_status_patches(&self) -> Vec<RecordedRequest> {
        self.lock().node_status_patches.clone()
    }

    /// Every `PATCH` to `nodes/{name}` (labels, annotations, spec).
    pub fn node_patches(&self) -> Vec<RecordedRequest> {
        self.lock().node_patch_requests.clone()
    }

    /// The scenario's current Node object (`Value::Null` if absent).
    pub fn node(&self) -> Value {
        let inner = self.lock();
        let key = ObjKey::new(Kind::Node, "", &inner.node_name);
        inner.store.get(&key).cloned().unwrap_or(Value::Null)
    }

    /// All API requests served, including failed ones.
    pub fn request_count(&self) -> u64 {
        self.lock().requests
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().store.rv()
    }
}

/// The emulator's HTTP routes (serve with `axum::serve`).
pub fn router(state: KubeState) -> axum::Router {
    use axum::routing::post;
    axum::Router::new()
        .route(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            post(auth::token_review),
        )
        .route(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            post(auth::subject_access_review),
        )
        .fallback(handlers::serve)
        .with_state(state)
}
