use super::*;
use eniwatch_core::checks::Subject;

fn check(name: &'static str, status: CheckStatus) -> CheckResult {
    let detail = String::new();
    CheckResult {
        name,
        status,
        detail,
    }
}

fn drift(reason: Reason, subject: Subject) -> Finding {
    Finding::new("any", reason, subject, "broken".into())
}

#[test]
fn verdict_puts_drift_before_unknown_before_ok() {
    let ok = [
        check("pod-routes", CheckStatus::Ok),
        check("eniconfig", CheckStatus::Ok),
    ];
    let v = verdict(&[], &ok);
    assert_eq!(
        (v.status, v.reason.as_str()),
        (ConditionStatus::True, "NoDrift")
    );
    let mut some_unknown = ok.to_vec();
    some_unknown.push(check("pod-rules", CheckStatus::Unknown));
    let v = verdict(&[], &some_unknown);
    assert_eq!(
        (v.status, v.reason.as_str()),
        (ConditionStatus::Unknown, "ChecksInconclusive")
    );
    assert_eq!(v.message, "1 check could not judge: pod-rules");
    let active = [
        drift(Reason::PodIPOutsideENIConfigSubnet, Subject::pod(None, "a")),
        drift(Reason::ENINotConfigured, Subject::eni("eni-1")),
        drift(Reason::PodRouteMissing, Subject::pod(None, "a")),
        drift(Reason::PodRouteMissing, Subject::pod(None, "b")),
    ];
    let v = verdict(&active, &some_unknown);
    assert_eq!(v.status, ConditionStatus::False);
    assert_eq!(
        v.reason, "PodRouteMissing",
        "an error outranks a warning; then Reason order"
    );
    assert_eq!(
        v.message,
        "4 drift findings: PodRouteMissing x2, ENINotConfigured x1, \
             PodIPOutsideENIConfigSubnet x1"
    );
}

#[test]
fn times_are_rfc3339_in_whole_seconds() -> Result<(), ConditionError> {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_735_689_600_250);
    assert_eq!(rfc3339(t)?, "2025-01-01T00:00:00Z");
    Ok(())
}

/// Serving the emulator to a real client; shared with the events tests.
pub(in crate::daemon) mod emulator {
    use eniwatch_lab::kube_emulator::{router, KubeState};
    use eniwatch_lab::scenario::Scenario;

    pub(in crate::daemon) type TestResult = Result<(), Box<dyn std::error::Error>>;

    pub(in crate::daemon) fn healthy() -> Result<Scenario, Box<dyn std::error::Error>> {
        Ok(Scenario::bundled("healthy")?)
    }

    fn client(addr: std::net::SocketAddr) -> Result<kube::Client, Box<dyn std::error::Error>> {
        let config = kube::Config::new(format!("http://{addr}").parse()?);
        Ok(kube::Client::try_from(config)?)
    }

    pub(in crate::daemon) async fn serve(
        state: &KubeState,
    ) -> Result<kube::Client, Box<dyn std::error::Error>> {
        let addr = eniwatch_lab::serve_on_loopback(router(state.clone())).await?;
        client(addr)
    }

    /// A client for a loopback port nobody listens on.
    pub(in crate::daemon) async fn unreachable() -> Result<kube::Client, Box<dyn std::error::Error>>
    {
        let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await?
            .local_addr()?;
        client(addr)
    }
}

mod emulated {
    use super::emulator::{healthy, serve, unreachable, TestResult};
    use super::*;
    use eniwatch_lab::kube_emulator::KubeState;
    use serde_json::Value;

    fn conditions(state: &KubeState) -> Vec<Value> {
        state.node()["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn ours(state: &KubeState) -> Value {
        let found = conditions(state)
            .into_iter()
            .find(|c| c["type"] == CONDITION_TYPE);
        found.unwrap_or_default()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600 + secs)
    }

    #[tokio::test]
    async fn the_message_starts_with_the_networking_mode() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let client = serve(&state).await?;
        let mut sink = ConditionSink::new(client, scenario.node.name.clone(), DEFAULT_HEARTBEAT);
        sink.set_mode("standard mode (custom networking off)".into());
        let ok = [check("pod-routes", CheckStatus::Ok)];
        assert!(sink.update(&[], &ok, None, Instant::now(), at(0)).await?);
        let c = ours(&state);
        assert_eq!(
            c["message"],
            "standard mode (custom networking off): all 1 checks pass"
        );
        Ok(())
    }

    #[tokio::test]
    async fn true_false_unknown_are_patched_beside_kubelets_conditions() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let client = serve(&state).await?;
        let mut sink = ConditionSink::new(client, scenario.node.name.clone(), DEFAULT_HEARTBEAT);
        let ok = [check("pod-routes", CheckStatus::Ok)];
        let t0 = Instant::now();
        assert!(sink.update(&[], &ok, None, t0, at(0)).await?);
        let c = ours(&state);
        assert_eq!(
            (&c["status"], &c["reason"]),
            (&"True".into(), &"NoDrift".into())
        );
        assert_eq!(c["lastTransitionTime"], "2025-01-01T00:00:00Z");
        assert_eq!(c["lastHeartbeatTime"], "2025-01-01T00:00:00Z");
        assert!(
            !sink
                .update(&[], &ok, None, t0 + Duration::from_secs(30), at(30))
                .await?,
            "unchanged"
        );
        assert_eq!(state.node_status_patches().len(), 1);

        let active = [
            drift(Reason::PodRouteMissing, Subject::pod(None, "a")),
            drift(Reason::PodRouteMissing, Subject::pod(None, "b")),
            drift(Reason::ENINotConfigured, Subject::eni("eni-1")),
        ];
        let bad = [check("pod-routes", CheckStatus::Drift)];
        assert!(
            sink.update(&active, &bad, None, t0 + Duration::from_secs(60), at(60))
                .await?
        );
        let c = ours(&state);
        assert_eq!(
            (&c["status"], &c["reason"]),
            (&"False".into(), &"PodRouteMissing".into())
        );
        assert_eq!(
            c["message"],
            "3 drift findings: PodRouteMissing x2, ENINotConfigured x1"
        );
        assert_eq!(c["lastTransitionTime"], "2025-01-01T00:01:00Z");

        let unknown = [
            check("pod-routes", CheckStatus::Unknown),
            check("pod-rules", CheckStatus::Unknown),
        ];
        assert!(
            sink.update(&[], &unknown, None, t0 + Duration::from_secs(90), at(90))
                .await?
        );
        let c = ours(&state);
        assert_eq!(
            (&c["status"], &c["reason"]),
            (&"Unknown".into(), &"ChecksInconclusive".into())
        );
        assert_eq!(
            c["message"],
            "2 checks could not judge: pod-routes, pod-rules"
        );

        let all = conditions(&state);
        assert_eq!(all.len(), 5, "kubelet's four and ours: {all:?}");
        let ready = all
            .iter()
            .find(|c| c["type"] == "Ready")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (&ready["status"], &ready["reason"]),
            (&"True".into(), &"KubeletReady".into())
        );
        let body = &state.node_status_patches()[0];
        assert_eq!(
            body.content_type.as_deref(),
            Some("application/strategic-merge-patch+json")
        );
        assert_eq!(
            body.path,
            format!("/api/v1/nodes/{}/status", scenario.node.name)
        );
        Ok(())
    }

    #[tokio::test]
    async fn heartbeats_repatch_but_keep_the_transition_time() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let client = serve(&state).await?;
        let heartbeat = Duration::from_secs(300);
        let mut sink = ConditionSink::new(client.clone(), scenario.node.name.clone(), heartbeat);
        let active = [drift(Reason::PodRuleMissing, Subject::pod(None, "a"))];
        let t0 = Instant::now();
        assert!(sink.update(&active, &[], None, t0, at(0)).await?);
        assert!(
            !sink
                .update(
                    &active,
                    &[],
                    None,
                    t0 + heartbeat - Duration::from_secs(1),
                    at(299)
                )
                .await?
        );
        assert!(
            sink.update(&active, &[], None, t0 + heartbeat, at(300))
                .await?
        );
        let c = ours(&state);
        assert_eq!(c["lastHeartbeatTime"], "2025-01-01T00:05:00Z");
        assert_eq!(c["lastTransitionTime"], "2025-01-01T00:00:00Z");
        assert_eq!(state.node_status_patches().len(), 2);

        // A restarted daemon keeps the transition time it finds on the node.
        let mut restarted = ConditionSink::new(client, scenario.node.name.clone(), heartbeat);
        assert!(restarted.update(&active, &[], None, t0, at(400)).await?);
        let c = ours(&state);
        assert_eq!(c["lastTransitionTime"], "2025-01-01T00:00:00Z");
        assert_eq!(c["lastHeartbeatTime"], "2025-01-01T00:06:40Z");
        Ok(())
    }

    #[tokio::test]
    async fn a_short_outage_keeps_the_status_and_says_it_is_stale() -> TestResult {
        let scenario = healthy()?;
        let state = KubeState::new(&scenario);
        let mut sink = ConditionSink::new(
            serve(&state).await?,
            scenario.node.name.clone(),
            DEFAULT_HEARTBEAT,
        )
        .with_stale_after(Duration::from_secs(300));
        let ok = [check("pod-routes", CheckStatus::Ok)];
        let unknown = [check("pod-routes", CheckStatus::Unknown)];
        let down = Some("IMDS unreachable");
        let t0 = Instant::now();
        assert!(sink.update(&[], &ok, None, t0, at(0)).await?);
        assert_eq!(sink.next_wake(), None);
        let t1 = t0 + Duration::from_secs(30);
        assert!(sink.update(&[], &unknown, down, t1, at(30)).await?);
        let c = ours(&state);
        assert_eq!(
            (&c["status"], &c["reason"]),
            (&"True".into(), &"NoDrift".into())
        );
        assert_eq!(
            c["message"],
            "all 1 checks pass (stale since 00:00:30Z: IMDS unreachable)"
        );
        assert_eq!(c["lastTransitionTime"], "2025-01-01T00:00:00Z");
        assert_eq!(sink.next_wake(), Some(t1 + Duration::from_secs(300)));
        let t2 = t1 + Duration::from_secs(299);
        assert!(
            !sink.update(&[], &unknown, down, t2, at(329)).await?,
            "unchanged while stale"
        );
        let t3 = t1 + Duration::from_secs(300);
        assert!(sink.update(&[], &unknown, down, t3, at(330)).await?);
        let c = ours(&state);
        assert_eq!(
            (&c["status"], &c["reason"]),
            (&"Unknown".into(), &"ChecksInconclusive".into())
        );
        assert_eq!(c["lastTransitionTime"], "2025-01-01T00:05:30Z");
        assert_eq!(state.node_status_patches().len(), 3);
        Ok(())
    }

    #[tokio::test]
    async fn api_failures_are_errors_and_retried_next_time() -> TestResult {
        let mut sink = ConditionSink::new(unreachable().await?, "n".into(), DEFAULT_HEARTBEAT);
        let t0 = Instant::now();
        for _ in 0..2 {
            let err = sink.update(&[], &[], None, t0, at(0)).await.err();
            assert_eq!(
                err.as_ref().map(ConditionError::kind),
                Some("unreachable"),
                "{err:?}"
            );
        }
        let state = KubeState::new(&healthy()?);
        let mut sink = ConditionSink::new(
            serve(&state).await?,
            "no-such-node".into(),
            DEFAULT_HEARTBEAT,
        );
        let err = sink.update(&[], &[], None, t0, at(0)).await.err();
        assert_eq!(
            err.as_ref().map(ConditionError::kind),
            Some("not_found"),
            "{err:?}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_refused_read_of_the_node_asks_for_read_access() -> TestResult {
        const FORBIDDEN: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes \"n\" is forbidden","reason":"Forbidden","code":403}"#;
        let base = eniwatch_lab::test_servers::serve(eniwatch_lab::test_servers::answering(
            403, FORBIDDEN,
        ))
        .await;
        let client = kube::Client::try_from(kube::Config::new(base.parse()?))?;
        let mut sink = ConditionSink::new(client, "n".into(), DEFAULT_HEARTBEAT);
        let err = sink
            .update(&[], &[], None, Instant::now(), at(0))
            .await
            .err();
        let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(err.as_ref().map(ConditionError::kind), Some("forbidden"));
        assert!(text.contains("needs get/list/watch"), "{text}");
        assert!(!text.contains("may not write"), "{text}");
        Ok(())
    }
}

#[test]
fn no_eniconfig_anywhere_is_standard_mode_judged_and_drift_still_wins() {
    // Once "CustomNetworkingNotConfigured"; now standard mode, judged: the
    // fixture's secondaries may be in CNI-tagged subnets, unknown without
    // eniwatch-cluster's facts.
    use eniwatch_core::checks::fixture::{cluster, healthy};
    let mut s = healthy();
    cluster(&mut s).eni_configs = Some(vec![]);
    let e = eniwatch_core::checks::evaluate(&s);
    let v = verdict(&e.findings, &e.checks);
    assert_eq!(
        (v.status, v.reason.as_str()),
        (ConditionStatus::Unknown, "ChecksInconclusive")
    );
    assert!(v.message.contains("eni-subnet"), "{}", v.message);
    let active = [drift(Reason::PodRouteMissing, Subject::pod(None, "a"))];
    let v = verdict(&active, &e.checks);
    assert_eq!(
        (v.status, v.reason.as_str()),
        (ConditionStatus::False, "PodRouteMissing")
    );
}

#[test]
fn an_out_of_scope_node_reads_as_not_applicable() {
    use eniwatch_core::checks::fixture::{cluster, healthy};
    let mut s = healthy();
    cluster(&mut s)
        .node
        .labels
        .insert("kubernetes.io/os".into(), "windows".into());
    let e = eniwatch_core::checks::evaluate(&s);
    let v = verdict(&e.findings, &e.checks);
    assert_eq!(
        (v.status, v.reason.as_str()),
        (ConditionStatus::Unknown, "NotApplicable")
    );
}
