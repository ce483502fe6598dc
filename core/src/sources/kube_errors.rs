//! Kubernetes client errors, in words an operator reads: the status the
//! server answered (with its message, or the start of a body that is not a
//! Status), or the transport's cause at the bottom of the error chain, never
//! kube's `Debug` dump of its error.
//!
//! This is the one mapping from kube's errors to words and to a bounded kind
//! (for metric labels): `check`'s reads, the daemon's watches, its pod
//! lookups and its writes (events, the node condition) all use it, so the
//! same failure reads the same wherever it shows.

use crate::sources::cause::{is_timeout, root_cause};

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("no Kubernetes configuration: {0} (pass --kubeconfig, set KUBECONFIG, run in a pod with a service account, or use --no-kube)")]
    Config(String),
    #[error("node {0:?} does not exist in the API server (is --node-name / NODE_NAME right?)")]
    NodeNotFound(String),
    #[error("reading {what} from the API server{}: {message}", at(server))]
    Request {
        what: String,
        message: String,
        kind: &'static str,
        /// The server's URL, when the caller knows it (see [`KubeError::at`]).
        server: Option<String>,
    },
}

fn at(server: &Option<String>) -> String {
    server
        .as_deref()
        .map(|s| format!(" at {s}"))
        .unwrap_or_default()
}

impl KubeError {
    /// A bounded classification of the error, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            KubeError::Config(_) => "invalid",
            KubeError::NodeNotFound(_) => "not_found",
            KubeError::Request { kind, .. } => kind,
        }
    }

    /// Names the server a request went to, in the message.
    pub fn at(self, url: &str) -> KubeError {
        match self {
            KubeError::Request {
                what,
                message,
                kind,
                ..
            } => KubeError::Request {
                what,
                message,
                kind,
                server: Some(url.trim_end_matches('/').to_string()),
            },
            other => other,
        }
    }
}

pub(super) fn request_error(what: impl Into<String>, e: kube::Error) -> KubeError {
    let (kind, message) = describe(&e, Access::Read);
    KubeError::Request {
        what: what.into(),
        message,
        kind,
        server: None,
    }
}

/// A client error in words, for any caller that shows one (logs, reports):
/// kube's own text of an API error ends in a `Debug` dump of the status.
pub fn error_text(e: &kube::Error) -> String {
    describe(e, Access::Read).1
}

/// A failed write (an event, a status patch) in words: as [`error_text`],
/// with the hint for a write a server refuses.
pub fn write_error_text(e: &kube::Error) -> String {
    describe(e, Access::Write).1
}

/// A bounded classification of a failed read, for metric labels: one of
/// [`crate::model::ERROR_KINDS`] (`unauthorized`, `forbidden`, `not_found`,
/// `throttled`, `timeout`, `unreachable`, `invalid` or `error`).
pub fn error_kind(e: &kube::Error) -> &'static str {
    describe(e, Access::Read).0
}

/// A failed write's kind: as [`error_kind`], and `conflict` for a 409.
pub fn write_error_kind(e: &kube::Error) -> &'static str {
    describe(e, Access::Write).0
}

/// What the failed request did, for the hint on a refusal.
#[derive(Debug, Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// A watcher's error in words (see [`error_text`]).
pub fn watch_error_text(e: &kube::runtime::watcher::Error) -> String {
    use kube::runtime::watcher::Error as W;
    match e {
        W::InitialListFailed(e) => format!("the initial list failed: {}", error_text(e)),
        W::WatchStartFailed(e) => format!("the watch could not start: {}", error_text(e)),
        W::WatchFailed(e) => format!("the watch failed: {}", error_text(e)),
        W::WatchError(status) if status.code == 410 => {
            "the watch's resourceVersion has expired (410 Gone)".into()
        }
        W::WatchError(status) => format!("the watch ended: {}", api_error(status, Access::Read).1),
        W::NoResourceVersion => e.to_string(),
    }
}

/// A watcher's error as a bounded kind (see [`error_kind`]).
pub fn watch_error_kind(e: &kube::runtime::watcher::Error) -> &'static str {
    use kube::runtime::watcher::Error as W;
    match e {
        W::InitialListFailed(e) | W::WatchStartFailed(e) | W::WatchFailed(e) => error_kind(e),
        W::WatchError(status) => api_error(status, Access::Read).0,
        W::NoResourceVersion => "invalid",
    }
}

/// The kind and words of a client error.
fn describe(e: &kube::Error, access: Access) -> (&'static str, String) {
    match e {
        kube::Error::Api(status) => api_error(status, access),
        kube::Error::HyperError(_) | kube::Error::Service(_) if is_timeout(e) => {
            ("timeout", format!("no answer in time: {}", root_cause(e)))
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            ("unreachable", format!("unreachable: {}", root_cause(e)))
        }
        kube::Error::SerdeError(_) => (
            "invalid",
            format!("the answer is not what the API sends: {}", root_cause(e)),
        ),
        _ => ("error", root_cause(e)),
    }
}

/// The kind and words of an error status the server answered.
fn api_error(status: &kube::core::Status, access: Access) -> (&'static str, String) {
    let code = status.code;
    let name = reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
        .map(|r| format!("{code} {r}"))
        .unwrap_or_else(|| code.to_string());
    // kube keeps a body that is not a Status (a proxy's page) as the message.
    let said = if status.reason == "Failed to parse error data" {
        let line = status.message.lines().next().unwrap_or("").trim();
        let short: String = line.chars().take(120).collect();
        if short.is_empty() {
            String::new()
        } else {
            format!(" (the body is not a Kubernetes Status; it begins {short:?})")
        }
    } else if status.message.is_empty() {
        String::new()
    } else {
        format!(": {}", status.message)
    };
    let (kind, hint) = match code {
        401 => ("unauthorized", " (credentials rejected or expired)"),
        403 => (
            "forbidden",
            match access {
                Access::Read => {
                    " (the service account needs get/list/watch on this resource; see deploy/ RBAC)"
                }
                Access::Write => {
                    " (the service account may not write this resource; see deploy/ RBAC)"
                }
            },
        ),
        404 => ("not_found", ""),
        409 => match access {
            Access::Write => ("conflict", ""),
            Access::Read => ("error", ""),
        },
        429 => (
            "throttled",
            " (the API server is rate-limiting this client)",
        ),
        _ => ("error", ""),
    };
    (
        kind,
        format!("the API server answered HTTP {name}{said}{hint}"),
    )
}
