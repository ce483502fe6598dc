//! JSON patch (RFC 6902) with JSON pointers (RFC 6901): add, remove,
//! replace, move, copy and test. Operations apply in order to the caller's
//! copy, so a failing operation leaves the stored object untouched.

use serde_json::Value;

use super::patch::PatchError;

/// RFC 6901 pointer → unescaped reference tokens.
fn pointer(p: &str) -> Result<Vec<String>, PatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(PatchError::Malformed(format!("invalid JSON pointer: {p}")));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn resolve<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |cur, t| match cur {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn missing(path: &str) -> PatchError {
    PatchError::Failed(format!("jsonpatch: path {path} does not exist"))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    let tokens = pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match resolve(doc, parent).ok_or_else(|| missing(path))? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) if last == "-" => a.push(value),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i <= a.len() => a.insert(i, value),
            _ => {
                return Err(PatchError::Failed(format!(
                    "jsonpatch: index out of range in {path}"
                )))
            }
        },
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let tokens = pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        return Ok(std::mem::take(doc));
    };
    match resolve(doc, parent).ok_or_else(|| missing(path))? {
        Value::Object(m) => m.remove(last).ok_or_else(|| missing(path)),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing(path)),
        },
        _ => Err(missing(path)),
    }
}

pub(crate) fn apply(doc: &mut Value, ops: &Value) -> Result<(), PatchError> {
    let Some(ops) = ops.as_array() else {
        return Err(PatchError::Malformed(
            "json patch must be a JSON array of operations".into(),
        ));
    };
    for op in ops {
        let text = |field: &str| {
            op.get(field)
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError::Malformed(format!("operation {op} lacks '{field}'")))
        };
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| PatchError::Malformed(format!("operation {op} lacks 'value'")))
        };
        let path = text("path")?;
        match text("op")? {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                let slot = resolve(doc, &pointer(path)?).ok_or_else(|| missing(path))?;
                *slot = value()?;
            }
            "move" => {
                let moved = remove(doc, text("from")?)?;
                add(doc, path, moved)?;
            }
            "copy" => {
                let from = text("from")?;
                let copied = resolve(doc, &pointer(from)?)
                    .ok_or_else(|| missing(from))?
                    .clone();
                add(doc, path, copied)?;
            }
            "test" => {
                let actual = resolve(doc, &pointer(path)?).ok_or_else(|| missing(path))?;
                if *actual != value()? {
                    return Err(PatchError::Failed(format!("testing value {path} failed")));
                }
            }
            other => {
                return Err(PatchError::Malformed(format!(
                    "unexpected kind of operation: {other}"
                )))
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
        json!({"metadata": {"name": "n"}, "status": {
            "conditions": [{"type": "Ready", "status": "True"}], "capacity": {"pods": "17"}}})
    }

    fn run(ops: Value) -> Result<Value, PatchError> {
        let mut doc = node();
        apply(&mut doc, &ops).map(|_| doc)
    }

    #[test]
    fn json_patch_ops() {
        let ops = json!([
            {"op": "test", "path": "/metadata/name", "value": "n"},
            {"op": "add", "path": "/metadata/labels", "value": {"a/b": "1"}},
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "2"},
            {"op": "add", "path": "/status/conditions/-", "value": {"type": "X"}},
            {"op": "remove", "path": "/status/conditions/0"},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/generateName"},
            {"op": "move", "from": "/status/capacity", "path": "/status/allocatable"},
        ]);
        let out = run(ops).unwrap();
        assert_eq!(out["metadata"]["labels"]["a/b"], "2");
        assert_eq!(out["status"]["conditions"], json!([{"type": "X"}]));
        assert!(out["status"].get("capacity").is_none());
        assert_eq!(out["metadata"]["generateName"], "n");
        assert_eq!(out["status"]["allocatable"]["pods"], "17");
        let failing = json!([{"op": "remove", "path": "/nope"}]);
        assert!(matches!(run(failing), Err(PatchError::Failed(_))));
        let test_fails = json!([{"op": "test", "path": "/metadata/name", "value": "m"}]);
        assert!(run(test_fails).is_err());
    }
}
