//! ConfigMaps against the real kube-rs client: create, replace, patch,
//! delete, lists and watches by name, and the server's validation.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent,
    WatchParams,
};
use serde_json::json;

use super::tests::{next, scenario, serve, TestResult};
use super::KubeState;

const NS: &str = "kube-system";
const NAME: &str = "eniwatch-cluster-facts";

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut cm = ConfigMap {
        data: Some(data),
        ..ConfigMap::default()
    };
    cm.metadata.name = Some(name.to_string());
    cm
}

/// (code, reason, message) of an API error; (0, "", text) for any other.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String, String) {
    match result {
        Err(kube::Error::Api(s)) => (s.code, s.reason, s.message),
        Err(other) => (0, String::new(), other.to_string()),
        Ok(v) => (200, String::new(), format!("{v:?}")),
    }
}

fn rv(cm: &ConfigMap) -> String {
    cm.metadata.resource_version.clone().unwrap_or_default()
}

#[tokio::test]
async fn config_maps_are_created_replaced_patched_and_deleted() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let core = client.list_core_api_resources("v1").await?;
    let listed = core.resources.iter().find(|r| r.name == "configmaps");
    assert!(listed.is_some_and(|r| r.namespaced && r.verbs.iter().any(|v| v == "update")));

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let created = cms
        .create(
            &PostParams::default(),
            &config_map(NAME, &[("facts.json", "{}")]),
        )
        .await?;
    assert!(created.metadata.uid.is_some());
    assert_eq!(created.metadata.namespace.as_deref(), Some(NS));
    let again = cms
        .create(&PostParams::default(), &config_map(NAME, &[]))
        .await;
    assert_eq!(
        api_error(again),
        (
            409,
            "AlreadyExists".into(),
            format!("configmaps \"{NAME}\" already exists")
        )
    );

    // Replace: current resourceVersion wins, a stale one is refused.
    let mut next_cm = created.clone();
    next_cm.data = Some(BTreeMap::from([("facts.json".into(), "{\"a\":1}".into())]));
    let replaced = cms.replace(NAME, &PostParams::default(), &next_cm).await?;
    assert_ne!(rv(&replaced), rv(&created));
    let stale = cms.replace(NAME, &PostParams::default(), &next_cm).await;
    let (code, reason, message) = api_error(stale);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message.contains("the object has been modified"),
        "{message}"
    );
    // The same content again: no write, no new resourceVersion.
    let same = cms.replace(NAME, &PostParams::default(), &replaced).await?;
    assert_eq!(rv(&same), rv(&replaced));
    // Unconditional replace (no resourceVersion) is allowed.
    let mut blind = config_map(NAME, &[("facts.json", "{\"a\":2}")]);
    blind.metadata.namespace = Some(NS.into());
    let blind = cms.replace(NAME, &PostParams::default(), &blind).await?;
    assert_eq!(blind.metadata.uid, created.metadata.uid, "same object");
    let absent = cms
        .replace("absent", &PostParams::default(), &config_map("absent", &[]))
        .await;
    assert_eq!(api_error(absent).0, 404);

    // Patches: merge and strategic merge both merge the data map.
    let pp = PatchParams::default();
    let merged = cms
        .patch(NAME, &pp, &Patch::Merge(json!({"data": {"extra": "x"}})))
        .await?;
    let data = merged.data.clone().unwrap_or_default();
    assert_eq!(
        data.get("facts.json").map(String::as_str),
        Some("{\"a\":2}")
    );
    assert_eq!(data.get("extra").map(String::as_str), Some("x"));
    let strategic = cms
        .patch(
            NAME,
            &pp,
            &Patch::Strategic(json!({"data": {"extra": null}})),
        )
        .await?;
    assert!(!strategic.data.unwrap_or_default().contains_key("extra"));

    // Delete: a stale precondition is refused, then the object goes.
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some("1".into()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let (code, _, message) = api_error(cms.delete(NAME, &wrong).await);
    assert_eq!(code, 409);
    assert!(message.contains("Precondition failed"), "{message}");
    let gone = cms.delete(NAME, &DeleteParams::default()).await?;
    assert!(gone.is_right(), "a Status, as the server answers");
    assert_eq!(api_error(cms.get(NAME).await).0, 404);
    assert_eq!(
        api_error(cms.delete(NAME, &DeleteParams::default()).await).0,
        404
    );
    assert!(state.config_map(NS, NAME).is_none());

    let methods: Vec<String> = state
        .config_map_requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    let expected = [
        "POST", "POST", "PUT", "PUT", "PUT", "PUT", "PUT", "PATCH", "PATCH", "DELETE", "DELETE",
        "DELETE",
    ];
    assert_eq!(methods, expected);
    Ok(())
}

#[tokio::test]
async fn config_map_lists_select_by_name_and_labels_and_page() -> TestResult {
    let state = KubeState::new(&scenario());
    for i in 0..5 {
        let obj = json!({"metadata": {"name": format!("cm-{i}"), "namespace": NS,
                         "labels": {"even": (i % 2 == 0).to_string()}},
                         "data": {"i": i.to_string()}});
        state.put_config_map(obj)?;
    }
    state.put_config_map(json!({"metadata": {"name": "cm-0", "namespace": "other"}}))?;
    let client = serve(&state).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let one = cms
        .list(&ListParams::default().fields("metadata.name=cm-3"))
        .await?;
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].metadata.name.as_deref(), Some("cm-3"));
    let even = cms.list(&ListParams::default().labels("even=true")).await?;
    assert_eq!(even.items.len(), 3);
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(2);
    loop {
        let page = cms.list(&params).await?;
        seen.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(seen, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    let everywhere: Api<ConfigMap> = Api::all(client);
    let all = everywhere
        .list(&ListParams::default().fields("metadata.name=cm-0"))
        .await?;
    assert_eq!(all.items.len(), 2, "both namespaces");
    Ok(())
}

#[tokio::test]
async fn a_watch_by_name_sees_only_that_config_map() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, NS);
    let params = WatchParams::default().fields(&format!("metadata.name={NAME}"));
    let start = state.resource_version().to_string();
    let mut w = Box::pin(cms.watch(&params, &start).await?);
    state.put_config_map(json!({"metadata": {"name": "unrelated", "namespace": NS}}))?;
    state.put_config_map(json!({"metadata": {"name": NAME, "namespace": "other"}}))?;
    let created = cms
        .create(
            &PostParams::default(),
            &config_map(NAME, &[("facts.json", "1")]),
        )
        .await?;
    match next(&mut w).await? {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.uid, created.metadata.uid),
        other => panic!("expected ADDED of {NAME}, got {other:?}"),
    }
    cms.patch(
        NAME,
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"facts.json": "2"}})),
    )
    .await?;
    match next(&mut w).await? {
        WatchEvent::Modified(cm) => {
            let data = cm.data.unwrap_or_default();
            assert_eq!(data.get("facts.json").map(String::as_str), Some("2"));
        }
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    state.delete_config_map(NS, NAME);
    match next(&mut w).await? {
        WatchEvent::Deleted(cm) => assert_eq!(cm.metadata.name.as_deref(), Some(NAME)),
        other => panic!("expected DELETED, got {other:?}"),
    }
    // A restart from the creation's resourceVersion replays what followed.
    let mut replay = Box::pin(cms.watch(&params, &rv(&created)).await?);
    assert!(matches!(next(&mut replay).await?, WatchEvent::Modified(_)));
    assert!(matches!(next(&mut replay).await?, WatchEvent::Deleted(_)));
    Ok(())
}

#[tokio::test]
async fn config_maps_are_validated_as_the_server_does() -> TestResult {
    let state = KubeState::new(&scenario());
    let client = serve(&state).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let pp = PostParams::default();

    let (code, reason, message) = api_error(cms.create(&pp, &config_map("Bad_Name", &[])).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name"));

    let bad_key = cms.create(&pp, &config_map("k", &[("a/b", "x")])).await;
    let (code, _, message) = api_error(bad_key);
    assert_eq!(code, 422);
    assert!(
        message.starts_with("ConfigMap \"k\" is invalid: data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters"),
        "{message}"
    );

    let mut both = config_map("dup", &[("k", "x")]);
    both.binary_data = Some(BTreeMap::from([(
        "k".to_string(),
        k8s_openapi::ByteString(b"y".to_vec()),
    )]));
    let (code, _, message) = api_error(cms.create(&pp, &both).await);
    assert_eq!(code, 422);
    assert!(
        message.contains("duplicate of key present in binaryData"),
        "{message}"
    );

    // 1 MiB of values is the limit; keys do not count.
    let limit = super::configmaps::MAX_CONFIG_MAP_BYTES;
    let full = "x".repeat(limit);
    cms.create(&pp, &config_map("full", &[("facts.json", &full)]))
        .await?;
    let over = "x".repeat(limit + 1);
    let too_big = cms
        .create(&pp, &config_map("over", &[("facts.json", &over)]))
        .await;
    assert_eq!(
        api_error(too_big),
        (
            422,
            "Invalid".into(),
            "ConfigMap \"over\" is invalid: []: Too long: must have at most 1048576 bytes".into()
        )
    );
    assert!(state.config_map(NS, "over").is_none());

    // immutable: data is frozen, metadata is not.
    let mut frozen = config_map("frozen", &[("facts.json", "1")]);
    frozen.immutable = Some(true);
    cms.create(&pp, &frozen).await?;
    let change = Patch::Merge(json!({"data": {"facts.json": "2"}}));
    let (code, _, message) = api_error(cms.patch("frozen", &PatchParams::default(), &change).await);
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    let thaw = Patch::Merge(json!({"immutable": false}));
    assert_eq!(
        api_error(cms.patch("frozen", &PatchParams::default(), &thaw).await).0,
        422
    );
    let label = Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}));
    cms.patch("frozen", &PatchParams::default(), &label).await?;
    let mut replace = cms.get("frozen").await?;
    replace.data = Some(BTreeMap::new());
    assert_eq!(
        api_error(cms.replace("frozen", &pp, &replace).await).0,
        422,
        "replace is refused too"
    );
    // The seeding API applies the same rules.
    let err = state.put_config_map(json!({"metadata": {"name": "frozen", "namespace": NS},
                                          "immutable": true, "data": {}}));
    assert!(err.is_err_and(|m| m.contains("field is immutable")));
    Ok(())
}
