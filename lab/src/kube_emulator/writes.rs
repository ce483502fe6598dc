//! The write paths: creating events and ConfigMaps and patching nodes,
//! events and ConfigMaps (`replace` has update and delete), with the
//! server-side rules a client can trip over on a real cluster — Event
//! validation, optimistic concurrency on `metadata.resourceVersion`,
//! immutable identity, the status/main-resource split, no-op patches that
//! do not bump the resourceVersion, and `dryRun=All`.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

use super::events::{name_suffix, valid_subdomain, validate_event};
use super::handlers::{Params, Target};
use super::patch::{self, PatchError, PatchType};
use super::resources::{Kind, ResourceDef};
use super::status::ApiError;
use super::store::{copy_identity, meta_mut, meta_str};
use super::{admission, configmaps, Inner, KubeState, LoggedPatch, RecordedRequest};

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

/// Keep a write request where tests look for it: events and ConfigMaps
/// (node patches are kept by `patch`, which knows the subresource).
pub(crate) fn record_write(
    inner: &mut Inner,
    def: &ResourceDef,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) {
    match def.kind {
        Kind::Event | Kind::CoreEvent => {
            inner
                .event_requests
                .push(recorded(method, uri, headers, body));
        }
        Kind::ConfigMap => {
            inner
                .config_map_requests
                .push(recorded(method, uri, headers, body));
        }
        Kind::Node | Kind::Pod | Kind::EniConfig | Kind::NodeClass => {}
    }
}

fn is_event(def: &ResourceDef) -> bool {
    matches!(def.kind, Kind::Event | Kind::CoreEvent)
}

pub(crate) fn dry_run(params: &Params, options: &str) -> Result<bool, ApiError> {
    match params.get("dryRun") {
        None => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::invalid_options(
            options,
            format!("dryRun: Unsupported value: [\"{other}\"]: supported values: \"All\""),
        )),
    }
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
    record_write(&mut inner, def, Method::POST, uri, headers, body);
    let dry = dry_run(params, "CreateOptions")?;
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
    let ns = target.namespace.clone().unwrap_or_default();
    if let Some(sent) = meta_str(&obj, "namespace").filter(|s| !s.is_empty()) {
        if sent != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    if meta_str(&obj, "resourceVersion").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(prefix)) if !prefix.is_empty() => {
            inner.generated += 1;
            format!("{prefix}{}", name_suffix(inner.generated))
        }
        _ => {
            let cause = (
                "metadata.name".to_string(),
                "Required value: name or generateName is required".to_string(),
            );
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
    if def.kind == Kind::ConfigMap {
        configmaps::validate(&obj, None)?;
    }
    admission::check(state, headers, "CREATE", target, &name, &obj, None)?;
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
        let field = if sub == Some("status") {
            "spec"
        } else {
            "status"
        };
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
        (Kind::ConfigMap, _) => inner.config_map_requests.push(rec),
        (Kind::Node, Some("status")) => inner.node_status_patches.push(rec),
        (Kind::Node, _) => inner.node_patch_requests.push(rec),
        (Kind::Pod | Kind::EniConfig | Kind::NodeClass, _) => {}
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let kind = PatchType::from_content_type(content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
    let dry = dry_run(params, "PatchOptions")?;
    if params.get("force").is_some() && kind != PatchType::Apply {
        return Err(ApiError::invalid_options(
            "PatchOptions",
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    match params.get("fieldManager") {
        None if kind == PatchType::Apply => {
            return Err(ApiError::invalid_options(
                "PatchOptions",
                "fieldManager: Required value: is required for apply patch",
            ));
        }
        Some(m) if m.len() > 128 => {
            return Err(ApiError::invalid_options(
                "PatchOptions",
                "fieldManager: Too long: may not be more than 128 bytes",
            ));
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
        return Err(ApiError::bad_request(
            "the patched object is not a JSON object",
        ));
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
    if def.kind == Kind::ConfigMap {
        configmaps::validate(&updated, existed.then_some(&current))?;
    }
    let operation = if existed { "UPDATE" } else { "CREATE" };
    admission::check(
        state,
        headers,
        operation,
        target,
        name,
        &updated,
        existed.then_some(&current),
    )?;
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
