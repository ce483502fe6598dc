//! The settler on a hand-driven clock.

use super::*;

fn f(reason: Reason, pod: &str) -> Finding {
    Finding::new(
        "pod-routes",
        reason,
        Subject::pod(Some("ns".into()), pod),
        format!("{pod} broken"),
    )
}

const NEVER: &dyn Fn(&str) -> bool = &|_| false;

#[test]
fn lagging_witnesses_settle_for_their_floor_even_with_no_grace() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::ZERO);
    let lagging = Finding::new(
        "ipamd-state",
        Reason::IPAMDStateMismatch,
        Subject::pod(None, "100.64.1.13"),
        "leaked".into(),
    );
    let kernel = f(Reason::PodRouteMissing, "a");
    let both = [lagging.clone(), kernel.clone()];
    let began = s.observe(&both, NEVER, t0);
    assert_eq!(began, vec![Transition::Began(kernel)], "no floor: at once");
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(90)));
    assert!(s
        .observe(&both, NEVER, t0 + Duration::from_secs(89))
        .is_empty());
    assert_eq!(
        s.observe(&both, NEVER, t0 + Duration::from_secs(90)),
        vec![Transition::Began(lagging)]
    );
}

#[test]
fn drift_begins_only_after_the_grace_period() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::from_secs(10));
    let a = f(Reason::PodRouteMissing, "a");
    assert!(s.observe(std::slice::from_ref(&a), NEVER, t0).is_empty());
    assert!(s
        .observe(std::slice::from_ref(&a), NEVER, t0 + Duration::from_secs(5))
        .is_empty());
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(10)));
    let tr = s.observe(
        std::slice::from_ref(&a),
        NEVER,
        t0 + Duration::from_secs(10),
    );
    assert_eq!(tr, vec![Transition::Began(a.clone())]);
    assert_eq!(s.active().len(), 1);
    // Still there: no new transition.
    assert!(s
        .observe(
            std::slice::from_ref(&a),
            NEVER,
            t0 + Duration::from_secs(20)
        )
        .is_empty());
    // Gone: resolved.
    let tr = s.observe(&[], NEVER, t0 + Duration::from_secs(21));
    assert_eq!(tr, vec![Transition::Resolved(a)]);
    assert!(s.active().is_empty());
}

#[test]
fn a_blip_shorter_than_the_grace_period_is_never_reported() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::from_secs(10));
    let a = f(Reason::PodRuleMissing, "a");
    assert!(s.observe(std::slice::from_ref(&a), NEVER, t0).is_empty());
    assert!(s
        .observe(&[], NEVER, t0 + Duration::from_secs(3))
        .is_empty());
    assert!(s
        .observe(std::slice::from_ref(&a), NEVER, t0 + Duration::from_secs(4))
        .is_empty());
    assert_eq!(
        s.next_deadline(),
        Some(t0 + Duration::from_secs(14)),
        "the clock restarts"
    );
}

#[test]
fn zero_grace_reports_at_once() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::ZERO);
    let a = f(Reason::PodRouteMissing, "a");
    assert_eq!(s.observe(std::slice::from_ref(&a), NEVER, t0).len(), 1);
}

#[test]
fn an_outage_neither_resolves_nor_raises() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::ZERO);
    let a = f(Reason::PodRouteMissing, "a");
    s.observe(std::slice::from_ref(&a), NEVER, t0);
    let outage: &dyn Fn(&str) -> bool = &|check| check == "pod-routes";
    assert!(s
        .observe(&[], outage, t0 + Duration::from_secs(1))
        .is_empty());
    assert_eq!(s.active().len(), 1, "still active through the outage");
}

#[test]
fn message_changes_do_not_restart_the_clock() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::from_secs(10));
    let mut a = f(Reason::PodRouteMissing, "a");
    s.observe(std::slice::from_ref(&a), NEVER, t0);
    a.message = "other words".into();
    let tr = s.observe(
        std::slice::from_ref(&a),
        NEVER,
        t0 + Duration::from_secs(10),
    );
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].finding().message, "other words");
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn time_spent_unknown_does_not_count_toward_the_grace_period() {
    let t0 = Instant::now();
    let mut s = Settler::new(secs(10));
    let a = f(Reason::PodRouteMissing, "a");
    let outage: &dyn Fn(&str) -> bool = &|check| check == "pod-routes";
    assert!(s.observe(std::slice::from_ref(&a), NEVER, t0).is_empty());
    assert!(s
        .observe(std::slice::from_ref(&a), NEVER, t0 + secs(4))
        .is_empty());
    // The source goes away for a minute: the clock stops at 4 s.
    assert!(s.observe(&[], outage, t0 + secs(5)).is_empty());
    assert_eq!(s.next_deadline(), None, "no deadline while paused");
    assert!(s.observe(&[], outage, t0 + secs(60)).is_empty());
    // Back: seen again, 4 s judged so far; the gap counts for nothing.
    assert!(s
        .observe(std::slice::from_ref(&a), NEVER, t0 + secs(65))
        .is_empty());
    assert_eq!(s.next_deadline(), Some(t0 + secs(71)));
    assert!(s
        .observe(std::slice::from_ref(&a), NEVER, t0 + secs(70))
        .is_empty());
    assert_eq!(
        s.observe(std::slice::from_ref(&a), NEVER, t0 + secs(71)),
        vec![Transition::Began(a)]
    );
}

#[test]
fn a_finding_first_seen_by_an_unknown_check_has_no_clock_yet() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::ZERO);
    let a = f(Reason::PodRouteMissing, "a");
    let outage: &dyn Fn(&str) -> bool = &|check| check == "pod-routes";
    assert!(s.due(std::slice::from_ref(&a), outage, t0).is_empty());
    assert!(s.observe(std::slice::from_ref(&a), outage, t0).is_empty());
    assert_eq!(s.next_deadline(), None);
    assert_eq!(s.settling().len(), 1);
    assert_eq!(
        s.observe(std::slice::from_ref(&a), NEVER, t0 + secs(1)),
        vec![Transition::Began(a)]
    );
}

#[test]
fn due_names_exactly_the_findings_that_would_begin() {
    let t0 = Instant::now();
    let mut s = Settler::new(secs(10));
    let a = f(Reason::PodRouteMissing, "a");
    let b = f(Reason::PodRuleMissing, "b");
    s.observe(std::slice::from_ref(&a), NEVER, t0);
    let both = [a.clone(), b.clone()];
    assert!(s.due(&both, NEVER, t0 + secs(9)).is_empty());
    assert_eq!(s.due(&both, NEVER, t0 + secs(10)), vec![&a]);
    // Asking changes nothing.
    assert_eq!(s.due(&both, NEVER, t0 + secs(10)), vec![&a]);
    assert_eq!(
        s.observe(&both, NEVER, t0 + secs(10)),
        vec![Transition::Began(a.clone())]
    );
    assert!(s.due(&both, NEVER, t0 + secs(11)).is_empty(), "a is active");
}

#[test]
fn a_held_finding_waits_and_moves_the_deadline() {
    let t0 = Instant::now();
    let mut s = Settler::new(Duration::ZERO);
    let a = f(Reason::PodRouteMissing, "a");
    s.hold(&a, t0 + secs(2));
    assert!(s.due(std::slice::from_ref(&a), NEVER, t0).is_empty());
    assert!(s.observe(std::slice::from_ref(&a), NEVER, t0).is_empty());
    assert_eq!(s.next_deadline(), Some(t0 + secs(2)));
    assert!(s
        .observe(std::slice::from_ref(&a), NEVER, t0 + secs(1))
        .is_empty());
    assert_eq!(
        s.observe(std::slice::from_ref(&a), NEVER, t0 + secs(2)),
        vec![Transition::Began(a.clone())]
    );
    // A hold on a finding that then goes away is forgotten with it.
    let b = f(Reason::PodRuleMissing, "b");
    s.hold(&b, t0 + secs(100));
    s.observe(&[], NEVER, t0 + secs(3));
    assert_eq!(
        s.observe(std::slice::from_ref(&b), NEVER, t0 + secs(4))
            .len(),
        1
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;

    /// One cycle: time since the previous one, whether the check could
    /// judge, and whether the finding was there.
    fn cycles() -> impl Strategy<Value = Vec<(u64, bool, bool)>> {
        proptest::collection::vec((0u64..5_000, any::<bool>(), any::<bool>()), 1..60)
    }

    proptest! {
        /// A finding never becomes drift before it has been judged present
        /// for its whole grace period: only the stretches between two
        /// consecutive cycles that both judged it present count.
        #[test]
        fn never_drift_before_judged_present_for_the_grace_period(
            grace_ms in 0u64..10_000,
            steps in cycles(),
        ) {
            let grace = Duration::from_millis(grace_ms);
            let mut s = Settler::new(grace);
            let a = f(Reason::PodRouteMissing, "a");
            let judged_out: &dyn Fn(&str) -> bool = &|_| true;
            let mut now = Instant::now();
            let mut present_for = Duration::ZERO;
            let mut previous_present = false;
            let mut active = false;
            for (dt, judged, present) in steps {
                now += Duration::from_millis(dt);
                let findings = if present { vec![a.clone()] } else { vec![] };
                let unjudged = if judged { NEVER } else { judged_out };
                let due = s.due(&findings, unjudged, now).len();
                let tr = s.observe(&findings, unjudged, now);
                prop_assert_eq!(tr.iter().filter(|t| matches!(t, Transition::Began(_))).count(), due);
                if judged && present && previous_present && !active {
                    present_for += Duration::from_millis(dt);
                }
                if judged && !present {
                    if !active { present_for = Duration::ZERO; }
                    active = false;
                }
                for t in &tr {
                    if let Transition::Began(_) = t {
                        prop_assert!(
                            present_for >= grace,
                            "began after {:?} judged present, grace {:?}", present_for, grace
                        );
                        active = true;
                        present_for = Duration::ZERO;
                    }
                }
                if judged {
                    previous_present = present;
                } else {
                    previous_present = false;
                }
            }
        }
    }
    proptest! {
        /// While its check cannot judge (its input is unknown), a finding
        /// neither begins nor resolves, whatever came before: unknown is
        /// never drift and never a recovery.
        #[test]
        fn nothing_begins_or_resolves_while_unjudged(
            grace_ms in 0u64..3_000,
            steps in cycles(),
        ) {
            let mut s = Settler::new(Duration::from_millis(grace_ms));
            let a = f(Reason::PodRouteMissing, "a");
            let judged_out: &dyn Fn(&str) -> bool = &|_| true;
            let mut now = Instant::now();
            for (i, (dt, judged, present)) in steps.into_iter().enumerate() {
                now += Duration::from_millis(dt);
                let findings = if present { vec![a.clone()] } else { vec![] };
                let unjudged = if judged { NEVER } else { judged_out };
                let tr = s.observe(&findings, unjudged, now);
                if !judged {
                    prop_assert!(tr.is_empty(), "cycle {}: {:?} while unjudged", i, tr);
                }
            }
        }
    }
}
