//! The EC2 call policy: what to ask EC2, when, what to remember of its
//! answers, and how to back off.
//!
//! EC2 throttles per account and region, and the CNI on every node already
//! calls it: this agent must not add to it. So EC2 is asked only for what
//! changed, and what never changes is remembered for the process lifetime:
//!
//! | call | when | cached |
//! |---|---|---|
//! | `DescribeInstanceTypes` | once (again only if IMDS reports another type) | for life |
//! | `DescribeSubnets` (CIDR, zone) | once per subnet the node needs: the pod subnet, and the subnet of any ENI whose CIDR IMDS did not give; the subnets due in a cycle share one call | for life; "does not exist" for 10 min |
//! | `DescribeSubnets` (`AvailableIpAddressCount`) | the pod subnet only, only while the node needs addresses ([`Ec2Needs::headroom`]: warm pool low, subnet near exhaustion) or IMDS's ENI set changed since the last refresh; at most every `subnet_refresh` + up to 20 % jitter (drawn anew at each ask) | until the next refresh |
//! | `DescribeNetworkInterfaces` | at the first ask; then when IMDS's ENI set changes, and while an ENI is not `attached` or missing from EC2's answer; at most once a minute ([`ATTACHMENT_INTERVAL`]) after the last answer | until then |
//!
//! A steady node therefore makes no EC2 call after start-up.
//!
//! A failed call backs off per operation: 30 s, doubling to 15 min, each
//! plus up to 20 % (upward only, see [`eniwatch_core::backoff`]); "access
//! denied" does not fix itself, so it waits 5 min at once (then 10, 15).
//! A success ends the backoff. A call the cycle's time limit cut off is a
//! timeout and backs off too ([`Ec2Tracker::cancelled`]). While an operation
//! backs off, the parts that depend on it and are not cached are unknown,
//! with the error of its last failure; cached facts (the instance type, a
//! subnet's CIDR, zone and last free count, the last attachments) stay in
//! use. Without a region no client can be built: every part is unknown, and
//! the next cycle tries again (that costs no EC2 call).
//!
//! The clock is passed in, and the calls go through [`Ec2Api`], so the
//! policy ([`Ec2Policy`]) is tested on a simulated clock against answers
//! from memory; [`Ec2Tracker`] is the policy over the real [`Ec2Client`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::api::Ec2Api;
use crate::client::{Ec2Client, Ec2Config, Ec2Error};
use eniwatch_core::backoff::{spread, Backoff};
use eniwatch_core::model::{Attachments, Ec2View};
use eniwatch_core::model::{
    EniId, InstanceMetadata, InstanceTypeFacts, Observed, SubnetId, SubnetLookup, Unavailable,
};
use eniwatch_core::sources::requests::RequestCounts;

mod subnets;
use subnets::SubnetEntry;

/// The least time between two `DescribeNetworkInterfaces`.
pub const ATTACHMENT_INTERVAL: Duration = Duration::from_secs(60);
/// How long "this subnet does not exist" is believed.
const NOT_FOUND_TTL: Duration = Duration::from_secs(600);
const BACKOFF_FIRST: Duration = Duration::from_secs(30);
const BACKOFF_FORBIDDEN: Duration = Duration::from_secs(300);
const BACKOFF_MAX: Duration = Duration::from_secs(900);
/// How much a backoff or a subnet refresh is lengthened at random, so that
/// the nodes of a fleet that failed together do not ask again together.
const JITTER_PERCENT: u32 = 20;
/// A failed call: 30 s doubling to 15 min, plus up to 20 %.
const BACKOFF: Backoff =
    Backoff::new(BACKOFF_FIRST, 2, BACKOFF_MAX).with_jitter_percent(JITTER_PERCENT);
/// "Access denied" does not fix itself: from 5 min at once.
const BACKOFF_DENIED: Backoff =
    Backoff::new(BACKOFF_FORBIDDEN, 2, BACKOFF_MAX).with_jitter_percent(JITTER_PERCENT);

const OP_TYPES: &str = "DescribeInstanceTypes";
const OP_SUBNETS: &str = "DescribeSubnets";
const OP_ENIS: &str = "DescribeNetworkInterfaces";

/// What the node needs from EC2 this cycle.
#[derive(Debug, Clone, Default)]
pub struct Ec2Needs {
    /// The ENIConfig subnet (or `--expect-subnet`): CIDR, zone, free addresses.
    pub pod_subnet: Option<SubnetId>,
    /// The node wants addresses (warm pool low, subnet close to exhaustion):
    /// refresh the pod subnet's free-address count if it is due.
    pub headroom: bool,
}

/// An operation backing off after failures: asked again after `until`.
#[derive(Debug, Clone)]
struct Blocked {
    failures: u32,
    until: Instant,
    error: Unavailable,
}

/// The call policy over the real EC2 client, which it builds at the first
/// ask (the region may come from IMDS).
pub struct Ec2Tracker {
    config: Ec2Config,
    calls: RequestCounts,
    client: Option<Ec2Client>,
    policy: Ec2Policy,
}

impl Ec2Tracker {
    /// `calls` counts every EC2 call by (operation, outcome).
    pub fn new(config: Ec2Config, subnet_refresh: Duration, calls: RequestCounts) -> Ec2Tracker {
        Ec2Tracker {
            config,
            calls,
            client: None,
            policy: Ec2Policy::new(subnet_refresh),
        }
    }

    /// Asks EC2 what is due and returns the view for this cycle.
    pub async fn observe(
        &mut self,
        imds: &InstanceMetadata,
        needs: &Ec2Needs,
        now: Instant,
    ) -> Ec2View {
        if self.client.is_none() {
            match Ec2Client::new(&self.config, imds.region.as_deref(), self.calls.clone()).await {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    let u = Unavailable::new("ec2", e.to_string()).with_kind(e.kind());
                    return unknown_view(needs, u);
                }
            }
        }
        match &self.client {
            Some(client) => self.policy.observe(client, imds, needs, now).await,
            None => unknown_view(needs, Unavailable::new("ec2", "no client")),
        }
    }

    /// The cycle's time limit cancelled [`Ec2Tracker::observe`] (see
    /// [`Ec2Policy::cancelled`]).
    pub fn cancelled(&mut self, limit: Duration, now: Instant) {
        self.policy.cancelled(limit, now);
    }
}

/// Every part unknown for the same reason.
fn unknown_view(needs: &Ec2Needs, u: Unavailable) -> Ec2View {
    Ec2View {
        instance_type: Err(u.clone()),
        subnets: needs
            .pod_subnet
            .iter()
            .map(|id| SubnetLookup {
                id: id.clone(),
                facts: Err(u.clone()),
            })
            .collect(),
        attachments: Err(u),
    }
}

/// The call policy on its own (see the module doc): caches, pacing and
/// backoff, over any [`Ec2Api`].
pub struct Ec2Policy {
    subnet_refresh: Duration,
    instance_type: Option<(String, InstanceTypeFacts)>,
    subnets: BTreeMap<SubnetId, SubnetEntry>,
    /// The ENI set of the last headroom refresh: a change makes one due.
    headroom_enis: Vec<EniId>,
    attachments: Option<(Instant, Attachments)>,
    backoff: BTreeMap<&'static str, Blocked>,
    /// The call under way: if the cycle's time limit cancels it, it still
    /// backs off (see [`Ec2Policy::cancelled`]).
    in_flight: Option<&'static str>,
    /// The jitter's draws: this policy's own generator.
    rng: fastrand::Rng,
}

impl Ec2Policy {
    /// A free-address count is refreshed at most every `subnet_refresh`
    /// (plus jitter).
    pub fn new(subnet_refresh: Duration) -> Ec2Policy {
        Ec2Policy {
            subnet_refresh,
            instance_type: None,
            subnets: BTreeMap::new(),
            headroom_enis: Vec::new(),
            attachments: None,
            backoff: BTreeMap::new(),
            in_flight: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// The wait after the `failures`-th failure in a row of one operation.
    fn backoff_wait(&mut self, forbidden: bool, failures: u32) -> Duration {
        let policy = if forbidden { BACKOFF_DENIED } else { BACKOFF };
        policy.delay(failures, &mut self.rng)
    }

    /// The time before a subnet just asked may be refreshed.
    fn refresh_after(&mut self) -> Duration {
        spread(self.subnet_refresh, JITTER_PERCENT, &mut self.rng)
    }

    fn blocked(&self, op: &'static str, now: Instant) -> Option<Unavailable> {
        self.backoff
            .get(op)
            .filter(|b| now < b.until)
            .map(|b| b.error.clone())
    }

    /// The cycle's time limit cancelled [`Ec2Policy::observe`]: the call
    /// that was under way failed with a timeout and backs off like any other,
    /// or the next cycle would ask again at once.
    pub fn cancelled(&mut self, limit: Duration, now: Instant) {
        if let Some(op) = self.in_flight {
            let e = Ec2Error::Transport {
                operation: op,
                message: format!("no answer within the cycle's {limit:?}"),
                kind: "timeout",
            };
            let _ = self.record::<()>(op, Err(e), now);
        }
    }

    fn record<T>(&mut self, op: &'static str, r: Result<T, Ec2Error>, now: Instant) -> Observed<T> {
        self.in_flight = None;
        match r {
            Ok(v) => {
                self.backoff.remove(op);
                Ok(v)
            }
            Err(e) => {
                let failures = self
                    .backoff
                    .get(op)
                    .map_or(0, |b| b.failures)
                    .saturating_add(1);
                let wait = self.backoff_wait(e.kind() == "forbidden", failures);
                let error = Unavailable::new("ec2", e.to_string()).with_kind(e.kind());
                self.backoff.insert(
                    op,
                    Blocked {
                        failures,
                        until: now + wait,
                        error: error.clone(),
                    },
                );
                Err(error)
            }
        }
    }

    /// Asks `api` what is due and returns the view for this cycle.
    pub async fn observe<A: Ec2Api>(
        &mut self,
        api: &A,
        imds: &InstanceMetadata,
        needs: &Ec2Needs,
        now: Instant,
    ) -> Ec2View {
        let instance_type = self.instance_type(api, &imds.instance_type, now).await;
        let subnets = self.subnets(api, imds, needs, now).await;
        let attachments = self.attachments(api, imds, now).await;
        Ec2View {
            instance_type,
            subnets,
            attachments,
        }
    }

    async fn instance_type<A: Ec2Api>(
        &mut self,
        api: &A,
        name: &str,
        now: Instant,
    ) -> Observed<InstanceTypeFacts> {
        if let Some((cached, facts)) = &self.instance_type {
            if cached == name {
                return Ok(*facts);
            }
        }
        if let Some(u) = self.blocked(OP_TYPES, now) {
            return Err(u);
        }
        self.in_flight = Some(OP_TYPES);
        let r = api.instance_type(name).await;
        let r = self.record(OP_TYPES, r, now);
        if let Ok(facts) = &r {
            self.instance_type = Some((name.to_string(), *facts));
        }
        r
    }

    async fn attachments<A: Ec2Api>(
        &mut self,
        api: &A,
        imds: &InstanceMetadata,
        now: Instant,
    ) -> Observed<Attachments> {
        let mut enis: Vec<EniId> = imds
            .enis
            .iter()
            .filter_map(|e| e.interface_id.clone())
            .collect();
        enis.sort();
        let due = match &self.attachments {
            None => true,
            Some((at, last)) => {
                let changed = last.imds_enis != enis;
                let unsettled = last.enis.iter().any(|a| !a.is_attached())
                    || last
                        .imds_enis
                        .iter()
                        .any(|id| !last.enis.iter().any(|a| &a.id == id));
                (changed || unsettled) && now.duration_since(*at) >= ATTACHMENT_INTERVAL
            }
        };
        if due {
            if let Some(u) = self.blocked(OP_ENIS, now) {
                return self.cached_attachments().ok_or(u);
            }
            self.in_flight = Some(OP_ENIS);
            let r = api.instance_enis(&imds.instance_id).await;
            match self.record(OP_ENIS, r, now) {
                Ok(list) => {
                    let view = Attachments {
                        imds_enis: enis,
                        enis: list,
                    };
                    self.attachments = Some((now, view));
                }
                Err(u) => return self.cached_attachments().ok_or(u),
            }
        }
        self.cached_attachments()
            .ok_or_else(|| Unavailable::new("ec2", "not asked yet"))
    }

    fn cached_attachments(&self) -> Option<Attachments> {
        self.attachments.as_ref().map(|(_, a)| a.clone())
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;

#[cfg(test)]
mod fake;

#[cfg(test)]
mod policy_tests;
