//! Event rules: apimachinery's Event validation for both Event APIs, and
//! the names the server generates from `metadata.generateName`.

use serde_json::{json, Value};

use super::resources::{Kind, ResourceDef};
use super::status::ApiError;
use super::store::meta_str;

/// A random-looking but deterministic `generateName` suffix, from the
/// alphabet apimachinery uses (no vowels, no look-alikes).
pub(crate) fn name_suffix(n: u64) -> String {
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

pub(crate) fn valid_subdomain(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| ok(c) || c == '-' || c == '.')
        && name.chars().next().is_some_and(ok)
        && name.chars().last().is_some_and(ok)
}

fn text<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get(field).and_then(Value::as_str).unwrap_or("")
}

/// apimachinery's Event validation (`ValidateEventCreate`/`Update`): the
/// legacy rules for both APIs plus the strict ones for `events.k8s.io/v1`.
pub(crate) fn validate_event(
    def: &ResourceDef,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let v1 = def.kind == Kind::Event;
    let (regarding, note, controller) = if v1 {
        ("regarding", "note", "reportingController")
    } else {
        ("involvedObject", "message", "reportingComponent")
    };
    let mut causes: Vec<(String, String)> = Vec::new();
    // The server validates its internal Event, so causes name the internal
    // fields whichever API was used: `involvedObject`, `reportingController`,
    // `message`, `firstTimestamp` ...
    let internal = |field: &str| -> String {
        match field {
            "regarding" => "involvedObject",
            "note" => "message",
            "reportingComponent" => "reportingController",
            "deprecatedFirstTimestamp" => "firstTimestamp",
            "deprecatedLastTimestamp" => "lastTimestamp",
            "deprecatedCount" => "count",
            "deprecatedSource" => "source",
            other => other,
        }
        .to_string()
    };
    let mut cause = |field: &str, msg: String| {
        let path = match field.split_once('.') {
            Some((head, tail)) => format!("{}.{tail}", internal(head)),
            None => internal(field),
        };
        causes.push((path, msg));
    };
    let event_ns = meta_str(obj, "namespace").unwrap_or("");
    let object_ns = obj
        .get(regarding)
        .map(|r| text(r, "namespace"))
        .unwrap_or("");
    let mismatch = format!("Invalid value: \"{object_ns}\": does not match event.namespace");
    let has_time = obj.get("eventTime").is_some_and(|t| !t.is_null());
    if !has_time {
        let ok = if object_ns.is_empty() {
            event_ns.is_empty() || event_ns == "default"
        } else {
            event_ns == object_ns
        };
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
        for (field, limit) in [
            (controller, 0),
            ("reportingInstance", 128),
            ("action", 128),
            ("reason", 128),
        ] {
            let value = text(obj, field);
            if value.is_empty() {
                cause(field, "Required value".into());
            } else if limit > 0 && value.len() > limit {
                cause(
                    field,
                    format!("Invalid value: \"\": can have at most {limit} characters"),
                );
            }
        }
        if text(obj, note).len() > 1024 {
            cause(
                note,
                "Invalid value: \"\": can have at most 1024 characters".into(),
            );
        }
    }
    if v1 {
        let kind = text(obj, "type");
        if kind != "Normal" && kind != "Warning" {
            cause(
                "type",
                format!("Invalid value: \"\": has invalid value: {kind}"),
            );
        }
        for field in [
            "deprecatedFirstTimestamp",
            "deprecatedLastTimestamp",
            "deprecatedCount",
            "deprecatedSource",
        ] {
            let set = obj
                .get(field)
                .is_some_and(|v| !v.is_null() && *v != json!({}) && *v != json!(0));
            if set {
                cause(field, "Invalid value: \"\": needs to be unset".into());
            }
        }
        if let Some(series) = obj.get("series").filter(|s| !s.is_null()) {
            if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
                cause(
                    "series.count",
                    "Invalid value: \"\": should be at least 2".into(),
                );
            }
            if series.get("lastObservedTime").is_none_or(Value::is_null) {
                cause("series.lastObservedTime", "Required value".into());
            }
        }
        if let Some(old) = old {
            let immutable = [
                regarding,
                "reason",
                note,
                "type",
                "eventTime",
                "action",
                "related",
            ];
            for field in immutable
                .into_iter()
                .chain([controller, "reportingInstance"])
            {
                if obj.get(field) != old.get(field) {
                    cause(field, "Invalid value: \"\": field is immutable".into());
                }
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            def,
            meta_str(obj, "name").unwrap_or(""),
            &causes,
        ))
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
        assert!(err.map(|e| e.message).unwrap_or_default().contains(
            "involvedObject.namespace: Invalid value: \"\": does not match event.namespace"
        ));
        // A cluster-scoped object's events.k8s.io/v1 events go to default or
        // kube-system (eventTime set); legacy ones (no eventTime) to "" or default.
        let mut system = good.clone();
        system["metadata"]["namespace"] = json!("kube-system");
        assert!(validate_event(def, &system, None).is_ok());
        let legacy = json!({"metadata": {"name": "e", "namespace": "kube-system"},
                            "involvedObject": {"kind": "Node", "name": "n"}, "reason": "X"});
        let err = validate_event(Kind::CoreEvent.def(), &legacy, None).err();
        assert_eq!(err.map(|e| e.code), Some(422));
        // With eventTime, a namespaced object's namespace is not compared.
        let mut pod = good.clone();
        pod["regarding"] = json!({"kind": "Pod", "name": "p", "namespace": "other"});
        assert!(validate_event(def, &pod, None).is_ok());
        let mut no_time = good.clone();
        no_time["eventTime"] = Value::Null;
        assert!(validate_event(def, &no_time, None).is_err());
        let mut changed_note = good.clone();
        changed_note["note"] = json!("different");
        assert!(
            validate_event(def, &changed_note, Some(&good)).is_err(),
            "note is immutable"
        );
        // The legacy core API is lenient: no eventTime needed.
        let core = json!({"metadata": {"name": "e", "namespace": "default"},
                          "involvedObject": {"kind": "Node", "name": "n"}, "reason": "X"});
        assert!(validate_event(Kind::CoreEvent.def(), &core, None).is_ok());
    }
}
