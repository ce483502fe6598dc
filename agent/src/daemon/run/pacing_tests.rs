//! The IMDS schedule on a simulated clock: timer reads, the full read every
//! `FULL_READ_EVERY` of them, link changes, retries and rechecks.

use super::*;

const INTERVAL: Duration = Duration::from_secs(60);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Plays `reads` timer reads that all succeed, from a schedule at `t0`;
/// returns the kind of each and when it was due.
fn timer_reads(
    s: &mut ImdsSchedule,
    reads: usize,
    rng: &mut fastrand::Rng,
) -> Vec<(Read, Instant)> {
    let mut out = Vec::new();
    for _ in 0..reads {
        let at = s.next();
        let read = s.due(at).expect("due at its own deadline");
        s.done(read, true, at, rng);
        out.push((read, at));
    }
    out
}

#[test]
fn the_first_read_is_full_and_due_at_once() {
    let t0 = Instant::now();
    let s = ImdsSchedule::new(INTERVAL, t0);
    assert_eq!(s.next(), t0);
    assert_eq!(s.due(t0), Some(Read::Full));
}

#[test]
fn nothing_is_due_before_the_interval_has_passed() {
    let t0 = Instant::now();
    let mut s = ImdsSchedule::new(INTERVAL, t0);
    s.done(Read::Full, true, t0, &mut fastrand::Rng::with_seed(1));
    assert_eq!(s.due(t0 + secs(59)), None);
    assert_eq!(s.next(), t0 + INTERVAL);
    assert_eq!(s.due(t0 + INTERVAL), Some(Read::Light));
}

#[test]
fn a_steady_node_reads_once_per_interval_light_with_a_full_read_every_ten() {
    let t0 = Instant::now();
    let mut rng = fastrand::Rng::with_seed(2);
    let mut s = ImdsSchedule::new(INTERVAL, t0);
    let reads = timer_reads(&mut s, 1 + 2 * (FULL_READ_EVERY as usize + 1), &mut rng);
    for (i, (_, at)) in reads.iter().enumerate() {
        assert_eq!(*at, t0 + INTERVAL * i as u32, "read {i}");
    }
    let full: Vec<usize> = reads
        .iter()
        .enumerate()
        .filter(|(_, (r, _))| *r == Read::Full)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(full, vec![0, 11, 22], "a full read, then ten light ones");
}

#[test]
fn a_link_change_makes_the_next_read_full_and_due_now() {
    let t0 = Instant::now();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut s = ImdsSchedule::new(INTERVAL, t0);
    timer_reads(&mut s, 3, &mut rng);
    let now = t0 + INTERVAL * 2 + secs(7);
    assert_eq!(s.due(now), None);
    s.link_changed(now);
    assert_eq!(s.due(now), Some(Read::Full));
    s.done(Read::Full, true, now, &mut rng);
    assert_eq!(s.next(), now + INTERVAL);
    assert_eq!(
        s.due(now + INTERVAL),
        Some(Read::Light),
        "and light again after"
    );
}

#[test]
fn a_failed_read_is_retried_full_with_backoff_then_the_interval_again() {
    let t0 = Instant::now();
    let mut rng = fastrand::Rng::with_seed(4);
    let mut s = ImdsSchedule::new(INTERVAL, t0);
    s.done(Read::Full, true, t0, &mut rng);
    let mut now = t0 + INTERVAL;
    let read = s.due(now);
    assert_eq!(read, Some(Read::Light));
    let mut waits = Vec::new();
    for _ in 0..3 {
        let read = s.due(now).expect("due");
        s.done(read, false, now, &mut rng);
        waits.push(s.next() - now);
        now = s.next();
        assert_eq!(s.due(now), Some(Read::Full), "a retry is full");
    }
    for (w, base) in waits.iter().zip([5, 10, 20]) {
        assert!(
            *w >= secs(base) && *w <= secs(base).mul_f64(1.2),
            "{waits:?}"
        );
    }
    s.done(Read::Full, true, now, &mut rng);
    assert_eq!(
        s.next(),
        now + INTERVAL,
        "back to the interval once it answers"
    );
}

#[test]
fn a_settling_finding_asks_for_a_read_unless_imds_is_fresh() {
    let t0 = Instant::now();
    let mut s = ImdsSchedule::new(INTERVAL, t0);
    s.done(Read::Full, true, t0, &mut fastrand::Rng::with_seed(5));
    s.recheck(t0 + secs(4));
    assert_eq!(s.next(), t0 + INTERVAL, "read 4 s ago: fresh enough");
    s.recheck(t0 + IMDS_RECHECK);
    assert_eq!(s.next(), t0 + IMDS_RECHECK);
    assert_eq!(s.due(t0 + IMDS_RECHECK), Some(Read::Light));
}

#[test]
fn without_a_client_the_schedule_only_moves_on() {
    let t0 = Instant::now();
    let mut s = ImdsSchedule::new(INTERVAL, t0);
    s.skip(t0);
    assert_eq!(s.next(), t0 + INTERVAL);
    s.recheck(t0 + secs(1));
    assert_eq!(s.next(), t0 + secs(1), "never read: a recheck is due");
}
