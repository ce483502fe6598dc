//! eniwatch-cluster's published facts: one ConfigMap (default
//! `kube-system/eniwatch-cluster-facts`, key `facts.json`, schema in
//! `eniwatch_core::published`), read instead of asking EC2 from every node.
//!
//! Policy:
//! - `check` reads it with one GET; the daemon keeps one watch on it, by
//!   name (field selector `metadata.name=<name>` in its namespace), so every
//!   agent receives the few KiB only when eniwatch-cluster writes a change.
//!   A change wakes the loop like the other watches.
//! - The document is parsed once per change, not per cycle.
//! - No ConfigMap (404, or an empty list): eniwatch-cluster is not
//!   installed, an answer, not an error: the checks it feeds are *skipped*.
//!   403: *unknown*, naming the RBAC rule the agent's Role needs. A document
//!   that does not parse, or of a newer schema: *unknown* with
//!   [`PublishedError`]'s text. Any other failure: *unknown* with the cause.
//! - A failed watch is started again after 0.5 s doubling to 30 s, plus up
//!   to 20 % jitter (`eniwatch_core::backoff`); the server ends each watch
//!   request after [`WATCH_TIMEOUT_SECS`]. While it fails, the facts are
//!   *unknown* (a stale copy could hide a change, and a 403 must show).

mod watch;

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};

use eniwatch_core::model::{ClusterFacts, Observed, Unavailable};
use eniwatch_core::published::{PublishedError, PublishedFacts, CONFIGMAP_NAME, DATA_KEY};
use eniwatch_core::sources::kube::{error_kind, error_text};

pub use watch::FactsWatch;

/// The source's name in the snapshot, the report and the metrics.
pub const SOURCE: &str = "cluster_facts";

/// How long the server may keep one watch request open.
pub const WATCH_TIMEOUT_SECS: u32 = 290;

/// Where the published facts are: `NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsRef {
    pub namespace: String,
    pub name: String,
}

impl FactsRef {
    /// The ConfigMap's default name in `namespace`.
    pub fn in_namespace(namespace: &str) -> FactsRef {
        FactsRef {
            namespace: namespace.to_string(),
            name: CONFIGMAP_NAME.to_string(),
        }
    }
}

impl fmt::Display for FactsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for FactsRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(FactsRef {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!("{s:?} is not NAMESPACE/NAME")),
        }
    }
}

/// The facts a ConfigMap holds (None: it does not exist).
pub fn interpret(at: &FactsRef, configmap: Option<&ConfigMap>) -> Observed<ClusterFacts> {
    let Some(cm) = configmap else {
        return Ok(ClusterFacts {
            configmap: at.to_string(),
            published: None,
        });
    };
    let text = cm.data.as_ref().and_then(|d| d.get(DATA_KEY));
    let parsed = text
        .ok_or(PublishedError::MissingKey)
        .and_then(|t| PublishedFacts::parse(t));
    match parsed {
        Ok(p) => Ok(ClusterFacts {
            configmap: at.to_string(),
            published: Some(p),
        }),
        Err(e) => {
            Err(Unavailable::new(SOURCE, format!("ConfigMap {at}: {e}")).with_kind("invalid"))
        }
    }
}

/// A failed read of the ConfigMap, in words; a 403 names the rule to grant.
pub fn read_error(at: &FactsRef, e: &kube::Error) -> Unavailable {
    if let kube::Error::Api(s) = e {
        if s.code == 403 {
            return Unavailable::new(SOURCE, forbidden(at)).with_kind("forbidden");
        }
    }
    Unavailable::new(SOURCE, format!("reading ConfigMap {at}: {}", error_text(e)))
        .with_kind(error_kind(e))
}

/// The text of a refused read: what the agent's Role must allow.
pub fn forbidden(at: &FactsRef) -> String {
    format!(
        "reading ConfigMap {at} is forbidden: the agent's Role in namespace {} needs \
         configmaps get, list and watch with resourceNames [{}]",
        at.namespace, at.name
    )
}

/// `check`'s one GET.
pub async fn read_once(client: &Client, at: &FactsRef) -> Observed<ClusterFacts> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &at.namespace);
    match api.get_opt(&at.name).await {
        Ok(cm) => interpret(at, cm.as_ref()),
        Err(e) => Err(read_error(at, &e)),
    }
}

#[cfg(test)]
#[path = "cluster_facts_tests.rs"]
mod tests;
