use super::*;

fn route(ns: Option<&str>, pod: &str) -> Finding {
    Finding::new(
        "pod-routes",
        Reason::PodRouteMissing,
        Subject::pod(ns.map(String::from), pod),
        format!("no /32 route to pod {pod} via a host-side veth"),
    )
}

fn eni(id: &str) -> Finding {
    let msg = "link down".to_string();
    Finding::new(
        "eni-configured",
        Reason::ENINotConfigured,
        Subject::eni(id),
        msg,
    )
}

#[test]
fn bucket_allows_a_burst_then_refills_at_the_rate() {
    let t0 = Instant::now();
    let mut b = TokenBucket::new(25, 30);
    assert!((0..25).all(|_| b.try_take(t0)));
    assert!(!b.try_take(t0));
    assert!(!b.try_take(t0 + Duration::from_millis(1999)));
    assert!(
        b.try_take(t0 + Duration::from_secs(2)),
        "30/min: one per 2 s"
    );
    assert!(!b.try_take(t0 + Duration::from_secs(2)));
    assert_eq!(b.available(t0 + Duration::from_secs(3600)), 25, "capped");
    assert!(!TokenBucket::new(0, 30).try_take(t0), "no burst, no event");
}

#[test]
fn bucket_does_not_refill_twice_on_a_clock_out_of_order() {
    let t0 = Instant::now();
    let mut b = TokenBucket::new(1, 60);
    assert!(b.try_take(t0 + Duration::from_secs(10)));
    assert!(!b.try_take(t0), "earlier instant: no credit");
    assert!(!b.try_take(t0 + Duration::from_millis(10_500)));
    assert!(b.try_take(t0 + Duration::from_secs(11)));
}

#[test]
fn notes_are_cut_to_the_api_limit_on_a_char_boundary() {
    let mut f = route(Some("shop"), "web-00");
    f.message = "é".repeat(600);
    let n = note(&f, Direction::Began);
    assert!(n.len() <= NOTE_LIMIT && n.ends_with('…'), "{}", n.len());
    f.message = "short".into();
    assert_eq!(note(&f, Direction::Began), "short");
}

#[test]
fn events_say_what_and_about_which_object() {
    let f = route(Some("shop"), "web-00");
    let began = event(&f, Direction::Began);
    assert_eq!(
        (began.type_, began.reason.as_str()),
        (EventType::Warning, "PodRouteMissing")
    );
    assert_eq!(
        (began.action.as_str(), began.note),
        ("Detect", Some(f.message.clone()))
    );
    let resolved = event(&f, Direction::Resolved);
    assert_eq!(resolved.type_, EventType::Normal);
    assert_eq!(resolved.reason, "PodRouteMissingResolved");
    assert_eq!(resolved.action, "Resolve");
    let pod = Regarding::Pod {
        namespace: "shop".into(),
        name: "web-00".into(),
    };
    assert_eq!(regarding(&f.subject), pod);
    assert_eq!(regarding(&Subject::node("n")), Regarding::Node);
    assert_eq!(regarding(&Subject::eni("eni-1")), Regarding::Node);
    let mut kernel_only = route(None, "100.64.1.11");
    assert_eq!(regarding(&kernel_only.subject), Regarding::Node);
    kernel_only.message = "no route".into();
    assert_eq!(
        note(&kernel_only, Direction::Began),
        "pod 100.64.1.11: no route"
    );
    assert_eq!(
        note(&eni("eni-1"), Direction::Began),
        "ENI eni-1: link down"
    );
}

#[test]
fn aggregate_note_counts_by_reason_and_direction() {
    let mut pending = BTreeMap::new();
    pending.insert((Reason::PodRouteMissing, Direction::Resolved), 17);
    pending.insert((Reason::PodRuleMissing, Direction::Began), 30);
    assert_eq!(
        aggregate_note(&pending),
        "47 more drift transitions not written individually: \
             30 PodRuleMissing began, 17 PodRouteMissing resolved"
    );
}

mod emulated {
    use super::*;
    use crate::daemon::condition::tests::emulator::{healthy, serve, unreachable, TestResult};
    use eniwatch_lab::kube_emulator::KubeState;
    use serde_json::{json, Value};

    fn type_reason(e: &Value) -> (String, String) {
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        (text(&e["type"]), text(&e["reason"]))
    }

    fn began(fs: &[Finding]) -> Vec<Transition> {
        fs.iter().cloned().map(Transition::Began).collect()
    }

    #[tokio::test]
    async fn pod_drift_goes_on_the_pod_and_its_resolution_too() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let node = scenario.node.name.clone();
        let mut sink = EventSink::new(serve(&state).await?, node.clone(), EventConfig::default());
        let f = route(Some("shop"), "web-00");
        let t0 = Instant::now();
        assert_eq!(sink.publish(&began(std::slice::from_ref(&f)), t0).await?, 1);
        assert_eq!(
            sink.publish(&[Transition::Resolved(f.clone())], t0).await?,
            1
        );
        let events = state.events();
        assert_eq!(events.len(), 2, "{events:?}");
        let (ev, res) = (&events[0], &events[1]);
        assert_eq!(ev["apiVersion"], "events.k8s.io/v1");
        assert_eq!(
            (&ev["type"], &ev["reason"], &ev["action"]),
            (
                &"Warning".into(),
                &"PodRouteMissing".into(),
                &"Detect".into()
            )
        );
        assert_eq!(ev["note"], f.message.as_str());
        assert_eq!(ev["metadata"]["namespace"], "shop");
        assert_eq!(ev["regarding"]["kind"], "Pod");
        assert_eq!(ev["regarding"]["apiVersion"], "v1");
        assert_eq!(ev["regarding"]["namespace"], "shop");
        assert_eq!(ev["regarding"]["name"], "web-00");
        assert!(
            ev["regarding"]["uid"]
                .as_str()
                .is_some_and(|u| !u.is_empty()),
            "describe pod matches on uid"
        );
        assert_eq!(ev["reportingController"], "eniwatch");
        assert_eq!(ev["reportingInstance"], node.as_str());
        assert_eq!(
            (&res["type"], &res["reason"]),
            (&"Normal".into(), &"PodRouteMissingResolved".into())
        );
        assert_eq!(res["action"], "Resolve");
        assert_eq!(res["regarding"], ev["regarding"]);
        let own_node = serde_json::json!({"apiVersion": "v1", "kind": "Node",
                                          "name": node, "uid": node});
        assert_eq!(ev["related"], own_node, "the admission policy wants it");
        assert_eq!(res["related"], own_node);
        Ok(())
    }

    #[tokio::test]
    async fn node_eni_and_kernel_only_pod_drift_goes_on_the_node() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let node = scenario.node.name.clone();
        let mut sink = EventSink::new(serve(&state).await?, node.clone(), EventConfig::default());
        let selects = Finding::new(
            "eniconfig",
            Reason::ENIConfigNotFound,
            Subject::node(&node),
            "no ENIConfig".into(),
        );
        let fs = [
            selects,
            eni("eni-0a000000000000001"),
            eni("eni-0a000000000000002"),
            route(None, "100.64.1.11"),
        ];
        assert_eq!(sink.publish(&began(&fs), Instant::now()).await?, 4);
        let events = state.events();
        assert_eq!(events.len(), 4, "two ENIs, two events (no series)");
        for ev in &events {
            assert_eq!(
                ev["metadata"]["namespace"], "default",
                "where kubelet's node events live"
            );
            assert_eq!(ev["regarding"]["kind"], "Node");
            assert_eq!(ev["regarding"]["name"], node.as_str());
            assert_eq!(ev["regarding"]["uid"], node.as_str(), "like kubelet");
        }
        assert_eq!(events[1]["note"], "ENI eni-0a000000000000001: link down");
        assert_eq!(events[2]["note"], "ENI eni-0a000000000000002: link down");
        assert_eq!(
            events[3]["note"], "no /32 route to pod 100.64.1.11 via a host-side veth",
            "the name is in the message"
        );
        Ok(())
    }

    #[tokio::test]
    async fn duplicates_within_the_window_are_written_once() -> TestResult {
        let state = KubeState::new(&healthy()?);
        let mut sink = EventSink::new(serve(&state).await?, "n".into(), EventConfig::default());
        let t0 = Instant::now();
        let twice = began(&[eni("eni-1"), eni("eni-1")]);
        assert_eq!(sink.publish(&twice, t0).await?, 1);
        assert_eq!(
            sink.publish(&twice, t0 + Duration::from_secs(60)).await?,
            0,
            "a retried batch"
        );
        assert_eq!(state.event_requests().len(), 1);
        assert_eq!(
            sink.publish(&twice, t0 + DEDUP_WINDOW).await?,
            1,
            "window over"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_burst_is_capped_and_the_rest_aggregated() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let node = scenario.node.name.clone();
        let mut sink = EventSink::new(serve(&state).await?, node.clone(), EventConfig::default());
        let t0 = Instant::now();
        // 250 pods going bad: a route and a rule each.
        let mut burst = Vec::new();
        for i in 0..250 {
            let pod = format!("10.0.9.{i}");
            burst.push(Transition::Began(route(None, &pod)));
            let rule = Finding::new(
                "pod-rules",
                Reason::PodRuleMissing,
                Subject::pod(None, pod.clone()),
                format!("{pod}: no rule"),
            );
            burst.push(Transition::Began(rule));
        }
        assert_eq!(sink.publish(&burst, t0).await?, 26, "burst + 1");
        let events = state.events();
        assert_eq!(events.len(), 26);
        let aggregates: Vec<_> = events
            .iter()
            .filter(|e| e["reason"] == AGGREGATE_REASON)
            .collect();
        assert_eq!(aggregates.len(), 1);
        assert_eq!(aggregates[0]["type"], "Warning");
        assert_eq!(aggregates[0]["regarding"]["kind"], "Node");
        let note = aggregates[0]["note"].as_str().unwrap_or("");
        let expected = "475 more drift transitions not written individually: \
                            238 PodRuleMissing began, 237 PodRouteMissing began";
        assert_eq!(note, expected);
        // Resolutions 10 s later: 5 tokens back, no second aggregate yet.
        // The 25 Warnings written get their resolutions first.
        let resolved: Vec<Transition> = burst
            .iter()
            .map(|t| Transition::Resolved(t.finding().clone()))
            .collect();
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(sink.publish(&resolved, t1).await?, 5);
        let firsts: Vec<_> = state.events().into_iter().skip(26).collect();
        assert_eq!(firsts.len(), 5);
        for (res, warning) in firsts.iter().zip(&events) {
            let note = format!(
                "no longer observed: {}",
                warning["note"].as_str().unwrap_or("")
            );
            assert_eq!(res["note"], note.as_str(), "the written Warnings' first");
        }
        // Due without a new transition: the rest of the written Warnings'
        // resolutions as tokens come, and a minute after the first
        // aggregate, the next, with what piled up.
        assert_eq!(
            sink.next_wake(t1),
            Some(t1 + Duration::from_secs(2)),
            "a token for the next resolution"
        );
        assert_eq!(sink.publish(&[], t0 + AGGREGATE_INTERVAL).await?, 21);
        let last = state.events().pop().unwrap_or_default();
        assert_eq!(last["reason"], AGGREGATE_RESOLVED_REASON);
        assert_eq!(last["type"], "Normal", "resolutions only");
        assert_eq!(
            last["note"],
            "475 more drift transitions not written individually: \
             238 PodRuleMissing resolved, 237 PodRouteMissing resolved"
        );
        assert_eq!(state.events().len(), 52, "not 1000");
        assert_eq!(sink.next_wake(t0 + AGGREGATE_INTERVAL), None);
        Ok(())
    }

    #[tokio::test]
    async fn every_pod_warning_written_gets_its_resolution_on_the_pod() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let config = EventConfig {
            burst: 25,
            per_minute: 30,
        };
        let mut sink = EventSink::new(serve(&state).await?, scenario.node.name.clone(), config);
        let fs: Vec<Finding> = (0..200)
            .map(|i| route(Some("shop"), &format!("web-{i:03}")))
            .collect();
        let t0 = Instant::now();
        assert_eq!(sink.publish(&began(&fs), t0).await?, 26);
        // All repaired 15 s later; then only the timer.
        let resolved: Vec<Transition> = fs.iter().cloned().map(Transition::Resolved).collect();
        let mut now = t0 + Duration::from_secs(15);
        sink.publish(&resolved, now).await?;
        let mut wakes = 0;
        while let Some(at) = sink.next_wake(now) {
            assert!(at <= now + AGGREGATE_INTERVAL, "within the minute");
            now = now.max(at);
            sink.publish(&[], now).await?;
            wakes += 1;
            assert!(wakes < 100, "wakes forever");
        }
        assert!(
            now <= t0 + Duration::from_secs(75),
            "done within the minute"
        );
        let events = state.events();
        for f in &fs[..25] {
            let on_pod: Vec<&Value> = events
                .iter()
                .filter(|e| e["regarding"]["name"] == f.subject.name.as_str())
                .collect();
            let kinds: Vec<(String, String)> = on_pod.iter().map(|e| type_reason(e)).collect();
            assert_eq!(
                kinds,
                [
                    type_reason(&json!({"type": "Warning", "reason": "PodRouteMissing"})),
                    type_reason(&json!({"type": "Normal", "reason": "PodRouteMissingResolved"})),
                ],
                "{}",
                f.subject
            );
            assert_eq!(on_pod[1]["regarding"], on_pod[0]["regarding"]);
        }
        let summaries: Vec<&Value> = events
            .iter()
            .filter(|e| e["action"] == "Aggregate")
            .collect();
        let kinds: Vec<(String, String)> = summaries.iter().map(|e| type_reason(e)).collect();
        assert_eq!(
            kinds,
            [
                type_reason(&json!({"type": "Warning", "reason": AGGREGATE_REASON})),
                type_reason(&json!({"type": "Normal", "reason": AGGREGATE_RESOLVED_REASON})),
            ]
        );
        assert_eq!(
            summaries[1]["note"],
            "175 more drift transitions not written individually: 175 PodRouteMissing resolved"
        );
        Ok(())
    }

    #[tokio::test]
    async fn api_failures_are_errors_and_not_retried() -> TestResult {
        let mut sink = EventSink::new(unreachable().await?, "n".into(), EventConfig::default());
        let t0 = Instant::now();
        let fs = began(&[eni("eni-1"), eni("eni-2")]);
        let err = sink.publish(&fs, t0).await.err();
        assert!(
            matches!(&err, Some(e) if e.kind == "unreachable" && e.written == 0),
            "{err:?}"
        );
        // eni-1 dropped; eni-2 went into the aggregate, which fails too.
        let err = sink.publish(&[], t0 + Duration::from_secs(1)).await.err();
        assert!(
            matches!(&err, Some(e) if e.reason == AGGREGATE_REASON),
            "{err:?}"
        );
        assert_eq!(
            sink.publish(&fs[..1], t0 + Duration::from_secs(2)).await?,
            0,
            "dropped, not retried"
        );
        Ok(())
    }
}

#[test]
fn reasons_eniwatch_cluster_raises_get_no_event_from_the_agent() {
    let not_attached = Finding::new(
        "eni-attachment",
        Reason::ENINotAttached,
        Subject::eni("eni-0003"),
        "detached".to_string(),
    );
    let subnet = Finding::new(
        "subnet-headroom",
        Reason::SubnetNearlyExhausted,
        Subject::node("n"),
        "20 free".to_string(),
    );
    let transitions = vec![
        Transition::Began(not_attached.clone()),
        Transition::Began(eni("eni-0002")),
        Transition::Resolved(subnet),
        Transition::Resolved(route(Some("default"), "a")),
    ];
    let reasons: Vec<Reason> = node_events(&transitions)
        .iter()
        .map(|t| t.finding().reason)
        .collect();
    assert_eq!(
        reasons,
        vec![Reason::ENINotConfigured, Reason::PodRouteMissing]
    );
}
