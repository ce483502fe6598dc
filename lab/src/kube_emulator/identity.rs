//! Who sent a request: bearer tokens a test registered with
//! [`KubeState::add_identity`], mapped to the user the real API server's
//! authenticators would have made of them (a ServiceAccount token's
//! username, groups and `extra`, e.g. the pod-bound node-name claim).
//!
//! A request with no token, or a token nobody registered, is served as
//! before any identity existed: anonymous and allowed. Only what is tied to
//! a registered identity (admission policies, `admission`) sees a user.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};

use super::KubeState;

/// The `extra` key under which pod-bound ServiceAccount tokens carry the
/// name of the pod's node (Kubernetes 1.30+, ServiceAccountTokenPodNodeInfo).
pub const NODE_NAME_CLAIM: &str = "authentication.kubernetes.io/node-name";

/// An authenticated user, as `authentication.k8s.io/v1` UserInfo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserInfo {
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A ServiceAccount's token user, with the groups the server adds.
    pub fn service_account(namespace: &str, name: &str) -> UserInfo {
        UserInfo {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            uid: format!("{namespace}-{name}-uid"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            extra: BTreeMap::new(),
        }
    }

    /// The same user with a pod-bound token's node-name claim.
    pub fn on_node(mut self, node: &str) -> UserInfo {
        self.extra
            .insert(NODE_NAME_CLAIM.into(), vec![node.to_string()]);
        self
    }
}

/// Registered tokens.
#[derive(Default)]
pub(crate) struct Identities(Mutex<BTreeMap<String, UserInfo>>);

impl KubeState {
    /// Requests carrying `Authorization: Bearer <token>` are made by `user`
    /// from now on.
    pub fn add_identity(&self, token: &str, user: UserInfo) {
        self.identities().insert(token.to_string(), user);
    }

    /// The registered user behind a request's bearer token, if any.
    pub(crate) fn identity(&self, headers: &HeaderMap) -> Option<UserInfo> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        self.token_identity(token.trim())
    }

    /// The registered user `token` authenticates as, if any (TokenReview).
    pub(crate) fn token_identity(&self, token: &str) -> Option<UserInfo> {
        self.identities().get(token).cloned()
    }

    fn identities(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, UserInfo>> {
        // Poisoning is ignored as for the state lock: the map stays usable.
        self.shared
            .identities
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
