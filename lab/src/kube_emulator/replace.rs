//! `PUT` (update) and `DELETE`, served for the kinds whose table entry
//! lists the verbs (ConfigMaps), with the generic registry's rules:
//! - update: the object must exist (ConfigMaps are not created on update:
//!   404); the name and namespace in the body must match the URL (400); a
//!   `metadata.resourceVersion` in the body is a precondition (409
//!   Conflict when stale), none means an unconditional update; an update
//!   that changes nothing keeps the resourceVersion and sends no watch
//!   event;
//! - delete: `DeleteOptions.preconditions` (`uid`, `resourceVersion`) are
//!   checked (409), the answer is a `Status` of `Success` naming the
//!   object, and watchers see DELETED;
//! - both honour `dryRun=All` (query or `DeleteOptions.dryRun`).

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};

use super::configmaps;
use super::handlers::{Params, Target};
use super::resources::Kind;
use super::status::ApiError;
use super::store::{copy_identity, meta_mut, meta_str};
use super::writes::{dry_run, record_write};
use super::KubeState;

/// `PUT` an object over the stored one.
pub(crate) fn update(
    state: &KubeState,
    target: &Target,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    uri: &Uri,
) -> Result<Value, ApiError> {
    let def = target.def;
    let mut inner = state.lock();
    record_write(&mut inner, def, Method::PUT, uri, headers, body);
    let dry = dry_run(params, "UpdateOptions")?;
    let mut obj: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })?;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the object provided is not a JSON object",
        ));
    }
    let api_version = def.api_version();
    if let Some(sent) = obj.get("apiVersion").and_then(Value::as_str) {
        if sent != api_version {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({sent}) does not match the expected API version ({api_version})"
            )));
        }
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(def.kind_name);
    let sent_name = meta_str(&obj, "name").unwrap_or("");
    if sent_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({sent_name}) does not match the name on the URL ({name})"
        )));
    }
    let ns = target.namespace.clone().unwrap_or_default();
    match meta_str(&obj, "namespace").filter(|s| !s.is_empty()) {
        Some(sent) if sent != ns => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => {
            if let Some(meta) = meta_mut(&mut obj) {
                meta.insert("namespace".into(), json!(ns));
            }
        }
    }
    let key = target.key(name);
    let current = inner
        .store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(def, name))?;
    let sent_rv = meta_str(&obj, "resourceVersion").filter(|s| !s.is_empty());
    if sent_rv.is_some() && sent_rv != meta_str(&current, "resourceVersion") {
        return Err(ApiError::conflict(def, name));
    }
    let sent_uid = meta_str(&obj, "uid").filter(|s| !s.is_empty());
    if sent_uid.is_some() && sent_uid != meta_str(&current, "uid") {
        let detail = format!(
            "Precondition failed: UID in precondition: {}, UID in object meta: {}",
            sent_uid.unwrap_or(""),
            meta_str(&current, "uid").unwrap_or("")
        );
        return Err(ApiError::precondition_failed(def, name, &detail));
    }
    copy_identity(&current, &mut obj);
    if def.kind == Kind::ConfigMap {
        configmaps::validate(&obj, Some(&current))?;
    }
    if obj == current {
        return Ok(current);
    }
    if dry {
        return Ok(obj);
    }
    Ok(inner.store.put(key, obj))
}

/// `DELETE` one object; the answer is the server's success `Status`.
pub(crate) fn delete(
    state: &KubeState,
    target: &Target,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    uri: &Uri,
) -> Result<Value, ApiError> {
    let def = target.def;
    let mut inner = state.lock();
    record_write(&mut inner, def, Method::DELETE, uri, headers, body);
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let mut dry = dry_run(params, "DeleteOptions")?;
    match options.get("dryRun").and_then(Value::as_array) {
        Some(list) if list.iter().any(|v| v != "All") => {
            return Err(ApiError::invalid_options(
                "DeleteOptions",
                "dryRun: Unsupported value: [\"\"]: supported values: \"All\"",
            ));
        }
        Some(list) if !list.is_empty() => dry = true,
        _ => {}
    }
    let key = target.key(name);
    let current = inner
        .store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(def, name))?;
    let pre = options.get("preconditions");
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        let wanted = pre.and_then(|p| p.get(field)).and_then(Value::as_str);
        let actual = meta_str(&current, field).unwrap_or("");
        if let Some(wanted) = wanted.filter(|w| *w != actual) {
            let detail = format!(
                "Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}"
            );
            return Err(ApiError::precondition_failed(def, name, &detail));
        }
    }
    if !dry {
        inner.store.remove(&key);
    }
    Ok(json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": name,
            "kind": def.plural,
            "uid": meta_str(&current, "uid").unwrap_or(""),
        },
    }))
}
