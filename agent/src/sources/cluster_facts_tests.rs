use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::*;

fn at() -> FactsRef {
    FactsRef::in_namespace("kube-system")
}

fn configmap(text: Option<&str>) -> ConfigMap {
    ConfigMap {
        data: text.map(|t| BTreeMap::from([(DATA_KEY.to_string(), t.to_string())])),
        ..ConfigMap::default()
    }
}

#[test]
fn names_are_namespace_slash_name() {
    let r: FactsRef = "monitoring/facts".parse().unwrap();
    assert_eq!(
        (r.namespace.as_str(), r.name.as_str()),
        ("monitoring", "facts")
    );
    assert_eq!(at().to_string(), "kube-system/eniwatch-cluster-facts");
    for bad in ["", "facts", "/facts", "ns/", "a/b/c"] {
        assert!(bad.parse::<FactsRef>().is_err(), "{bad}");
    }
}

#[test]
fn no_configmap_is_not_installed_and_a_bad_one_is_unavailable() {
    let none = interpret(&at(), None).unwrap();
    assert_eq!(none.published, None);
    assert_eq!(none.configmap, "kube-system/eniwatch-cluster-facts");
    let ok = interpret(&at(), Some(&configmap(Some(r#"{"schema_version":1}"#)))).unwrap();
    assert!(ok.published.is_some());
    for (text, says) in [
        (None, "has no key"),
        (Some("{not json"), "not valid JSON"),
        (
            Some(r#"{"schema_version":2}"#),
            "newer than this agent reads",
        ),
    ] {
        let e = interpret(&at(), Some(&configmap(text))).unwrap_err();
        assert_eq!((e.source, e.kind), (SOURCE, "invalid"));
        assert!(
            e.reason.contains("kube-system/eniwatch-cluster-facts") && e.reason.contains(says),
            "{}",
            e.reason
        );
    }
}

#[test]
fn a_refused_read_names_the_rule() {
    let e = forbidden(&at());
    assert!(
        e.contains("configmaps get, list and watch")
            && e.contains("resourceNames [eniwatch-cluster-facts]")
            && e.contains("namespace kube-system"),
        "{e}"
    );
}
