//! Kubernetes client errors, in words an operator reads: the status the
//! server answered (with its message, or the start of a body that is not a
//! Status), or the transport's cause at the bottom of the error chain, never
//! kube's `Debug` dump of its error.

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
    let (kind, message) = describe(&e);
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
    describe(e).1
}

/// A watcher's error in words (see [`error_text`]).
pub fn watch_error_text(e: &kube::runtime::watcher::Error) -> String {
    use kube::runtime::watcher::Error as W;
    match e {
        W::InitialListFailed(e) => format!("the initial list failed: {}", error_text(e)),
        W::WatchStartFailed(e) => format!("the watch could not start: {}", error_text(e)),
        W::WatchFailed(e) => format!("the watch failed: {}", error_text(e)),
        W::WatchError(status) => format!("the watch ended: {}", api_error(status).1),
        W::NoResourceVersion => e.to_string(),
    }
}

/// The kind and words of a client error.
fn describe(e: &kube::Error) -> (&'static str, String) {
    match e {
        kube::Error::Api(status) => api_error(status),
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
fn api_error(status: &kube::core::Status) -> (&'static str, String) {
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
            " (the service account needs get/list/watch on this resource; see deploy/ RBAC)",
        ),
        404 => ("not_found", ""),
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
