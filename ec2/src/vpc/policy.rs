//! The gate every EC2 attempt of the VPC reader goes through: per-operation
//! backoff, the call budget, paging, and the counts of what was held back.
//!
//! - **Backoff**, per operation: a failed call waits 30 s, doubling to
//!   15 min; "access denied" does not fix itself and waits 5 min at once
//!   (then 10, 15). Each wait is lengthened by up to 20 % at random
//!   ([`eniwatch_core::backoff`]). A success ends it. While an operation
//!   backs off, the parts it feeds keep their cached value (or are unknown
//!   with its last error).
//! - **Budget** ([`super::budget`]): asked before every page. A page the
//!   budget refuses is *deferred*: the whole call is dropped (a part is never
//!   built from some of its pages), counted per operation, and asked again
//!   when the window has room; the part keeps its cached value.
//! - **Paging**: `NextToken` is followed for at most [`MAX_PAGES`] pages
//!   (100,000 ENIs at 1,000 a page); an answer that goes on past that, or
//!   repeats its token, is an invalid answer, and fails like an error (a
//!   partial list would make leaks and headroom up). A call whose pages
//!   exceed the per-minute budget never completes: at the default 60 that
//!   is 60,000 ENIs.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use super::api::Page;
use super::budget::Budget;
use crate::client::Ec2Error;
use eniwatch_core::backoff::{spread, Backoff};
use eniwatch_core::model::{Observed, Unavailable};

/// The most pages followed in one call.
pub const MAX_PAGES: usize = 100;
const JITTER_PERCENT: u32 = 20;
const BACKOFF: Backoff = Backoff::new(Duration::from_secs(30), 2, Duration::from_secs(900))
    .with_jitter_percent(JITTER_PERCENT);
const BACKOFF_DENIED: Backoff = Backoff::new(Duration::from_secs(300), 2, Duration::from_secs(900))
    .with_jitter_percent(JITTER_PERCENT);

/// An operation backing off after failures: asked again after `until`.
#[derive(Debug, Clone)]
struct Blocked {
    failures: u32,
    until: Instant,
    error: Unavailable,
}

pub struct Gate {
    budget: Budget,
    backoff: BTreeMap<&'static str, Blocked>,
    deferred: BTreeMap<&'static str, u64>,
    skipped: BTreeMap<&'static str, u64>,
    rng: fastrand::Rng,
}

impl Gate {
    pub fn new(calls_per_minute: u32) -> Gate {
        Gate {
            budget: Budget::new(calls_per_minute),
            backoff: BTreeMap::new(),
            deferred: BTreeMap::new(),
            skipped: BTreeMap::new(),
            rng: fastrand::Rng::new(),
        }
    }

    /// `d` plus up to 20 %: the wait before a part just read is due again.
    pub fn jittered(&mut self, d: Duration) -> Duration {
        spread(d, JITTER_PERCENT, &mut self.rng)
    }

    /// Calls deferred by the budget, by operation, since start.
    pub fn deferred(&self) -> &BTreeMap<&'static str, u64> {
        &self.deferred
    }

    /// Records EC2 sent without a usable id, by operation, since start.
    pub fn skipped(&self) -> &BTreeMap<&'static str, u64> {
        &self.skipped
    }

    /// The operations backing off now, with their last error.
    pub fn failing(&self, now: Instant) -> BTreeMap<&'static str, Unavailable> {
        self.backoff
            .iter()
            .filter(|(_, b)| now < b.until)
            .map(|(op, b)| (*op, b.error.clone()))
            .collect()
    }

    /// The first instant from `at` on at which `op` may be asked.
    pub fn earliest(&self, op: &'static str, at: Instant) -> Instant {
        let at = self.backoff.get(op).map_or(at, |b| at.max(b.until));
        self.budget.free_at(at)
    }

    fn failed(&mut self, op: &'static str, e: Ec2Error, now: Instant) -> Unavailable {
        let failures = self
            .backoff
            .get(op)
            .map_or(0, |b| b.failures)
            .saturating_add(1);
        let policy = if e.kind() == "forbidden" {
            BACKOFF_DENIED
        } else {
            BACKOFF
        };
        let wait = policy.delay(failures, &mut self.rng);
        let error = Unavailable::new("ec2", e.to_string()).with_kind(e.kind());
        self.backoff.insert(
            op,
            Blocked {
                failures,
                until: now + wait,
                error: error.clone(),
            },
        );
        error
    }

    fn deferral(&mut self, op: &'static str) -> Unavailable {
        *self.deferred.entry(op).or_insert(0) += 1;
        Unavailable::new(
            "ec2",
            format!(
                "EC2 {op} not asked yet: eniwatch-cluster's own budget of {} EC2 calls a minute \
                 (--ec2-calls-per-minute) is spent; asked when the minute has room",
                self.budget.per_minute()
            ),
        )
        .with_kind("throttled")
    }

    /// One call of `op`, every page of it, through the backoff and the
    /// budget: the items of all pages, or why not now.
    pub async fn paged<T, F, Fut>(
        &mut self,
        op: &'static str,
        now: Instant,
        mut call: F,
    ) -> Observed<Vec<T>>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<Page<T>, Ec2Error>>,
    {
        if let Some(b) = self.backoff.get(op).filter(|b| now < b.until) {
            return Err(b.error.clone());
        }
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            if !self.budget.take(now) {
                return Err(self.deferral(op));
            }
            let page = match call(token.clone()).await {
                Ok(page) => page,
                Err(e) => return Err(self.failed(op, e, now)),
            };
            *self.skipped.entry(op).or_insert(0) += page.skipped;
            items.extend(page.items);
            match page.next.filter(|t| !t.is_empty()) {
                None => {
                    self.backoff.remove(op);
                    return Ok(items);
                }
                Some(next) if token.as_ref() == Some(&next) => {
                    let e = Ec2Error::Invalid {
                        operation: op,
                        problem: "EC2 answered the same NextToken twice".into(),
                    };
                    return Err(self.failed(op, e, now));
                }
                Some(next) => token = Some(next),
            }
        }
        let e = Ec2Error::Invalid {
            operation: op,
            problem: format!("the answer goes on past {MAX_PAGES} pages; not followed further"),
        };
        Err(self.failed(op, e, now))
    }
}
