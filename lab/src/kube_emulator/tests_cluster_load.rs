//! Whole clusters loaded at once: NodeClasses served, resources refused,
//! and 100,000 pods listed in pages of 500 in time linear in the pods.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::tests::TestResult;
use super::{EmulatorOptions, KubeState, Loaded};

fn pod(i: usize, phase: &str) -> Value {
    json!({
        "metadata": {"name": format!("p-{i:06}"), "namespace": format!("ns-{}", i % 7)},
        "spec": {"nodeName": format!("n-{}", i % 100)},
        "status": {"phase": phase, "podIP": "100.64.0.1"},
    })
}

async fn get(addr: &str, path_and_query: &str) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let resp = reqwest::get(format!("http://{addr}{path_and_query}")).await?;
    let code = resp.status().as_u16();
    Ok((code, serde_json::from_slice(&resp.bytes().await?)?))
}

async fn listen(state: &KubeState) -> Result<String, Box<dyn std::error::Error>> {
    Ok(crate::serve_on_loopback(super::router(state.clone()))
        .await?
        .to_string())
}

/// Every page of `path` with `query`, counted: (items, pages).
async fn pages(
    addr: &str,
    path: &str,
    query: &str,
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let (mut items, mut pages, mut token) = (0, 0, String::new());
    loop {
        let (code, page) = get(addr, &format!("{path}?limit=500&{query}&continue={token}")).await?;
        assert_eq!(code, 200, "{page}");
        items += page["items"].as_array().map_or(0, Vec::len);
        pages += 1;
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_string(),
            None => return Ok((items, pages)),
        }
    }
}

#[tokio::test]
async fn pods_by_phase_in_pages_cost_one_pass_not_one_per_page() -> TestResult {
    let state = KubeState::empty("none", EmulatorOptions::default());
    let per_tenth = |n: usize| {
        (0..n).map(|i| {
            pod(
                i,
                if i.is_multiple_of(10) {
                    "Succeeded"
                } else {
                    "Running"
                },
            )
        })
    };
    state.load(Loaded::Pod, per_tenth(20_000))?;
    let addr = listen(&state).await?;
    let selector = "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed";
    let started = Instant::now();
    let (items, n) = pages(&addr, "/api/v1/pods", selector).await?;
    let small = started.elapsed();
    assert_eq!((items, n), (18_000, 36));

    let state = KubeState::empty("none", EmulatorOptions::default());
    state.load(Loaded::Pod, per_tenth(100_000))?;
    let addr = listen(&state).await?;
    let started = Instant::now();
    let (items, n) = pages(&addr, "/api/v1/pods", selector).await?;
    let large = started.elapsed();
    assert_eq!((items, n), (90_000, 180));
    println!("pods in pages of 500: 20,000 in {small:?}, 100,000 in {large:?}");
    // Five times the pods: about five times the time when linear, 25 when
    // every page copied the rest; 10 leaves room for a loaded machine.
    assert!(
        large < small * 10 + Duration::from_millis(500),
        "{small:?} then {large:?}"
    );
    Ok(())
}

#[tokio::test]
async fn pages_stay_consistent_across_changes_between_them() -> TestResult {
    let state = KubeState::empty("none", EmulatorOptions::default());
    state.load(Loaded::Pod, (0..1_200).map(|i| pod(i, "Running")))?;
    let addr = listen(&state).await?;
    let (_, first) = get(&addr, "/api/v1/pods?limit=500").await?;
    assert_eq!(first["metadata"]["remainingItemCount"], 700);
    let token = first["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Changed after the first page: the next pages still show the old state.
    state.load(Loaded::Pod, [pod(5_000, "Running"), pod(1_100, "Failed")])?;
    let (_, second) = get(&addr, &format!("/api/v1/pods?limit=500&continue={token}")).await?;
    let token = second["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, third) = get(&addr, &format!("/api/v1/pods?limit=500&continue={token}")).await?;
    let rest: Vec<&Value> = [&second, &third]
        .iter()
        .flat_map(|p| p["items"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(rest.len(), 700, "the pod added later is not in this list");
    assert!(
        rest.iter().all(|p| p["status"]["phase"] == "Running"),
        "the old state of p-001100"
    );
    assert!(third["metadata"]["continue"].is_null());
    Ok(())
}

#[tokio::test]
async fn nodeclasses_are_served_and_refusals_answer_like_the_server() -> TestResult {
    let state = KubeState::empty("none", EmulatorOptions::default());
    let class = json!({"metadata": {"name": "default"}, "spec": {"podSubnetSelectorTerms": [{"id": "subnet-0abc"}]}});
    state.load(Loaded::NodeClass, [class])?;
    let addr = listen(&state).await?;
    let (code, list) = get(&addr, "/apis/eks.amazonaws.com/v1/nodeclasses").await?;
    assert_eq!(code, 200);
    assert_eq!(list["kind"], "NodeClassList");
    assert_eq!(list["items"][0]["kind"], "NodeClass");
    assert_eq!(list["items"][0]["apiVersion"], "eks.amazonaws.com/v1");
    let (_, one) = get(&addr, "/apis/eks.amazonaws.com/v1/nodeclasses/default").await?;
    assert_eq!(
        one["spec"]["podSubnetSelectorTerms"][0]["id"],
        "subnet-0abc"
    );

    state.refuse("nodeclasses", 404);
    let (code, status) = get(&addr, "/apis/eks.amazonaws.com/v1/nodeclasses").await?;
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
    state.refuse("pods", 403);
    let (code, status) = get(&addr, "/api/v1/pods?limit=500").await?;
    assert_eq!((code, status["reason"].as_str()), (403, Some("Forbidden")));
    assert!(status["message"]
        .as_str()
        .unwrap_or_default()
        .contains("cannot list resource \"pods\""));
    state.refuse("pods", 0);
    let (code, _) = get(&addr, "/api/v1/pods").await?;
    assert_eq!(code, 200);
    Ok(())
}
