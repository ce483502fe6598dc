//! The four PATCH flavours the API server accepts, applied to JSON objects:
//!
//! - JSON merge patch (RFC 7386): objects merge, `null` deletes, lists are replaced.
//! - Strategic merge patch: like merge, but lists with a `patchMergeKey` in
//!   the Kubernetes types (`status.conditions` by `type`, ...) merge element
//!   by element, and the `$patch`, `$retainKeys`,
//!   `$deleteFromPrimitiveList/…` and `$setElementOrder/…` directives work.
//! - JSON patch (RFC 6902): add, remove, replace, move, copy, test.
//! - Server-side apply: the body (JSON or YAML) is applied like a strategic
//!   merge; field ownership and the removal of fields a manager stopped
//!   applying are not emulated (see the module docs of the emulator).

use serde_json::{Map, Value};

use super::json_patch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub(crate) fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PatchError {
    /// The body is not a patch of this type at all (400).
    #[error("{0}")]
    Malformed(String),
    /// The patch is well-formed but cannot apply to this object (422).
    #[error("{0}")]
    Failed(String),
    /// A list element lacks its merge key; the server reports this as a 500.
    #[error("{0}")]
    MergeKey(String),
}

/// Parse a patch body. Apply bodies may be YAML (kubectl sends YAML).
pub(crate) fn parse_body(kind: PatchType, body: &[u8]) -> Result<Value, PatchError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if kind == PatchType::Apply => serde_norway::from_slice::<Value>(body)
            .map_err(|y| PatchError::Malformed(format!("error decoding YAML: {y} (as JSON: {e})"))),
        Err(e) => Err(PatchError::Malformed(format!("error decoding patch: {e}"))),
    }
}

/// Apply `patch` to a copy of `target`.
pub(crate) fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let mut out = target.clone();
    match kind {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(PatchError::Malformed(
                    "merge patch must be a JSON object".into(),
                ));
            }
            merge(&mut out, patch);
        }
        PatchType::Strategic | PatchType::Apply => {
            let Some(p) = patch.as_object() else {
                return Err(PatchError::Malformed(
                    "strategic merge patch must be a JSON object".into(),
                ));
            };
            let Some(t) = out.as_object_mut() else {
                return Err(PatchError::Failed("target is not an object".into()));
            };
            strategic_map(t, p, &mut Vec::new())?;
        }
        PatchType::Json => json_patch::apply(&mut out, patch)?,
    }
    Ok(out)
}

/// RFC 7386.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

enum ListStrategy {
    Replace,
    MergeByKey(&'static str),
    MergePrimitives,
}

/// `patchStrategy`/`patchMergeKey` of the lists on the objects the emulator
/// serves (from the Kubernetes Go types). Paths skip list indices.
fn list_strategy(path: &[String]) -> ListStrategy {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match path.as_slice() {
        ["status", "conditions"] | ["status", "addresses"] => ListStrategy::MergeByKey("type"),
        ["metadata", "ownerReferences"] => ListStrategy::MergeByKey("uid"),
        ["metadata", "finalizers"] | ["spec", "podCIDRs"] => ListStrategy::MergePrimitives,
        ["spec", "taints"] => ListStrategy::MergeByKey("key"),
        ["status", "volumesAttached"] => ListStrategy::MergeByKey("name"),
        ["spec", "containers" | "initContainers" | "ephemeralContainers" | "volumes"] => {
            ListStrategy::MergeByKey("name")
        }
        ["spec", "containers" | "initContainers", "env" | "volumeMounts"] => {
            ListStrategy::MergeByKey(if path[2] == "env" {
                "name"
            } else {
                "mountPath"
            })
        }
        ["spec", "containers" | "initContainers", "ports"] => {
            ListStrategy::MergeByKey("containerPort")
        }
        _ => ListStrategy::Replace,
    }
}

fn directive(v: &Value) -> Option<&str> {
    v.get("$patch").and_then(Value::as_str)
}

/// A patch value as it lands where the target had nothing: directives gone.
fn fresh(v: &Value, path: &mut Vec<String>) -> Result<Value, PatchError> {
    match v {
        Value::Object(p) => {
            let mut m = Map::new();
            strategic_map(&mut m, p, path)?;
            Ok(Value::Object(m))
        }
        Value::Array(items) => {
            let mut list = Vec::new();
            strategic_list(&mut list, items, path)?;
            Ok(Value::Array(list))
        }
        other => Ok(other.clone()),
    }
}

fn strategic_map(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
) -> Result<(), PatchError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            target.clear();
            let rest: Map<String, Value> = patch
                .iter()
                .filter(|(k, _)| *k != "$patch")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            return strategic_map(target, &rest, path);
        }
        Some("delete") => {
            target.clear();
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::Malformed(format!(
                "unknown patch type: {other}"
            )))
        }
    }
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (target.get_mut(field), v.as_array())
            {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        // `$setElementOrder/…` only reorders; `$retainKeys` is handled below.
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() || directive(v) == Some("delete") {
            target.remove(k);
            continue;
        }
        path.push(k.clone());
        let merged = match (target.get_mut(k), v) {
            (Some(Value::Object(t)), Value::Object(p)) => strategic_map(t, p, path).map(|_| None),
            (Some(Value::Array(t)), Value::Array(p)) => strategic_list(t, p, path).map(|_| None),
            _ => fresh(v, path).map(Some),
        };
        path.pop();
        if let Some(value) = merged? {
            target.insert(k.clone(), value);
        }
    }
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        target.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    Ok(())
}

fn strategic_list(
    target: &mut Vec<Value>,
    patch: &[Value],
    path: &mut Vec<String>,
) -> Result<(), PatchError> {
    if patch.iter().any(|el| directive(el) == Some("replace")) {
        target.clear();
        for el in patch.iter().filter(|el| directive(el) != Some("replace")) {
            target.push(fresh(el, path)?);
        }
        return Ok(());
    }
    match list_strategy(path) {
        ListStrategy::Replace => {
            target.clear();
            for el in patch {
                target.push(fresh(el, path)?);
            }
        }
        ListStrategy::MergePrimitives => {
            for el in patch {
                if !target.contains(el) {
                    target.push(el.clone());
                }
            }
        }
        ListStrategy::MergeByKey(key) => {
            for el in patch {
                let Some(obj) = el.as_object() else {
                    return Err(PatchError::MergeKey(format!(
                        "{el} is not a map, but its list has merge key {key}"
                    )));
                };
                let Some(id) = obj.get(key) else {
                    return Err(PatchError::MergeKey(format!(
                        "map: {el} does not contain declared merge key: {key}"
                    )));
                };
                if directive(el) == Some("delete") {
                    target.retain(|t| t.get(key) != Some(id));
                    continue;
                }
                match target.iter_mut().find(|t| t.get(key) == Some(id)) {
                    Some(Value::Object(existing)) => strategic_map(existing, obj, path)?,
                    _ => target.push(fresh(el, path)?),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> Value {
        json!({"metadata": {"name": "n", "finalizers": ["a"]}, "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}],
            "capacity": {"pods": "17"}}})
    }

    #[test]
    fn strategic_merges_conditions_by_type_and_merge_replaces_them() {
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "eniwatch/Ok", "status": "True"}]}});
        let out = apply(PatchType::Strategic, &node(), &patch).unwrap();
        let types: Vec<(&str, &str)> = out["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            vec![
                ("Ready", "False"),
                ("DiskPressure", "False"),
                ("eniwatch/Ok", "True")
            ]
        );

        let out = apply(PatchType::Merge, &node(), &patch).unwrap();
        assert_eq!(
            out["status"]["conditions"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            out["status"]["capacity"]["pods"], "17",
            "merge keeps siblings"
        );
    }

    #[test]
    fn strategic_directives() {
        let patch = json!({
            "metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
            "status": {"conditions": [{"type": "DiskPressure", "$patch": "delete"}],
                       "$setElementOrder/conditions": [{"type": "Ready"}], "capacity": null}});
        let out = apply(PatchType::Strategic, &node(), &patch).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}])
        );
        assert!(out["status"].get("capacity").is_none());
        assert!(out["status"].get("$setElementOrder/conditions").is_none());
        let bad = apply(
            PatchType::Strategic,
            &node(),
            &json!({"status": {"conditions": [{"status": "x"}]}}),
        );
        assert!(matches!(bad, Err(PatchError::MergeKey(_))));
    }

    #[test]
    fn merge_patch_rfc7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        assert_eq!(
            parse_body(PatchType::Apply, b"a: 1\n").ok(),
            Some(json!({"a": 1}))
        );
        assert!(parse_body(PatchType::Merge, b"a: 1").is_err());
    }
}
