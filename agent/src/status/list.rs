//! Listing the cluster for `eniwatch status`: Nodes, Pods, ENIConfigs,
//! NodeClasses and eniwatch-cluster's published facts, reduced at once into
//! a [`StatusInput`].
//!
//! Policy:
//! - Every list is paged (`limit=500`, then `continue`), and each page is
//!   decoded into minimal structs (only the fields the view needs; serde
//!   skips the rest without keeping it) and reduced before the next is
//!   asked for, so memory grows with the reduced cluster, not with its JSON
//!   (100,000 pods are a few tens of MiB).
//! - Pods: all namespaces, `status.phase!=Succeeded,status.phase!=Failed`
//!   (finished pods hold no address).
//! - A `410 Gone` on a continue token (the list took longer than etcd keeps
//!   its snapshot, about 5 minutes) restarts that list once from the start;
//!   a second one is an error.
//! - The five reads run concurrently on one connection pool.
//! - Nodes and Pods are required: their failure is the command's error.
//!   ENIConfigs and NodeClasses answer 404 when their CRD is not installed:
//!   that is an answer (`None`), not an error. Their other failures, and
//!   the facts', are kept as unavailable parts, which the view reports as
//!   unknown.
//! - Errors say what to do: a 403 names the RBAC rule to add, a 401 how to
//!   refresh the credentials.

use std::collections::BTreeMap;

use kube::api::{GetParams, ListParams};
use kube::core::Request;
use kube::Client;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use eniwatch_core::model::{Observed, SelectionSettings, Unavailable};
use eniwatch_core::published::{PublishedFacts, DATA_KEY};
use eniwatch_core::sources::kube::{eniconfig_from_spec, error_text};
use eniwatch_core::status::input::StatusInput;

/// Objects per page: the API server's recommended chunk size.
pub const PAGE_SIZE: u32 = 500;
/// The pods a migration view counts.
pub const POD_PHASES: &str = "status.phase!=Succeeded,status.phase!=Failed";
/// The node condition the eniwatch agent writes.
pub const CONDITION_TYPE: &str = "CustomNetworkingReady";

/// One resource the lister reads, for paths and error words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
}

pub const NODES: Resource = Resource {
    group: "",
    version: "v1",
    plural: "nodes",
};
pub const PODS: Resource = Resource {
    group: "",
    version: "v1",
    plural: "pods",
};
pub const ENICONFIGS: Resource = Resource {
    group: "crd.k8s.amazonaws.com",
    version: "v1alpha1",
    plural: "eniconfigs",
};
pub const NODECLASSES: Resource = Resource {
    group: "eks.amazonaws.com",
    version: "v1",
    plural: "nodeclasses",
};

impl Resource {
    fn path(&self) -> String {
        match self.group {
            "" => format!("/api/{}/{}", self.version, self.plural),
            g => format!("/apis/{g}/{}/{}", self.version, self.plural),
        }
    }

    /// The ClusterRole rule a reader needs for this resource.
    pub fn rule(&self, verbs: &str) -> String {
        format!(
            "{{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [{verbs}]}}",
            self.group, self.plural
        )
    }
}

/// Where the facts are and how nodes select their ENIConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOptions {
    pub facts_namespace: String,
    pub facts_name: String,
    pub selection: SelectionSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(
        "listing {} is forbidden: the user of this kubeconfig needs the ClusterRole rule {} \
         (`eniwatch status --help` shows the whole read-only role)",
        .0.plural, .0.rule("\"list\"")
    )]
    Forbidden(Resource),
    #[error(
        "the API server rejected this kubeconfig's credentials listing {0} (401): refresh them \
         (on EKS: `aws eks update-kubeconfig --name CLUSTER`, and check `aws sts get-caller-identity`)"
    )]
    Unauthorized(&'static str),
    #[error("the API server expired the list of {0} twice in a row (410 Gone): try again")]
    Expired(&'static str),
    #[error("listing {what}: {text}")]
    Request {
        what: &'static str,
        code: Option<u16>,
        text: String,
    },
    #[error("listing {0}: {1}")]
    Build(&'static str, String),
}

impl ListError {
    fn from_kube(r: Resource, e: &kube::Error) -> ListError {
        match e {
            kube::Error::Api(s) if s.code == 403 => ListError::Forbidden(r),
            kube::Error::Api(s) if s.code == 401 => ListError::Unauthorized(r.plural),
            kube::Error::Api(s) => ListError::Request {
                what: r.plural,
                code: Some(s.code),
                text: error_text(e),
            },
            _ => ListError::Request {
                what: r.plural,
                code: None,
                text: error_text(e),
            },
        }
    }

    fn code(&self) -> Option<u16> {
        match self {
            ListError::Forbidden(_) => Some(403),
            ListError::Unauthorized(_) => Some(401),
            ListError::Request { code, .. } => *code,
            _ => None,
        }
    }
}

/// Everything `eniwatch status` reads, listed concurrently.
pub async fn list(client: &Client, options: &ListOptions) -> Result<StatusInput, ListError> {
    let annotation = options.selection.annotation_def.as_str();
    let (nodes, pods, eni_configs, node_classes, facts) = tokio::join!(
        list_all(client, NODES, None, |n: RawNode| Some(n.reduce(annotation))),
        list_all(client, PODS, Some(POD_PHASES), |p: RawPod| Some(p.reduce())),
        optional(client, ENICONFIGS, |e: RawObject| {
            eniconfig_from_spec(e.metadata.name, e.spec.as_ref())
        }),
        optional(client, NODECLASSES, |c: RawNodeClass| c.reduce()),
        read_facts(client, &options.facts_namespace, &options.facts_name),
    );
    Ok(StatusInput {
        nodes: nodes?,
        pods: pods?,
        eni_configs,
        node_classes,
        facts,
        selection: options.selection.clone(),
    })
}

/// A custom resource's list: None when its CRD is not installed.
async fn optional<T: DeserializeOwned, O>(
    client: &Client,
    r: Resource,
    reduce: impl FnMut(T) -> O,
) -> Observed<Option<Vec<O>>> {
    let mut reduce = reduce;
    match list_all(client, r, None, |t| Some(reduce(t))).await {
        Ok(items) => Ok(Some(items)),
        Err(e) if e.code() == Some(404) => Ok(None),
        Err(e) => {
            let kind = match e.code() {
                Some(403) => "forbidden",
                Some(401) => "unauthorized",
                _ => "error",
            };
            Err(Unavailable::new("kubernetes", e.to_string()).with_kind(kind))
        }
    }
}

/// Every object of `r`, page by page, each reduced as it arrives.
pub async fn list_all<T: DeserializeOwned, O>(
    client: &Client,
    r: Resource,
    fields: Option<&str>,
    mut reduce: impl FnMut(T) -> Option<O>,
) -> Result<Vec<O>, ListError> {
    let path = r.path();
    let mut restarted = false;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(PAGE_SIZE);
        if let Some(f) = fields {
            lp = lp.fields(f);
        }
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let request = Request::new(&path)
            .list(&lp)
            .map_err(|e| ListError::Build(r.plural, e.to_string()))?;
        let page: RawList<T> = match client.request(request).await {
            Ok(page) => page,
            Err(kube::Error::Api(s)) if s.code == 410 && token.is_some() => {
                if restarted {
                    return Err(ListError::Expired(r.plural));
                }
                restarted = true;
                out.clear();
                token = None;
                continue;
            }
            Err(e) => return Err(ListError::from_kube(r, &e)),
        };
        out.extend(page.items.into_iter().filter_map(&mut reduce));
        match page.metadata.continue_token.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

/// The published facts: None when the ConfigMap does not exist.
async fn read_facts(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Observed<Option<PublishedFacts>> {
    let at = format!("{namespace}/{name}");
    let unavailable = |kind: &'static str, text: String| {
        Err(Unavailable::new("cluster_facts", text).with_kind(kind))
    };
    let request = Request::new(format!("/api/v1/namespaces/{namespace}/configmaps"))
        .get(name, &GetParams::default());
    let request = match request {
        Ok(r) => r,
        Err(e) => return unavailable("error", format!("reading ConfigMap {at}: {e}")),
    };
    let cm: RawConfigMap = match client.request(request).await {
        Ok(cm) => cm,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return unavailable(
                "forbidden",
                format!(
                    "reading ConfigMap {at} is forbidden: grant a Role in namespace {namespace} \
                     with {{apiGroups: [\"\"], resources: [\"configmaps\"], resourceNames: \
                     [\"{name}\"], verbs: [\"get\"]}}"
                ),
            )
        }
        Err(e) => {
            return unavailable(
                "error",
                format!("reading ConfigMap {at}: {}", error_text(&e)),
            )
        }
    };
    match cm.data.get(DATA_KEY) {
        None => unavailable(
            "invalid",
            format!("ConfigMap {at} has no key {DATA_KEY}: it was not written by eniwatch-cluster"),
        ),
        Some(text) => match PublishedFacts::parse(text) {
            Ok(f) => Ok(Some(f)),
            Err(e) => unavailable("invalid", format!("ConfigMap {at}: {e}")),
        },
    }
}

#[derive(Deserialize)]
struct RawList<T> {
    #[serde(default)]
    metadata: RawListMeta,
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

#[derive(Deserialize, Default)]
struct RawListMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    deletion_timestamp: Option<IgnoredAny>,
    #[serde(default)]
    owner_references: Vec<RawOwner>,
}

#[derive(Deserialize)]
struct RawOwner {
    kind: String,
    controller: Option<bool>,
}

#[derive(Deserialize)]
struct RawObject {
    #[serde(default)]
    metadata: RawMeta,
    spec: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawConfigMap {
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[path = "list_raw.rs"]
mod raw;
use raw::{RawNode, RawNodeClass, RawPod};
