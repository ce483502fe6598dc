//! What can go wrong talking to IMDS, in words an operator can act on.
//!
//! Every error names the path (and, where the request never got an answer,
//! the endpoint), so it can be tried with `curl`. [`ImdsError::kind`] is the
//! bounded form used as a metric label; a status the operator can fix (IMDS
//! disabled, IMDSv1 only, a TTL refused) carries a hint saying how.

use reqwest::StatusCode;

use eniwatch_core::sources::bounded_body::size_text;

/// Errors talking to IMDS. Each names the path, so an operator can `curl` it.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("invalid IMDS endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error(
        "IMDS {endpoint}{path}: no usable answer after {attempts} attempt(s); the last: {last}"
    )]
    Unreachable {
        endpoint: String,
        path: String,
        attempts: u32,
        last: String,
    },
    #[error("IMDS {path}: HTTP {status}{hint}")]
    Status {
        path: String,
        status: u16,
        hint: &'static str,
    },
    #[error("IMDS answered more than {} for {path}: not a real instance metadata answer", size_text(*limit))]
    TooLarge { path: String, limit: usize },
    #[error("IMDS {path}: the answer is not UTF-8 text")]
    NotText { path: String },
    #[error("IMDS {path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl ImdsError {
    /// A bounded classification of the error, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ImdsError::Endpoint { .. } => "invalid",
            ImdsError::Unreachable { last, .. } if last.contains("429") => "throttled",
            ImdsError::Unreachable { last, .. } if last.contains("timed out") => "timeout",
            ImdsError::Unreachable { .. } => "unreachable",
            ImdsError::Status { status: 401, .. } => "unauthorized",
            ImdsError::Status { status: 403, .. } => "forbidden",
            ImdsError::Status { .. } => "error",
            ImdsError::NotText { .. } | ImdsError::Invalid { .. } | ImdsError::TooLarge { .. } => {
                "invalid"
            }
        }
    }
}

pub(super) fn status_hint(s: StatusCode) -> &'static str {
    match s.as_u16() {
        403 => " (IMDS is disabled for this instance: enable it with http-endpoint=enabled)",
        _ => "",
    }
}

pub(super) fn token_hint(s: StatusCode) -> &'static str {
    match s.as_u16() {
        403 => " (IMDS is disabled, or the request was forwarded: set http-endpoint=enabled and call IMDS directly)",
        400 => " (IMDS rejected the token TTL)",
        404 | 405 => " (this endpoint does not speak IMDSv2)",
        _ => "",
    }
}
