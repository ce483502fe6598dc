//! ipamd introspection: the VPC CNI's own account of the node's ENIs and pod IPs.
//!
//! ipamd, the long-running half of the AWS VPC CNI (`aws-node`), attaches ENIs,
//! assigns secondary IPs or /28 prefixes and hands each pod its address. It
//! serves read-only JSON on `127.0.0.1:61679` (`INTROSPECTION_BIND_ADDRESS`) in
//! the host network namespace, unless `DISABLE_INTROSPECTION` is true (the
//! default is false). So it is reachable only with host networking.
//!
//! # Why optional
//! IMDS says what EC2 attached, the kernel what the data plane does. ipamd is a
//! third witness: what the CNI *believes* it manages. Introspection can be
//! disabled or out of reach, so eniwatch works without it: a failed read makes
//! the checks that need ipamd unknown for that cycle, never "fine".
//!
//! # Policy
//! - The three endpoints are read concurrently, each request bounded by the client's
//!   timeout (2 s by default). ipamd is local and answers in milliseconds, so a
//!   slow answer means a busy or stuck daemon.
//! - No retries: the next cycle is the retry.
//! - A 404 on `/v1/eni-configs` (ipamd could not read its Node) is an answer, so
//!   the view gets `selected_eniconfig: None`.
//! - Bodies over [`MAX_BODY`] (4 MiB) are refused, by their `Content-Length`
//!   before any is read, else as soon as the read passes it: `/v1/enis` of a
//!   node with 250 pods is well under 1 MiB, so a larger answer is not
//!   ipamd's, and reading it whole would let it fill the agent's memory.
//! - Errors name the endpoint and path, and state the cause in words.
//!
//! The JSON shapes it answers with, and how they are read, are in [`wire`].

use std::time::Duration;

use reqwest::{Client, StatusCode};

pub use eniwatch_core::model::{IpamdEni, IpamdView, WarmTargets};
use eniwatch_core::sources::bounded_body::{read_limited, size_text, BodyError};
use eniwatch_core::sources::cause::root_cause;
use eniwatch_core::sources::requests::RequestCounts;

#[path = "ipamd_wire.rs"]
pub mod wire;
pub use wire::{parse_eni_configs, parse_enis, parse_env_settings, EnisShape, EnvSettings};

pub const DEFAULT_BASE: &str = "http://127.0.0.1:61679";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const ENIS_PATH: &str = "/v1/enis";
pub const ENI_CONFIGS_PATH: &str = "/v1/eni-configs";
pub const ENV_SETTINGS_PATH: &str = "/v1/ipamd-env-settings";
/// The largest body accepted: a node with 250 pods answers well under 1 MiB.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Errors reading ipamd. Each names the path, so an operator can `curl` it.
#[derive(Debug, thiserror::Error)]
pub enum IpamdError {
    #[error("invalid ipamd endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("ipamd {path}: cannot connect: {reason} (is aws-node running with introspection enabled, and is eniwatch on the host network?)")]
    Unreachable { path: String, reason: String },
    #[error("ipamd {path}: no answer within {after:?}")]
    Timeout { path: String, after: Duration },
    #[error("ipamd {path}: answered HTTP {status}")]
    Status { path: String, status: u16 },
    #[error("ipamd {path}: {reason}")]
    Transport { path: String, reason: String },
    #[error("ipamd {path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl IpamdError {
    /// A bounded classification of the error, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            IpamdError::Unreachable { .. } => "unreachable",
            IpamdError::Timeout { .. } => "timeout",
            IpamdError::Endpoint { .. } | IpamdError::Invalid { .. } => "invalid",
            IpamdError::Status { .. } | IpamdError::Transport { .. } => "error",
        }
    }
}

/// A client for ipamd's introspection API. Cheap to share; requests may run concurrently.
#[derive(Debug)]
pub struct IpamdClient {
    http: Client,
    base: String,
    timeout: Duration,
    counts: RequestCounts,
}

impl IpamdClient {
    /// `base` is `http://host:port` (see [`DEFAULT_BASE`]); `timeout` bounds each request.
    pub fn new(base: &str, timeout: Duration) -> Result<IpamdClient, IpamdError> {
        let bad = |reason: &str| IpamdError::Endpoint {
            endpoint: base.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = base.trim_end_matches('/');
        let url = reqwest::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" || url.host().is_none() || url.path().len() > 1 {
            return Err(bad(
                "expected http://host[:port], as ipamd speaks plain HTTP",
            ));
        }
        let http = Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(IpamdClient {
            http,
            base: trimmed.to_string(),
            timeout,
            counts: RequestCounts::new(),
        })
    }

    /// Counts every request into `counts` as target `ipamd`, outcome `ok`,
    /// `not_found`, `error` or `timeout`.
    pub fn with_counts(mut self, counts: RequestCounts) -> IpamdClient {
        self.counts = counts;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `path`: the body, or None on 404.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, IpamdError> {
        let result = self.get_once(path).await;
        let outcome = match &result {
            Ok(Some(_)) => "ok",
            Ok(None) => "not_found",
            Err(IpamdError::Timeout { .. }) => "timeout",
            Err(_) => "error",
        };
        self.counts.add("ipamd", outcome);
        result
    }

    async fn get_once(&self, path: &str) -> Result<Option<Vec<u8>>, IpamdError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.transport(path, &e))?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            s => {
                return Err(IpamdError::Status {
                    path: path.to_string(),
                    status: s.as_u16(),
                })
            }
        }
        match read_limited(resp, MAX_BODY).await {
            Ok(body) => Ok(Some(body)),
            Err(BodyError::Transport(e)) => Err(self.transport(path, &e)),
            Err(BodyError::TooLarge) => Err(IpamdError::Invalid {
                path: path.to_string(),
                problem: format!(
                    "answered more than {}: not an ipamd introspection answer",
                    size_text(MAX_BODY)
                ),
            }),
        }
    }

    fn transport(&self, path: &str, e: &reqwest::Error) -> IpamdError {
        // The endpoint and path, then the cause at the bottom of the chain.
        let path = format!("{}{path}", self.base);
        let reason = root_cause(e);
        if e.is_timeout() {
            IpamdError::Timeout {
                path,
                after: self.timeout,
            }
        } else if e.is_connect() {
            IpamdError::Unreachable { path, reason }
        } else {
            IpamdError::Transport { path, reason }
        }
    }
}

/// Reads the three introspection endpoints concurrently into one view.
pub async fn read_ipamd(client: &IpamdClient) -> Result<IpamdView, IpamdError> {
    let (enis, configs, env) = tokio::join!(
        client.get(ENIS_PATH),
        client.get(ENI_CONFIGS_PATH),
        client.get(ENV_SETTINGS_PATH)
    );
    let invalid = |path: &'static str| {
        move |problem| IpamdError::Invalid {
            path: path.to_string(),
            problem,
        }
    };
    let missing = |path: &str| IpamdError::Status {
        path: path.to_string(),
        status: 404,
    };
    let enis = enis?.ok_or_else(|| missing(ENIS_PATH))?;
    let (_, enis) = parse_enis(&enis).map_err(invalid(ENIS_PATH))?;
    let selected_eniconfig = match configs? {
        Some(body) => parse_eni_configs(&body).map_err(invalid(ENI_CONFIGS_PATH))?,
        None => None,
    };
    let env = env?.ok_or_else(|| missing(ENV_SETTINGS_PATH))?;
    let env = parse_env_settings(&env).map_err(invalid(ENV_SETTINGS_PATH))?;
    Ok(IpamdView {
        custom_networking: env.custom_networking,
        warm: env.warm,
        prefix_delegation: env.prefix_delegation,
        ipv6: env.ipv6,
        selected_eniconfig,
        enis,
    })
}

#[cfg(test)]
#[path = "ipamd_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "ipamd_answer_tests.rs"]
mod answer_tests;

#[cfg(test)]
#[path = "ipamd_parse_tests.rs"]
mod parse_tests;
