use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::witnesses::Ec2Config;
use eniwatch_core::checks::fixture::healthy_witnessed;

/// An EC2 endpoint that accepts connections and never answers; counts them.
async fn silent_ec2() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (format!("http://{addr}"), accepted)
}

#[tokio::test]
async fn a_call_cut_off_by_the_cycle_limit_backs_off() {
    let (endpoint, accepted) = silent_ec2().await;
    let config = Ec2Config {
        endpoint: Some(endpoint),
        region: Some("eu-west-1".into()),
        static_credentials: Some(("AKIDEXAMPLE".into(), "secret".into())),
    };
    let calls = RequestCounts::new();
    let mut sources = WitnessSources::from_parts(
        Some(Ec2Tracker::new(config, Duration::from_secs(300), calls)),
        None,
    );
    let limit = Duration::from_millis(300);
    let t0 = Instant::now();
    let mut snapshot = healthy_witnessed();
    sources.observe(&mut snapshot, false, limit, t0).await;
    let Witness::On(Err(u)) = &snapshot.ec2 else {
        panic!("expected a timeout: {:?}", snapshot.ec2);
    };
    assert_eq!(u.kind, "timeout", "{u:?}");
    let asked = accepted.load(Ordering::SeqCst);
    assert_eq!(asked, 1, "one call was under way when the limit hit");

    // The next cycles, a second apart: each operation is cut off once and
    // then waits out its backoff instead of being asked again every cycle.
    let mut last = None;
    for second in 1..=20 {
        let mut snapshot = healthy_witnessed();
        let now = t0 + Duration::from_secs(second);
        sources.observe(&mut snapshot, false, limit, now).await;
        last = Some(snapshot.ec2);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "one cut-off call per operation in 20 cycles"
    );
    let Some(Witness::On(Ok(view))) = last else {
        panic!("backed-off calls answer at once: {last:?}");
    };
    assert_eq!(view.instance_type.unwrap_err().kind, "timeout");
    assert_eq!(view.attachments.unwrap_err().kind, "timeout");
    for s in view.subnets {
        assert_eq!(s.facts.unwrap_err().kind, "timeout");
    }
}

#[tokio::test]
async fn the_first_report_does_not_wait_on_ec2_and_the_next_cycle_asks() {
    let (endpoint, accepted) = silent_ec2().await;
    let config = Ec2Config {
        endpoint: Some(endpoint),
        region: Some("eu-west-1".into()),
        static_credentials: Some(("AKIDEXAMPLE".into(), "secret".into())),
    };
    let tracker = Ec2Tracker::new(config, Duration::from_secs(300), RequestCounts::new());
    let mut sources = WitnessSources::from_parts(Some(tracker), None).defer_first_ec2();
    let t0 = Instant::now();
    let mut first = healthy_witnessed();
    sources
        .observe(&mut first, false, Duration::from_secs(5), t0)
        .await;
    assert!(t0.elapsed() < Duration::from_millis(500), "not held by EC2");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "EC2 not asked");
    let Witness::On(Err(u)) = &first.ec2 else {
        panic!("EC2 is unknown in the first report: {:?}", first.ec2);
    };
    assert_eq!(u.kind, "dependency");
    // What needs EC2 is unknown, never drift.
    let evaluation = eniwatch_core::checks::evaluate(&first);
    assert!(evaluation.findings.is_empty(), "{:?}", evaluation.findings);
    for check in [
        "max-pods",
        "eniconfig-subnet",
        "subnet-headroom",
        "eni-attachment",
    ] {
        let c = evaluation
            .checks
            .iter()
            .find(|c| c.name == check)
            .expect(check);
        assert_eq!(
            c.status,
            eniwatch_core::checks::CheckStatus::Unknown,
            "{check}"
        );
    }
    assert!(
        sources.take_deferred(),
        "the loop runs the next cycle at once"
    );
    assert!(!sources.take_deferred(), "once");

    let mut second = healthy_witnessed();
    sources
        .observe(&mut second, false, Duration::from_millis(300), t0)
        .await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the next cycle asks");
    assert!(!sources.take_deferred());
}
