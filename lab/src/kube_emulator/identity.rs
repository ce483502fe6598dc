//! Who a bearer token is: the users the emulated API server knows.
//! A request whose token is unknown is served as before (anonymous allowed).

use std::collections::BTreeMap;

use super::KubeState;

/// A user as the API server's authenticators name it (TokenReview's
/// `status.user`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl KubeState {
    /// Bearer `token` authenticates as `user` from now on.
    pub fn add_identity(&self, token: &str, user: UserInfo) {
        self.auth().identities.insert(token.to_string(), user);
    }

    /// The user `token` authenticates as, if any.
    pub(crate) fn identity(&self, token: &str) -> Option<UserInfo> {
        self.auth().identities.get(token).cloned()
    }
}
