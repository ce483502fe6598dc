//! The object store: what etcd plus the watch cache are to the real server.
//!
//! One global resourceVersion counter is bumped by every change, and each
//! change is kept (with the object's previous state) in a bounded history.
//! That history serves three purposes: replaying a watch that starts at an
//! older resourceVersion, rolling the store back to serve `Exact` lists and
//! consistent pages of a paginated list, and answering `410 Expired` once a
//! resourceVersion has fallen out of it, exactly when a compacted etcd would.
//!
//! Every change is announced on a broadcast channel as the new
//! resourceVersion only; watchers then read the history themselves. A
//! watcher that falls behind the channel therefore loses nothing as long as
//! the history still holds its position, and gets the real server's 410 when
//! it does not.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::resources::Kind;
use super::status::ApiError;

/// Where an object lives: kind, namespace ("" when cluster-scoped), name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub(crate) fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        ObjKey {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// One committed change. `object` is None for a deletion, `prev` is None
/// for a creation.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub rv: u64,
    pub key: ObjKey,
    pub object: Option<Value>,
    pub prev: Option<Value>,
}

/// The current time as Kubernetes `Time` (second precision, UTC).
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `obj.metadata`, created if missing; None only if `obj` is not an object.
pub(crate) fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Fields the server owns: copied from the stored object, never from clients.
const IDENTITY: [&str; 3] = ["uid", "creationTimestamp", "resourceVersion"];

pub(crate) fn copy_identity(from: &Value, to: &mut Value) {
    let Some(src) = from.get("metadata").and_then(Value::as_object) else {
        return;
    };
    let Some(dst) = meta_mut(to) else {
        return;
    };
    for field in IDENTITY {
        match src.get(field) {
            Some(v) => dst.insert(field.to_string(), v.clone()),
            None => dst.remove(field),
        };
    }
}

/// One page of a list (see [`Store::page`]).
pub(crate) struct Page {
    pub items: Vec<(ObjKey, Value)>,
    /// Matching objects after the page: all of them when counted, else 1
    /// when there is at least one.
    pub remaining: usize,
}

/// Two iterators sorted by key, merged (keys are distinct between them).
fn merged<'a>(
    a: impl Iterator<Item = (&'a ObjKey, &'a Value)>,
    b: impl Iterator<Item = (&'a ObjKey, &'a Value)>,
) -> impl Iterator<Item = (&'a ObjKey, &'a Value)> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((ka, _)), Some((kb, _))) if kb < ka => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

pub(crate) struct Store {
    rv: u64,
    /// Highest resourceVersion no longer in `history` (0: nothing dropped).
    compacted: u64,
    objects: BTreeMap<ObjKey, Value>,
    history: VecDeque<Change>,
    history_limit: usize,
    uids: u64,
    tx: broadcast::Sender<u64>,
}

impl Store {
    pub(crate) fn new(history_limit: usize) -> Self {
        // Capacity only bounds how far a watcher may lag before it re-reads
        // the history anyway; see the module docs.
        let (tx, _) = broadcast::channel(256);
        Store {
            rv: 0,
            compacted: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            uids: 0,
            tx,
        }
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.tx.subscribe()
    }

    pub(crate) fn get(&self, key: &ObjKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Current objects of one kind, in key order.
    pub(crate) fn objects(&self, kind: Kind) -> impl Iterator<Item = (&ObjKey, &Value)> {
        self.objects
            .range(ObjKey::new(kind, "", "")..)
            .take_while(move |(k, _)| k.kind == kind)
    }

    /// Create or replace an object: stamps identity metadata (kept from the
    /// previous version, fresh for a new object) and a new resourceVersion.
    pub(crate) fn put(&mut self, key: ObjKey, mut obj: Value) -> Value {
        let prev = self.objects.get(&key).cloned();
        self.rv += 1;
        match &prev {
            Some(p) => copy_identity(p, &mut obj),
            None => {
                self.uids += 1;
                let uid = format!("6c61622d-0000-4000-8000-{:012x}", self.uids);
                if let Some(meta) = meta_mut(&mut obj) {
                    meta.insert("uid".into(), Value::String(uid));
                    meta.insert("creationTimestamp".into(), Value::String(now()));
                }
            }
        }
        if let Some(meta) = meta_mut(&mut obj) {
            meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        }
        self.objects.insert(key.clone(), obj.clone());
        self.record(Change {
            rv: self.rv,
            key,
            object: Some(obj.clone()),
            prev,
        });
        obj
    }

    pub(crate) fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let prev = self.objects.remove(key)?;
        self.rv += 1;
        self.record(Change {
            rv: self.rv,
            key: key.clone(),
            object: None,
            prev: Some(prev.clone()),
        });
        Some(prev)
    }

    fn record(&mut self, change: Change) {
        let rv = change.rv;
        self.history.push_back(change);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is the normal idle state, not an error.
        let _ = self.tx.send(rv);
    }

    /// Every change after `rv`, or 410 if some of them were dropped.
    pub(crate) fn changes_after(&self, rv: u64) -> Result<impl Iterator<Item = &Change>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::too_old(rv, self.compacted));
        }
        Ok(self.history.iter().filter(move |c| c.rv > rv))
    }

    /// The objects of `kind` as they were at resourceVersion `at`.
    #[cfg(test)]
    pub(crate) fn snapshot(
        &self,
        kind: Kind,
        at: u64,
    ) -> Result<BTreeMap<ObjKey, Value>, ApiError> {
        let page = self.page(kind, at, None, None, false, |_| true)?;
        Ok(page.items.into_iter().collect())
    }

    /// One page of a list: the objects of `kind` as they were at
    /// resourceVersion `at`, after the key `after`, that `matches` accepts,
    /// at most `limit` of them. Only the page is copied and only the keys
    /// from `after` on are visited, so listing a kind in pages costs about
    /// one pass over it in all, not one per page; the rest is counted (one
    /// more pass, without copies) only when `count_rest`.
    pub(crate) fn page(
        &self,
        kind: Kind,
        at: u64,
        after: Option<&ObjKey>,
        limit: Option<usize>,
        count_rest: bool,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Page, ApiError> {
        if at > self.rv {
            return Err(ApiError::too_large(at, self.rv));
        }
        let wanted = |k: &ObjKey| k.kind == kind && after.is_none_or(|a| k > a);
        // What changed since `at`, undone: the first change after `at` of a
        // key holds its state at `at` (None: it did not exist yet).
        let mut undone: BTreeMap<&ObjKey, Option<&Value>> = BTreeMap::new();
        if at < self.rv {
            for change in self.changes_after(at)?.filter(|c| wanted(&c.key)) {
                undone.entry(&change.key).or_insert(change.prev.as_ref());
            }
        }
        let start = match after {
            Some(a) => Bound::Excluded(a.clone()),
            None => Bound::Included(ObjKey::new(kind, "", "")),
        };
        let current = self
            .objects
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| k.kind == kind)
            .filter(|(k, _)| !undone.contains_key(k));
        let restored = undone.iter().filter_map(|(k, v)| v.map(|v| (*k, v)));
        let mut view = merged(current, restored).filter(|(_, v)| matches(v));
        let limit = limit.unwrap_or(usize::MAX);
        let items: Vec<(ObjKey, Value)> = view
            .by_ref()
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remaining = if count_rest {
            view.count()
        } else {
            usize::from(view.next().is_some())
        };
        Ok(Page { items, remaining })
    }

    /// Store `obj` unless the stored object already equals it (identity
    /// aside): an unchanged object keeps its resourceVersion and produces
    /// no watch event. Whether it was written.
    pub(crate) fn upsert(&mut self, key: ObjKey, mut obj: Value) -> bool {
        if let Some(prev) = self.objects.get(&key) {
            copy_identity(prev, &mut obj);
            if *prev == obj {
                return false;
            }
        }
        self.put(key, obj);
        true
    }

    /// Make the objects of `kinds` equal `rendered`: add what is new, replace
    /// what differs, delete what is gone. Unchanged objects are untouched, so
    /// they keep their resourceVersion and produce no watch event.
    pub(crate) fn sync(&mut self, kinds: &[Kind], rendered: Vec<(ObjKey, Value)>) {
        let mut wanted = BTreeSet::new();
        for (key, obj) in rendered {
            wanted.insert(key.clone());
            self.upsert(key, obj);
        }
        let stale: Vec<ObjKey> = self
            .objects
            .keys()
            .filter(|k| kinds.contains(&k.kind) && !wanted.contains(*k))
            .cloned()
            .collect();
        for key in stale {
            self.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str) -> (ObjKey, Value) {
        (
            ObjKey::new(Kind::Pod, "ns", name),
            json!({"metadata": {"name": name, "namespace": "ns"}, "status": {"phase": phase}}),
        )
    }

    #[test]
    fn sync_emits_only_differences_and_snapshots_roll_back() {
        let mut store = Store::new(100);
        store.sync(&[Kind::Pod], vec![pod("a", "Running"), pod("b", "Running")]);
        assert_eq!(store.rv(), 2);
        let uid_a = store
            .get(&pod("a", "").0)
            .and_then(|o| meta_str(o, "uid").map(String::from));
        store.sync(&[Kind::Pod], vec![pod("a", "Running"), pod("b", "Running")]);
        assert_eq!(
            store.rv(),
            2,
            "an unchanged render must not bump the resourceVersion"
        );
        store.sync(&[Kind::Pod], vec![pod("a", "Failed")]);
        assert_eq!(store.rv(), 4, "one MODIFIED and one DELETED");
        let a = store.get(&pod("a", "").0).cloned().unwrap_or_default();
        assert_eq!(
            meta_str(&a, "uid").map(String::from),
            uid_a,
            "uid survives updates"
        );
        assert_eq!(meta_str(&a, "resourceVersion"), Some("3"));

        let at2 = store.snapshot(Kind::Pod, 2).unwrap();
        assert_eq!(at2.len(), 2);
        assert_eq!(at2[&pod("a", "").0]["status"]["phase"], "Running");
        assert!(
            store.snapshot(Kind::Pod, 9).is_err(),
            "future resourceVersion"
        );
    }

    #[test]
    fn history_is_bounded_and_expires_old_versions() {
        let mut store = Store::new(3);
        for i in 0..6 {
            store.put(pod("a", "").0, json!({"metadata": {"name": "a"}, "n": i}));
        }
        assert_eq!(store.rv(), 6);
        let err = store.changes_after(1).err().map(|e| (e.code, e.message));
        assert_eq!(
            err,
            Some((410, "too old resource version: 1 (3)".to_string()))
        );
        let replay: Vec<u64> = store.changes_after(3).unwrap().map(|c| c.rv).collect();
        assert_eq!(replay, vec![4, 5, 6]);
    }
}
