//! The one retry policy: exponential backoff with a cap and upward jitter.
//!
//! Every retry in the program waits what a [`Backoff`] says: the IMDS
//! client's GET and token retries, the loop's re-read of a failed IMDS read,
//! EC2's per-operation backoff and the restarts of a failed Kubernetes watch.
//! The subnet refresh of EC2 is spread with the same jitter ([`spread`]).
//!
//! # The delay
//! The `attempt`-th wait in a row (counted from 1; 0 is taken as 1) is
//!
//! ```text
//! nominal(attempt) = min(base × factor^(attempt - 1), cap)
//! delay(attempt)   = nominal(attempt) + a uniform draw from 0 ..= nominal(attempt) × jitter %
//! ```
//!
//! so every delay lies in `[nominal, nominal × (1 + jitter)]`, and never
//! past `cap × (1 + jitter)`. The exponent saturates: any `u32` attempt is
//! fine, and so are base and cap up to [`Duration::MAX`]. Everything is
//! integer arithmetic on nanoseconds: no float can round past the bound.
//!
//! # Why jitter only lengthens ("upward jitter")
//! "Full jitter" (a draw from `0 ..= d`) and "equal jitter" (`d/2 ..= d`)
//! both wait *less* than the nominal delay, some draws almost nothing. Here
//! the nominal numbers are floors that the documentation promises and that
//! the retries exist for: EC2's throttling limit is per account and region
//! and shared with the CNI on every node, so a shorter wait is more load at
//! the worst moment, and "access denied" waits 5 min because it does not fix
//! itself. Upward jitter keeps every documented number a floor and still
//! de-synchronises a fleet: nodes that failed at the same moment (an EC2
//! throttling episode, an API server restart) come back spread over a
//! `jitter` share of the delay instead of all at once. The upper bound is
//! stated, so a caller's promise (a watch restarts within 5 s of the API
//! coming back) can be checked against it.
//!
//! # The random source
//! The policy holds no state and no generator: the caller keeps the attempt
//! count and passes a [`Draw`]. Production code uses a [`fastrand::Rng`]
//! created by its owner (seeded from the process's thread generator, so two
//! processes, two nodes and two owners draw differently); tests pass a
//! seeded one or a fixed draw, and are deterministic.

use std::time::Duration;

/// A source of uniform draws for the jitter.
pub trait Draw {
    /// A uniform draw from `0 ..= max`. A larger answer is clamped to `max`.
    fn up_to(&mut self, max: u64) -> u64;
}

impl Draw for fastrand::Rng {
    fn up_to(&mut self, max: u64) -> u64 {
        self.u64(0..=max)
    }
}

/// The most jitter a policy may add: the delay at most doubles.
pub const MAX_JITTER_PERCENT: u32 = 100;

/// An exponential backoff: base, factor, cap and jitter (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    factor: u32,
    cap: Duration,
    jitter_percent: u32,
}

impl Backoff {
    /// `base` for the first wait, times `factor` for each next one, at most
    /// `cap`; no jitter until [`Backoff::with_jitter_percent`]. A factor of
    /// 0 is taken as 1 (a constant delay).
    pub const fn new(base: Duration, factor: u32, cap: Duration) -> Backoff {
        Backoff {
            base,
            factor: if factor == 0 { 1 } else { factor },
            cap,
            jitter_percent: 0,
        }
    }

    /// Lengthens each delay by a uniform draw of up to `percent` % of it
    /// (at most [`MAX_JITTER_PERCENT`]).
    pub const fn with_jitter_percent(self, percent: u32) -> Backoff {
        Backoff {
            jitter_percent: if percent > MAX_JITTER_PERCENT {
                MAX_JITTER_PERCENT
            } else {
                percent
            },
            ..self
        }
    }

    pub const fn cap(&self) -> Duration {
        self.cap
    }

    pub const fn jitter_percent(&self) -> u32 {
        self.jitter_percent
    }

    /// The delay before jitter: `min(base × factor^(attempt - 1), cap)`.
    pub fn nominal(&self, attempt: u32) -> Duration {
        if self.base.is_zero() {
            return Duration::ZERO;
        }
        self.factor
            .checked_pow(attempt.saturating_sub(1))
            .and_then(|m| self.base.checked_mul(m))
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The longest delay a draw can give for `attempt`.
    pub fn longest(&self, attempt: u32) -> Duration {
        let d = self.nominal(attempt);
        d.saturating_add(room(d, self.jitter_percent))
    }

    /// The wait before the next try, after `attempt` failures in a row.
    pub fn delay(&self, attempt: u32, draw: &mut impl Draw) -> Duration {
        self.jitter(self.nominal(attempt), draw)
    }

    /// `d` lengthened by this policy's jitter.
    pub fn jitter(&self, d: Duration, draw: &mut impl Draw) -> Duration {
        spread(d, self.jitter_percent, draw)
    }
}

/// `d` plus a uniform draw of up to `percent` % of it (at most
/// [`MAX_JITTER_PERCENT`]): never less than `d`.
pub fn spread(d: Duration, percent: u32, draw: &mut impl Draw) -> Duration {
    let max = u64::try_from(room(d, percent).as_nanos()).unwrap_or(u64::MAX);
    let extra = draw.up_to(max).min(max);
    d.saturating_add(Duration::from_nanos(extra))
}

/// `percent` % of `d`, to the nanosecond, rounded down; at most `u64::MAX`
/// nanoseconds (584 years), which a draw can reach.
fn room(d: Duration, percent: u32) -> Duration {
    let percent = u128::from(percent.min(MAX_JITTER_PERCENT));
    // At most ~1.8e28 ns × 100: far inside u128.
    let nanos = d.as_nanos().saturating_mul(percent) / 100;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
#[path = "backoff_tests.rs"]
mod tests;
