//! Request routing and the read paths: discovery, get and list.
//!
//! Routing is done by hand on path segments rather than with axum routes:
//! the same resource appears under several URL shapes (cluster-wide,
//! namespaced, subresource), and unknown paths must answer with a `Status`
//! like the real server, which one fallback handler does naturally.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::resources::{self, ResourceDef};
use super::selectors::Filter;
use super::status::ApiError;
use super::store::{ObjKey, Store};
use super::{replace, watch, writes, KubeState};

/// Query parameters of one request.
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// Full objects, or `PartialObjectMetadata` when the client asked for it
/// in Accept (kube-rs' `*_metadata` calls do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Full,
    Metadata,
}

impl Shape {
    fn from_headers(headers: &HeaderMap) -> Shape {
        let first = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.split(',').next())
            .unwrap_or("");
        if first.contains("as=PartialObjectMetadata") {
            Shape::Metadata
        } else {
            Shape::Full
        }
    }

    /// An object as it goes on the wire. Built-in types carry no
    /// apiVersion/kind inside lists; custom resources do.
    pub(crate) fn present(self, def: &ResourceDef, obj: &Value, in_list: bool) -> Value {
        match self {
            Shape::Full => self.present_owned(def, obj.clone(), in_list),
            Shape::Metadata => metadata_only(obj),
        }
    }

    /// [`Shape::present`] of an object the caller no longer needs.
    pub(crate) fn present_owned(self, def: &ResourceDef, obj: Value, in_list: bool) -> Value {
        match self {
            Shape::Metadata => metadata_only(&obj),
            Shape::Full => {
                let mut out = obj;
                if in_list && def.builtin {
                    if let Some(map) = out.as_object_mut() {
                        map.remove("apiVersion");
                        map.remove("kind");
                    }
                }
                out
            }
        }
    }
}

fn metadata_only(obj: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A resource URL, resolved.
pub(crate) struct Target {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    pub(crate) fn key(&self, name: &str) -> ObjKey {
        ObjKey::new(self.def.kind, self.namespace.as_deref().unwrap_or(""), name)
    }
}

enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    Resource(Target),
}

fn route(path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["apis", g] => return Ok(Route::Group(g.to_string())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    if rest.is_empty() {
        return Ok(Route::Resources(group.to_string(), version.to_string()));
    }
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let Some((plural, tail)) = rest.split_first() else {
        return Err(ApiError::no_route());
    };
    let def = ResourceDef::lookup(group, version, plural).ok_or_else(ApiError::no_route)?;
    // Cluster-scoped resources have no namespaced URLs; a namespaced
    // resource's object URLs need the namespace.
    if (namespace.is_some() && !def.namespaced)
        || (namespace.is_none() && def.namespaced && !tail.is_empty())
    {
        return Err(ApiError::no_route());
    }
    let (name, sub) = match tail {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] if def.subresources.iter().any(|(s, _)| s == sub) => {
            (Some(name.to_string()), Some(sub.to_string()))
        }
        _ => return Err(ApiError::no_route()),
    };
    Ok(Route::Resource(Target {
        def,
        namespace,
        name,
        sub,
    }))
}

/// The single axum handler: every request lands here.
pub(crate) async fn serve(
    State(state): State<KubeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.lock().requests += 1;
    dispatch(&state, &method, &uri, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

fn dispatch(
    state: &KubeState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let params = Params(query);
    let route = route(uri.path())?;
    let Route::Resource(target) = route else {
        if method != Method::GET {
            return Err(ApiError::method_not_allowed());
        }
        return discovery(route, headers);
    };
    let verb = match (method.as_str(), target.name.is_some(), params.flag("watch")) {
        (_, _, true) => "watch",
        ("GET", true, _) => "get",
        ("GET", false, _) => "list",
        (other, _, _) => other,
    };
    if let Some(refusal) = state.refusal(target.def.plural, target.def.group, &verb.to_lowercase())
    {
        return Err(refusal);
    }
    let shape = Shape::from_headers(headers);
    let verb_ok = |verb: &str| match &target.sub {
        None => target.def.supports(verb),
        Some(sub) => target
            .def
            .subresources
            .iter()
            .any(|(s, verbs)| s == sub && verbs.contains(&verb)),
    };
    let watching = params.flag("watch");
    match (method.clone(), target.name.as_deref()) {
        (Method::GET, _) if watching && verb_ok("watch") => {
            let mut filter = Filter::parse(
                target.def.kind,
                target.namespace.as_deref(),
                params.get("fieldSelector"),
                params.get("labelSelector"),
            )?;
            if let Some(name) = &target.name {
                filter = filter.with_name(name);
            }
            let request = watch::WatchRequest::parse(target.def, filter, &params, shape)?;
            Ok(watch::respond(state, request))
        }
        (Method::GET, Some(name)) if verb_ok("get") => {
            let inner = state.lock();
            let obj = inner
                .store
                .get(&target.key(name))
                .ok_or_else(|| ApiError::not_found(target.def, name))?;
            Ok(Json(shape.present(target.def, obj, false)).into_response())
        }
        (Method::GET, None) if verb_ok("list") => {
            if params.get("continue").is_some() && state.take_expired_continue() {
                return Err(expired_continue());
            }
            let inner = state.lock();
            Ok(Json(list(&inner.store, &target, &params, shape)?).into_response())
        }
        // A namespaced kind is created in a namespace, never cluster-wide.
        (Method::POST, None)
            if verb_ok("create") && target.def.namespaced == target.namespace.is_some() =>
        {
            let (code, obj) = writes::create(state, &target, &params, headers, body, uri)?;
            Ok((code, Json(obj)).into_response())
        }
        (Method::PATCH, Some(name)) if verb_ok("patch") => {
            let obj = writes::patch(state, &target, name, &params, headers, body, uri)?;
            Ok(Json(obj).into_response())
        }
        (Method::PUT, Some(name)) if verb_ok("update") => {
            let obj = replace::update(state, &target, name, &params, headers, body, uri)?;
            Ok(Json(obj).into_response())
        }
        (Method::DELETE, Some(name)) if verb_ok("delete") => {
            let status = replace::delete(state, &target, name, &params, headers, body, uri)?;
            Ok(Json(status).into_response())
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn discovery(route: Route, headers: &HeaderMap) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let aggregated = |core: bool| {
        let mut resp = Json(resources::aggregated(core)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(resources::AGGREGATED_CONTENT_TYPE),
        );
        resp
    };
    let doc = match route {
        Route::Version => resources::version_info(),
        Route::CoreVersions if resources::wants_aggregated(accept) => return Ok(aggregated(true)),
        Route::CoreVersions => resources::api_versions(),
        Route::Groups if resources::wants_aggregated(accept) => return Ok(aggregated(false)),
        Route::Groups => resources::api_group_list(),
        Route::Group(g) => resources::api_group(&g).ok_or_else(ApiError::no_route)?,
        Route::Resources(g, v) => {
            resources::resource_list(&g, &v).ok_or_else(ApiError::no_route)?
        }
        Route::Resource(_) => return Err(ApiError::no_route()),
    };
    Ok(Json(doc).into_response())
}

fn encode_continue(rv: u64, key: &ObjKey) -> String {
    format!("{rv}\n{}\n{}", key.namespace, key.name)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.splitn(3, '\n');
    let rv = parts.next()?.parse().ok()?;
    Some((rv, parts.next()?.to_string(), parts.next()?.to_string()))
}

fn parse_rv(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {text}")))
}

/// A list response, following the resourceVersion / resourceVersionMatch /
/// limit / continue rules of the real server.
/// The server's answer to a continue token older than etcd's compaction.
fn expired_continue() -> ApiError {
    ApiError::gone(
        "The provided continue parameter is too old to display a consistent list result. \
         You can start a new list without the continue parameter.",
    )
}

fn list(store: &Store, target: &Target, params: &Params, shape: Shape) -> Result<Value, ApiError> {
    let def = target.def;
    let filter = Filter::parse(
        def.kind,
        target.namespace.as_deref(),
        params.get("fieldSelector"),
        params.get("labelSelector"),
    )?;
    let rv = params.get("resourceVersion");
    let rv_match = params.get("resourceVersionMatch");
    let limit = match params.get("limit") {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        ),
        None => None,
    }
    .filter(|l| *l > 0);
    let (at, after) = if let Some(token) = params.get("continue") {
        if rv.is_some() {
            return Err(ApiError::invalid_options(
                "ListOptions",
                "resourceVersion: Forbidden: specifying resource version is not allowed when using continue",
            ));
        }
        let (at, ns, name) = decode_continue(token).ok_or_else(|| {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion",
            )
        })?;
        (at, Some(ObjKey::new(def.kind, &ns, &name)))
    } else {
        let at = match (rv, rv_match) {
            (None, Some(_)) => {
                return Err(ApiError::invalid_options(
                    "ListOptions",
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                ))
            }
            (_, Some(m)) if m != "Exact" && m != "NotOlderThan" => {
                return Err(ApiError::invalid_options(
                    "ListOptions",
                    format!("resourceVersionMatch: Unsupported value: \"{m}\": supported values: \"Exact\", \"NotOlderThan\""),
                ))
            }
            (Some("0"), Some("Exact")) => {
                return Err(ApiError::invalid_options(
                    "ListOptions",
                    "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ))
            }
            (Some(v), Some("Exact")) => parse_rv(v)?,
            (Some(v), _) => {
                let wanted = parse_rv(v)?;
                if wanted > store.rv() {
                    return Err(ApiError::too_large(wanted, store.rv()));
                }
                store.rv()
            }
            (None, None) => store.rv(),
        };
        (at, None)
    };
    // The watch cache serves resourceVersion=0 lists whole.
    let limit = limit.filter(|_| !(rv == Some("0") && after.is_none()));
    let page = store
        .page(
            def.kind,
            at,
            after.as_ref(),
            limit,
            limit.is_some() && !filter.has_selectors(),
            |v| filter.matches(v),
        )
        .map_err(|e| {
            if after.is_some() && e.code == 410 {
                expired_continue()
            } else {
                e
            }
        })?;
    let mut metadata = json!({"resourceVersion": at.to_string()});
    if page.remaining > 0 {
        if let Some((last, _)) = page.items.last() {
            metadata["continue"] = json!(encode_continue(at, last));
        }
        if !filter.has_selectors() {
            metadata["remainingItemCount"] = json!(page.remaining);
        }
    }
    let page = page.items;
    let items: Vec<Value> = page
        .into_iter()
        .map(|(_, v)| shape.present_owned(def, v, true))
        .collect();
    let (api_version, kind) = match shape {
        Shape::Metadata => (
            "meta.k8s.io/v1".to_string(),
            "PartialObjectMetadataList".to_string(),
        ),
        Shape::Full => (def.api_version(), format!("{}List", def.kind_name)),
    };
    Ok(json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}))
}
