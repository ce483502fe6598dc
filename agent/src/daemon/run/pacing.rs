//! When the loop reads IMDS, and how much of it: a pure schedule, given the
//! clock.
//!
//! Policy:
//! - A steady node reads IMDS once per interval (the *timer read*). Most
//!   timer reads are *light* (the ENIs' addresses only: the warm pool moves
//!   there); every [`FULL_READ_EVERY`]-th is *full*, which also sees security
//!   groups edited on an ENI, so such an edit is seen within that many
//!   intervals.
//! - A non-pod link that came or went means an ENI was attached or detached:
//!   the next read is full, and due at once.
//! - A failed read is retried sooner than the interval, with exponential
//!   backoff and jitter ([`imds_retry_wait`]), and the retry is full (a light
//!   read needs a good full one to refresh).
//! - A new finding may only mean IMDS moved on since it was read (addresses
//!   added to the warm pool, an ENI attached): the loop asks for a read at
//!   once ([`ImdsSchedule::recheck`]), at most once per [`IMDS_RECHECK`].
//!
//! Nothing here reads a clock: every method is given `now`, so the schedule
//! is tested on a simulated clock.

use std::time::Duration;

use tokio::time::Instant;

use eniwatch_core::backoff::{Backoff, Draw};

/// Timer reads between two full IMDS reads: the light ones see address
/// changes (the warm pool); a full one also sees security groups edited on
/// an ENI, so such a change is seen within this many intervals.
pub const FULL_READ_EVERY: u32 = 10;

/// The first retry delay after a failed IMDS read.
const IMDS_RETRY: Duration = Duration::from_secs(5);

/// The least age of IMDS data before a new finding makes the loop re-read it.
pub const IMDS_RECHECK: Duration = Duration::from_secs(5);

/// The wait after `failures` failed IMDS reads in a row: 5 s, 10 s, 20 s,
/// ... each plus up to 20 % ([`eniwatch_core::backoff`]), and never past the
/// interval (a failing IMDS is not read less often than a healthy one).
pub fn imds_retry_wait(failures: u32, interval: Duration, draw: &mut impl Draw) -> Duration {
    Backoff::new(IMDS_RETRY, 2, interval)
        .with_jitter_percent(20)
        .delay(failures, draw)
        .min(interval)
}

/// How much of IMDS a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Everything: ENIs, their subnets, security groups and addresses.
    Full,
    /// The known ENIs' addresses only.
    Light,
}

/// The IMDS schedule between cycles.
#[derive(Debug, Clone)]
pub struct ImdsSchedule {
    interval: Duration,
    /// When the next read is due.
    next: Instant,
    /// When IMDS was last read (successfully or not).
    read_at: Option<Instant>,
    /// Light reads since the last full read.
    light_reads: u32,
    /// The next read must be full (the first, after a failure or a link change).
    full: bool,
    /// Failed reads in a row (for the retry backoff).
    failures: u32,
}

impl ImdsSchedule {
    /// A schedule whose first read, a full one, is due at `now`.
    pub fn new(interval: Duration, now: Instant) -> ImdsSchedule {
        ImdsSchedule {
            interval,
            next: now,
            read_at: None,
            light_reads: 0,
            full: true,
            failures: 0,
        }
    }

    /// When the next read is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// The read due at `now`, if one is.
    pub fn due(&self, now: Instant) -> Option<Read> {
        if now < self.next {
            return None;
        }
        Some(if !self.full && self.light_reads < FULL_READ_EVERY {
            Read::Light
        } else {
            Read::Full
        })
    }

    /// Records a read that ended at `now` (`ok`: it succeeded) and
    /// schedules the next: an interval on, or a backoff after a failure.
    pub fn done(&mut self, read: Read, ok: bool, now: Instant, draw: &mut impl Draw) {
        self.light_reads = match read {
            Read::Light => self.light_reads.saturating_add(1),
            Read::Full => 0,
        };
        self.full = !ok;
        self.failures = if ok {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let wait = match self.failures {
            0 => self.interval,
            n => imds_retry_wait(n, self.interval, draw),
        };
        self.read_at = Some(now);
        self.next = now + wait;
    }

    /// Nothing to read (no client): the next look is an interval on.
    pub fn skip(&mut self, now: Instant) {
        self.next = now + self.interval;
    }

    /// A non-pod link came or went: a full read, now.
    pub fn link_changed(&mut self, now: Instant) {
        self.next = now;
        self.full = true;
    }

    /// A finding is settling: read again now, unless IMDS was read within
    /// [`IMDS_RECHECK`].
    pub fn recheck(&mut self, now: Instant) {
        if self
            .read_at
            .is_none_or(|t| now.saturating_duration_since(t) >= IMDS_RECHECK)
        {
            self.next = now;
        }
    }
}

#[cfg(test)]
#[path = "imds_retry_tests.rs"]
mod imds_retry_tests;

#[cfg(test)]
#[path = "pacing_tests.rs"]
mod tests;
