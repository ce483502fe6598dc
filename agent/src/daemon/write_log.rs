//! Failed writes to the API server in the log, once per streak: one WARN
//! when a sink's writes start failing (with the cause), one INFO when one
//! lands again (with how long they failed), debug in between. During an API
//! outage the condition sink retries every cycle; each retry is no news.
//!
//! Pure: the caller passes the clock and logs what comes back.

use std::time::{Duration, Instant};

/// What to log about one write's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteNews {
    /// The first failure of a streak: worth a WARN.
    Failing,
    /// Another failure of the same streak.
    StillFailing,
    /// The first success after a streak, and how long it lasted.
    Recovered(Duration),
    /// A success like the one before.
    Fine,
}

/// One sink's streak of failed writes.
#[derive(Debug, Clone, Default)]
pub struct WriteStreak {
    failing_since: Option<Instant>,
}

impl WriteStreak {
    pub fn failed(&mut self, now: Instant) -> WriteNews {
        match self.failing_since {
            Some(_) => WriteNews::StillFailing,
            None => {
                self.failing_since = Some(now);
                WriteNews::Failing
            }
        }
    }

    pub fn succeeded(&mut self, now: Instant) -> WriteNews {
        match self.failing_since.take() {
            Some(since) => WriteNews::Recovered(now.saturating_duration_since(since)),
            None => WriteNews::Fine,
        }
    }
}

/// Logs a failed write of `what` as the streak says.
pub fn log_failure(streak: &mut WriteStreak, what: &str, error: &dyn std::fmt::Display) {
    match streak.failed(Instant::now()) {
        WriteNews::Failing => {
            tracing::warn!(error = %error, "{what} failed; retrying quietly until it works again")
        }
        _ => tracing::debug!(error = %error, "{what} failed again"),
    }
}

/// Logs a successful write of `what` as the streak says.
pub fn log_success(streak: &mut WriteStreak, what: &str) {
    if let WriteNews::Recovered(d) = streak.succeeded(Instant::now()) {
        tracing::info!(
            failed_for_seconds = d.as_secs(),
            "{what} works again after {}s",
            d.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_streak_and_one_recovery() {
        let t0 = Instant::now();
        let mut s = WriteStreak::default();
        assert_eq!(s.succeeded(t0), WriteNews::Fine);
        assert_eq!(s.failed(t0), WriteNews::Failing);
        for i in 1..5 {
            assert_eq!(
                s.failed(t0 + Duration::from_secs(i)),
                WriteNews::StillFailing
            );
        }
        assert_eq!(
            s.succeeded(t0 + Duration::from_secs(7)),
            WriteNews::Recovered(Duration::from_secs(7))
        );
        assert_eq!(s.succeeded(t0 + Duration::from_secs(8)), WriteNews::Fine);
        assert_eq!(s.failed(t0 + Duration::from_secs(9)), WriteNews::Failing);
    }
}
