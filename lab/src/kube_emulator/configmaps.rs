//! ConfigMap rules, as the API server's `ValidateConfigMap` and
//! `ValidateConfigMapUpdate` apply them on every create, update and patch:
//! - `data` and `binaryData` are maps of strings (anything else is the
//!   400 a failed decode gives);
//! - keys match `[-._a-zA-Z0-9]+`, have at most 253 characters, are not
//!   `.`/`..` nor start with `..`, and no key is in both maps;
//! - the values (binaryData decoded) total at most 1 MiB (1,048,576
//!   bytes), keys not counted; beyond, one `TooLong` cause on the whole
//!   object (field `[]`);
//! - once `immutable: true` is stored, `data`, `binaryData` and
//!   `immutable` itself cannot change (`Forbidden`).
//!
//! The causes come out sorted by key (Go's map order is random; a client
//! must not depend on it either way).
//!
//! Also here: the test-facing API to seed, read and delete ConfigMaps
//! without a client, through the same validation.

use serde_json::Value;

use super::resources::Kind;
use super::status::{ApiError, Cause, CauseType};
use super::store::{meta_str, ObjKey};
use super::{KubeState, RecordedRequest};

/// `core.MaxSecretSize`, which also bounds a ConfigMap.
pub(crate) const MAX_CONFIG_MAP_BYTES: usize = 1024 * 1024;

const KEY_MAX: usize = 253;

const KEY_FORMAT: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' \
     (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

const IMMUTABLE: &str = "Forbidden: field is immutable when `immutable` is set";

/// `validation.IsConfigMapKey`: the messages for one key.
fn key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > KEY_MAX {
        errs.push(format!("must be no more than {KEY_MAX} characters"));
    }
    let charset = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if key.is_empty() || !key.chars().all(charset) {
        errs.push(KEY_FORMAT.to_string());
    }
    if key == "." {
        errs.push("must not be '.'".to_string());
    } else if key == ".." {
        errs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// The size of a base64 value once decoded (what the server counts).
fn decoded_len(text: &str) -> usize {
    let trimmed = text.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

/// A string map at `field`, or the 400 a decode into `map[string]string`
/// (or `[]byte`) fails with.
fn string_map<'a>(obj: &'a Value, field: &str) -> Result<Vec<(&'a str, &'a str)>, ApiError> {
    let decode_error = |what: &str| {
        ApiError::bad_request(format!(
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal {what} into Go struct field ConfigMap.{field}"
        ))
    };
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.as_str(), s.as_str())),
                _ => Err(decode_error("a non-string value")),
            })
            .collect(),
        Some(_) => Err(decode_error("a non-object")),
    }
}

fn immutable(obj: &Value) -> Result<bool, ApiError> {
    match obj.get("immutable") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request(
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal a non-boolean into Go struct field ConfigMap.immutable of type bool",
        )),
    }
}

/// Validate a ConfigMap about to be stored; `old` is the stored one on
/// update and patch.
pub(crate) fn validate(obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let def = Kind::ConfigMap.def();
    let name = meta_str(obj, "name").unwrap_or("");
    let data = string_map(obj, "data")?;
    let binary = string_map(obj, "binaryData")?;
    let is_immutable = immutable(obj)?;
    let mut causes = Vec::new();
    if let Some(old) = old {
        if immutable(old)? {
            if !is_immutable {
                causes.push(Cause::new(CauseType::Forbidden, "immutable", IMMUTABLE));
            }
            for field in ["data", "binaryData"] {
                let norm = |o: &Value| o.get(field).filter(|v| !v.is_null()).cloned();
                if norm(obj) != norm(old) {
                    causes.push(Cause::new(CauseType::Forbidden, field, IMMUTABLE));
                }
            }
        }
    }
    let mut total = 0usize;
    for (key, value) in &data {
        let path = format!("data[{key}]");
        for msg in key_errors(key) {
            let body = format!("Invalid value: {}: {msg}", Value::from(*key));
            causes.push(Cause::new(CauseType::Invalid, &path, body));
        }
        if binary.iter().any(|(k, _)| k == key) {
            let body = format!(
                "Invalid value: {}: duplicate of key present in binaryData",
                Value::from(*key)
            );
            causes.push(Cause::new(CauseType::Invalid, &path, body));
        }
        total += value.len();
    }
    for (key, value) in &binary {
        let path = format!("binaryData[{key}]");
        for msg in key_errors(key) {
            let body = format!("Invalid value: {}: {msg}", Value::from(*key));
            causes.push(Cause::new(CauseType::Invalid, &path, body));
        }
        total += decoded_len(value);
    }
    if total > MAX_CONFIG_MAP_BYTES {
        let body = format!("Too long: must have at most {MAX_CONFIG_MAP_BYTES} bytes");
        causes.push(Cause::new(CauseType::TooLong, "[]", body));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_typed(def, name, &causes))
    }
}

impl KubeState {
    /// The stored ConfigMap `namespace/name`, as a client would GET it.
    pub fn config_map(&self, namespace: &str, name: &str) -> Option<Value> {
        let key = ObjKey::new(Kind::ConfigMap, namespace, name);
        self.lock().store.get(&key).cloned()
    }

    /// Create or replace a ConfigMap as a cluster administrator would
    /// (`metadata.namespace` and `metadata.name` required), through the
    /// server's validation; watchers see ADDED or MODIFIED. Returns the
    /// stored object, or the Status message the server would answer.
    pub fn put_config_map(&self, mut object: Value) -> Result<Value, String> {
        let name = meta_str(&object, "name").unwrap_or("").to_string();
        let namespace = meta_str(&object, "namespace").unwrap_or("").to_string();
        if name.is_empty() || namespace.is_empty() {
            return Err("metadata.name and metadata.namespace are required".to_string());
        }
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), Value::from("v1"));
            map.insert("kind".into(), Value::from("ConfigMap"));
        }
        let key = ObjKey::new(Kind::ConfigMap, &namespace, &name);
        let mut inner = self.lock();
        let old = inner.store.get(&key).cloned();
        validate(&object, old.as_ref()).map_err(|e| e.message)?;
        Ok(inner.store.put(key, object))
    }

    /// Delete a ConfigMap (watchers see DELETED); the object if it existed.
    pub fn delete_config_map(&self, namespace: &str, name: &str) -> Option<Value> {
        let key = ObjKey::new(Kind::ConfigMap, namespace, name);
        self.lock().store.remove(&key)
    }

    /// Every client write on ConfigMaps (POST, PUT, PATCH, DELETE), in
    /// arrival order, accepted or not.
    pub fn config_map_requests(&self) -> Vec<RecordedRequest> {
        self.lock().config_map_requests.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_is_config_map_key() {
        assert!(key_errors("facts.json").is_empty());
        assert!(key_errors("A-b_c.d").is_empty());
        assert_eq!(key_errors("a b"), vec![KEY_FORMAT.to_string()]);
        assert_eq!(key_errors(".."), vec!["must not be '..'".to_string()]);
        assert_eq!(
            key_errors("..x"),
            vec!["must not start with '..'".to_string()]
        );
        assert_eq!(key_errors(&"k".repeat(254)).len(), 1);
        assert!(key_errors(&"k".repeat(253)).is_empty());
        assert_eq!(decoded_len("aGVsbG8="), 5);
        assert_eq!(decoded_len("aGk="), 2);
    }

    #[test]
    fn size_counts_values_only_and_binary_decoded() {
        let exact =
            json!({"metadata": {"name": "c"}, "data": {"k": "x".repeat(MAX_CONFIG_MAP_BYTES)}});
        assert!(validate(&exact, None).is_ok());
        let over = json!({"metadata": {"name": "c"},
            "data": {"k": "x".repeat(MAX_CONFIG_MAP_BYTES - 1)}, "binaryData": {"b": "aGk="}});
        let err = validate(&over, None).err().map(|e| (e.code, e.message));
        assert_eq!(
            err,
            Some((
                422,
                "ConfigMap \"c\" is invalid: []: Too long: must have at most 1048576 bytes"
                    .to_string()
            ))
        );
        let status = validate(&over, None).err().map(|e| e.to_status());
        let cause = status.map(|s| s["details"]["causes"][0].clone());
        assert_eq!(
            cause,
            Some(json!({"reason": "FieldValueTooLong", "field": "[]",
                        "message": "Too long: must have at most 1048576 bytes"}))
        );
    }
}
