//! A small IMDSv2 client: session token, timeouts, retries.
//!
//! # Why not aws-config's IMDS client
//! aws-config's client caches its token until the TTL runs out and, on a 401,
//! retries with the *same* cached token; an IMDS that revoked the token (the
//! case a 401 exists for) keeps answering 401 until the attempts run out. It
//! also does not retry 429, IMDS's throttling answer. This client is the few
//! dozen lines that get both right, on reqwest.
//!
//! # Policy
//! - Token: `PUT /latest/api/token` with a TTL of [`ImdsConfig::token_ttl`]
//!   (6 h by default), cached and refreshed when less than a tenth of the TTL
//!   (at most 5 minutes) is left, so a request never goes out with a token
//!   about to expire. A 401 drops the cached token, fetches a new one and
//!   retries that request once.
//! - Every HTTP request has its own timeout ([`ImdsConfig::request_timeout`],
//!   1 s by default: IMDS is link-local and answers in microseconds when healthy).
//! - 429, 5xx, timeouts and connection errors are retried up to
//!   [`ImdsConfig::attempts`] times in all, backing off ([`eniwatch_core::backoff`])
//!   from [`ImdsConfig::backoff`]: 100 ms, 200 ms, 400 ms, ... each plus up to
//!   20 %; no cap, as the attempts bound the total. Other statuses are final.
//! - 404 is an answer, not an error: `Ok(None)`.
//! - Every answer's body is bounded by [`MAX_BODY`] (1 MiB): the largest
//!   real answer read here is an ENI's `local-ipv4s`, a few KiB at most. A
//!   larger body is not instance metadata (a proxy's page, a broken
//!   emulator) and fails the read at once, before it can fill memory.
//! - Errors name the endpoint and the path, and state the cause in words
//!   (see [`eniwatch_core::sources::cause`]).
//! - The token is never logged: it lives in [`Token`], whose `Debug` is
//!   redacted, and its header value is marked sensitive.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Client, StatusCode};
use tokio::sync::Mutex;
use tokio::time::Instant;

use eniwatch_core::backoff::Backoff;
use eniwatch_core::sources::bounded_body::{read_limited, BodyError};
use eniwatch_core::sources::cause::root_cause;
use eniwatch_core::sources::requests::RequestCounts;

pub use super::error::ImdsError;
use super::error::{status_hint, token_hint};

/// Where IMDS is, and how patient to be with it.
#[derive(Debug, Clone)]
pub struct ImdsConfig {
    /// Base URL, e.g. `http://169.254.169.254`.
    pub endpoint: String,
    pub token_ttl: Duration,
    pub request_timeout: Duration,
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for ImdsConfig {
    fn default() -> Self {
        ImdsConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token_ttl: Duration::from_secs(21_600),
            request_timeout: Duration::from_secs(1),
            attempts: 4,
            backoff: Duration::from_millis(100),
        }
    }
}

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// The largest answer accepted (see the policy above).
pub const MAX_BODY: usize = 1024 * 1024;
const TOKEN_PATH: &str = "/latest/api/token";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// An IMDSv2 session token; `Debug` never shows it.
#[derive(Clone)]
struct Token {
    value: HeaderValue,
    refresh_at: Instant,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(** redacted **)")
    }
}

/// An IMDSv2 client. Cheap to share behind an `Arc`; requests may run concurrently.
#[derive(Debug)]
pub struct ImdsClient {
    http: Client,
    config: ImdsConfig,
    token: Mutex<Option<Token>>,
    counts: RequestCounts,
}

enum Attempt {
    Done(Option<String>),
    Retry(String),
    Unauthorized,
}

impl ImdsClient {
    pub fn new(mut config: ImdsConfig) -> Result<ImdsClient, ImdsError> {
        let endpoint = config.endpoint.trim_end_matches('/').to_string();
        let given = config.endpoint.clone();
        let bad = |reason: &str| ImdsError::Endpoint {
            endpoint: given.clone(),
            reason: reason.to_string(),
        };
        let url = reqwest::Url::parse(&endpoint).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" || url.host().is_none() {
            return Err(bad(
                "expected http://host[:port], as IMDS speaks plain HTTP",
            ));
        }
        config.endpoint = endpoint;
        config.attempts = config.attempts.max(1);
        let http = Client::builder()
            .timeout(config.request_timeout)
            .no_proxy()
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(ImdsClient {
            http,
            config,
            token: Mutex::new(None),
            counts: RequestCounts::new(),
        })
    }

    /// Counts every HTTP request (token PUTs included) into `counts` as
    /// target `imds`, outcome `ok`, `not_found`, `unauthorized`, `throttled`,
    /// `server_error`, `timeout` or `error`.
    pub fn with_counts(mut self, counts: RequestCounts) -> ImdsClient {
        self.counts = counts;
        self
    }

    fn count_status(&self, s: StatusCode) {
        let outcome = match s.as_u16() {
            200 => "ok",
            404 => "not_found",
            401 => "unauthorized",
            429 => "throttled",
            500..=599 => "server_error",
            _ => "error",
        };
        self.counts.add("imds", outcome);
    }

    fn count_failure(&self, e: &reqwest::Error) {
        self.counts
            .add("imds", if e.is_timeout() { "timeout" } else { "error" });
    }

    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    /// The waits between the tries of a GET or a token PUT (see the policy).
    pub(crate) fn retry_policy(&self) -> Backoff {
        Backoff::new(self.config.backoff, 2, Duration::MAX).with_jitter_percent(20)
    }

    /// Waits out the backoff after `attempt` failed tries.
    async fn pause(&self, attempt: u32) {
        let mut rng = fastrand::Rng::new();
        tokio::time::sleep(self.retry_policy().delay(attempt, &mut rng)).await;
    }

    /// GETs `path` (e.g. `/latest/meta-data/mac`): the body, or None on 404.
    pub async fn get(&self, path: &str) -> Result<Option<String>, ImdsError> {
        let mut refreshed = false;
        let mut last = String::new();
        let mut attempt = 0;
        while attempt < self.config.attempts {
            if attempt > 0 {
                self.pause(attempt).await;
            }
            attempt += 1;
            let token = self.token(path).await?;
            match self.get_once(path, token).await? {
                Attempt::Done(body) => return Ok(body),
                Attempt::Retry(why) => last = why,
                Attempt::Unauthorized if !refreshed => {
                    // The token was revoked or expired early: a new one, once,
                    // without spending an attempt.
                    refreshed = true;
                    *self.token.lock().await = None;
                    attempt -= 1;
                }
                Attempt::Unauthorized => {
                    return Err(ImdsError::Status {
                        path: path.to_string(),
                        status: 401,
                        hint: " (a freshly issued token was refused)",
                    })
                }
            }
        }
        Err(ImdsError::Unreachable {
            endpoint: self.config.endpoint.clone(),
            path: path.to_string(),
            attempts: self.config.attempts,
            last,
        })
    }

    async fn get_once(&self, path: &str, token: HeaderValue) -> Result<Attempt, ImdsError> {
        let url = format!("{}{}", self.config.endpoint, path);
        let resp = match self.http.get(&url).header(TOKEN_HEADER, token).send().await {
            Ok(r) => r,
            Err(e) => {
                self.count_failure(&e);
                return Ok(Attempt::Retry(describe(&e)));
            }
        };
        let status = resp.status();
        self.count_status(status);
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(Attempt::Done(None)),
            StatusCode::UNAUTHORIZED => return Ok(Attempt::Unauthorized),
            s if retryable(s) => return Ok(Attempt::Retry(format!("answered HTTP {s}"))),
            s => {
                return Err(ImdsError::Status {
                    path: path.to_string(),
                    status: s.as_u16(),
                    hint: status_hint(s),
                })
            }
        }
        let bytes = match read_limited(resp, MAX_BODY).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => return Ok(Attempt::Retry(describe(&e))),
            Err(BodyError::TooLarge) => return Err(too_large(path)),
        };
        String::from_utf8(bytes)
            .map(|s| Attempt::Done(Some(s)))
            .map_err(|_| ImdsError::NotText {
                path: path.to_string(),
            })
    }

    /// The cached token, or a new one when none is cached or it is due for refresh.
    async fn token(&self, path: &str) -> Result<HeaderValue, ImdsError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.value.clone());
        }
        let token = self.fetch_token(path).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    async fn fetch_token(&self, for_path: &str) -> Result<Token, ImdsError> {
        let ttl = self.config.token_ttl.as_secs().clamp(1, 21_600);
        let url = format!("{}{}", self.config.endpoint, TOKEN_PATH);
        let mut last = String::new();
        for attempt in 0..self.config.attempts {
            if attempt > 0 {
                self.pause(attempt).await;
            }
            let resp = match self
                .http
                .put(&url)
                .header(TTL_HEADER, ttl.to_string())
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    self.count_failure(&e);
                    last = describe(&e);
                    continue;
                }
            };
            let status = resp.status();
            self.count_status(status);
            if retryable(status) {
                last = format!("answered HTTP {status}");
                continue;
            }
            if status != StatusCode::OK {
                return Err(ImdsError::Status {
                    path: TOKEN_PATH.to_string(),
                    status: status.as_u16(),
                    hint: token_hint(status),
                });
            }
            let body = match read_limited(resp, MAX_BODY).await {
                Ok(b) => b,
                Err(BodyError::Transport(e)) => {
                    last = describe(&e);
                    continue;
                }
                Err(BodyError::TooLarge) => return Err(too_large(TOKEN_PATH)),
            };
            let text = String::from_utf8_lossy(&body);
            let mut value = HeaderValue::from_str(text.trim()).map_err(|_| ImdsError::Invalid {
                path: TOKEN_PATH.to_string(),
                problem: "the token is not a valid header value".into(),
            })?;
            value.set_sensitive(true);
            let lead = Duration::from_secs((ttl / 10).min(300));
            let refresh_at = Instant::now() + Duration::from_secs(ttl).saturating_sub(lead);
            return Ok(Token { value, refresh_at });
        }
        Err(ImdsError::Unreachable {
            endpoint: self.config.endpoint.clone(),
            path: format!("{TOKEN_PATH} (token for {for_path})"),
            attempts: self.config.attempts,
            last,
        })
    }
}

fn retryable(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
}

fn too_large(path: &str) -> ImdsError {
    ImdsError::TooLarge {
        path: path.to_string(),
        limit: MAX_BODY,
    }
}

/// The cause in words; the error's endpoint and path say where.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!(
            "cannot connect: {} (is this an EC2 instance, and is the endpoint right?)",
            root_cause(e)
        )
    } else {
        root_cause(e)
    }
}
