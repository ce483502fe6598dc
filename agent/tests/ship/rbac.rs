//! The RBAC that ships: the read-only roles for `eniwatch status`
//! (deploy/rbac) grant what the command lists and nothing that writes or
//! reads Secrets; eniwatch-cluster's ClusterRole may list and watch the EKS
//! Auto Mode NodeClasses it resolves.

use serde::Deserialize;
use serde_norway::Value;

const STATUS_READER: &str = "deploy/rbac/status-reader.yaml";
const STATUS_KUSTOMIZATION: &str = "deploy/rbac/kustomization.yaml";
const CLUSTER_RBAC: &str = "deploy/components/cluster/rbac.yaml";
const READ_VERBS: &[&str] = &["get", "list", "watch"];

fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Whether `role`'s rules allow `verb` on `group`/`resource` (by name: `name`).
fn grants(role: &Value, group: &str, resource: &str, verb: &str, name: Option<&str>) -> bool {
    role["rules"].as_sequence().into_iter().flatten().any(|r| {
        let names = strings(&r["resourceNames"]);
        strings(&r["apiGroups"]).iter().any(|g| g == group)
            && strings(&r["resources"]).iter().any(|x| x == resource)
            && strings(&r["verbs"]).iter().any(|v| v == verb)
            && (names.is_empty() || name.is_some_and(|n| names.iter().any(|x| x == n)))
    })
}

#[test]
fn the_status_reader_is_read_only_and_enough_for_eniwatch_status() {
    let docs = documents(&super::read(STATUS_READER));
    assert!(
        super::read(STATUS_KUSTOMIZATION).contains("status-reader.yaml"),
        "{STATUS_KUSTOMIZATION} installs {STATUS_READER}"
    );
    let cluster_role = object(&docs, "ClusterRole", "eniwatch:status-reader");
    let role = object(&docs, "Role", "eniwatch:status-reader");
    assert_eq!(role["metadata"]["namespace"].as_str(), Some("kube-system"));
    for r in [cluster_role, role] {
        for rule in r["rules"].as_sequence().into_iter().flatten() {
            for verb in strings(&rule["verbs"]) {
                assert!(READ_VERBS.contains(&verb.as_str()), "writes: {rule:?}");
            }
            for field in ["apiGroups", "resources", "verbs"] {
                assert!(
                    !strings(&rule[field]).iter().any(|s| s == "*"),
                    "wildcard: {rule:?}"
                );
            }
            assert!(!strings(&rule["resources"]).iter().any(|s| s == "secrets"));
        }
    }
    for (group, resource) in [
        ("", "nodes"),
        ("", "pods"),
        ("crd.k8s.amazonaws.com", "eniconfigs"),
        ("eks.amazonaws.com", "nodeclasses"),
    ] {
        assert!(
            grants(cluster_role, group, resource, "list", None),
            "list {resource}"
        );
    }
    assert!(!grants(
        cluster_role,
        "",
        "configmaps",
        "get",
        Some("eniwatch-cluster-facts")
    ));
    assert!(grants(
        role,
        "",
        "configmaps",
        "get",
        Some("eniwatch-cluster-facts")
    ));
    assert!(
        !grants(role, "", "configmaps", "get", Some("another")),
        "the facts ConfigMap by name only"
    );
    for (kind, role_kind) in [
        ("ClusterRoleBinding", "ClusterRole"),
        ("RoleBinding", "Role"),
    ] {
        let b = object(&docs, kind, "eniwatch:status-reader");
        assert_eq!(b["roleRef"]["kind"].as_str(), Some(role_kind));
        assert_eq!(
            b["roleRef"]["name"].as_str(),
            Some("eniwatch:status-reader")
        );
        assert_eq!(
            b["subjects"][0]["name"].as_str(),
            Some("eniwatch:status-readers")
        );
    }
}

#[test]
fn eniwatch_cluster_may_list_and_watch_nodeclasses() {
    let docs = documents(&super::read(CLUSTER_RBAC));
    let role = object(&docs, "ClusterRole", "eniwatch-cluster");
    for verb in ["list", "watch"] {
        assert!(
            grants(role, "eks.amazonaws.com", "nodeclasses", verb, None),
            "{verb}"
        );
    }
    assert!(!grants(
        role,
        "eks.amazonaws.com",
        "nodeclasses",
        "update",
        None
    ));
}
