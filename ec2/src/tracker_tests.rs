//! EC2's backoff and subnet refresh: the documented schedule, and jitter
//! that differs from one draw, and one node, to the next.

use super::*;

fn tracker() -> Ec2Policy {
    Ec2Policy::new(Duration::from_secs(300))
}

fn within(d: Duration, secs: u64) -> bool {
    let floor = Duration::from_secs(secs);
    d >= floor && d <= floor.mul_f64(1.2)
}

#[test]
fn a_failed_call_backs_off_30_s_doubling_to_15_min_plus_up_to_a_fifth() {
    let mut t = tracker();
    for (n, secs) in [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 900)] {
        for _ in 0..20 {
            let d = t.backoff_wait(false, n);
            assert!(within(d, secs), "failure {n}: {d:?}");
        }
    }
    for (n, secs) in [(1, 300), (2, 600), (3, 900), (u32::MAX, 900)] {
        let d = t.backoff_wait(true, n);
        assert!(within(d, secs), "denied {n}: {d:?}");
    }
}

#[test]
fn the_backoff_jitter_is_drawn_anew_for_every_failure() {
    let mut t = tracker();
    let waits: Vec<Duration> = (0..16).map(|_| t.backoff_wait(false, 3)).collect();
    assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
    let mut other = tracker();
    let pairs: Vec<(Duration, Duration)> = (0..4)
        .map(|_| (t.backoff_wait(false, 1), other.backoff_wait(false, 1)))
        .collect();
    assert!(
        pairs.iter().any(|(a, b)| a != b),
        "two nodes back off differently: {pairs:?}"
    );
}

#[test]
fn the_subnet_refresh_is_spread_over_a_fifth_of_its_interval() {
    let mut t = tracker();
    let refreshes: Vec<Duration> = (0..32).map(|_| t.refresh_after()).collect();
    for r in &refreshes {
        assert!(within(*r, 300), "{r:?}");
    }
    assert!(
        refreshes.iter().any(|r| *r != refreshes[0]),
        "not one offset for every refresh: {refreshes:?}"
    );
}
