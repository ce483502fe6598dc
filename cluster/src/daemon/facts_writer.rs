//! The facts ConfigMap the node agents read (`eniwatch-cluster-facts`,
//! key `facts.json`, in eniwatch's namespace).
//!
//! Policy:
//! - Written only when its content changes: each refresh GETs the object
//!   (one small read), builds the document with the published one as
//!   `previous` (so unchanged subnets keep their `observed_at` and an
//!   unchanged cluster gives a byte-identical document), and compares
//!   [`PublishedFacts::to_json`] with what is there. Equal: no write.
//! - Absent: created. Present and different: replaced with the
//!   resourceVersion that was read (optimistic concurrency). A 409 (someone
//!   wrote in between: a second replica, a restart's overlap) re-reads and
//!   retries once; if that conflicts too, the next refresh tries again.
//! - Idempotent: two replicas write the same document for the same VPC,
//!   so the second finds it equal and writes nothing; a restarted process
//!   reads what its predecessor wrote and keeps its `observed_at`s.
//! - RBAC: configmaps get in the namespace; create; update on this name.

use std::collections::BTreeMap;

use eniwatch_core::published::{PublishedFacts, DATA_KEY};
use eniwatch_core::sources::kube::{write_error_kind, write_error_text};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written,
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{action} ConfigMap {namespace}/{name}: {message}")]
pub struct PublishError {
    pub action: &'static str,
    pub namespace: String,
    pub name: String,
    pub message: String,
    pub kind: &'static str,
}

/// Writes the facts ConfigMap.
pub struct FactsWriter {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
}

impl FactsWriter {
    pub fn new(client: Client, namespace: &str, name: &str) -> FactsWriter {
        FactsWriter {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    fn error(&self, action: &'static str, e: &kube::Error) -> PublishError {
        PublishError {
            action,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            message: write_error_text(e),
            kind: write_error_kind(e),
        }
    }

    /// Publishes the document `build` makes from the published one (None
    /// when there is none, or it cannot be read). Returns what was done and
    /// the document's size.
    pub async fn publish(
        &self,
        build: impl Fn(Option<&PublishedFacts>) -> PublishedFacts,
    ) -> Result<(Outcome, usize), PublishError> {
        let mut retried = false;
        loop {
            let current = self
                .api
                .get_opt(&self.name)
                .await
                .map_err(|e| self.error("reading", &e))?;
            let text = current
                .as_ref()
                .and_then(|cm| cm.data.as_ref())
                .and_then(|d| d.get(DATA_KEY));
            let previous = text.and_then(|t| PublishedFacts::parse(t).ok());
            let json = build(previous.as_ref()).to_json();
            let size = json.len();
            if text == Some(&json) {
                return Ok((Outcome::Unchanged, size));
            }
            let result = match current {
                None => self
                    .api
                    .create(&PostParams::default(), &self.object(json, None))
                    .await
                    .map_err(|e| ("creating", e)),
                Some(cm) => {
                    let rv = cm.metadata.resource_version.clone();
                    self.api
                        .replace(&self.name, &PostParams::default(), &self.object(json, rv))
                        .await
                        .map_err(|e| ("updating", e))
                }
            };
            match result {
                Ok(_) => return Ok((Outcome::Written, size)),
                Err((_, kube::Error::Api(s))) if s.code == 409 && !retried => {
                    tracing::debug!("the facts ConfigMap changed under the write; re-reading once");
                    retried = true;
                }
                Err((action, e)) => return Err(self.error(action, &e)),
            }
        }
    }

    fn object(&self, json: String, resource_version: Option<String>) -> ConfigMap {
        let labels = BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "eniwatch".to_string()),
            (
                "app.kubernetes.io/component".to_string(),
                "cluster".to_string(),
            ),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "eniwatch-cluster".to_string(),
            ),
        ]);
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                resource_version,
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(DATA_KEY.to_string(), json)])),
            ..ConfigMap::default()
        }
    }
}
