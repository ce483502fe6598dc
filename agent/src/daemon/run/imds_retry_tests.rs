//! The loop's re-read of a failed IMDS read: its schedule, bound and jitter.

use std::time::Duration;

use super::imds_retry_wait;

#[test]
fn a_failed_read_is_retried_after_5_10_20_s_up_to_the_interval() {
    let interval = Duration::from_secs(60);
    let mut rng = fastrand::Rng::with_seed(5);
    for (n, secs) in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (40, 60)] {
        for _ in 0..50 {
            let w = imds_retry_wait(n, interval, &mut rng);
            let top = Duration::from_secs(secs).mul_f64(1.2).min(interval);
            assert!(
                w >= Duration::from_secs(secs) && w <= top,
                "attempt {n}: {w:?}"
            );
        }
    }
    assert_eq!(
        imds_retry_wait(u32::MAX, interval, &mut rng),
        interval,
        "never past the interval"
    );
    let short = Duration::from_secs(2);
    assert_eq!(imds_retry_wait(1, short, &mut rng), short);
}

#[test]
fn nodes_retry_a_failed_read_at_different_moments() {
    let interval = Duration::from_secs(60);
    let mut rng = fastrand::Rng::with_seed(9);
    let waits: Vec<Duration> = (0..16)
        .map(|_| imds_retry_wait(2, interval, &mut rng))
        .collect();
    assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
}
