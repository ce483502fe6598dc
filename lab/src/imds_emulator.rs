//! An emulator of the EC2 Instance Metadata Service, IMDSv2 only, serving a
//! lab [`Scenario`] over real HTTP.
//!
//! The agent's IMDS client is only ever tested through this emulator, so it
//! follows the wire protocol closely: a session token from
//! `PUT /latest/api/token` (TTL header 1..=21600, else 400; a PUT carrying
//! `X-Forwarded-For` is refused with 403, as real IMDS does to stop proxied
//! token theft), then GETs carrying `X-aws-ec2-metadata-token`. Without a
//! live token the answer is 401 with an empty body (IMDSv1 is disabled).
//! Bodies are text/plain, lines joined by `\n` with no trailing newline,
//! directories listed with a trailing `/`; unknown paths and MACs get 404
//! with an HTML page, and other methods get 405.
//!
//! Faults ([`ImdsFaults`]) are switchable at run time with
//! [`ImdsState::set_faults`] and apply in this order:
//! - `slow_ms` delays every answer, token PUTs included;
//! - `throttle: N` answers the next N requests, of any kind, with 429;
//! - `server_error: N` then answers the next N requests with 500;
//! - `unauthorized: N` answers the next N metadata GETs that carry a valid
//!   token with 401 and revokes that token, which is how expiry looks to a
//!   client: it must fetch a new token, not just retry;
//! - `garbage` makes every metadata GET that would succeed answer 200 with a
//!   plausible but wrong body for its field (see `paths::garbage`).
//!
//! Counters decrement per use; [`ImdsState::faults`] shows what is left.

mod paths;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::time::Instant;

use crate::scenario::{ImdsFaults, Scenario};
use paths::Tree;

const TOKEN_PATH: &str = "/latest/api/token";
const METADATA_PREFIX: &str = "/latest/meta-data";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const MAX_TTL_SECONDS: u32 = 21_600;

/// Shared, cloneable handle on the emulator; the router and the lab driver
/// hold clones. The lock is only ever taken in synchronous code.
#[derive(Clone)]
pub struct ImdsState {
    inner: Arc<Mutex<Inner>>,
}

/// Request counters, for tests and the lab's reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImdsStats {
    /// Every request received, whatever its method or path.
    pub requests: u64,
    /// `PUT /latest/api/token`.
    pub token_requests: u64,
    /// GETs of anything but the token path.
    pub metadata_requests: u64,
    /// Answers sent, by HTTP status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Every distinct path asked for, whatever the answer (at most
    /// [`MAX_RECORDED_PATHS`]): what a client reads, e.g. that the agent
    /// never asks for the instance's credentials.
    pub paths: BTreeSet<String>,
}

/// How many distinct paths [`ImdsStats::paths`] keeps.
pub const MAX_RECORDED_PATHS: usize = 1_000;

impl ImdsStats {
    /// How many answers had this status code.
    pub fn answered(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }
}

struct Inner {
    tree: Tree,
    faults: ImdsFaults,
    /// Live tokens and when they expire.
    tokens: HashMap<String, Instant>,
    issued: u64,
    /// Randomly keyed per emulator, so tokens are not guessable across runs.
    seed: std::collections::hash_map::RandomState,
    stats: ImdsStats,
}

/// What the emulator decided to answer, before it becomes HTTP.
enum Reply {
    Text(String),
    Token { token: String, ttl: u32 },
    Unauthorized,
    Error(StatusCode),
}

impl ImdsState {
    /// Serve `scenario`, starting with its `imds_faults`.
    pub fn new(scenario: &Scenario) -> Self {
        let inner = Inner {
            tree: Tree::build(scenario),
            faults: scenario.imds_faults.clone(),
            tokens: HashMap::new(),
            issued: 0,
            seed: Default::default(),
            stats: ImdsStats::default(),
        };
        ImdsState {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// Serve different data from now on (ENIs attached or detached, addresses
    /// changed). Tokens stay valid: on EC2 an attachment does not log you out.
    pub fn set_scenario(&self, scenario: &Scenario) {
        let tree = Tree::build(scenario);
        self.lock().tree = tree;
    }

    /// Replace the fault settings; counters restart from the given numbers.
    pub fn set_faults(&self, faults: ImdsFaults) {
        self.lock().faults = faults;
    }

    /// The faults still to be applied.
    pub fn faults(&self) -> ImdsFaults {
        self.lock().faults.clone()
    }

    pub fn stats(&self) -> ImdsStats {
        self.lock().stats.clone()
    }

    /// Invalidate every token issued so far.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere mid-update leaves at worst a stale counter; the
        // emulator should keep answering rather than poison the whole lab.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator as an axum router; serve it with `axum::serve`.
pub fn router(state: ImdsState) -> Router {
    // One fallback handler rather than routes: IMDS answers every path and
    // method itself (404, 405), and faults must hit all of them.
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(state): State<ImdsState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let slow_ms = state.lock().faults.slow_ms;
    if slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    }
    let reply = state.lock().answer(&method, uri.path(), &headers);
    reply.into_response()
}

impl Inner {
    fn answer(&mut self, method: &Method, path: &str, headers: &HeaderMap) -> Reply {
        self.stats.requests += 1;
        if self.stats.paths.len() < MAX_RECORDED_PATHS {
            self.stats.paths.insert(path.to_string());
        }
        if path == TOKEN_PATH && method == Method::PUT {
            self.stats.token_requests += 1;
        } else if path != TOKEN_PATH && method == Method::GET {
            self.stats.metadata_requests += 1;
        }
        let reply = self.decide(method, path, headers);
        *self
            .stats
            .by_status
            .entry(reply.status().as_u16())
            .or_default() += 1;
        reply
    }

    fn decide(&mut self, method: &Method, path: &str, headers: &HeaderMap) -> Reply {
        if self.faults.throttle > 0 {
            self.faults.throttle -= 1;
            return Reply::Error(StatusCode::TOO_MANY_REQUESTS);
        }
        if self.faults.server_error > 0 {
            self.faults.server_error -= 1;
            return Reply::Error(StatusCode::INTERNAL_SERVER_ERROR);
        }
        match (path == TOKEN_PATH, method) {
            (true, &Method::PUT) => self.issue_token(headers),
            (false, &Method::GET) => self.serve(path, headers),
            _ => Reply::Error(StatusCode::METHOD_NOT_ALLOWED),
        }
    }

    fn issue_token(&mut self, headers: &HeaderMap) -> Reply {
        if headers.contains_key("x-forwarded-for") {
            return Reply::Error(StatusCode::FORBIDDEN);
        }
        // Digits only: `u32::from_str` would also take "+5".
        let ttl = headers
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|n| (1..=MAX_TTL_SECONDS).contains(n));
        let Some(ttl) = ttl else {
            return Reply::Error(StatusCode::BAD_REQUEST);
        };
        let now = Instant::now();
        // Forget dead tokens here so a long lab run does not grow the map.
        self.tokens.retain(|_, expiry| *expiry > now);
        let token = self.mint();
        self.tokens
            .insert(token.clone(), now + Duration::from_secs(ttl.into()));
        Reply::Token { token, ttl }
    }

    /// 56 base64 characters, like real tokens: a per-emulator keyed hash of
    /// a counter (uniqueness) and the wall clock (no repeats across runs).
    fn mint(&mut self) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        self.issued += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(48);
        for round in 0u8..6 {
            let word = self.seed.hash_one((self.issued, nanos, round));
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        // 42 bytes are exactly 56 base64 characters, with no padding.
        bytes.truncate(42);
        bytes
            .chunks_exact(3)
            .flat_map(|c| {
                let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
                [18, 12, 6, 0].map(|shift| char::from(ALPHABET[(n >> shift & 63) as usize]))
            })
            .collect()
    }

    fn serve(&mut self, path: &str, headers: &HeaderMap) -> Reply {
        let now = Instant::now();
        let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
        let live = token.is_some_and(|t| self.tokens.get(t).is_some_and(|expiry| *expiry > now));
        let Some(token) = token.filter(|_| live) else {
            return Reply::Unauthorized;
        };
        if self.faults.unauthorized > 0 {
            self.faults.unauthorized -= 1;
            self.tokens.remove(token);
            return Reply::Unauthorized;
        }
        let rel = match path.strip_prefix(METADATA_PREFIX) {
            Some("") => "",
            Some(rest) => match rest.strip_prefix('/') {
                Some(rel) => rel,
                None => return Reply::Error(StatusCode::NOT_FOUND),
            },
            None => return Reply::Error(StatusCode::NOT_FOUND),
        };
        match self.tree.lookup(rel) {
            Some(entry) if self.faults.garbage => {
                Reply::Text(paths::garbage(entry.kind).to_string())
            }
            Some(entry) => Reply::Text(entry.body.clone()),
            None => Reply::Error(StatusCode::NOT_FOUND),
        }
    }
}

impl Reply {
    fn status(&self) -> StatusCode {
        match self {
            Reply::Text(_) | Reply::Token { .. } => StatusCode::OK,
            Reply::Unauthorized => StatusCode::UNAUTHORIZED,
            Reply::Error(status) => *status,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let server = (header::SERVER, HeaderValue::from_static("EC2ws"));
        let text = (header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        match self {
            Reply::Text(body) => (StatusCode::OK, [server, text], body).into_response(),
            Reply::Token { token, ttl } => {
                let ttl = (HeaderName::from_static(TTL_HEADER), HeaderValue::from(ttl));
                (StatusCode::OK, [server, text, ttl], token).into_response()
            }
            Reply::Unauthorized => (StatusCode::UNAUTHORIZED, [server], "").into_response(),
            Reply::Error(status) => {
                let title = format!(
                    "{} - {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("Error")
                );
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<html>\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
                );
                let html = (header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                (status, [server, html], body).into_response()
            }
        }
    }
}

#[cfg(test)]
#[path = "imds_emulator_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "imds_emulator_fault_tests.rs"]
mod fault_tests;
