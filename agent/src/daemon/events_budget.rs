//! Which drift events are written, in which order, and when: the event
//! budget, deduplication, the resolutions a pod is owed, and the aggregate.
//! Pure: the caller passes the clock and does the writing.
//!
//! Order of a batch: first the resolutions of findings whose Warning was
//! written individually (older ones first), then the batch's other
//! transitions in order. A resolution like that is never a duplicate (a
//! Warning was written since any earlier one), so deduplication leaves it
//! alone; when the budget is spent it waits for the next token instead of
//! going into the aggregate, so that `kubectl describe pod` never ends on a
//! stale Warning. Everything else beyond the budget is counted for the next
//! aggregate.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::{AGGREGATE_INTERVAL, DEDUP_WINDOW};
use crate::daemon::settle::Transition;
use eniwatch_core::checks::{Finding, Reason, Subject};

/// Findings whose Warning is remembered until its resolution is written.
/// Beyond this many (more than any node's pods times reasons), a new
/// Warning's resolution is written as budget allows, like any other.
const MAX_WARNED: usize = 8192;

/// A token bucket: `burst` tokens at most, refilled at `per_minute`.
/// Pure: the caller passes the clock. Exact integer arithmetic: one token
/// is a minute's worth of nanoseconds, refilled at `per_minute` per ns.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: u128,
    per_minute: u128,
    credit: u128,
    last: Option<Instant>,
}

const TOKEN: u128 = 60_000_000_000;

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_minute: u32) -> TokenBucket {
        let capacity = u128::from(burst) * TOKEN;
        TokenBucket {
            capacity,
            per_minute: u128::from(per_minute),
            credit: capacity,
            last: None,
        }
    }

    /// Takes a token if one is available at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.credit >= TOKEN {
            self.credit -= TOKEN;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now`.
    pub fn available(&mut self, now: Instant) -> u32 {
        self.refill(now);
        u32::try_from(self.credit / TOKEN).unwrap_or(u32::MAX)
    }

    /// When the next token is available, None if never (no burst or rate).
    pub fn next_token(&mut self, now: Instant) -> Option<Instant> {
        self.refill(now);
        if self.credit >= TOKEN {
            return Some(self.last.unwrap_or(now));
        }
        if self.per_minute == 0 || self.capacity < TOKEN {
            return None;
        }
        let missing = TOKEN - self.credit;
        let nanos = missing.div_ceil(self.per_minute);
        let wait = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.last.unwrap_or(now).checked_add(wait)
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_nanos();
            let gained = elapsed.saturating_mul(self.per_minute);
            self.credit = self.credit.saturating_add(gained).min(self.capacity);
        }
        // A clock passed out of order must not refill twice.
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Began,
    Resolved,
}

pub fn split(t: &Transition) -> (Direction, &Finding) {
    match t {
        Transition::Began(f) => (Direction::Began, f),
        Transition::Resolved(f) => (Direction::Resolved, f),
    }
}

/// One event to write individually.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub finding: Finding,
    pub dir: Direction,
    /// The resolution of a Warning written individually.
    owed: bool,
}

type Key = (Reason, Subject);

fn key(f: &Finding) -> Key {
    (f.reason, f.subject.clone())
}

/// What has been written and what is still to write.
#[derive(Debug, Clone)]
pub struct Ledger {
    bucket: TokenBucket,
    /// When each (reason, subject, direction) was last written.
    recent: HashMap<(Reason, Subject, Direction), Instant>,
    /// Transitions over budget, not yet summarised.
    pending: BTreeMap<(Reason, Direction), u64>,
    last_aggregate: Option<Instant>,
    /// Findings whose Warning was written individually, not yet resolved.
    warned: HashSet<Key>,
    /// Resolutions of `warned` findings waiting for budget, oldest first.
    owed: VecDeque<Finding>,
}

impl Ledger {
    pub fn new(burst: u32, per_minute: u32) -> Ledger {
        Ledger {
            bucket: TokenBucket::new(burst, per_minute),
            recent: HashMap::new(),
            pending: BTreeMap::new(),
            last_aggregate: None,
            warned: HashSet::new(),
            owed: VecDeque::new(),
        }
    }

    /// The events to write now for `transitions`, in order, each with its
    /// token taken and recorded as written.
    pub fn plan(&mut self, transitions: &[Transition], now: Instant) -> Vec<Write> {
        self.recent
            .retain(|_, at| now.saturating_duration_since(*at) < DEDUP_WINDOW);
        let mut owed: Vec<Write> = std::mem::take(&mut self.owed)
            .into_iter()
            .map(|finding| Write {
                finding,
                dir: Direction::Resolved,
                owed: true,
            })
            .collect();
        let mut rest = Vec::new();
        for t in transitions {
            let (dir, f) = split(t);
            let k = key(f);
            if dir == Direction::Began {
                // The drift is back: its written Warning is true again.
                owed.retain(|w| key(&w.finding) != k);
            }
            let write = Write {
                finding: f.clone(),
                dir,
                owed: dir == Direction::Resolved && self.warned.contains(&k),
            };
            if write.owed {
                if !owed.iter().any(|w| key(&w.finding) == k) {
                    owed.push(write);
                }
            } else {
                rest.push(write);
            }
        }
        let mut writes = Vec::new();
        for w in owed.into_iter().chain(rest) {
            let recent_key = (w.finding.reason, w.finding.subject.clone(), w.dir);
            if !w.owed && self.recent.contains_key(&recent_key) {
                tracing::debug!(reason = %w.finding.reason, subject = %w.finding.subject, "duplicate skipped");
                continue;
            }
            if !self.bucket.try_take(now) {
                self.defer(w);
                continue;
            }
            self.recent.insert(recent_key, now);
            self.record(&w);
            writes.push(w);
        }
        writes
    }

    /// Records `w` as written (or attempted: a create may land even when
    /// its answer does not).
    fn record(&mut self, w: &Write) {
        let k = key(&w.finding);
        match w.dir {
            Direction::Began if self.warned.len() < MAX_WARNED => {
                self.warned.insert(k);
            }
            Direction::Began => {}
            Direction::Resolved => {
                self.warned.remove(&k);
            }
        }
    }

    /// Over budget: a resolution owed waits for a token, the rest goes
    /// into the next aggregate.
    fn defer(&mut self, w: Write) {
        if w.owed {
            self.owed.push_back(w.finding);
        } else {
            let n = self.pending.entry((w.finding.reason, w.dir)).or_insert(0);
            *n = n.saturating_add(1);
        }
    }

    /// Writes planned but not attempted (the API failed before them) are
    /// deferred as if over budget. Their tokens stay spent: retries against
    /// a failing API server go no faster than the budget.
    pub fn unwind(&mut self, not_attempted: Vec<Write>) {
        for w in not_attempted {
            self.recent
                .remove(&(w.finding.reason, w.finding.subject.clone(), w.dir));
            let k = key(&w.finding);
            match w.dir {
                Direction::Began => {
                    self.warned.remove(&k);
                }
                Direction::Resolved if w.owed => {
                    self.warned.insert(k);
                }
                Direction::Resolved => {}
            }
            self.defer(w);
        }
    }

    /// The transitions to summarise now, if an aggregate is due.
    pub fn take_aggregate(&mut self, now: Instant) -> Option<BTreeMap<(Reason, Direction), u64>> {
        let due = self
            .last_aggregate
            .is_none_or(|at| now.saturating_duration_since(at) >= AGGREGATE_INTERVAL);
        if !due || self.pending.is_empty() {
            return None;
        }
        // Sent or failed, the summary is spent: a failure is not retried.
        self.last_aggregate = Some(now);
        Some(std::mem::take(&mut self.pending))
    }

    /// When there is something to write without a new transition: the
    /// next aggregate, or a token for a resolution owed. None: nothing.
    pub fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        let aggregate = (!self.pending.is_empty()).then(|| {
            self.last_aggregate
                .and_then(|at| at.checked_add(AGGREGATE_INTERVAL))
                .map_or(now, |due| due.max(now))
        });
        let owed = if self.owed.is_empty() {
            None
        } else {
            self.bucket.next_token(now)
        };
        match (aggregate, owed) {
            (Some(a), Some(o)) => Some(a.min(o)),
            (a, o) => a.or(o),
        }
    }

    #[cfg(test)]
    pub fn bucket(&mut self) -> &mut TokenBucket {
        &mut self.bucket
    }
}

#[cfg(test)]
#[path = "events_budget_tests.rs"]
mod tests;
