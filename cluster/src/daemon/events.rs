//! Events for the cluster findings, so `kubectl describe eniconfig` (and
//! `kubectl describe node` for an ENI of a node) says what is wrong.
//!
//! Policy:
//! - `events.k8s.io/v1`, in namespace `default` (where `kubectl describe`
//!   looks for cluster-scoped objects), reporting controller
//!   `eniwatch-cluster`, instance = the pod name (`POD_NAME`, else the
//!   host name).
//! - `regarding`: the ENIConfig the finding is about; for an ENI
//!   (`ENINotAttached`, `LeakedENI`) the Node it was created for when that
//!   Node exists, else the ENIConfig naming the ENI's subnet, else no Event
//!   (metrics and logs only). The ENI id is in the note.
//! - One Event per (reason, subject) while the finding persists: written
//!   when it first appears, then re-emitted as a series (`series.count`,
//!   `series.lastObservedTime`, a merge patch of the same object) at most
//!   every [`REEMIT_AFTER`]. A recovery is not an event: the finding's key
//!   is simply forgotten, and a later return writes a new Event.
//! - Failures are logged and retried on a later refresh (the key is kept
//!   only once a write succeeded); a series patch answered 404 (the Event
//!   expired, 1 h by default) creates a new Event.
//! - A second replica, or a restart, writes at most one more Event per
//!   finding (its own first write): Events are append-only observations,
//!   harmless to duplicate.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use eniwatch_core::checks::{Finding, Reason, Severity, Subject, SubjectKind};
use eniwatch_core::model::VpcFacts;
use eniwatch_core::sources::kube::{write_error_kind, write_error_text};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::model::ClusterNode;

/// How often a persisting finding's Event is re-emitted as a series.
pub const REEMIT_AFTER: Duration = Duration::from_secs(30 * 60);
pub const CONTROLLER: &str = "eniwatch-cluster";
const NAMESPACE: &str = "default";
const NOTE_MAX: usize = 1024;

/// What an Event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regarding {
    Node(String),
    EniConfig { name: String, uid: Option<String> },
}

impl Regarding {
    fn reference(&self) -> ObjectReference {
        match self {
            // As kubelet writes them: `kubectl describe node` matches uid = name.
            Regarding::Node(name) => ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(name.clone()),
                uid: Some(name.clone()),
                ..ObjectReference::default()
            },
            Regarding::EniConfig { name, uid } => ObjectReference {
                api_version: Some("crd.k8s.amazonaws.com/v1alpha1".into()),
                kind: Some("ENIConfig".into()),
                name: Some(name.clone()),
                uid: uid.clone(),
                ..ObjectReference::default()
            },
        }
    }

    fn name(&self) -> &str {
        match self {
            Regarding::Node(n) => n,
            Regarding::EniConfig { name, .. } => name,
        }
    }
}

/// Where the Event about `f` goes (see the module docs); None: nowhere.
pub fn regarding(
    f: &Finding,
    nodes: &[ClusterNode],
    vpc: &VpcFacts,
    eniconfigs: &[eniwatch_core::model::EniConfig],
    uid: impl Fn(&str) -> Option<String>,
) -> Option<Regarding> {
    let eniconfig = |name: &str| Regarding::EniConfig {
        name: name.to_string(),
        uid: uid(name),
    };
    match f.subject.kind {
        SubjectKind::EniConfig => Some(eniconfig(&f.subject.name)),
        SubjectKind::Node => Some(Regarding::Node(f.subject.name.clone())),
        SubjectKind::Pod => None,
        SubjectKind::Eni => {
            let enis = vpc.cni_enis.as_ref().ok()?;
            let eni = enis.iter().find(|e| e.id.as_str() == f.subject.name)?;
            let node = eni
                .cni_instance()
                .and_then(|i| nodes.iter().find(|n| n.instance_id.as_deref() == Some(i)));
            if let Some(n) = node {
                return Some(Regarding::Node(n.info.name.clone()));
            }
            let subnet = eni.subnet_id.as_ref()?;
            let config = eniconfigs
                .iter()
                .find(|c| c.subnet.as_ref() == Some(subnet))?;
            Some(eniconfig(&config.name))
        }
    }
}

/// An Event written, for its series.
#[derive(Debug, Clone)]
struct Written {
    name: String,
    count: i32,
    at: Instant,
}

/// Writes the Events and remembers what it wrote.
pub struct EventSink {
    client: Client,
    instance: String,
    written: BTreeMap<(Reason, Subject), Written>,
}

/// A failed write, in words.
#[derive(Debug, thiserror::Error)]
#[error("writing event {reason} about {regarding}: {message}")]
pub struct EventError {
    pub reason: &'static str,
    pub regarding: String,
    pub message: String,
    pub kind: &'static str,
}

impl EventSink {
    pub fn new(client: Client, instance: String) -> EventSink {
        EventSink {
            client,
            instance,
            written: BTreeMap::new(),
        }
    }

    /// Writes what is due for these findings (each with where it goes);
    /// returns how many writes were made. Stops at the first failure (the
    /// API server is likely down); the rest is tried next refresh.
    pub async fn publish(
        &mut self,
        findings: &[(Finding, Option<Regarding>)],
        now: Instant,
    ) -> Result<usize, EventError> {
        let current: BTreeSet<(Reason, Subject)> = findings
            .iter()
            .map(|(f, _)| (f.reason, f.subject.clone()))
            .collect();
        self.written.retain(|k, _| current.contains(k));
        let mut writes = 0;
        for (f, to) in findings {
            let Some(to) = to else {
                tracing::debug!(reason = f.reason.as_str(), subject = %f.subject, "no object to write the event on");
                continue;
            };
            let key = (f.reason, f.subject.clone());
            let result = match self.written.get(&key).cloned() {
                None => self.create(f, to, now).await,
                Some(w) if now.duration_since(w.at) >= REEMIT_AFTER => {
                    self.series(f, to, w, now).await
                }
                Some(_) => continue,
            };
            let written = result.map_err(|e| EventError {
                reason: f.reason.as_str(),
                regarding: to.name().to_string(),
                message: write_error_text(&e),
                kind: write_error_kind(&e),
            })?;
            tracing::info!(reason = f.reason.as_str(), subject = %f.subject, count = written.count, "event written");
            self.written.insert(key, written);
            writes += 1;
        }
        Ok(writes)
    }

    fn api(&self) -> Api<Event> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    async fn create(
        &self,
        f: &Finding,
        to: &Regarding,
        now: Instant,
    ) -> Result<Written, kube::Error> {
        let stamp = k8s_openapi::jiff::Timestamp::now();
        let name = format!(
            "{}.{:x}",
            dns_part(to.name()),
            stamp.as_nanosecond().unsigned_abs()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(NAMESPACE.into()),
                ..ObjectMeta::default()
            },
            action: Some("Detect".into()),
            event_time: Some(MicroTime(stamp)),
            note: Some(note(f)),
            reason: Some(f.reason.as_str().into()),
            regarding: Some(to.reference()),
            reporting_controller: Some(CONTROLLER.into()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(event_type(f.severity).into()),
            ..Event::default()
        };
        self.api().create(&PostParams::default(), &event).await?;
        Ok(Written {
            name,
            count: 1,
            at: now,
        })
    }

    async fn series(
        &self,
        f: &Finding,
        to: &Regarding,
        w: Written,
        now: Instant,
    ) -> Result<Written, kube::Error> {
        let count = w.count.saturating_add(1);
        let patch = serde_json::json!({
            "series": EventSeries {
                count,
                last_observed_time: MicroTime(k8s_openapi::jiff::Timestamp::now()),
            },
        });
        match self
            .api()
            .patch(&w.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(Written {
                count,
                at: now,
                ..w
            }),
            Err(kube::Error::Api(s)) if s.code == 404 => self.create(f, to, now).await,
            Err(e) => Err(e),
        }
    }
}

fn event_type(s: Severity) -> &'static str {
    match s {
        Severity::Info => "Normal",
        Severity::Warning | Severity::Error => "Warning",
    }
}

/// The finding's message and fix, within the API's 1 KiB note limit.
fn note(f: &Finding) -> String {
    let full = format!("{} ({}). Fix: {}", f.message, f.subject, f.hint);
    if full.len() <= NOTE_MAX {
        return full;
    }
    let mut cut = NOTE_MAX - 3;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &full[..cut])
}

/// A name fit for the start of an Event name (lowercase DNS subdomain).
fn dns_part(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    let s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    if s.is_empty() {
        "eniwatch-cluster".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_at_a_character() {
        let f = Finding::new(
            "eniconfig-subnets",
            Reason::ENIConfigSubnetNotFound,
            Subject::eniconfig("a"),
            "é".repeat(2000),
        );
        let n = note(&f);
        assert!(n.len() <= NOTE_MAX && n.ends_with("..."));
    }

    #[test]
    fn event_names_are_dns_names() {
        assert_eq!(dns_part("eu-west-1a"), "eu-west-1a");
        assert_eq!(dns_part("Zone_A"), "zone-a");
        assert_eq!(dns_part("__"), "eniwatch-cluster");
    }
}
