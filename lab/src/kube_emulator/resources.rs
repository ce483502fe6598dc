//! The resource types the emulator serves, and the discovery documents
//! (`/version`, `/api`, `/apis`, APIResourceLists, aggregated discovery)
//! generated from that one table so they can never disagree with the routes.
//!
//! Discovery advertises the verbs this emulator implements, not the verbs a
//! real API server would: a client that relies on discovery then fails here
//! the same way it would against an RBAC-restricted cluster.

use serde_json::{json, Value};

/// The object kinds held in the store. The derive order is the store's key
/// order, which only matters for making list output deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Node,
    Pod,
    EniConfig,
    /// `events.k8s.io/v1` Event.
    Event,
    /// `v1` (core) Event. Kept apart from `Event`: the real server converts
    /// between the two views of one object; the emulator does not (see the
    /// module docs).
    CoreEvent,
    /// `v1` ConfigMap: the one kind clients create, replace and delete.
    ConfigMap,
    /// `eks.amazonaws.com/v1` NodeClass (EKS Auto Mode), cluster-scoped;
    /// loaded by tests, read-only to clients.
    NodeClass,
}

/// Static facts about one served resource.
#[derive(Debug)]
pub(crate) struct ResourceDef {
    pub kind: Kind,
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind_name: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    /// Subresources served (only `status`).
    pub subresources: &'static [(&'static str, &'static [&'static str])],
    /// Built-in types omit apiVersion/kind on list items; custom resources keep them.
    pub builtin: bool,
}

const READ: &[&str] = &["get", "list", "watch"];
const EVENT_VERBS: &[&str] = &["create", "get", "list", "patch", "watch"];
const NODE_VERBS: &[&str] = &["get", "list", "patch", "watch"];
const STATUS_VERBS: &[&str] = &["get", "patch"];
const CONFIG_MAP_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

pub(crate) static RESOURCES: [ResourceDef; 7] = [
    ResourceDef {
        kind: Kind::Node,
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind_name: "Node",
        namespaced: false,
        verbs: NODE_VERBS,
        short_names: &["no"],
        subresources: &[("status", STATUS_VERBS)],
        builtin: true,
    },
    ResourceDef {
        kind: Kind::Pod,
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind_name: "Pod",
        namespaced: true,
        verbs: READ,
        short_names: &["po"],
        subresources: &[("status", &["get"])],
        builtin: true,
    },
    ResourceDef {
        kind: Kind::EniConfig,
        group: "crd.k8s.amazonaws.com",
        version: "v1alpha1",
        plural: "eniconfigs",
        singular: "eniconfig",
        kind_name: "ENIConfig",
        namespaced: false,
        verbs: READ,
        short_names: &[],
        subresources: &[],
        builtin: false,
    },
    ResourceDef {
        kind: Kind::Event,
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        singular: "event",
        kind_name: "Event",
        namespaced: true,
        verbs: EVENT_VERBS,
        short_names: &["ev"],
        subresources: &[],
        builtin: true,
    },
    ResourceDef {
        kind: Kind::CoreEvent,
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind_name: "Event",
        namespaced: true,
        verbs: EVENT_VERBS,
        short_names: &["ev"],
        subresources: &[],
        builtin: true,
    },
    ResourceDef {
        kind: Kind::ConfigMap,
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind_name: "ConfigMap",
        namespaced: true,
        verbs: CONFIG_MAP_VERBS,
        short_names: &["cm"],
        subresources: &[],
        builtin: true,
    },
    ResourceDef {
        kind: Kind::NodeClass,
        group: "eks.amazonaws.com",
        version: "v1",
        plural: "nodeclasses",
        singular: "nodeclass",
        kind_name: "NodeClass",
        namespaced: false,
        verbs: READ,
        short_names: &[],
        subresources: &[],
        builtin: false,
    },
];

impl Kind {
    pub(crate) fn def(self) -> &'static ResourceDef {
        // Constant indices into a fixed-size array: checked at compile time,
        // and the test below checks each entry is the right one.
        match self {
            Kind::Node => &RESOURCES[0],
            Kind::Pod => &RESOURCES[1],
            Kind::EniConfig => &RESOURCES[2],
            Kind::Event => &RESOURCES[3],
            Kind::CoreEvent => &RESOURCES[4],
            Kind::ConfigMap => &RESOURCES[5],
            Kind::NodeClass => &RESOURCES[6],
        }
    }
}

impl ResourceDef {
    pub(crate) fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
        RESOURCES
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
    }

    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// "pods" or "eniconfigs.crd.k8s.amazonaws.com", as the real server names
    /// resources in error messages.
    pub(crate) fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

/// Groups served under `/apis`, with their single version each.
const GROUPS: [(&str, &str); 2] = [
    ("crd.k8s.amazonaws.com", "v1alpha1"),
    ("events.k8s.io", "v1"),
];

pub(crate) fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]
    })
}

fn group_doc(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

pub(crate) fn api_group_list() -> Value {
    let groups: Vec<Value> = GROUPS.iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(crate) fn api_group(group: &str) -> Option<Value> {
    let (g, v) = GROUPS.iter().find(|(g, _)| *g == group)?;
    let mut doc = group_doc(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// The APIResourceList for one group/version, or None when not served.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = RESOURCES
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    let first = defs.first()?;
    let mut resources = Vec::new();
    for d in &defs {
        resources.push(json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind_name,
            "verbs": d.verbs,
            "shortNames": d.short_names,
        }));
        for (sub, verbs) in d.subresources {
            resources.push(json!({
                "name": format!("{}/{sub}", d.plural),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": d.kind_name,
                "verbs": verbs,
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": first.api_version(),
        "resources": resources,
    }))
}

/// Content type of aggregated discovery answers.
pub(crate) const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an Accept header asks for aggregated discovery (v2) first.
pub(crate) fn wants_aggregated(accept: Option<&str>) -> bool {
    accept
        .and_then(|a| a.split(',').next())
        .is_some_and(|first| first.contains("as=APIGroupDiscoveryList") && first.contains("v=v2"))
}

/// APIGroupDiscoveryList for `/api` (core = true) or `/apis`.
pub(crate) fn aggregated(core: bool) -> Value {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    if core {
        groups.push(("", "v1"));
    } else {
        groups.extend(GROUPS);
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(group, version)| {
            let resources: Vec<Value> = RESOURCES
                .iter()
                .filter(|d| d.group == group && d.version == version)
                .map(|d| {
                    let gvk = json!({"group": d.group, "version": d.version, "kind": d.kind_name});
                    let subs: Vec<Value> = d
                        .subresources
                        .iter()
                        .map(|(sub, verbs)| {
                            json!({"subresource": sub, "responseKind": gvk, "verbs": verbs})
                        })
                        .collect();
                    json!({
                        "resource": d.plural,
                        "responseKind": gvk,
                        "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": d.singular,
                        "verbs": d.verbs,
                        "shortNames": d.short_names,
                        "subresources": subs,
                    })
                })
                .collect();
            json!({
                "metadata": {"name": group},
                "versions": [{"version": version, "resources": resources, "freshness": "Current"}],
            })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_discovery_agree() {
        for def in &RESOURCES {
            assert_eq!(def.kind.def().kind, def.kind);
            let found = ResourceDef::lookup(def.group, def.version, def.plural).map(|d| d.kind);
            assert_eq!(found, Some(def.kind));
            let list = resource_list(def.group, def.version).unwrap_or_default();
            assert_eq!(list["groupVersion"], def.api_version());
        }
        assert!(wants_aggregated(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        )));
        assert!(!wants_aggregated(Some("application/json")));
    }
}
