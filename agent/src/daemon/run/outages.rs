//! Source outages in the log: one WARN line when a source goes down (with
//! the cause in words), one INFO line when it is back (with how long it was
//! down), and nothing in between, however many cycles or retries the outage
//! lasts. Per source: `imds`, `kernel`, `kubernetes`, `ipamd`, `cluster_facts`.
//!
//! Pure: the loop feeds each cycle's source statuses (from the report) and
//! the clock, and logs what comes back. A source that has never answered
//! is *starting*, not down, for [`STARTUP_ALLOWANCE`]: the first cycle runs
//! before the Kubernetes watches have listed, and that is no outage.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eniwatch_core::report::SourceStatus;

/// How long a source that has never answered may take before it counts as down.
pub const STARTUP_ALLOWANCE: Duration = Duration::from_secs(20);

/// A source went down or came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutageChange {
    Down {
        source: &'static str,
        cause: String,
    },
    Up {
        source: &'static str,
        down_for: Duration,
    },
}

#[derive(Debug, Clone)]
enum State {
    /// Never answered yet; first seen failing at this instant.
    Starting(Instant),
    Up,
    /// Down since this instant (the first failed cycle).
    Down(Instant),
}

/// Tracks each source's up/down state across cycles.
#[derive(Debug, Clone)]
pub struct OutageLog {
    states: BTreeMap<&'static str, State>,
    started: Instant,
}

impl OutageLog {
    pub fn new(started: Instant) -> OutageLog {
        OutageLog {
            states: BTreeMap::new(),
            started,
        }
    }

    /// Feeds one cycle's source statuses; returns the transitions to log.
    /// A source missing from `sources` (switched off) keeps its state.
    pub fn observe(&mut self, sources: &[SourceStatus], now: Instant) -> Vec<OutageChange> {
        let mut out = Vec::new();
        for s in sources {
            let state = self
                .states
                .entry(s.name)
                .or_insert(State::Starting(self.started));
            let next = match (&*state, s.ok) {
                (State::Starting(_) | State::Up, true) => State::Up,
                (State::Down(since), true) => {
                    out.push(OutageChange::Up {
                        source: s.name,
                        down_for: now.saturating_duration_since(*since),
                    });
                    State::Up
                }
                (State::Starting(since), false)
                    if now.saturating_duration_since(*since) < STARTUP_ALLOWANCE =>
                {
                    State::Starting(*since)
                }
                (State::Starting(since), false) => {
                    out.push(down(s));
                    State::Down(*since)
                }
                (State::Up, false) => {
                    out.push(down(s));
                    State::Down(now)
                }
                (State::Down(since), false) => State::Down(*since),
            };
            *state = next;
        }
        out
    }
}

fn down(s: &SourceStatus) -> OutageChange {
    OutageChange::Down {
        source: s.name,
        cause: s
            .error
            .clone()
            .unwrap_or_else(|| "no answer (no cause given)".into()),
    }
}

/// Writes the transitions to the log.
pub fn log(changes: &[OutageChange]) {
    for c in changes {
        match c {
            OutageChange::Down { source, cause } => {
                tracing::warn!(source = %source, cause = %cause, "{source} is unavailable: {cause}")
            }
            OutageChange::Up { source, down_for } => {
                let secs = down_for.as_secs_f64();
                tracing::info!(
                    source = %source,
                    down_for_seconds = secs,
                    "{source} is available again after {secs:.1} s"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &'static str) -> SourceStatus {
        SourceStatus {
            name,
            ok: true,
            error: None,
        }
    }

    fn failing(name: &'static str, why: &str) -> SourceStatus {
        SourceStatus {
            name,
            ok: false,
            error: Some(why.into()),
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn one_line_down_one_line_up_nothing_in_between() {
        let t0 = Instant::now();
        let mut log = OutageLog::new(t0);
        assert!(log.observe(&[up("imds"), up("kernel")], t0).is_empty());
        assert_eq!(
            log.observe(&[failing("imds", "timed out"), up("kernel")], t0 + secs(1)),
            vec![OutageChange::Down {
                source: "imds",
                cause: "timed out".into()
            }]
        );
        for n in 2..30 {
            let cause = if n % 2 == 0 { "timed out" } else { "throttled" };
            assert!(
                log.observe(&[failing("imds", cause), up("kernel")], t0 + secs(n))
                    .is_empty(),
                "nothing while it stays down, whatever the cause"
            );
        }
        assert_eq!(
            log.observe(&[up("imds"), up("kernel")], t0 + secs(31)),
            vec![OutageChange::Up {
                source: "imds",
                down_for: secs(30)
            }]
        );
        assert!(log
            .observe(&[up("imds"), up("kernel")], t0 + secs(32))
            .is_empty());
    }

    #[test]
    fn sources_are_tracked_each_on_its_own() {
        let t0 = Instant::now();
        let mut log = OutageLog::new(t0);
        log.observe(&[up("imds"), up("kubernetes")], t0);
        let both = log.observe(
            &[failing("imds", "a"), failing("kubernetes", "b")],
            t0 + secs(1),
        );
        assert_eq!(both.len(), 2);
        let one = log.observe(&[failing("imds", "a"), up("kubernetes")], t0 + secs(3));
        assert_eq!(
            one,
            vec![OutageChange::Up {
                source: "kubernetes",
                down_for: secs(2)
            }]
        );
    }

    #[test]
    fn a_source_still_starting_is_not_down_until_the_allowance_has_passed() {
        let t0 = Instant::now();
        let mut log = OutageLog::new(t0);
        assert!(log
            .observe(&[failing("kubernetes", "waiting for the first list")], t0)
            .is_empty());
        assert!(log.observe(&[up("kubernetes")], t0 + secs(1)).is_empty());
        // One that never comes up is reported once the allowance has passed,
        // as down since the start.
        assert!(log
            .observe(&[failing("ipamd", "refused")], t0 + secs(19))
            .is_empty());
        assert_eq!(
            log.observe(&[failing("ipamd", "refused")], t0 + STARTUP_ALLOWANCE)
                .len(),
            1
        );
        assert_eq!(
            log.observe(&[up("ipamd")], t0 + secs(25)),
            vec![OutageChange::Up {
                source: "ipamd",
                down_for: secs(25)
            }]
        );
    }

    #[test]
    fn a_source_switched_off_keeps_its_state() {
        let t0 = Instant::now();
        let mut log = OutageLog::new(t0);
        log.observe(&[up("cluster_facts")], t0);
        log.observe(&[failing("cluster_facts", "denied")], t0 + secs(1));
        assert!(log.observe(&[], t0 + secs(2)).is_empty());
        assert!(log
            .observe(&[failing("cluster_facts", "denied")], t0 + secs(3))
            .is_empty());
    }
}
