//! Counts of requests made to outside systems, by target and outcome, for the
//! `eniwatch_requests_total` metric. Shared by the sources (which count) and
//! the metrics (which read); no global state: one instance per agent, passed in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Requests by (target, outcome), e.g. `("imds", "ok")`, `("kubernetes", "error")`.
#[derive(Debug, Default, Clone)]
pub struct RequestCounts {
    inner: Arc<Mutex<BTreeMap<(&'static str, &'static str), u64>>>,
}

impl RequestCounts {
    pub fn new() -> RequestCounts {
        RequestCounts::default()
    }

    pub fn add(&self, target: &'static str, outcome: &'static str) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((target, outcome)).or_insert(0) += 1;
    }

    /// Every (target, outcome) with its count so far.
    pub fn snapshot(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Total requests to one target.
    pub fn total(&self, target: &str) -> u64 {
        self.snapshot()
            .iter()
            .filter(|((t, _), _)| *t == target)
            .map(|(_, n)| n)
            .sum()
    }
}
