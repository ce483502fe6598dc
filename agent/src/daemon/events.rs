//! Drift events: one Kubernetes Event per drift transition, so that
//! `kubectl describe pod`, `kubectl describe node` and `kubectl get events`
//! tell when custom networking broke on this node and when it healed.
//!
//! Policy:
//! - Only transitions are written (a drift began, a drift resolved), never
//!   the steady state: that is the node condition's job ([`super::condition`]).
//!   Began is a `Warning` with the finding's reason (action `Detect`);
//!   Resolved a `Normal` with `<Reason>Resolved` (action `Resolve`).
//! - `events.k8s.io/v1` through kube-runtime's [`Recorder`]: reporting
//!   controller `eniwatch`, instance = the node name, so every node's agent
//!   is told apart by `reportingInstance`.
//! - Where an event goes: a pod finding is about its Pod, written in the
//!   pod's namespace. `kubectl describe pod` matches events on the pod's
//!   uid, so the uid is looked up (one GET per pod event, within the rate
//!   limit; a pod already gone gets the event without uid). Node and ENI
//!   findings, and pods known only from the kernel (no namespace), are about
//!   the Node: ENIs are no Kubernetes objects, so the ENI id goes in the
//!   note. Node events are written like kubelet's: `uid` = the node name,
//!   in namespace `default` (the Recorder's choice for cluster-scoped
//!   objects); `kubectl describe node` looks exactly there.
//! - Deduplicated here: the same (reason, subject, type) within
//!   [`DEDUP_WINDOW`] is written once. A flapping drift costs one event per
//!   window, and a caller retrying a batch cannot write an event twice.
//!   Every written event is a new object, not a Recorder series: on the
//!   Node, a series would fold different ENIs' drifts (same reason, same
//!   regarding) into the first one's event and its immutable note.
//! - Rate-limited per node by a [`TokenBucket`] (default: a burst of 25,
//!   then 30 a minute). Transitions beyond the budget are counted and
//!   summarised in one `DriftAggregated` Warning on the Node (a
//!   `DriftAggregatedResolved` Normal when all of them are resolutions), at
//!   most once per [`AGGREGATE_INTERVAL`] (the minute over which the bucket
//!   refills `per_minute` tokens). The summary is due on a timer
//!   ([`EventSink::next_wake`]), not only when a later transition comes. A
//!   250-pod node going bad writes burst + 1 events at once and at most
//!   `per_minute` + 1 a minute after that, not 500.
//! - A Warning written individually gets its resolution written
//!   individually too, on the same object, ahead of new Warnings; beyond the
//!   budget it waits for the next token rather than the aggregate, so
//!   `kubectl describe pod` never ends on a stale Warning (the order and
//!   the budget: `events_budget.rs`).
//! - Failures: an event that fails is dropped and logged, never retried (its
//!   key stays in the dedup window: the create may have landed even if the
//!   answer did not). The rest of that batch is not attempted, since the
//!   API server is likely unreachable and each attempt may wait out the read
//!   timeout; those transitions go into the next aggregate instead (or, for
//!   resolutions of written Warnings, wait for the next try).
//! - A pod event names the Node as `related` (a `kubectl describe node`
//!   does not show it; the API's admission policy wants it: a pod's node
//!   cannot be looked up there).
//! - RBAC: `create` on `events.k8s.io` events in all namespaces (no
//!   `patch`: no series, above), `get` on pods; deploy/base's admission
//!   policy confines both to this node.
//! - Findings of a reason eniwatch-cluster raises too
//!   ([`eniwatch_core::checks::raised_by_cluster`]: the subnet's, an ENI's
//!   attachment) get no event from the agent: the cluster component writes
//!   one per subnet or ENI, not one per node. They still count in the
//!   report, the metrics and the node condition.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client};

use super::settle::Transition;
pub use budget::TokenBucket;
use budget::{Direction, Ledger, Write};
use eniwatch_core::checks::{Finding, Reason, Subject, SubjectKind};

#[path = "events_budget.rs"]
mod budget;

pub const REPORTING_CONTROLLER: &str = "eniwatch";
/// The API's limit on `note`, in bytes.
pub const NOTE_LIMIT: usize = 1024;
/// How long an identical event is not written again.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);
/// At most one `DriftAggregated` event per interval.
pub const AGGREGATE_INTERVAL: Duration = Duration::from_secs(60);
pub const AGGREGATE_REASON: &str = "DriftAggregated";
/// The aggregate when every transition in it is a resolution.
pub const AGGREGATE_RESOLVED_REASON: &str = "DriftAggregatedResolved";

/// Per-node event budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventConfig {
    /// Events that may be written at once.
    pub burst: u32,
    /// Sustained events per minute.
    pub per_minute: u32,
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig {
            burst: 25,
            per_minute: 30,
        }
    }
}

/// An event write (or the pod lookup before it) failed; the event is dropped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("writing event {reason} about {regarding}: {message}")]
pub struct EventError {
    pub reason: String,
    pub regarding: String,
    pub message: String,
    /// Bounded classification, for metric labels.
    pub kind: &'static str,
    /// Events written by the same `publish` call before it failed.
    pub written: usize,
}

// The one mapping of client errors to kinds and words (the node condition's
// writes use it through these names too).
pub(crate) use eniwatch_core::sources::kube::{
    write_error_kind as api_error_kind, write_error_text as api_error_message,
};

/// The object an event is about, before any uid lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Regarding {
    Node,
    Pod { namespace: String, name: String },
}

fn regarding(subject: &Subject) -> Regarding {
    match (subject.kind, &subject.namespace) {
        (SubjectKind::Pod, Some(ns)) => Regarding::Pod {
            namespace: ns.clone(),
            name: subject.name.clone(),
        },
        _ => Regarding::Node,
    }
}

/// Like kubelet's node reference: `kubectl describe node` matches it.
fn node_reference(node_name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(node_name.into()),
        uid: Some(node_name.into()),
        ..ObjectReference::default()
    }
}

fn truncate_note(mut note: String) -> String {
    if note.len() <= NOTE_LIMIT {
        return note;
    }
    let mut end = NOTE_LIMIT - '…'.len_utf8();
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    note.truncate(end);
    note.push('…');
    note
}

fn note(f: &Finding, dir: Direction) -> String {
    // On the Node, say which ENI or kernel-only pod, unless the message does.
    let prefix = match (f.subject.kind, &f.subject.namespace) {
        _ if f.message.contains(&f.subject.name) => None,
        (SubjectKind::Eni, _) => Some("ENI"),
        (SubjectKind::Pod, None) => Some("pod"),
        _ => None,
    };
    let text = match prefix {
        Some(p) => format!("{p} {}: {}", f.subject.name, f.message),
        None => f.message.clone(),
    };
    match dir {
        Direction::Began => truncate_note(text),
        Direction::Resolved => truncate_note(format!("no longer observed: {text}")),
    }
}

fn event(f: &Finding, dir: Direction) -> Event {
    let (type_, reason, action) = match dir {
        Direction::Began if !f.is_drift() => {
            (EventType::Normal, f.reason.as_str().to_string(), "Detect")
        }
        Direction::Began => (EventType::Warning, f.reason.as_str().to_string(), "Detect"),
        Direction::Resolved => (
            EventType::Normal,
            format!("{}Resolved", f.reason),
            "Resolve",
        ),
    };
    Event {
        type_,
        reason,
        note: Some(note(f, dir)),
        action: action.into(),
        secondary: None,
    }
}

/// The summary of transitions not written individually: a `Warning` when
/// a drift began among them, a `Normal` when all are resolutions.
fn aggregate_event(pending: &BTreeMap<(Reason, Direction), u64>) -> Event {
    let resolutions_only = pending.keys().all(|(_, d)| *d == Direction::Resolved);
    let (type_, reason) = if resolutions_only {
        (EventType::Normal, AGGREGATE_RESOLVED_REASON)
    } else {
        (EventType::Warning, AGGREGATE_REASON)
    };
    Event {
        type_,
        reason: reason.into(),
        note: Some(aggregate_note(pending)),
        action: "Aggregate".into(),
        secondary: None,
    }
}

fn aggregate_note(pending: &BTreeMap<(Reason, Direction), u64>) -> String {
    let total: u64 = pending.values().sum();
    let mut parts: Vec<(&(Reason, Direction), &u64)> = pending.iter().collect();
    parts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = parts
        .into_iter()
        .map(|((reason, dir), n)| {
            let dir = match dir {
                Direction::Began => "began",
                Direction::Resolved => "resolved",
            };
            format!("{n} {reason} {dir}")
        })
        .collect();
    let noun = if total == 1 {
        "transition"
    } else {
        "transitions"
    };
    truncate_note(format!(
        "{total} more drift {noun} not written individually: {}",
        parts.join(", ")
    ))
}

/// Writes drift transitions as events, deduplicated and rate-limited.
pub struct EventSink {
    client: Client,
    node_name: String,
    reporter: Reporter,
    ledger: Ledger,
}

/// The transitions the agent writes events for: not those of a reason
/// eniwatch-cluster writes its own events for (see the module docs).
pub fn node_events(transitions: &[Transition]) -> Vec<Transition> {
    transitions
        .iter()
        .filter(|t| !eniwatch_core::checks::raised_by_cluster(t.finding().reason))
        .cloned()
        .collect()
}

impl EventSink {
    pub fn new(client: Client, node_name: String, config: EventConfig) -> EventSink {
        let reporter = Reporter {
            controller: REPORTING_CONTROLLER.into(),
            instance: Some(node_name.clone()),
        };
        EventSink {
            client,
            node_name,
            reporter,
            ledger: Ledger::new(config.burst, config.per_minute),
        }
    }

    /// When [`EventSink::publish`] has something to write even without new
    /// transitions: a due aggregate, or a resolution waiting for budget.
    pub fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        self.ledger.next_wake(now)
    }

    /// Writes events for `transitions` (and what is due without them: an
    /// aggregate, resolutions waiting for budget, even when `transitions`
    /// is empty). Returns how many events were written.
    pub async fn publish(
        &mut self,
        transitions: &[Transition],
        now: Instant,
    ) -> Result<usize, EventError> {
        let ours = node_events(transitions);
        let mut planned = self.ledger.plan(&ours, now).into_iter();
        let mut written = 0;
        let mut failure = None;
        for w in planned.by_ref() {
            match self.write(&w.finding, w.dir).await {
                Ok(()) => written += 1,
                Err(e) => {
                    tracing::debug!(error = %e, "drift event dropped");
                    failure = Some(e);
                    break;
                }
            }
        }
        let not_attempted: Vec<Write> = planned.collect();
        self.ledger.unwind(not_attempted);
        if failure.is_none() {
            if let Some(pending) = self.ledger.take_aggregate(now) {
                match self.write_aggregate(&pending).await {
                    Ok(()) => written += 1,
                    Err(e) => {
                        tracing::debug!(error = %e, "aggregate drift event dropped");
                        failure = Some(e);
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(EventError { written, ..e }),
            None => Ok(written),
        }
    }

    /// A Recorder with an empty series cache: every publish creates an event
    /// (see the module docs); duplicates are kept out by `recent`.
    fn recorder(&self) -> Recorder {
        Recorder::new(self.client.clone(), self.reporter.clone())
    }

    async fn write(&self, f: &Finding, dir: Direction) -> Result<(), EventError> {
        let mut event = event(f, dir);
        if matches!(regarding(&f.subject), Regarding::Pod { .. }) {
            // The Node as `related`: the admission policy admits a pod
            // event only when it names the agent's own Node there.
            event.secondary = Some(node_reference(&self.node_name));
        }
        let event = event;
        let fail = |e: &kube::Error| EventError {
            reason: event.reason.clone(),
            regarding: f.subject.to_string(),
            message: api_error_message(e),
            kind: api_error_kind(e),
            written: 0,
        };
        let reference = match regarding(&f.subject) {
            Regarding::Node => node_reference(&self.node_name),
            Regarding::Pod { namespace, name } => {
                let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
                let uid = match pods.get_metadata_opt(&name).await {
                    Ok(meta) => meta.and_then(|m| m.metadata.uid),
                    // The server answered (say 403): better an event without
                    // uid, still listed by name, than none.
                    Err(kube::Error::Api(_)) => None,
                    Err(e) => return Err(fail(&e)),
                };
                ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    namespace: Some(namespace),
                    name: Some(name),
                    uid,
                    ..ObjectReference::default()
                }
            }
        };
        self.recorder()
            .publish(&event, &reference)
            .await
            .map_err(|e| fail(&e))?;
        tracing::info!(
            reason = %event.reason,
            subject = %f.subject,
            event_type = ?event.type_,
            "drift event written"
        );
        Ok(())
    }

    async fn write_aggregate(
        &self,
        pending: &BTreeMap<(Reason, Direction), u64>,
    ) -> Result<(), EventError> {
        let event = aggregate_event(pending);
        let reference = node_reference(&self.node_name);
        self.recorder()
            .publish(&event, &reference)
            .await
            .map_err(|e| EventError {
                reason: event.reason.clone(),
                regarding: Subject::node(&self.node_name).to_string(),
                message: api_error_message(&e),
                kind: api_error_kind(&e),
                written: 0,
            })?;
        let total: u64 = pending.values().sum();
        tracing::info!(
            reason = %event.reason,
            subject = %Subject::node(&self.node_name),
            event_type = ?event.type_,
            transitions = total,
            "drift event written"
        );
        Ok(())
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
