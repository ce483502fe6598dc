//! The retry policy's bounds, schedule and jitter, for any input.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// Always the same quantile of the allowed range: 0 is the floor, 1000 the top.
struct Quantile(u64);

impl Draw for Quantile {
    fn up_to(&mut self, max: u64) -> u64 {
        let q = u128::from(self.0.min(1000));
        u64::try_from(u128::from(max) * q / 1000).unwrap_or(max)
    }
}

/// A draw that ignores its bound: the policy must clamp it.
struct Liar;

impl Draw for Liar {
    fn up_to(&mut self, _max: u64) -> u64 {
        u64::MAX
    }
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=3_600_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        Just(Duration::MAX),
        Just(Duration::ZERO),
    ]
}

fn any_policy() -> impl Strategy<Value = Backoff> {
    (any_duration(), any::<u32>(), any_duration(), 0u32..=150).prop_map(
        |(base, factor, cap, pct)| Backoff::new(base, factor, cap).with_jitter_percent(pct),
    )
}

fn cap_with_jitter(p: &Backoff) -> Duration {
    let extra = p.cap().as_nanos() * u128::from(p.jitter_percent()) / 100;
    let extra = Duration::from_nanos(u64::try_from(extra).unwrap_or(u64::MAX));
    p.cap().saturating_add(extra)
}

proptest! {
    #[test]
    fn a_delay_never_exceeds_the_cap_plus_its_jitter(
        p in any_policy(),
        attempt in any::<u32>(),
        seed in any::<u64>(),
    ) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let d = p.delay(attempt, &mut rng);
        prop_assert!(d <= cap_with_jitter(&p), "{d:?} > {:?}", cap_with_jitter(&p));
        prop_assert!(d <= p.longest(attempt));
        prop_assert!(p.delay(attempt, &mut Liar) <= p.longest(attempt));
    }

    #[test]
    fn jitter_only_lengthens_the_nominal_delay(
        p in any_policy(),
        attempt in any::<u32>(),
        seed in any::<u64>(),
    ) {
        let mut rng = fastrand::Rng::with_seed(seed);
        prop_assert!(p.delay(attempt, &mut rng) >= p.nominal(attempt));
        prop_assert!(p.nominal(attempt) <= p.cap());
    }

    #[test]
    fn delays_do_not_decrease_from_one_attempt_to_the_next(
        p in any_policy(),
        attempt in any::<u32>(),
        q in 0u64..=1000,
    ) {
        // The same quantile of each attempt's range: pointwise, and so in
        // expectation, a later attempt never waits less.
        let next = attempt.saturating_add(1);
        prop_assert!(p.nominal(next) >= p.nominal(attempt));
        prop_assert!(p.delay(next, &mut Quantile(q)) >= p.delay(attempt, &mut Quantile(q)));
    }

    #[test]
    fn huge_attempt_counts_wait_the_cap_and_do_not_overflow(
        base in 1u64..=10_000,
        factor in 2u32..=u32::MAX,
        attempt in 64u32..=u32::MAX,
    ) {
        let cap = Duration::from_secs(900);
        let p = Backoff::new(Duration::from_millis(base), factor, cap).with_jitter_percent(20);
        prop_assert_eq!(p.nominal(attempt), cap);
        prop_assert_eq!(p.delay(attempt, &mut Quantile(0)), cap);
        prop_assert_eq!(p.delay(attempt, &mut Quantile(1000)), Duration::from_secs(1080));
    }
}

#[test]
fn the_schedule_multiplies_from_the_base_to_the_cap() {
    let p = Backoff::new(Duration::from_secs(30), 2, Duration::from_secs(900));
    let secs: Vec<u64> = (0..=8).map(|n| p.nominal(n).as_secs()).collect();
    assert_eq!(secs, [30, 30, 60, 120, 240, 480, 900, 900, 900]);
    assert_eq!(
        p.delay(3, &mut fastrand::Rng::new()),
        Duration::from_secs(120)
    );
    let constant = Backoff::new(Duration::from_secs(5), 0, Duration::from_secs(60));
    assert_eq!(constant.nominal(u32::MAX), Duration::from_secs(5));
    let none = Backoff::new(Duration::ZERO, 2, Duration::from_secs(60)).with_jitter_percent(20);
    assert_eq!(none.delay(u32::MAX, &mut Liar), Duration::ZERO);
}

#[test]
fn the_jitter_is_bounded_by_its_percentage() {
    let p =
        Backoff::new(Duration::from_secs(30), 2, Duration::from_secs(900)).with_jitter_percent(20);
    assert_eq!(p.delay(1, &mut Quantile(0)), Duration::from_secs(30));
    assert_eq!(p.delay(1, &mut Quantile(500)), Duration::from_secs(33));
    assert_eq!(p.delay(1, &mut Quantile(1000)), Duration::from_secs(36));
    assert_eq!(p.delay(1, &mut Liar), Duration::from_secs(36));
    assert_eq!(p.longest(9), Duration::from_secs(1080));
    let wild =
        Backoff::new(Duration::from_secs(1), 2, Duration::from_secs(8)).with_jitter_percent(900);
    assert_eq!(wild.jitter_percent(), MAX_JITTER_PERCENT);
    assert_eq!(wild.longest(1), Duration::from_secs(2));
}

#[test]
fn the_jitter_is_real_two_draws_differ() {
    let p =
        Backoff::new(Duration::from_secs(30), 2, Duration::from_secs(900)).with_jitter_percent(20);
    let mut rng = fastrand::Rng::with_seed(7);
    let draws: Vec<Duration> = (0..16).map(|_| p.delay(4, &mut rng)).collect();
    let mut distinct = draws.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 12, "{draws:?}");
    // Two owners (two nodes) draw differently at the same attempt.
    let (mut a, mut b) = (fastrand::Rng::new(), fastrand::Rng::new());
    let pairs: Vec<(Duration, Duration)> = (0..4)
        .map(|_| (p.delay(1, &mut a), p.delay(1, &mut b)))
        .collect();
    assert!(pairs.iter().any(|(x, y)| x != y), "{pairs:?}");
    // And the draws spread over the whole range, not one offset.
    let mut rng = fastrand::Rng::with_seed(11);
    let spread: Vec<Duration> = (0..200).map(|_| p.delay(1, &mut rng)).collect();
    assert!(spread.iter().any(|d| *d < Duration::from_secs(31)));
    assert!(spread.iter().any(|d| *d > Duration::from_secs(35)));
}

#[test]
fn the_mean_delay_grows_with_the_attempt() {
    let p =
        Backoff::new(Duration::from_millis(500), 2, Duration::from_secs(4)).with_jitter_percent(20);
    let mean = |attempt: u32, seed: u64| {
        let mut rng = fastrand::Rng::with_seed(seed);
        let total: Duration = (0..400).map(|_| p.delay(attempt, &mut rng)).sum();
        total / 400
    };
    let means: Vec<Duration> = (1..=6).map(|n| mean(n, u64::from(n))).collect();
    for pair in means.windows(2) {
        // At the cap the means are equal in expectation: allow 2 % of noise.
        assert!(pair[1] >= pair[0].mul_f64(0.98), "{means:?}");
    }
    assert!(means[3] > means[0].mul_f64(7.0), "{means:?}");
}
