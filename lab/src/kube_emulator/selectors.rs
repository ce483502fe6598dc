//! Field selectors, with the real server's rules: only the field labels each
//! resource indexes are accepted (anything else is a 400 `field label not
//! supported`), missing fields select as "". Label selectors are in
//! [`super::labels`].
//!
//! A [`Filter`] also carries the namespace of a namespaced request path, so
//! lists, watches and watch-event conversion all share one matcher.

use serde_json::Value;

use super::labels::LabelSelector;
use super::resources::Kind;
use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
struct FieldReq {
    field: String,
    equal: bool,
    value: String,
}

/// What a list or watch request selects.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    kind: Kind,
    namespace: Option<String>,
    fields: Vec<FieldReq>,
    labels: LabelSelector,
}

impl Filter {
    pub(crate) fn parse(
        kind: Kind,
        namespace: Option<&str>,
        fields: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Self, ApiError> {
        let fields = match fields {
            Some(text) => parse_fields(kind, text)?,
            None => Vec::new(),
        };
        let labels = match labels {
            Some(text) => LabelSelector::parse(text)?,
            None => LabelSelector::default(),
        };
        Ok(Filter {
            kind,
            namespace: namespace.map(str::to_string),
            fields,
            labels,
        })
    }

    /// Restrict to one name (the deprecated watch-by-name URL form).
    pub(crate) fn with_name(mut self, name: &str) -> Self {
        self.fields.push(FieldReq {
            field: "metadata.name".into(),
            equal: true,
            value: name.into(),
        });
        self
    }

    /// Whether selectors narrow the result (the server then omits
    /// `remainingItemCount`, which it cannot compute cheaply).
    pub(crate) fn has_selectors(&self) -> bool {
        !self.fields.is_empty() || !self.labels.is_empty()
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let meta = obj.get("metadata");
        if let Some(ns) = &self.namespace {
            if meta
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                != Some(ns)
            {
                return false;
            }
        }
        let fields_ok = self.fields.iter().all(|r| {
            let actual = field_value(self.kind, obj, &r.field).unwrap_or_default();
            (actual == r.value) == r.equal
        });
        fields_ok && self.labels.matches(obj)
    }
}

fn text_at(obj: &Value, path: &[&str]) -> String {
    let mut cur = obj;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The value of a field label, or None when the resource does not index it.
/// Missing fields select as "" (and booleans as "false"), as on the server.
fn field_value(kind: Kind, obj: &Value, label: &str) -> Option<String> {
    let path: Vec<&str> = label.split('.').collect();
    let supported = match label {
        "metadata.name" | "metadata.namespace" => true,
        _ => match kind {
            Kind::Pod => matches!(
                label,
                "spec.nodeName"
                    | "spec.restartPolicy"
                    | "spec.schedulerName"
                    | "spec.serviceAccountName"
                    | "spec.hostNetwork"
                    | "status.phase"
                    | "status.podIP"
                    | "status.nominatedNodeName"
            ),
            Kind::Node => label == "spec.unschedulable",
            Kind::CoreEvent => {
                label.starts_with("involvedObject.")
                    || matches!(label, "reason" | "reportingComponent" | "source" | "type")
            }
            Kind::Event => {
                label.starts_with("regarding.")
                    || matches!(label, "reason" | "reportingController" | "type")
            }
            Kind::EniConfig | Kind::ConfigMap | Kind::NodeClass => false,
        },
    };
    if !supported {
        return None;
    }
    let value = match label {
        "spec.hostNetwork" | "spec.unschedulable" => {
            let v = text_at(obj, &path);
            if v.is_empty() {
                "false".to_string()
            } else {
                v
            }
        }
        "source" => text_at(obj, &["source", "component"]),
        _ => text_at(obj, &path),
    };
    Some(value)
}

/// Split on separators not escaped with a backslash, unescaping as we go.
fn split_escaped(text: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if let Some(s) = out.last_mut() {
                        s.push(next);
                    }
                }
            }
            c if c == sep => out.push(String::new()),
            c => {
                if let Some(s) = out.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    out
}

fn parse_fields(kind: Kind, text: &str) -> Result<Vec<FieldReq>, ApiError> {
    let mut reqs = Vec::new();
    for term in split_escaped(text, ',') {
        if term.trim().is_empty() {
            continue;
        }
        let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
            (f, false, v)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, true, v)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, true, v)
        } else {
            return Err(ApiError::bad_request(format!(
                "invalid selector: '{text}'; can't understand '{term}'"
            )));
        };
        let field = field.trim();
        if field_value(kind, &Value::Null, field).is_none() {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {field}"
            )));
        }
        reqs.push(FieldReq {
            field: field.to_string(),
            equal,
            value: value.trim().to_string(),
        });
    }
    Ok(reqs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "3"}},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running"},
        })
    }

    #[test]
    fn field_selectors_follow_server_rules() {
        let f = |fields: &str| {
            Filter::parse(Kind::Pod, Some("ns"), Some(fields), None)
                .map(|f| f.matches(&pod()))
                .map_err(|e| e.message)
        };
        assert_eq!(f("spec.nodeName=n1,status.phase==Running"), Ok(true));
        assert_eq!(f("spec.nodeName!=n1"), Ok(false));
        assert_eq!(f("spec.hostNetwork=false"), Ok(true));
        assert_eq!(
            f("spec.foo=x"),
            Err("field label not supported: spec.foo".to_string())
        );
        let other_ns =
            Filter::parse(Kind::Pod, Some("other"), None, None).map(|f| f.matches(&pod()));
        assert_eq!(other_ns.ok(), Some(false));
        let eni = Filter::parse(Kind::EniConfig, None, Some("spec.subnet=x"), None);
        assert_eq!(eni.err().map(|e| e.code), Some(400));
        let both = Filter::parse(Kind::Pod, None, Some("spec.nodeName=n1"), Some("app=db"));
        assert_eq!(both.map(|f| f.matches(&pod())).ok(), Some(false));
    }
}
