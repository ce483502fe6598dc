//! One part of the VPC facts as the plan keeps it, and the words of the
//! plan's own causes.

use std::collections::BTreeMap;
use std::time::Instant;

use eniwatch_core::model::{Observed, Subnet, SubnetId, Unavailable, VpcId};

/// One part of the facts: the last answer, the last error, and when it is
/// due again (None: now).
#[derive(Debug, Clone)]
pub(super) struct Part<T> {
    pub value: Option<T>,
    pub error: Option<Unavailable>,
    pub due: Option<Instant>,
}

impl<T> Default for Part<T> {
    fn default() -> Self {
        Part {
            value: None,
            error: None,
            due: None,
        }
    }
}

impl<T: Clone> Part<T> {
    pub fn is_due(&self, now: Instant) -> bool {
        self.due.is_none_or(|d| now >= d)
    }

    /// The cached answer, else the last error (or `missing`).
    pub fn observed<U>(
        &self,
        missing: impl FnOnce() -> Unavailable,
        f: impl FnOnce(&T) -> U,
    ) -> Observed<U> {
        match (&self.value, &self.error) {
            (Some(v), _) => Ok(f(v)),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(missing()),
        }
    }

    /// Takes an answer (due again at `next`), or keeps the cached value and
    /// stays due after a failure or deferral.
    pub fn settle(&mut self, r: Observed<T>, next: Instant) {
        match r {
            Ok(v) => {
                self.value = Some(v);
                self.error = None;
                self.due = Some(next);
            }
            Err(e) => self.error = Some(e),
        }
    }
}

pub(super) fn not_read() -> Unavailable {
    Unavailable::new("ec2", "EC2 not asked yet")
}

/// The ids of `wanted` absent from `found`.
pub(super) fn absent(wanted: &[SubnetId], found: &[Subnet]) -> Vec<SubnetId> {
    wanted
        .iter()
        .filter(|id| !found.iter().any(|s| &s.facts.id == *id))
        .cloned()
        .collect()
}

/// The VPC most of these subnets are in (ties: the smallest id).
pub(super) fn most_common_vpc(subnets: &[Subnet]) -> Option<VpcId> {
    let mut count: BTreeMap<&VpcId, usize> = BTreeMap::new();
    for v in subnets.iter().filter_map(|s| s.vpc_id.as_ref()) {
        *count.entry(v).or_insert(0) += 1;
    }
    let most = count.values().copied().max()?;
    count
        .into_iter()
        .find(|(_, n)| *n == most)
        .map(|(v, _)| v.clone())
}

pub(super) fn no_vpc_found(asked: &[SubnetId]) -> Unavailable {
    let ids: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
    Unavailable::new(
        "ec2",
        format!(
            "the VPC is not known: EC2 knows none of the ENIConfig subnets ({}) to learn it from; pass --vpc-id",
            ids.join(", ")
        ),
    )
    .with_kind("not_found")
}

pub(super) fn unknown_type(name: &str) -> Unavailable {
    Unavailable::new(
        "ec2",
        format!("EC2 DescribeInstanceTypes does not know instance type {name:?} in this region"),
    )
    .with_kind("not_found")
}

pub(super) fn invalid_type(problem: &str) -> Unavailable {
    Unavailable::new("ec2", problem.to_string()).with_kind("invalid")
}
