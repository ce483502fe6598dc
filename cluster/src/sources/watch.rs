//! Nodes, ENIConfigs and NodeClasses mirrored by watches, for `run`.
//!
//! Policy:
//! - One kube-runtime watcher per collection (list, then watch from the
//!   list's resourceVersion), with kube's default backoff on errors (0.8 s
//!   growing to 30 s, jittered). Each object is reduced as it arrives: a
//!   Node to a [`ClusterNode`], an ENIConfig to an [`EniConfig`], so a
//!   5,000-node cluster costs kilobytes per node, not its full object.
//! - A relist (`Init` .. `InitDone`) is buffered and swapped in whole, so a
//!   judgement never sees half a list.
//! - After a watch error the collection is *unavailable* (the checks that
//!   need it say unknown) until it has listed again: a mirror from before
//!   an outage could miss nodes that left during it.
//! - The ENIConfig or NodeClass CRD missing (the list answers 404) is the
//!   answer "none", not an error (logged at debug only); the watch keeps
//!   retrying with its backoff, so a CRD installed later is picked up.
//! - Every change wakes the loop through [`Mirror::changed`]; the loop
//!   debounces.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use eniwatch_core::model::{EniConfig, Observed, Unavailable};
use eniwatch_core::sources::kube::{
    eniconfig, eniconfig_resource, watch_error_kind, watch_error_text,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::DynamicObject;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::cluster_node;
use crate::model::ClusterNode;
use crate::node_classes::{node_class, nodeclass_resource, NodeClass};

/// One mirrored collection.
#[derive(Debug)]
struct Part<T> {
    items: BTreeMap<String, (T, Option<String>)>,
    buffer: BTreeMap<String, (T, Option<String>)>,
    listed: bool,
    /// The CRD is not installed (ENIConfigs and NodeClasses only).
    absent: bool,
    error: Option<Unavailable>,
}

impl<T> Default for Part<T> {
    fn default() -> Self {
        Part {
            items: BTreeMap::new(),
            buffer: BTreeMap::new(),
            listed: false,
            absent: false,
            error: None,
        }
    }
}

impl<T: Clone> Part<T> {
    fn apply(&mut self, event: Event<(String, T, Option<String>)>) {
        match event {
            Event::Init => self.buffer.clear(),
            Event::InitApply((name, v, uid)) => {
                self.buffer.insert(name, (v, uid));
            }
            Event::InitDone => {
                self.items = std::mem::take(&mut self.buffer);
                self.listed = true;
                self.absent = false;
                self.error = None;
            }
            Event::Apply((name, v, uid)) => {
                self.items.insert(name, (v, uid));
            }
            Event::Delete((name, _, _)) => {
                self.items.remove(&name);
            }
        }
    }

    fn observed(&self, what: &str) -> Observed<Vec<T>> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.listed {
            return Err(Unavailable::new(
                "kubernetes",
                format!("the {what} have not been listed yet"),
            )
            .with_kind("dependency"));
        }
        Ok(self.items.values().map(|(v, _)| v.clone()).collect())
    }
}

#[derive(Debug, Default)]
struct Inner {
    nodes: Part<ClusterNode>,
    eni_configs: Part<EniConfig>,
    node_classes: Part<NodeClass>,
}

/// The mirror of Nodes, ENIConfigs and NodeClasses, shared by the watch tasks and the loop.
#[derive(Clone, Default)]
pub struct Mirror {
    inner: Arc<Mutex<Inner>>,
    /// Notified on every change.
    pub changed: Arc<Notify>,
}

impl Mirror {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the watches; they run until the handles are aborted.
    pub fn start(client: &Client) -> (Mirror, Vec<JoinHandle<()>>) {
        let mirror = Mirror::default();
        let nodes: Api<Node> = Api::all(client.clone());
        let eniconfigs: Api<DynamicObject> = Api::all_with(client.clone(), &eniconfig_resource());
        let classes: Api<DynamicObject> = Api::all_with(client.clone(), &nodeclass_resource());
        let tasks = vec![
            tokio::spawn(follow(mirror.clone(), nodes, reduce_node, nodes_part)),
            tokio::spawn(follow(
                mirror.clone(),
                eniconfigs,
                reduce_eniconfig,
                eniconfigs_part,
            )),
            tokio::spawn(follow(
                mirror.clone(),
                classes,
                reduce_node_class,
                node_classes_part,
            )),
        ];
        (mirror, tasks)
    }

    pub fn nodes(&self) -> Observed<Vec<ClusterNode>> {
        self.lock().nodes.observed("Nodes")
    }

    /// None when the ENIConfig CRD is not installed.
    pub fn eni_configs(&self) -> Observed<Option<Vec<EniConfig>>> {
        let inner = self.lock();
        if inner.eni_configs.absent {
            return Ok(None);
        }
        inner.eni_configs.observed("ENIConfigs").map(Some)
    }

    /// None when the NodeClass CRD is not installed.
    pub fn node_classes(&self) -> Observed<Option<Vec<NodeClass>>> {
        let inner = self.lock();
        if inner.node_classes.absent {
            return Ok(None);
        }
        inner.node_classes.observed("NodeClasses").map(Some)
    }

    /// The uid of an ENIConfig, for Events about it.
    pub fn eniconfig_uid(&self, name: &str) -> Option<String> {
        self.lock().eni_configs.items.get(name)?.1.clone()
    }

    /// Every collection listed (or its CRD found absent) at least once.
    pub fn listed(&self) -> bool {
        let inner = self.lock();
        inner.nodes.listed
            && (inner.eni_configs.listed || inner.eni_configs.absent)
            && (inner.node_classes.listed || inner.node_classes.absent)
    }
}

fn nodes_part(i: &mut Inner) -> &mut Part<ClusterNode> {
    &mut i.nodes
}

fn eniconfigs_part(i: &mut Inner) -> &mut Part<EniConfig> {
    &mut i.eni_configs
}

fn node_classes_part(i: &mut Inner) -> &mut Part<NodeClass> {
    &mut i.node_classes
}

fn reduce_node_class(o: DynamicObject) -> (String, NodeClass, Option<String>) {
    let c = node_class(&o);
    (c.name.clone(), c, o.metadata.uid.clone())
}

fn reduce_node(n: Node) -> (String, ClusterNode, Option<String>) {
    let uid = n.metadata.uid.clone();
    let node = cluster_node(&n);
    (node.info.name.clone(), node, uid)
}

fn reduce_eniconfig(o: DynamicObject) -> (String, EniConfig, Option<String>) {
    let c = eniconfig(&o);
    (c.name.clone(), c, o.metadata.uid.clone())
}

async fn follow<K, T>(
    mirror: Mirror,
    api: Api<K>,
    reduce: fn(K) -> (String, T, Option<String>),
    part: fn(&mut Inner) -> &mut Part<T>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    T: Clone,
{
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        {
            let mut inner = mirror.lock();
            let p = part(&mut inner);
            match item {
                Ok(event) => p.apply(map_event(event, reduce)),
                Err(e) => note_error(p, &e),
            }
        }
        mirror.changed.notify_one();
    }
}

fn map_event<K, U>(e: Event<K>, f: impl Fn(K) -> U) -> Event<U> {
    match e {
        Event::Apply(k) => Event::Apply(f(k)),
        Event::Delete(k) => Event::Delete(f(k)),
        Event::Init => Event::Init,
        Event::InitApply(k) => Event::InitApply(f(k)),
        Event::InitDone => Event::InitDone,
    }
}

fn note_error<T>(p: &mut Part<T>, e: &watcher::Error) {
    if let watcher::Error::InitialListFailed(kube::Error::Api(s)) = e {
        if s.code == 404 {
            p.absent = true;
            p.listed = false;
            p.items.clear();
            p.error = None;
            return;
        }
    }
    tracing::debug!(error = %watch_error_text(e), "watch error");
    p.listed = false;
    p.error =
        Some(Unavailable::new("kubernetes", watch_error_text(e)).with_kind(watch_error_kind(e)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relist_is_swapped_in_whole() {
        let mut p: Part<u32> = Part::default();
        assert!(p.observed("x").is_err());
        p.apply(Event::Init);
        p.apply(Event::InitApply(("a".into(), 1, None)));
        assert!(p.observed("x").is_err(), "half a list is not a list");
        p.apply(Event::InitDone);
        assert_eq!(p.observed("x").unwrap(), vec![1]);
        p.apply(Event::Apply(("b".into(), 2, None)));
        p.apply(Event::Delete(("a".into(), 0, None)));
        assert_eq!(p.observed("x").unwrap(), vec![2]);
        p.apply(Event::Init);
        p.apply(Event::InitApply(("c".into(), 3, None)));
        assert_eq!(
            p.observed("x").unwrap(),
            vec![2],
            "the old list until the new one is done"
        );
        p.apply(Event::InitDone);
        assert_eq!(p.observed("x").unwrap(), vec![3]);
    }
}
