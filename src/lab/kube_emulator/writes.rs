//! The write paths: creating events and patching nodes and events, with the
//! server-side rules a client can trip over on a real cluster — Event
//! validation, optimistic concurrency on `metadata.resourceVersion`,
//! immutable identity, the status/main-resource split, no-op patches that
//! do not bump the resourceVersion, and `dryRun=All`.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

use super::handlers::{Params, Target};
use super::patch::{self, PatchError, PatchType};
use super::resources::{Kind, ResourceDef};
use super::status::ApiError;
use super::store::{copy_identity, meta_mut, meta_str};
use super::{KubeState, LoggedPatch, RecordedRequest};

fn recorded(method: Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> RecordedRequest {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = serde_json::from_slice(body)
        .or_else(|_| serde_norway::from_slice(body))
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        content_type,
        body,
    }
}

fn is_event(def: &ResourceDef) -> bool {
    matches!(def.kind, Kind::Event | Kind::CoreEvent)
}

fn dry_run(params: &Params, options: &str) -> Result<bool, ApiError> {
    match params.get("dryRun") {
        None => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::invalid_options(
            options,
            format!("dryRun: Unsupported value: [\"{other}\"]: supported values: \"All\""),
        )),
    }
}

/// A random-looking but deterministic `generateName` suffix, from the
/// alphabet apimachinery uses (no vowels, no look-alikes).
fn name_suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % 27) as usize];
            x /= 27;
            c as char
        })
        .collect()
}

fn valid_subdomain(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| ok(c) || c == '-' || c == '.')
        && name.chars().next().is_some_and(ok)
        && name.chars().last().is_some_and(ok)
}

/// `POST` a new object (only events are creatable).
pub(crate) fn create(
    state: &KubeState,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    uri: &Uri,
) -> Result<(StatusCode, Value), ApiError> {
    let def = target.def;
    let mut inner = state.lock();
    if is_event(def) {
        inner.event_requests.push(recorded(Method::POST, uri, headers, body));
    }
    let dry = dry_run(params, "CreateOptions")?;
    let mut obj: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?;
    if !obj.is_object() {
        return Err(ApiError::bad_request("the object provided is not a JSON object"));
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
    let ns = target.namespace.clone().unwrap_or_default();
    if let Some(sent) = meta_str(&obj, "namespace").filter(|s| !s.is_empty()) {
        if sent != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    if meta_str(&obj, "resourceVersion").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(prefix)) if !prefix.is_empty() => {
            inner.generated += 1;
            format!("{prefix}{}", name_suffix(inner.generated))
        }
        _ => {
            let cause = ("metadata.name".to_string(), "Required value: name or generateName is required".to_string());
            return Err(ApiError::invalid(def, "", &[cause]));
        }
    };
    if !valid_subdomain(&name) {
        let cause = (
            "metadata.name".to_string(),
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"),
        );
        return Err(ApiError::invalid(def, &name, &[cause]));
    }
    if let Some(meta) = meta_mut(&mut obj) {
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(ns));
        meta.remove("uid");
    }
    if is_event(def) {
        validate_event(def, &obj, None)?;
    }
    let key = target.key(&name);
    if inner.store.get(&key).is_some() {
        return Err(ApiError::already_exists(def, &name));
    }
    if dry {
        return Ok((StatusCode::CREATED, obj));
    }
    let stored = inner.store.put(key.clone(), obj);
    if is_event(def) {
        inner.event_order.push(key);
    }
    Ok((StatusCode::CREATED, stored))
}

fn patch_error(e: PatchError) -> ApiError {
    match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        PatchError::Failed(m) => ApiError::unprocessable(m),
        PatchError::MergeKey(m) => ApiError::internal(m),
    }
}

/// Copy one top-level field from `from`, or drop it if `from` lacks it.
fn keep_field(from: &Value, to: &mut Value, field: &str) {
    if let Some(map) = to.as_object_mut() {
        match from.get(field) {
            Some(v) => map.insert(field.to_string(), v.clone()),
            None => map.remove(field),
        };
    }
}

/// What the registry strategies do: a status update cannot change spec,
/// a main-resource update cannot change status (nodes and pods).
fn keep_untouchable(def: &ResourceDef, sub: Option<&str>, old: &Value, new: &mut Value) {
    if matches!(def.kind, Kind::Node | Kind::Pod) {
        let field = if sub == Some("status") { "spec" } else { "status" };
        keep_field(old, new, field);
    }
}

/// `PATCH` an object or its status.
pub(crate) fn patch(
    state: &KubeState,
    target: &Target,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    uri: &Uri,
) -> Result<Value, ApiError> {
    let def = target.def;
    let sub = target.sub.as_deref();
    let mut inner = state.lock();
    let rec = recorded(Method::PATCH, uri, headers, body);
    match (def.kind, sub) {
        (Kind::Event | Kind::CoreEvent, _) => inner.event_requests.push(rec),
        (Kind::Node, Some("status")) => inner.node_status_patches.push(rec),
        (Kind::Node, _) => inner.node_patch_requests.push(rec),
        _ => {}
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let kind = PatchType::from_content_type(content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
    let dry = dry_run(params, "PatchOptions")?;
    if params.get("force").is_some() && kind != PatchType::Apply {
        return Err(ApiError::invalid_options("PatchOptions", "force: Forbidden: may not be specified for non-apply patch"));
    }
    match params.get("fieldManager") {
        None if kind == PatchType::Apply => {
            return Err(ApiError::invalid_options("PatchOptions", "fieldManager: Required value: is required for apply patch"));
        }
        Some(m) if m.len() > 128 => {
            return Err(ApiError::invalid_options("PatchOptions", "fieldManager: Too long: may not be more than 128 bytes"));
        }
        _ => {}
    }
    let body = patch::parse_body(kind, body).map_err(patch_error)?;
    let key = target.key(name);
    let (current, existed) = match inner.store.get(&key) {
        Some(obj) => (obj.clone(), true),
        // Server-side apply creates what does not exist yet.
        None if kind == PatchType::Apply && def.supports("create") => {
            let ns = target.namespace.clone().unwrap_or_default();
            let base = json!({"apiVersion": def.api_version(), "kind": def.kind_name,
                              "metadata": {"name": name, "namespace": ns}});
            (base, false)
        }
        None => return Err(ApiError::not_found(def, name)),
    };
    let mut updated = patch::apply(kind, &current, &body).map_err(patch_error)?;
    if !updated.is_object() {
        return Err(ApiError::bad_request("the patched object is not a JSON object"));
    }
    // A resourceVersion in the patch is a precondition (optimistic concurrency).
    let sent_rv = meta_str(&updated, "resourceVersion");
    if sent_rv.is_some() && sent_rv != meta_str(&current, "resourceVersion") {
        return Err(ApiError::conflict(def, name));
    }
    if meta_str(&updated, "name") != Some(name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(&updated, "name").unwrap_or("")
        )));
    }
    if meta_str(&updated, "namespace").unwrap_or("") != target.namespace.as_deref().unwrap_or("") {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let sent_uid = meta_str(&updated, "uid");
    if sent_uid.is_some() && sent_uid != meta_str(&current, "uid") {
        return Err(ApiError::conflict(def, name));
    }
    copy_identity(&current, &mut updated);
    keep_field(&current, &mut updated, "apiVersion");
    keep_field(&current, &mut updated, "kind");
    keep_untouchable(def, sub, &current, &mut updated);
    if is_event(def) {
        validate_event(def, &updated, existed.then_some(&current))?;
    }
    if existed && updated == current {
        // The real server skips the write: no new resourceVersion, no event.
        return Ok(current);
    }
    if dry {
        return Ok(updated);
    }
    let stored = inner.store.put(key.clone(), updated);
    if !existed && is_event(def) {
        inner.event_order.push(key);
    }
    if def.kind == Kind::Node {
        inner.node_patches.push(LoggedPatch {
            node: name.to_string(),
            status: sub == Some("status"),
            kind,
            body,
        });
    }
    Ok(stored)
}

/// Re-apply the patches clients made to a node onto a fresh rendering of it,
/// so that a scenario change does not wipe, say, a condition the agent set.
pub(crate) fn reconcile_node(rendered: Value, name: &str, patches: &[LoggedPatch]) -> Value {
    let mut node = rendered;
    for p in patches.iter().filter(|p| p.node == name) {
        // A patch that no longer applies (e.g. a JSON patch `test`) is
        // skipped, as if the client had not retried it.
        let Ok(mut next) = patch::apply(p.kind, &node, &p.body) else {
            continue;
        };
        copy_identity(&node, &mut next);
        let sub = if p.status { Some("status") } else { None };
        keep_untouchable(Kind::Node.def(), sub, &node, &mut next);
        node = next;
    }
    node
}

fn text<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get(field).and_then(Value::as_str).unwrap_or("")
}

/// apimachinery's Event validation (`ValidateEventCreate`/`Update`): the
/// legacy rules for both APIs plus the strict ones for `events.k8s.io/v1`.
fn validate_event(def: &ResourceDef, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let v1 = def.kind == Kind::Event;
    let (regarding, note, controller) = if v1 {
        ("regarding", "note", "reportingController")
    } else {
        ("involvedObject", "message", "reportingComponent")
    };
    let mut causes: Vec<(String, String)> = Vec::new();
    let mut cause = |field: &str, msg: String| causes.push((field.to_string(), msg));
    let event_ns = meta_str(obj, "namespace").unwrap_or("");
    let object_ns = obj.get(regarding).map(|r| text(r, "namespace")).unwrap_or("");
    let mismatch = format!("Invalid value: \"{object_ns}\": does not match event.namespace");
    let has_time = obj.get("eventTime").is_some_and(|t| !t.is_null());
    if !has_time {
        let ok = if object_ns.is_empty() { event_ns.is_empty() || event_ns == "default" } else { event_ns == object_ns };
        if !ok {
            cause(&format!("{regarding}.namespace"), mismatch);
        }
        if v1 {
            cause("eventTime", "Required value".into());
        }
    } else {
        if object_ns.is_empty() && event_ns != "default" && event_ns != "kube-system" {
            cause(&format!("{regarding}.namespace"), mismatch);
        }
        for (field, limit) in [(controller, 0), ("reportingInstance", 128), ("action", 128), ("reason", 128)] {
            let value = text(obj, field);
            if value.is_empty() {
                cause(field, "Required value".into());
            } else if limit > 0 && value.len() > limit {
                cause(field, format!("Invalid value: \"\": can have at most {limit} characters"));
            }
        }
        if text(obj, note).len() > 1024 {
            cause(note, "Invalid value: \"\": can have at most 1024 characters".into());
        }
    }
    if v1 {
        let kind = text(obj, "type");
        if kind != "Normal" && kind != "Warning" {
            cause("type", format!("Invalid value: \"\": has invalid value: {kind}"));
        }
        for field in ["deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount", "deprecatedSource"] {
            let set = obj.get(field).is_some_and(|v| !v.is_null() && *v != json!({}) && *v != json!(0));
            if set {
                cause(field, "Invalid value: \"\": needs to be unset".into());
            }
        }
        if let Some(series) = obj.get("series").filter(|s| !s.is_null()) {
            if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
                cause("series.count", "Invalid value: \"\": should be at least 2".into());
            }
            if series.get("lastObservedTime").is_none_or(Value::is_null) {
                cause("series.lastObservedTime", "Required value".into());
            }
        }
        if let Some(old) = old {
            let immutable = [regarding, "reason", note, "type", "eventTime", "action", "related"];
            for field in immutable.into_iter().chain([controller, "reportingInstance"]) {
                if obj.get(field) != old.get(field) {
                    cause(field, "Invalid value: \"\": field is immutable".into());
                }
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(def, meta_str(obj, "name").unwrap_or(""), &causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_and_distinct() {
        let a = name_suffix(1);
        let b = name_suffix(2);
        assert_eq!(a.len(), 5);
        assert_ne!(a, b);
        assert!(valid_subdomain(&format!("ev-{a}")));
        assert!(!valid_subdomain("Bad_Name"));
    }

    #[test]
    fn event_validation_matches_apimachinery() {
        let def = Kind::Event.def();
        let good = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "eventTime": "2025-01-01T00:00:00.000000Z", "type": "Normal",
            "reportingController": "eniwatch", "reportingInstance": "node-1",
            "action": "Validate", "reason": "Drift",
            "regarding": {"kind": "Node", "name": "n"},
        });
        assert!(validate_event(def, &good, None).is_ok());
        let mut wrong_ns = good.clone();
        wrong_ns["metadata"]["namespace"] = json!("kube-node-lease");
        let err = validate_event(def, &wrong_ns, None).err();
        assert_eq!(err.as_ref().map(|e| e.code), Some(422));
        assert!(err.map(|e| e.message).unwrap_or_default().contains("regarding.namespace"));
        let mut no_time = good.clone();
        no_time["eventTime"] = Value::Null;
        assert!(validate_event(def, &no_time, None).is_err());
        let mut changed_note = good.clone();
        changed_note["note"] = json!("different");
        assert!(validate_event(def, &changed_note, Some(&good)).is_err(), "note is immutable");
        // The legacy core API is lenient: no eventTime needed.
        let core = json!({"metadata": {"name": "e", "namespace": "default"},
                          "involvedObject": {"kind": "Node", "name": "n"}, "reason": "X"});
        assert!(validate_event(Kind::CoreEvent.def(), &core, None).is_ok());
    }
}
