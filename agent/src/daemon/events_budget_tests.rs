use super::*;
use proptest::prelude::*;

fn pod(i: usize, reason: Reason) -> Finding {
    let name = format!("web-{i:02}");
    let message = format!("{reason} on {name}");
    Finding::new(
        "any",
        reason,
        Subject::pod(Some("shop".into()), name),
        message,
    )
}

fn began(fs: &[Finding]) -> Vec<Transition> {
    fs.iter().cloned().map(Transition::Began).collect()
}

fn resolved(fs: &[Finding]) -> Vec<Transition> {
    fs.iter().cloned().map(Transition::Resolved).collect()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn bucket_says_when_the_next_token_comes() {
    let t0 = Instant::now();
    let mut b = TokenBucket::new(2, 30);
    assert_eq!(b.next_token(t0), Some(t0), "full: now");
    assert!(b.try_take(t0) && b.try_take(t0));
    assert_eq!(b.next_token(t0), Some(t0 + secs(2)), "30/min: 2 s");
    assert_eq!(b.next_token(t0 + secs(1)), Some(t0 + secs(2)));
    assert_eq!(TokenBucket::new(2, 0).next_token(t0), Some(t0));
    let mut empty = TokenBucket::new(1, 0);
    assert!(empty.try_take(t0));
    assert_eq!(empty.next_token(t0), None, "no rate: never");
    assert_eq!(TokenBucket::new(0, 30).next_token(t0), None, "no burst");
}

#[test]
fn resolutions_of_written_warnings_come_first_and_wait_for_budget() {
    let t0 = Instant::now();
    let mut ledger = Ledger::new(3, 30);
    let old: Vec<Finding> = (0..3).map(|i| pod(i, Reason::PodRouteMissing)).collect();
    assert_eq!(ledger.plan(&began(&old), t0).len(), 3);
    // 4 s later: 2 tokens. New drift listed first, resolutions last.
    let new: Vec<Finding> = (3..6).map(|i| pod(i, Reason::PodRouteMissing)).collect();
    let mut batch = began(&new);
    batch.extend(resolved(&old));
    let writes = ledger.plan(&batch, t0 + secs(4));
    let got: Vec<(&Finding, Direction)> = writes.iter().map(|w| (&w.finding, w.dir)).collect();
    assert_eq!(
        got,
        [
            (&old[0], Direction::Resolved),
            (&old[1], Direction::Resolved)
        ]
    );
    // The third resolution waits for the next token, not the aggregate.
    assert_eq!(
        ledger.next_wake(t0 + secs(4)),
        Some(t0 + secs(4)),
        "aggregate due"
    );
    let summary = ledger.take_aggregate(t0 + secs(4));
    assert_eq!(
        summary,
        Some(BTreeMap::from([(
            (Reason::PodRouteMissing, Direction::Began),
            3
        )]))
    );
    assert_eq!(
        ledger.next_wake(t0 + secs(4)),
        Some(t0 + secs(6)),
        "next token"
    );
    let writes = ledger.plan(&[], t0 + secs(6));
    assert_eq!(writes.len(), 1);
    assert_eq!(
        (&writes[0].finding, writes[0].dir),
        (&old[2], Direction::Resolved)
    );
    assert_eq!(ledger.next_wake(t0 + secs(6)), None, "nothing left");
}

#[test]
fn a_written_warnings_resolution_is_not_deduplicated_away() {
    let t0 = Instant::now();
    let mut ledger = Ledger::new(10, 30);
    let f = pod(0, Reason::PodRuleMissing);
    let one = std::slice::from_ref(&f);
    assert_eq!(ledger.plan(&began(one), t0).len(), 1);
    assert_eq!(ledger.plan(&resolved(one), t0 + secs(1)).len(), 1);
    // The Warning again after the window, resolved within the window of
    // the first resolution: still written, or the pod ends on a Warning.
    assert_eq!(ledger.plan(&began(one), t0 + DEDUP_WINDOW).len(), 1);
    let again = ledger.plan(&resolved(one), t0 + DEDUP_WINDOW + secs(1));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].dir, Direction::Resolved);
}

#[test]
fn a_drift_back_before_its_resolution_was_written_owes_none() {
    let t0 = Instant::now();
    let mut ledger = Ledger::new(1, 1);
    let f = pod(0, Reason::PodRouteMissing);
    let one = std::slice::from_ref(&f);
    assert_eq!(ledger.plan(&began(one), t0).len(), 1);
    assert!(
        ledger.plan(&resolved(one), t0 + secs(1)).is_empty(),
        "no token"
    );
    assert!(
        ledger.plan(&began(one), t0 + secs(2)).is_empty(),
        "duplicate"
    );
    assert_eq!(
        ledger.next_wake(t0 + secs(2)),
        None,
        "the Warning is true again"
    );
}

#[test]
fn unattempted_writes_are_deferred_and_their_tokens_spent() {
    let t0 = Instant::now();
    let mut ledger = Ledger::new(2, 0);
    let fs = [
        pod(0, Reason::PodRouteMissing),
        pod(1, Reason::PodRouteMissing),
    ];
    let mut writes = ledger.plan(&began(&fs), t0);
    assert_eq!(ledger.bucket().available(t0), 0);
    let rest = writes.split_off(1);
    ledger.unwind(rest);
    assert_eq!(ledger.bucket().available(t0), 0, "no faster retry");
    let summary = ledger.take_aggregate(t0);
    assert_eq!(
        summary,
        Some(BTreeMap::from([(
            (Reason::PodRouteMissing, Direction::Began),
            1
        )]))
    );
}

/// One step of the property test: the clock moves, some findings toggle.
#[derive(Debug, Clone)]
struct Step {
    advance_ms: u64,
    toggles: Vec<usize>,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (0u64..90_000, prop::collection::vec(0usize..12, 0..12)).prop_map(
        |(advance_ms, toggles)| Step {
            advance_ms,
            toggles,
        },
    );
    prop::collection::vec(step, 1..40)
}

fn universe() -> Vec<Finding> {
    (0..6)
        .flat_map(|i| {
            [
                pod(i, Reason::PodRouteMissing),
                pod(i, Reason::PodRuleMissing),
            ]
        })
        .collect()
}

/// What a run wrote: individual events with their time, aggregates' times.
#[derive(Default)]
struct Written {
    events: Vec<(Instant, Finding, Direction)>,
    aggregates: Vec<Instant>,
}

impl Written {
    fn run(&mut self, ledger: &mut Ledger, batch: &[Transition], now: Instant) {
        let writes = ledger.plan(batch, now);
        let first_new = writes.iter().position(|w| !w.owed).unwrap_or(writes.len());
        assert!(writes[first_new..].iter().all(|w| !w.owed), "owed first");
        for w in writes {
            self.events.push((now, w.finding, w.dir));
        }
        if ledger.take_aggregate(now).is_some() {
            self.aggregates.push(now);
        }
    }
}

proptest! {
    #[test]
    fn the_budget_holds_and_warnings_get_their_resolution(
        burst in 0u32..6,
        per_minute in 0u32..40,
        steps in steps(),
    ) {
        let all = universe();
        let mut active = vec![false; all.len()];
        let mut ledger = Ledger::new(burst, per_minute);
        let mut written = Written::default();
        let mut now = Instant::now();
        for step in &steps {
            now += Duration::from_millis(step.advance_ms);
            let mut batch = Vec::new();
            let mut seen = Vec::new();
            for &i in &step.toggles {
                if seen.contains(&i) {
                    continue;
                }
                seen.push(i);
                active[i] = !active[i];
                let f = all[i].clone();
                batch.push(if active[i] { Transition::Began(f) } else { Transition::Resolved(f) });
            }
            written.run(&mut ledger, &batch, now);
        }
        // The timer's wake-ups, until nothing is due.
        for _ in 0..1000 {
            let Some(at) = ledger.next_wake(now) else { break };
            now = now.max(at);
            written.run(&mut ledger, &[], now);
        }
        // Individual events in any window: at most burst + rate x window.
        let times: Vec<Instant> = written.events.iter().map(|e| e.0).collect();
        for (i, start) in times.iter().enumerate() {
            for (j, end) in times.iter().enumerate().skip(i) {
                let n = (j - i + 1) as u128;
                let window = end.saturating_duration_since(*start).as_nanos();
                let allowed = u128::from(burst) * TOKEN + u128::from(per_minute) * window;
                prop_assert!(n * TOKEN <= allowed, "{n} events in {window} ns");
            }
        }
        for pair in written.aggregates.windows(2) {
            prop_assert!(pair[1].saturating_duration_since(pair[0]) >= AGGREGATE_INTERVAL);
        }
        if per_minute > 0 && burst > 0 {
            for (i, f) in all.iter().enumerate() {
                let last = written.events.iter().rev().find(|e| &e.1 == f).map(|e| e.2);
                prop_assert!(
                    active[i] || last != Some(Direction::Began),
                    "{} ends on a stale Warning", f.subject
                );
            }
        }
    }
}
