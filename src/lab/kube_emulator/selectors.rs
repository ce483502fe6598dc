//! Field and label selectors, with the real server's rules: only the field
//! labels each resource indexes are accepted (anything else is a 400
//! `field label not supported`), and label selectors follow
//! apimachinery's grammar (equality, inequality, existence, set-based and
//! the numeric `<`/`>` operators).
//!
//! A [`Filter`] also carries the namespace of a namespaced request path, so
//! lists, watches and watch-event conversion all share one matcher.

use serde_json::Value;

use super::resources::Kind;
use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
struct FieldReq {
    field: String,
    equal: bool,
    value: String,
}

#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Gt(String, i64),
    Lt(String, i64),
}

/// What a list or watch request selects.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    kind: Kind,
    namespace: Option<String>,
    fields: Vec<FieldReq>,
    labels: Vec<LabelReq>,
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
            Some(text) => parse_labels(text)?,
            None => Vec::new(),
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
            if meta.and_then(|m| m.get("namespace")).and_then(Value::as_str) != Some(ns) {
                return false;
            }
        }
        let fields_ok = self.fields.iter().all(|r| {
            let actual = field_value(self.kind, obj, &r.field).unwrap_or_default();
            (actual == r.value) == r.equal
        });
        let labels = meta.and_then(|m| m.get("labels"));
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        fields_ok
            && self.labels.iter().all(|r| match r {
                LabelReq::Eq(k, v) => label(k) == Some(v),
                LabelReq::Ne(k, v) => label(k) != Some(v),
                LabelReq::Exists(k) => label(k).is_some(),
                LabelReq::NotExists(k) => label(k).is_none(),
                LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
                LabelReq::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
                LabelReq::Gt(k, n) => label(k).and_then(|l| l.parse::<i64>().ok()).is_some_and(|l| l > *n),
                LabelReq::Lt(k, n) => label(k).and_then(|l| l.parse::<i64>().ok()).is_some_and(|l| l < *n),
            })
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
            Kind::EniConfig => false,
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
                    out.last_mut().map(|s| s.push(next));
                }
            }
            c if c == sep => out.push(String::new()),
            c => {
                out.last_mut().map(|s| s.push(c));
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
            return Err(ApiError::bad_request(format!("field label not supported: {field}")));
        }
        reqs.push(FieldReq {
            field: field.to_string(),
            equal,
            value: value.trim().to_string(),
        });
    }
    Ok(reqs)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Op(&'static str),
}

fn lex(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        let two = |chars: &mut std::iter::Peekable<std::str::Chars>, second: char| {
            chars.next();
            if chars.peek() == Some(&second) {
                chars.next();
                true
            } else {
                false
            }
        };
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => toks.push(Tok::Op(if two(&mut chars, '=') { "==" } else { "=" })),
            '!' => toks.push(Tok::Op(if two(&mut chars, '=') { "!=" } else { "!" })),
            '(' | ')' | ',' | '<' | '>' => {
                chars.next();
                toks.push(Tok::Op(match c {
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    '<' => "<",
                    _ => ">",
                }));
            }
            _ => {
                let mut word = String::new();
                while let Some(&w) = chars.peek() {
                    if w.is_whitespace() || "=!(),<>".contains(w) {
                        break;
                    }
                    word.push(w);
                    chars.next();
                }
                toks.push(Tok::Word(word));
            }
        }
    }
    toks
}

fn valid_name(s: &str, max: usize) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    s.len() <= max
        && s.chars().all(ok_char)
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn valid_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
                && valid_name(name, 63)
        }
        None => valid_name(key, 63),
    }
}

fn valid_value(v: &str) -> bool {
    v.is_empty() || valid_name(v, 63)
}

fn parse_labels(text: &str) -> Result<Vec<LabelReq>, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("unable to parse requirement: {why}"));
    let toks = lex(text);
    let mut reqs = Vec::new();
    let mut i = 0;
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let key_at = |i: usize| {
        word(i)
            .filter(|k| valid_key(k))
            .ok_or_else(|| bad(format!("found '{}', expected: identifier", show(toks.get(i)))))
    };
    while i < toks.len() {
        if toks[i] == Tok::Op("!") {
            reqs.push(LabelReq::NotExists(key_at(i + 1)?));
            i += 2;
        } else {
            let key = key_at(i)?;
            i += 1;
            match toks.get(i) {
                None | Some(Tok::Op(",")) => reqs.push(LabelReq::Exists(key)),
                Some(Tok::Op(op @ ("=" | "==" | "!="))) => {
                    // `k=` (empty value) is valid and selects an empty label.
                    let value = word(i + 1).unwrap_or_default();
                    if !valid_value(&value) {
                        return Err(bad(format!("values[0][{key}]: Invalid value: \"{value}\"")));
                    }
                    i += if word(i + 1).is_some() { 2 } else { 1 };
                    reqs.push(if *op == "!=" { LabelReq::Ne(key, value) } else { LabelReq::Eq(key, value) });
                }
                Some(Tok::Op(op @ ("<" | ">"))) => {
                    let n = word(i + 1)
                        .and_then(|w| w.parse::<i64>().ok())
                        .ok_or_else(|| bad(format!("for '{op}' operator, the value must be an integer")))?;
                    i += 2;
                    reqs.push(if *op == "<" { LabelReq::Lt(key, n) } else { LabelReq::Gt(key, n) });
                }
                Some(Tok::Word(w)) if w == "in" || w == "notin" => {
                    let notin = w == "notin";
                    i += 1;
                    if toks.get(i) != Some(&Tok::Op("(")) {
                        return Err(bad(format!("found '{}', expected: '('", show(toks.get(i)))));
                    }
                    i += 1;
                    let mut values = Vec::new();
                    loop {
                        match toks.get(i) {
                            Some(Tok::Word(v)) if valid_value(v) => values.push(v.clone()),
                            Some(Tok::Op(",")) => {}
                            Some(Tok::Op(")")) => break,
                            other => return Err(bad(format!("found '{}', expected: ',' or ')'", show(other)))),
                        }
                        i += 1;
                    }
                    i += 1;
                    if values.is_empty() {
                        return Err(bad("for 'in', 'notin' operators, values set can't be empty".into()));
                    }
                    reqs.push(if notin { LabelReq::NotIn(key, values) } else { LabelReq::In(key, values) });
                }
                other => return Err(bad(format!("found '{}', expected: in, notin, =, ==, !=, gt, lt", show(other)))),
            }
        }
        match toks.get(i) {
            None => {}
            Some(Tok::Op(",")) => i += 1,
            other => return Err(bad(format!("found '{}', expected: ','", show(other)))),
        }
    }
    Ok(reqs)
}

fn show(tok: Option<&Tok>) -> String {
    match tok {
        Some(Tok::Word(w)) => w.clone(),
        Some(Tok::Op(o)) => (*o).to_string(),
        None => String::new(),
    }
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

    fn sel(labels: &str) -> Result<bool, u16> {
        Filter::parse(Kind::Pod, None, None, Some(labels))
            .map(|f| f.matches(&pod()))
            .map_err(|e| e.code)
    }

    #[test]
    fn label_selector_grammar() {
        assert_eq!(sel("app=web"), Ok(true));
        assert_eq!(sel("app==web,tier"), Ok(true));
        assert_eq!(sel("app!=web"), Ok(false));
        assert_eq!(sel("!app"), Ok(false));
        assert_eq!(sel("missing!=x, !missing"), Ok(true));
        assert_eq!(sel("app in (db, web)"), Ok(true));
        assert_eq!(sel("app notin (db,web)"), Ok(false));
        assert_eq!(sel("missing notin (a)"), Ok(true));
        assert_eq!(sel("tier>2,tier<4"), Ok(true));
        assert_eq!(sel(""), Ok(true));
        assert_eq!(sel("app in ()"), Err(400));
        assert_eq!(sel("app in (web"), Err(400));
        assert_eq!(sel("a b"), Err(400));
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
        assert_eq!(f("spec.foo=x"), Err("field label not supported: spec.foo".to_string()));
        let other_ns = Filter::parse(Kind::Pod, Some("other"), None, None).map(|f| f.matches(&pod()));
        assert_eq!(other_ns.ok(), Some(false));
        let eni = Filter::parse(Kind::EniConfig, None, Some("spec.subnet=x"), None);
        assert_eq!(eni.err().map(|e| e.code), Some(400));
    }
}
