//! Authenticated `/metrics` under `--secure-metrics`, as kube-rbac-proxy and
//! controller-runtime's secure metrics do it: the scraper sends its
//! ServiceAccount token as `Authorization: Bearer <token>`; the token is
//! checked with a TokenReview (`authentication.k8s.io/v1`, no audiences:
//! the API server's own), and the user it names with a SubjectAccessReview
//! (`authorization.k8s.io/v1`, user, groups, extra and uid from the review,
//! `nonResourceAttributes {path: "/metrics", verb: "get"}`). Every other path
//! (`/healthz`, `/readyz`) passes unauthenticated: the kubelet probes them.
//!
//! Answers, each with a one-line body in words:
//! - 401 (with `WWW-Authenticate: Bearer`): no bearer token, or one the
//!   TokenReview does not authenticate;
//! - 403: authenticated, but the SubjectAccessReview does not allow it;
//! - 503: the API server could not answer (unreachable, timed out, or the
//!   agent itself may not create the reviews: its ServiceAccount needs the
//!   built-in `system:auth-delegator` ClusterRole).
//!
//! # Decision cache
//! One Prometheus scraping 5,000 nodes every 30 s would otherwise make
//! ~167 TokenReviews and ~167 SubjectAccessReviews a second (~330 API
//! requests a second) for the same token. Decisions are cached by the
//! SHA-256 of the token (the token itself is never kept): allowed for
//! [`ALLOWED_TTL`] (5 min), denied (401 or 403) for [`DENIED_TTL`] (30 s), at
//! most [`CACHE_ENTRIES`] (64) tokens; when full, expired entries go first,
//! then the one closest to expiry. So a revoked token or a removed binding
//! stops working within 5 minutes, a newly granted one starts within 30 s,
//! and a flood of random tokens costs at most 64 entries of memory (but one
//! review each: they are not cached beyond that). An API server that cannot
//! answer is never cached: the next scrape asks again.
//!
//! # Review budget
//! Anyone who reaches the port can send made-up tokens, each costing the
//! API server a review; across a fleet, that would turn every agent into an
//! amplifier. Tokens not in the cache are reviewed within a budget of
//! [`REVIEW_BURST`] (10) at once, refilled at [`REVIEWS_PER_MINUTE`] (6) a
//! minute; beyond it the answer is 429 with `Retry-After`, and nothing is
//! asked. A token that was allowed before is reviewed again outside the
//! budget when its decision expires, so an attacker who keeps the budget
//! spent cannot lock out a Prometheus already scraping; a Prometheus's
//! new token (when it restarts, or its projected token rotates) meets an
//! attacker's at most, and an attacker gets at most 6 reviews a minute out
//! of each agent.
//!
//! # Calls
//! Through the agent's kube client, each bounded by [`REVIEW_TIMEOUT`]; no
//! retries in the request path (the scraper retries on its next interval).
//! Reviews are counted in `eniwatch_requests_total` as targets
//! `tokenreview` and `subjectaccessreview`, outcomes `ok` and `error`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::Api;
use sha2::{Digest, Sha256};

use super::events::TokenBucket;
use eniwatch_core::sources::requests::RequestCounts;

/// How long an allowed token is trusted without asking again.
pub const ALLOWED_TTL: Duration = Duration::from_secs(300);
/// How long a refused token (401 or 403) is refused without asking again.
pub const DENIED_TTL: Duration = Duration::from_secs(30);
/// Tokens whose decision is remembered.
pub const CACHE_ENTRIES: usize = 64;
/// Longest wait for one review.
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(5);
/// Reviews of uncached tokens at once, and their refill.
pub const REVIEW_BURST: u32 = 10;
pub const REVIEWS_PER_MINUTE: u32 = 6;
/// What a throttled client is told to wait, in seconds (one refill).
const RETRY_AFTER_SECS: u64 = 10;

/// The path that needs a token.
const PROTECTED: &str = "/metrics";

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// 401: no token, or not authenticated; the reason in words.
    Unauthenticated(String),
    /// 403: not allowed; the reason in words.
    Forbidden(String),
    /// 503: the API server could not answer.
    Unavailable(String),
    /// 429: the review budget is spent (see the module docs).
    Throttled,
}

impl Decision {
    /// The answer to a request refused for this decision (None: allowed).
    pub fn refusal(&self) -> Option<Response> {
        let throttled = format!("too many new tokens to review; try again in {RETRY_AFTER_SECS}s");
        let (status, line) = match self {
            Decision::Allowed => return None,
            Decision::Throttled => (StatusCode::TOO_MANY_REQUESTS, &throttled),
            Decision::Unauthenticated(why) => (StatusCode::UNAUTHORIZED, why),
            Decision::Forbidden(why) => (StatusCode::FORBIDDEN, why),
            Decision::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
        };
        let body = format!("{}\n", line.replace('\n', " "));
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        Some(response)
    }

    /// How long this decision is remembered (None: not at all).
    fn ttl(&self) -> Option<Duration> {
        match self {
            Decision::Allowed => Some(ALLOWED_TTL),
            Decision::Unauthenticated(_) | Decision::Forbidden(_) => Some(DENIED_TTL),
            Decision::Unavailable(_) | Decision::Throttled => None,
        }
    }
}

/// Decisions by token hash (see the module docs).
#[derive(Debug, Default)]
pub struct DecisionCache {
    entries: HashMap<[u8; 32], (Decision, Instant)>,
}

impl DecisionCache {
    /// The hash a token is known by.
    pub fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    pub fn get(&self, key: &[u8; 32], now: Instant) -> Option<Decision> {
        self.entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(d, _)| d.clone())
    }

    /// Whether `key`'s token was allowed when last reviewed, however long
    /// ago: such a token is reviewed again outside the budget.
    pub fn was_allowed(&self, key: &[u8; 32]) -> bool {
        matches!(self.entries.get(key), Some((Decision::Allowed, _)))
    }

    pub fn put(&mut self, key: [u8; 32], decision: Decision, now: Instant) {
        let Some(ttl) = decision.ttl() else {
            return;
        };
        if !self.entries.contains_key(&key) && self.entries.len() >= CACHE_ENTRIES {
            // Expired refusals go first, then expired allowances (kept so
            // far so that their tokens skip the review budget).
            self.entries
                .retain(|_, (d, until)| *until > now || *d == Decision::Allowed);
            if self.entries.len() >= CACHE_ENTRIES {
                self.entries.retain(|_, (_, until)| *until > now);
            }
            if self.entries.len() >= CACHE_ENTRIES {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(k, _)| *k);
                if let Some(k) = soonest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, (decision, now + ttl));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks tokens with the API server, through the cache.
#[derive(Clone)]
pub struct Authorizer {
    client: kube::Client,
    cache: Arc<Mutex<DecisionCache>>,
    budget: Arc<Mutex<TokenBucket>>,
    counts: RequestCounts,
}

impl Authorizer {
    pub fn new(client: kube::Client, counts: RequestCounts) -> Authorizer {
        Authorizer {
            client,
            cache: Arc::default(),
            budget: Arc::new(Mutex::new(TokenBucket::new(
                REVIEW_BURST,
                REVIEWS_PER_MINUTE,
            ))),
            counts,
        }
    }

    /// The decision for a request with these headers.
    pub async fn decide(&self, headers: &HeaderMap) -> Decision {
        let Some(token) = bearer(headers) else {
            return Decision::Unauthenticated(
                "/metrics needs an `Authorization: Bearer <token>` header (a ServiceAccount token)"
                    .into(),
            );
        };
        let key = DecisionCache::key(token);
        let (cached, known) = {
            let cache = self.lock();
            (cache.get(&key, Instant::now()), cache.was_allowed(&key))
        };
        if let Some(d) = cached {
            return d;
        }
        let spent = !known
            && !self
                .budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_take(Instant::now());
        if spent {
            return Decision::Throttled;
        }
        let decision = self.review(token).await;
        self.lock().put(key, decision.clone(), Instant::now());
        decision
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DecisionCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn review(&self, token: &str) -> Decision {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = match self
            .call("tokenreview", api.create(&PostParams::default(), &review))
            .await
        {
            Ok(a) => a,
            Err(why) => return Decision::Unavailable(format!("cannot review the token: {why}")),
        };
        let status = answer.status.unwrap_or_default();
        let user = match (status.authenticated, status.user) {
            (Some(true), Some(user)) => user,
            _ => {
                let why = status.error.filter(|e| !e.is_empty());
                return Decision::Unauthenticated(match why {
                    Some(e) => format!("the bearer token is not valid: {e}"),
                    None => "the bearer token is not valid".into(),
                });
            }
        };
        let name = user.username.clone().unwrap_or_default();
        let sar = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username,
                groups: user.groups,
                extra: user.extra,
                uid: user.uid,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(PROTECTED.into()),
                    verb: Some("get".into()),
                }),
                resource_attributes: None,
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let sar = match self
            .call(
                "subjectaccessreview",
                api.create(&PostParams::default(), &sar),
            )
            .await
        {
            Ok(a) => a.status.unwrap_or_default(),
            Err(why) => {
                return Decision::Unavailable(format!("cannot authorise {name}: {why}"));
            }
        };
        if sar.allowed {
            return Decision::Allowed;
        }
        let reason = sar.reason.filter(|r| !r.is_empty());
        Decision::Forbidden(match reason {
            Some(r) => format!("{name} may not get /metrics: {r}"),
            None => format!(
                "{name} may not get /metrics (grant it `get` on the non-resource URL /metrics)"
            ),
        })
    }

    /// One review, bounded and counted; the failure in words.
    async fn call<T>(
        &self,
        target: &'static str,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, String> {
        let result = match tokio::time::timeout(REVIEW_TIMEOUT, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(kube::Error::Api(status))) if status.code == 403 => Err(format!(
                "the API server refused the agent's {target}: {} (the agent's ServiceAccount needs the ClusterRole system:auth-delegator)",
                status.message
            )),
            Ok(Err(e)) => Err(format!("the API server did not answer: {e}")),
            Err(_) => Err(format!(
                "the API server did not answer within {}s",
                REVIEW_TIMEOUT.as_secs()
            )),
        };
        self.counts
            .add(target, if result.is_ok() { "ok" } else { "error" });
        result
    }
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `router` with `/metrics` behind `authorizer`; other paths unchanged.
pub fn require_authorized(router: Router, authorizer: Authorizer) -> Router {
    router.layer(axum::middleware::from_fn_with_state(authorizer, guard))
}

async fn guard(State(authorizer): State<Authorizer>, request: Request, next: Next) -> Response {
    if request.uri().path() != PROTECTED {
        return next.run(request).await;
    }
    match authorizer.decide(request.headers()).await.refusal() {
        None => next.run(request).await,
        Some(refused) => refused,
    }
}

#[cfg(test)]
#[path = "http_auth_tests.rs"]
mod tests;
