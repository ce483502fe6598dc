//! TokenReview (`authentication.k8s.io/v1`) and SubjectAccessReview
//! (`authorization.k8s.io/v1`) creation, as a node agent's authenticated
//! endpoint uses them.
//!
//! - TokenReview: `spec.token` is required (400 otherwise, as the real
//!   registry answers); a token added with [`KubeState::add_identity`]
//!   answers `authenticated: true` with its user, any other
//!   `authenticated: false` with an error. `spec.audiences`, when given, is
//!   echoed in `status.audiences` (the emulated server accepts any).
//! - SubjectAccessReview: the server's validation
//!   (`pkg/apis/authorization/validation`): exactly one of
//!   `resourceAttributes` / `nonResourceAttributes`, and a user or at least
//!   one group; 422 Invalid otherwise. The decision comes from the rules a
//!   test sets ([`KubeState::allow_non_resource`]): a rule for the user or
//!   any of its groups matching the path and verb (`*` matches any) allows,
//!   nothing else does (default deny, as RBAC without a binding). Resource
//!   attributes are always denied: no rules for them here.
//!
//! Both answers echo the request with `status` filled, as the real server.
//! The reviews are counted ([`KubeState::reviews`]) so tests can see a
//! cache work.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::identity::UserInfo;
use super::status::ApiError;
use super::KubeState;

/// Identities and authorisation rules, behind their own lock.
#[derive(Debug, Default)]
pub(crate) struct AuthRules {
    /// (user or group, path, verb) that SubjectAccessReview allows.
    non_resource: Vec<(String, String, String)>,
    token_reviews: u64,
    access_reviews: u64,
}

/// A token the lab's emulator knows (from the scenario's `identities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    pub token: String,
    pub user: UserInfo,
    /// Non-resource paths this user may `get`, e.g. `/metrics`.
    #[serde(default)]
    pub may_get: Vec<String>,
}

impl KubeState {
    pub(crate) fn auth(&self) -> std::sync::MutexGuard<'_, AuthRules> {
        self.shared.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// SubjectAccessReview allows `verb` on the non-resource `path` for the
    /// user or group `subject` (`*` as path or verb matches any).
    pub fn allow_non_resource(&self, subject: &str, path: &str, verb: &str) {
        self.auth()
            .non_resource
            .push((subject.into(), path.into(), verb.into()));
    }

    /// TokenReviews and SubjectAccessReviews created so far.
    pub fn reviews(&self) -> (u64, u64) {
        let a = self.auth();
        (a.token_reviews, a.access_reviews)
    }

    /// Adds the scenario's identities and their `get` rules.
    pub(crate) fn apply_identities(&self, identities: &[IdentitySpec]) {
        for id in identities {
            self.add_identity(&id.token, id.user.clone());
            for path in &id.may_get {
                let known = self
                    .auth()
                    .non_resource
                    .iter()
                    .any(|(s, p, v)| *s == id.user.username && p == path && v == "get");
                if !known {
                    self.allow_non_resource(&id.user.username, path, "get");
                }
            }
        }
    }
}

fn invalid(kind: &str, causes: &[(&str, &str)]) -> Response {
    let listed: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    let joined = match listed.len() {
        1 => listed.join(""),
        _ => format!("[{}]", listed.join(", ")),
    };
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("{kind}.authorization.k8s.io \"\" is invalid: {joined}"),
        details: Some(json!({
            "group": "authorization.k8s.io",
            "kind": kind,
            "causes": causes.iter().map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f})).collect::<Vec<_>>(),
        })),
    }
    .into_response()
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`.
pub(crate) async fn token_review(
    State(state): State<KubeState>,
    Json(mut body): Json<Value>,
) -> Response {
    state.lock().requests += 1;
    let token = body["spec"]["token"].as_str().unwrap_or("").to_string();
    if token.is_empty() {
        return ApiError {
            code: 400,
            reason: "BadRequest",
            message: "token is required for TokenReview in ".into(),
            details: None,
        }
        .into_response();
    }
    state.auth().token_reviews += 1;
    let status = match state.token_identity(&token) {
        Some(user) => json!({
            "authenticated": true,
            "user": user,
            "audiences": body["spec"]["audiences"].as_array().cloned().unwrap_or_default(),
        }),
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
    };
    body["status"] = status;
    echo(body, "authentication.k8s.io/v1", "TokenReview")
}

/// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`.
pub(crate) async fn subject_access_review(
    State(state): State<KubeState>,
    Json(mut body): Json<Value>,
) -> Response {
    state.lock().requests += 1;
    let spec = &body["spec"];
    let resource = spec.get("resourceAttributes").is_some_and(|v| !v.is_null());
    let non_resource = spec
        .get("nonResourceAttributes")
        .is_some_and(|v| !v.is_null());
    let user = spec["user"].as_str().unwrap_or("").to_string();
    let groups: Vec<String> = spec["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut causes = Vec::new();
    match (resource, non_resource) {
        (true, true) => causes.push((
            "spec.nonResourceAttributes",
            "cannot be specified in combination with resourceAttributes",
        )),
        (false, false) => causes.push((
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if user.is_empty() && groups.is_empty() {
        causes.push((
            "spec.user",
            "at least one of user or group must be specified",
        ));
    }
    if !causes.is_empty() {
        return invalid("SubjectAccessReview", &causes);
    }
    let path = spec["nonResourceAttributes"]["path"].as_str().unwrap_or("");
    let verb = spec["nonResourceAttributes"]["verb"].as_str().unwrap_or("");
    let allowed = {
        let mut auth = state.auth();
        auth.access_reviews += 1;
        non_resource
            && auth.non_resource.iter().any(|(s, p, v)| {
                (*s == user || groups.contains(s))
                    && (p == "*" || p == path)
                    && (v == "*" || v == verb)
            })
    };
    body["status"] = if allowed {
        json!({"allowed": true, "reason": format!("RBAC: allowed to {verb} {path}")})
    } else {
        json!({"allowed": false})
    };
    echo(body, "authorization.k8s.io/v1", "SubjectAccessReview")
}

fn echo(mut body: Value, api_version: &str, kind: &str) -> Response {
    body["apiVersion"] = json!(api_version);
    body["kind"] = json!(kind);
    if body.get("metadata").is_none_or(|m| m.is_null()) {
        body["metadata"] = json!({});
    }
    (axum::http::StatusCode::CREATED, Json(body)).into_response()
}
