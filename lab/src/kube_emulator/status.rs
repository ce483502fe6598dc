//! Failures as the real API server reports them: a `Status` object whose
//! `code` matches the HTTP status, with `reason` and `details` shaped like
//! apimachinery's `StatusError`s, because clients (kube-rs included) branch
//! on `code` and `reason`, not on message text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::resources::ResourceDef;

/// The `field.ErrorType`s the emulator reports, as `StatusCause` reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CauseType {
    Invalid,
    Forbidden,
    TooLong,
}

impl CauseType {
    fn reason(self) -> &'static str {
        match self {
            CauseType::Invalid => "FieldValueInvalid",
            CauseType::Forbidden => "FieldValueForbidden",
            CauseType::TooLong => "FieldValueTooLong",
        }
    }
}

/// One field error: its path (`data[k]`, `[]` for the whole object) and
/// its message as `field.Error.ErrorBody` words it (`Invalid value: ...`).
#[derive(Debug, Clone)]
pub(crate) struct Cause {
    pub kind: CauseType,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub(crate) fn new(kind: CauseType, field: &str, message: impl Into<String>) -> Self {
        Cause {
            kind,
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// One failed API request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn named(def: &ResourceDef, name: &str) -> Value {
        let mut d = json!({"name": name, "kind": def.plural});
        if !def.group.is_empty() {
            d["group"] = json!(def.group);
        }
        d
    }

    pub(crate) fn not_found(def: &ResourceDef, name: &str) -> Self {
        let msg = format!("{} \"{name}\" not found", def.group_resource());
        Self::new(404, "NotFound", msg).with_details(Self::named(def, name))
    }

    /// What the server says when RBAC allows no rule for the request.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message).with_details(json!({}))
    }

    /// What the server says for a path no handler serves.
    pub(crate) fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub(crate) fn already_exists(def: &ResourceDef, name: &str) -> Self {
        let msg = format!("{} \"{name}\" already exists", def.group_resource());
        Self::new(409, "AlreadyExists", msg).with_details(Self::named(def, name))
    }

    pub(crate) fn conflict(def: &ResourceDef, name: &str) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            def.group_resource()
        );
        Self::new(409, "Conflict", msg).with_details(Self::named(def, name))
    }

    /// 409 for a failed uid or resourceVersion precondition.
    pub(crate) fn precondition_failed(def: &ResourceDef, name: &str, detail: &str) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {detail}",
            def.group_resource()
        );
        Self::new(409, "Conflict", msg).with_details(Self::named(def, name))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 422 with field causes, e.g. `[("eventTime", "Required value")]`,
    /// all of cause type `FieldValueInvalid`.
    pub(crate) fn invalid(def: &ResourceDef, name: &str, causes: &[(String, String)]) -> Self {
        let typed: Vec<Cause> = causes
            .iter()
            .map(|(f, m)| Cause::new(CauseType::Invalid, f, m.clone()))
            .collect();
        Self::invalid_typed(def, name, &typed)
    }

    /// 422 with causes of their own type: what `StatusError` makes of a
    /// `field.ErrorList` (`NewInvalid`).
    pub(crate) fn invalid_typed(def: &ResourceDef, name: &str, causes: &[Cause]) -> Self {
        let listed: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if listed.len() == 1 {
            listed.join("")
        } else {
            format!("[{}]", listed.join(", "))
        };
        let qualified = if def.group.is_empty() {
            def.kind_name.to_string()
        } else {
            format!("{}.{}", def.kind_name, def.group)
        };
        let msg = format!("{qualified} \"{name}\" is invalid: {joined}");
        let mut details = Self::named(def, name);
        details["kind"] = json!(def.kind_name);
        details["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.kind.reason(), "message": c.message, "field": c.field}))
            .collect();
        Self::new(422, "Invalid", msg).with_details(details)
    }

    /// Invalid query options (ListOptions, PatchOptions ...), also 422.
    pub(crate) fn invalid_options(what: &str, message: impl Into<String>) -> Self {
        let msg = format!("{what}.meta.k8s.io \"\" is invalid: {}", message.into());
        Self::new(422, "Invalid", msg)
    }

    /// A well-formed request the server cannot carry out on this object.
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub(crate) fn too_old(requested: u64, oldest: u64) -> Self {
        Self::gone(format!("too old resource version: {requested} ({oldest})"))
    }

    pub(crate) fn too_large(requested: u64, current: u64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {requested}, current: {current}"),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1
        }))
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, \
                 application/strategic-merge-patch+json"
            ),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// The `Status` object, as the body of an error response or the object
    /// of a watch `ERROR` event.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.to_status())).into_response()
    }
}
