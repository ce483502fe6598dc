//! A whole cluster loaded at once, for clients that list everything
//! (`eniwatch status`): Nodes, Pods, ENIConfigs and NodeClasses given as
//! API objects, at any scale (100,000 pods load in well under a second in
//! release builds: one store write each), and resources refused as an
//! RBAC-restricted or CRD-less cluster refuses them.
//!
//! Meant for a server made with [`KubeState::empty`]: a later
//! [`KubeState::apply_scenario`] re-renders the scenario's Pods and
//! ENIConfigs and so drops loaded ones (loaded Nodes stay, like fleet
//! nodes).

use serde_json::Value;

use super::resources::Kind;
use super::status::ApiError;
use super::store::{meta_str, ObjKey};
use super::KubeState;

/// The resources [`KubeState::load`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    Node,
    /// Namespaced: every object needs `metadata.namespace`.
    Pod,
    EniConfig,
    /// `eks.amazonaws.com/v1` NodeClass.
    NodeClass,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("a {kind:?} object has no metadata.name")]
    NoName { kind: Loaded },
    #[error("{kind:?} {name} has no metadata.namespace")]
    NoNamespace { kind: Loaded, name: String },
}

impl Loaded {
    fn kind(self) -> Kind {
        match self {
            Loaded::Node => Kind::Node,
            Loaded::Pod => Kind::Pod,
            Loaded::EniConfig => Kind::EniConfig,
            Loaded::NodeClass => Kind::NodeClass,
        }
    }
}

impl KubeState {
    /// Store `objects` of one resource (an object of the same name is
    /// replaced); apiVersion and kind are set. How many were stored.
    pub fn load(
        &self,
        resource: Loaded,
        objects: impl IntoIterator<Item = Value>,
    ) -> Result<usize, LoadError> {
        let kind = resource.kind();
        let def = kind.def();
        let mut inner = self.lock();
        let mut count = 0;
        for mut obj in objects {
            let name = meta_str(&obj, "name")
                .ok_or(LoadError::NoName { kind: resource })?
                .to_string();
            let namespace = match def.namespaced {
                true => meta_str(&obj, "namespace")
                    .ok_or_else(|| LoadError::NoNamespace {
                        kind: resource,
                        name: name.clone(),
                    })?
                    .to_string(),
                false => String::new(),
            };
            if let Some(map) = obj.as_object_mut() {
                map.insert("apiVersion".into(), Value::String(def.api_version()));
                map.insert("kind".into(), Value::String(def.kind_name.to_string()));
            }
            if resource == Loaded::Node {
                inner.fleet.insert(name.clone(), obj.clone());
            }
            inner.store.put(ObjKey::new(kind, &namespace, &name), obj);
            count += 1;
        }
        Ok(count)
    }

    /// Answer every request on the resource `plural` (`pods`,
    /// `nodeclasses`, ...) with `code`: 403 as the server does without an
    /// RBAC rule allowing it, 404 as for a resource whose CRD is not
    /// installed, any other code as an internal error. 0 serves it again.
    pub fn refuse(&self, plural: &str, code: u16) {
        let mut refused = self
            .shared
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match code {
            0 => refused.remove(plural),
            c => refused.insert(plural.to_string(), c),
        };
    }

    /// The refusal set for `plural` by [`KubeState::refuse`], if any, as the
    /// server would word it for `verb`.
    pub(crate) fn refusal(&self, plural: &str, group: &str, verb: &str) -> Option<ApiError> {
        let refused = self
            .shared
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let code = *refused.get(plural)?;
        Some(match code {
            403 => ApiError::forbidden(format!(
                "{plural} is forbidden: User \"system:serviceaccount:lab:reader\" cannot {verb} \
                 resource \"{plural}\" in API group \"{group}\" at the cluster scope"
            )),
            404 => ApiError::no_route(),
            c => ApiError::internal(format!("refused with {c}")),
        })
    }
}
