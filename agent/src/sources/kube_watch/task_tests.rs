//! The watch tasks' bookkeeping, backoff and error words.

use super::*;

fn spec_for_pods(w: &ClusterWatch) -> (Spec<eniwatch_core::model::PodInfo>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel(1);
    let spec = Spec {
        watch: w.clone(),
        counts: RequestCounts::default(),
        changed: tx,
        is_crd: false,
        select: |m| &mut m.pods,
    };
    (spec, rx)
}

#[test]
fn the_first_failure_of_an_outage_makes_every_watch_relist_the_next_ones_do_not() {
    let w = ClusterWatch::default();
    {
        let mut m = w.lock();
        m.node.listed = true;
        m.pods.listed = true;
        m.eniconfigs.listed = true;
    }
    let mut relist = w.control.relist.subscribe();
    relist.borrow_and_update();
    let (spec, _rx) = spec_for_pods(&w);
    record_failure(
        &spec,
        "the watch connection failed: reset".into(),
        "unreachable",
    );
    assert!(relist.has_changed().unwrap_or(false));
    {
        let m = w.lock();
        assert!(!m.node.listed && !m.pods.listed && !m.eniconfigs.listed);
        assert!(m.failing());
    }
    relist.borrow_and_update();
    record_failure(
        &spec,
        "listing failed: connection refused".into(),
        "unreachable",
    );
    assert!(
        !relist.has_changed().unwrap_or(true),
        "a failure during an outage restarts nothing else"
    );
    assert_eq!(
        w.lock().pods.error.as_deref(),
        Some("listing failed: connection refused")
    );
}

#[test]
fn the_backoff_doubles_from_half_a_second_to_its_cap() {
    let ms = |n| retry_delay(n).as_millis();
    assert_eq!(
        [ms(1), ms(2), ms(3), ms(4), ms(5), ms(40)],
        [500, 1000, 2000, 4000, 4000, 4000]
    );
}

#[test]
fn errors_are_put_in_words() {
    let gone = kube::core::Status::failure("too old resource version", "Expired").with_code(410);
    let gone = watcher::Error::WatchError(Box::new(gone));
    assert!(expired(&gone));
    assert_eq!(
        describe(&gone),
        "the watch's resourceVersion has expired (410 Gone)"
    );
    let missing = kube::core::Status::failure(
        "the server could not find the requested resource",
        "NotFound",
    )
    .with_code(404);
    let e = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(missing)));
    assert!(crd_missing(&e));
    let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    let cut = watcher::Error::WatchStartFailed(kube::Error::Service(Box::new(refused)));
    assert_eq!(
        describe(&cut),
        "the watch could not start: unreachable: connection refused"
    );
    assert_eq!(
        describe(&e),
        "the initial list failed: the API server answered HTTP 404 Not Found: the server could not find the requested resource"
    );
}

#[test]
fn a_restart_waits_at_most_4_8_s_and_the_watches_draw_apart() {
    assert_eq!(RESTART.longest(u32::MAX), Duration::from_millis(4800));
    assert!(RESTART.longest(u32::MAX) < Duration::from_secs(5));
    let mut rng = fastrand::Rng::with_seed(1);
    let waits: Vec<Duration> = (0..16)
        .map(|_| RESTART.jitter(retry_delay(3), &mut rng))
        .collect();
    for w in &waits {
        assert!(
            (Duration::from_secs(2)..=Duration::from_millis(2400)).contains(w),
            "{w:?}"
        );
    }
    assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
}

#[test]
fn a_failed_watch_leaves_the_view_unavailable_with_its_errors_kind() {
    let w = ClusterWatch::default();
    let (spec, _rx) = spec_for_pods(&w);
    let status = kube::core::Status::failure("pods is forbidden", "Forbidden").with_code(403);
    let e = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)));
    record_failure(&spec, describe(&e), watch_error_kind(&e));
    let u = w.view("n").expect_err("no view while a watch fails");
    assert_eq!(u.kind, "forbidden");
    assert!(
        u.reason.starts_with(
            "watching pods: the initial list failed: the API server answered HTTP 403 Forbidden"
        ),
        "{}",
        u.reason
    );
}
