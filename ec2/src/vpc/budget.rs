//! The call budget: never more than N attempts in any 60 s window.
//!
//! The times of the attempts of the last 60 s are kept (at most N of them);
//! an attempt is allowed at `now` when fewer than N were made in the window
//! `(now - 60 s, now]`. Since every window that ends at an attempt holds at
//! most N attempts, so does every window: a window that holds N + 1 would
//! end at its last attempt with N before it. The policy asks before every
//! page it sends, so the bound holds for attempts on the wire, not calls.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The sliding window's length.
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Budget {
    per_window: usize,
    /// Attempts of the last [`WINDOW`], oldest first.
    sent: VecDeque<Instant>,
}

impl Budget {
    /// At most `per_minute` attempts in any 60 s (0 is taken as 1: a budget
    /// that allows nothing would leave every part unknown for ever).
    pub fn new(per_minute: u32) -> Budget {
        let per_window = usize::try_from(per_minute.max(1)).unwrap_or(usize::MAX);
        Budget {
            per_window,
            sent: VecDeque::new(),
        }
    }

    pub fn per_minute(&self) -> usize {
        self.per_window
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.sent.pop_front();
        }
    }

    /// Takes one attempt at `now` if the window allows it.
    pub fn take(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        if self.sent.len() >= self.per_window {
            return false;
        }
        self.sent.push_back(now);
        true
    }

    /// The first instant from `at` on at which an attempt is allowed.
    pub fn free_at(&self, at: Instant) -> Instant {
        let in_window: Vec<&Instant> = self
            .sent
            .iter()
            .filter(|t| at.saturating_duration_since(**t) < WINDOW)
            .collect();
        if in_window.len() < self.per_window {
            return at;
        }
        // The oldest attempts must leave the window until one slot is free.
        let leaving = in_window.len() - self.per_window;
        in_window
            .get(leaving)
            .map_or(at, |t| (**t + WINDOW).max(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_frees_a_slot_when_its_oldest_attempt_is_60_s_old() {
        let t0 = Instant::now();
        let mut b = Budget::new(2);
        assert!(b.take(t0));
        assert!(b.take(t0 + Duration::from_secs(10)));
        assert!(!b.take(t0 + Duration::from_secs(59)));
        assert_eq!(
            b.free_at(t0 + Duration::from_secs(20)),
            t0 + Duration::from_secs(60)
        );
        assert!(b.take(t0 + Duration::from_secs(60)));
        assert!(!b.take(t0 + Duration::from_secs(69)));
        assert_eq!(
            b.free_at(t0 + Duration::from_secs(61)),
            t0 + Duration::from_secs(70)
        );
    }

    #[test]
    fn a_zero_budget_is_one_a_minute() {
        let t0 = Instant::now();
        let mut b = Budget::new(0);
        assert!(b.take(t0));
        assert!(!b.take(t0));
        assert_eq!(b.free_at(t0), t0 + WINDOW);
    }
}
