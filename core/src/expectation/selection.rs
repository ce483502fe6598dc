//! Which ENIConfig applies to a node, in the same order as the VPC CNI.
//!
//! 1. label `vpc.amazonaws.com/externalEniConfig`;
//! 2. the annotation named by `ENI_CONFIG_ANNOTATION_DEF`;
//! 3. the label named by `ENI_CONFIG_LABEL_DEF`;
//! 4. the ENIConfig named `default`.
//!
//! Empty values are ignored, as the CNI ignores them.

use serde::Serialize;

use crate::model::{NodeInfo, SelectionSettings};

/// The label that overrides everything (set by external ENIConfig tooling).
pub const EXTERNAL_ENICONFIG_LABEL: &str = "vpc.amazonaws.com/externalEniConfig";

/// The ENIConfig name a node selects, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub name: String,
    /// e.g. `label topology.kubernetes.io/zone`, `annotation k8s.amazonaws.com/eniConfig`, `default`.
    pub selected_by: String,
}

pub fn select_eniconfig(node: &NodeInfo, settings: &SelectionSettings) -> Selection {
    let non_empty = |v: Option<&String>| {
        v.filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string())
    };
    if let Some(name) = non_empty(node.labels.get(EXTERNAL_ENICONFIG_LABEL)) {
        return Selection {
            name,
            selected_by: format!("label {EXTERNAL_ENICONFIG_LABEL}"),
        };
    }
    if let Some(name) = non_empty(node.annotations.get(&settings.annotation_def)) {
        return Selection {
            name,
            selected_by: format!("annotation {}", settings.annotation_def),
        };
    }
    if let Some(name) = non_empty(node.labels.get(&settings.label_def)) {
        return Selection {
            name,
            selected_by: format!("label {}", settings.label_def),
        };
    }
    Selection {
        name: "default".to_string(),
        selected_by: "default (no label or annotation names one)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn node(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> NodeInfo {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        NodeInfo {
            name: "n".into(),
            labels: map(labels),
            annotations: map(annotations),
            capacity_pods: None,
        }
    }

    fn zone_settings() -> SelectionSettings {
        SelectionSettings {
            label_def: "topology.kubernetes.io/zone".into(),
            ..SelectionSettings::default()
        }
    }

    #[test]
    fn label_def_selects_by_zone() {
        let n = node(&[("topology.kubernetes.io/zone", "ap-southeast-1a")], &[]);
        let s = select_eniconfig(&n, &zone_settings());
        assert_eq!(s.name, "ap-southeast-1a");
        assert_eq!(s.selected_by, "label topology.kubernetes.io/zone");
    }

    #[test]
    fn annotation_overrides_label() {
        let n = node(
            &[("topology.kubernetes.io/zone", "ap-southeast-1a")],
            &[("k8s.amazonaws.com/eniConfig", "special")],
        );
        assert_eq!(select_eniconfig(&n, &zone_settings()).name, "special");
    }

    #[test]
    fn external_label_overrides_everything() {
        let n = node(
            &[
                ("topology.kubernetes.io/zone", "a"),
                (EXTERNAL_ENICONFIG_LABEL, "ext"),
            ],
            &[("k8s.amazonaws.com/eniConfig", "special")],
        );
        assert_eq!(select_eniconfig(&n, &zone_settings()).name, "ext");
    }

    #[test]
    fn falls_back_to_default_and_ignores_empty_values() {
        let n = node(
            &[("topology.kubernetes.io/zone", " ")],
            &[("k8s.amazonaws.com/eniConfig", "")],
        );
        let s = select_eniconfig(&n, &zone_settings());
        assert_eq!(s.name, "default");
        assert!(s.selected_by.starts_with("default"));
    }

    use proptest::prelude::*;

    /// Keys a node's labels and annotations (and the settings) draw from: the
    /// external label, the CNI's defaults, a zone label and one of the
    /// operator's own.
    const KEYS: &[&str] = &[
        EXTERNAL_ENICONFIG_LABEL,
        "k8s.amazonaws.com/eniConfig",
        "topology.kubernetes.io/zone",
        "example.com/pods",
    ];

    /// Values, with empty and whitespace-only ones and padded names.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(" ".to_string()),
            Just("\t\n".to_string()),
            "[ \t]{0,2}[a-z0-9-]{1,6}[ \t]{0,2}",
        ]
    }

    fn entries() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(
            prop::sample::select(KEYS).prop_map(String::from),
            value(),
            0..4,
        )
    }

    /// The VPC CNI's order, written plainly: the first of the external label,
    /// the annotation named by the settings and the label named by them whose
    /// value is not blank names the ENIConfig (trimmed); else `default`.
    fn model(node: &NodeInfo, settings: &SelectionSettings) -> (String, Option<String>) {
        let steps = [
            (&node.labels, EXTERNAL_ENICONFIG_LABEL, "label"),
            (
                &node.annotations,
                settings.annotation_def.as_str(),
                "annotation",
            ),
            (&node.labels, settings.label_def.as_str(), "label"),
        ];
        for (map, key, kind) in steps {
            if let Some(v) = map.get(key) {
                if !v.trim().is_empty() {
                    return (v.trim().to_string(), Some(format!("{kind} {key}")));
                }
            }
        }
        ("default".to_string(), None)
    }

    proptest! {
        #[test]
        fn selection_follows_the_cnis_order(
            labels in entries(),
            annotations in entries(),
            label_def in prop::sample::select(KEYS),
            annotation_def in prop::sample::select(KEYS),
        ) {
            let node = NodeInfo { name: "n".into(), labels, annotations, capacity_pods: None };
            let settings = SelectionSettings {
                label_def: label_def.into(),
                annotation_def: annotation_def.into(),
            };
            let got = select_eniconfig(&node, &settings);
            let (name, by) = model(&node, &settings);
            prop_assert_eq!(&got.name, &name);
            match by {
                Some(by) => prop_assert_eq!(got.selected_by, by),
                None => prop_assert!(got.selected_by.starts_with("default"), "{}", got.selected_by),
            }
            prop_assert!(!got.name.is_empty() && got.name.trim() == got.name);
        }
    }

    #[test]
    fn default_label_def_is_the_cni_default() {
        let n = node(&[("k8s.amazonaws.com/eniConfig", "cfg")], &[]);
        assert_eq!(
            select_eniconfig(&n, &SelectionSettings::default()).selected_by,
            "label k8s.amazonaws.com/eniConfig"
        );
    }
}
