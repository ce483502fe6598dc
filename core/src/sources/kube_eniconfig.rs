//! An ENIConfig's `spec`, read without judging: the valid subnet and groups,
//! and a plain-words record of what is malformed (the checks raise
//! `ENIConfigInvalid` from it). The VPC CNI fails silently on a malformed
//! ENIConfig, so "ignore the bad field" would hide exactly what breaks nodes.

use serde_json::Value;

use crate::model::{EniConfig, SecurityGroupId};

/// The JSON type of a value, for problem texts.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn quoted(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    format!("{cut:?}")
}

/// Reads an ENIConfig's `spec` without judging it: the valid subnet and
/// groups, and what was malformed (`EniConfig::problems`), so that one bad
/// field neither hides the ENIConfig nor passes for "no groups".
pub fn eniconfig_from_spec(name: String, spec: Option<&Value>) -> EniConfig {
    let mut problems = Vec::new();
    let spec = match spec {
        Some(Value::Object(m)) => Some(m),
        None | Some(Value::Null) => {
            problems.push("spec is missing".to_string());
            None
        }
        Some(other) => {
            problems.push(format!("spec is {}, not a map", json_kind(other)));
            None
        }
    };
    let subnet = match spec.map(|m| m.get("subnet")) {
        None => None,
        Some(None) | Some(Some(Value::Null)) => {
            problems.push("spec.subnet is missing".to_string());
            None
        }
        Some(Some(Value::String(text))) => match text.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                problems.push(format!(
                    "spec.subnet {} is not a subnet id (subnet-...)",
                    quoted(text)
                ));
                None
            }
        },
        Some(Some(other)) => {
            problems.push(format!(
                "spec.subnet is {}, not a subnet id",
                json_kind(other)
            ));
            None
        }
    };
    let security_groups = match spec.and_then(|m| m.get("securityGroups")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => security_groups(items, &mut problems),
        Some(other) => {
            problems.push(format!(
                "spec.securityGroups is {}, not a list of sg-... ids",
                json_kind(other)
            ));
            Vec::new()
        }
    };
    EniConfig {
        name,
        subnet,
        security_groups,
        problems,
    }
}

fn security_groups(items: &[Value], problems: &mut Vec<String>) -> Vec<SecurityGroupId> {
    let mut groups = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(text) => match text.parse() {
                Ok(id) => groups.push(id),
                Err(_) => problems.push(format!(
                    "spec.securityGroups[{i}] {} is not a security group id (sg-...)",
                    quoted(text)
                )),
            },
            other => problems.push(format!(
                "spec.securityGroups[{i}] is {}, not a security group id",
                json_kind(other)
            )),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn read(spec: Value) -> EniConfig {
        eniconfig_from_spec("cfg".into(), Some(&spec))
    }

    #[test]
    fn well_formed_spec_has_no_problems() {
        let c = read(json!({"subnet": "subnet-0pods1a", "securityGroups": ["sg-0a", "sg-0b"]}));
        assert_eq!(c.subnet.unwrap().as_str(), "subnet-0pods1a");
        assert_eq!(c.security_groups.len(), 2);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        // No groups at all is valid: new ENIs get the primary ENI's.
        for spec in [
            json!({"subnet": "subnet-1"}),
            json!({"subnet": "subnet-1", "securityGroups": []}),
            json!({"subnet": "subnet-1", "securityGroups": null}),
        ] {
            let c = read(spec);
            assert!(
                c.problems.is_empty() && c.security_groups.is_empty(),
                "{:?}",
                c.problems
            );
        }
    }

    #[test]
    fn malformed_security_groups_are_recorded() {
        let c = read(json!({"subnet": "subnet-1", "securityGroups": "sg-0a"}));
        assert!(c.security_groups.is_empty());
        assert_eq!(
            c.problems,
            vec!["spec.securityGroups is a string, not a list of sg-... ids"]
        );
        let c = read(json!({"subnet": "subnet-1", "securityGroups": {"id": "sg-0a"}}));
        assert_eq!(
            c.problems,
            vec!["spec.securityGroups is a map, not a list of sg-... ids"]
        );
        let c = read(json!({"subnet": "subnet-1", "securityGroups": [1, 2]}));
        assert_eq!(
            c.problems,
            vec![
                "spec.securityGroups[0] is a number, not a security group id",
                "spec.securityGroups[1] is a number, not a security group id"
            ]
        );
        let c = read(json!({"subnet": "subnet-1", "securityGroups": ["sg-0a", "web-servers"]}));
        assert_eq!(c.security_groups.len(), 1);
        assert_eq!(
            c.problems,
            vec!["spec.securityGroups[1] \"web-servers\" is not a security group id (sg-...)"]
        );
    }

    #[test]
    fn malformed_subnet_and_spec_are_recorded() {
        let c = read(json!({"subnet": "pods-1a"}));
        assert_eq!(c.subnet, None);
        assert_eq!(
            c.problems,
            vec!["spec.subnet \"pods-1a\" is not a subnet id (subnet-...)"]
        );
        let c = read(json!({"subnet": 7}));
        assert_eq!(c.problems, vec!["spec.subnet is a number, not a subnet id"]);
        let c = read(json!({"securityGroups": ["sg-1"]}));
        assert_eq!(c.problems, vec!["spec.subnet is missing"]);
        let c = read(json!("subnet-1"));
        assert_eq!(c.problems, vec!["spec is a string, not a map"]);
        let c = eniconfig_from_spec("cfg".into(), None);
        assert_eq!(c.problems, vec!["spec is missing"]);
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            "\\PC{0,24}".prop_map(Value::String),
            "(sg|subnet)-[0-9a-z]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("subnet".to_string()),
                        Just("securityGroups".to_string()),
                        "\\PC{0,8}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any spec parses without panicking, and is either clean (a valid
        /// subnet, every listed group kept) or says what is wrong.
        #[test]
        fn any_spec_is_clean_or_has_a_problem(spec in any_json()) {
            let c = read(spec.clone());
            if c.problems.is_empty() {
                prop_assert!(c.subnet.is_some());
                let listed = spec.get("securityGroups").and_then(Value::as_array).map_or(0, Vec::len);
                prop_assert_eq!(c.security_groups.len(), listed);
            } else {
                prop_assert!(c.problems.iter().all(|p| p.starts_with("spec")));
            }
        }
    }
}
