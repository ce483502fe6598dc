//! EC2 as a witness: its caches, pacing and backoff (the policy is in
//! [`crate::witnesses`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::client::{Ec2Client, Ec2Config, Ec2Error};
use eniwatch_core::backoff::{spread, Backoff};
use eniwatch_core::model::{Attachments, Ec2View};
use eniwatch_core::model::{
    EniId, InstanceMetadata, InstanceTypeFacts, Observed, SubnetFacts, SubnetId, SubnetLookup,
    Unavailable,
};
use eniwatch_core::sources::requests::RequestCounts;

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

#[derive(Debug, Clone)]
struct SubnetEntry {
    facts: Option<SubnetFacts>,
    asked: Instant,
    /// When its free-address count may be refreshed: `subnet_refresh` plus
    /// jitter drawn when it was asked.
    refresh: Duration,
}

/// An operation backing off after failures: asked again after `until`.
#[derive(Debug, Clone)]
struct Blocked {
    failures: u32,
    until: Instant,
    error: Unavailable,
}

/// EC2 as a witness, with its caches and pacing.
pub struct Ec2Tracker {
    config: Ec2Config,
    client: Option<Ec2Client>,
    calls: RequestCounts,
    subnet_refresh: Duration,
    instance_type: Option<(String, InstanceTypeFacts)>,
    subnets: BTreeMap<SubnetId, SubnetEntry>,
    /// The ENI set of the last headroom refresh: a change makes one due.
    headroom_enis: Vec<EniId>,
    attachments: Option<(Instant, Attachments)>,
    backoff: BTreeMap<&'static str, Blocked>,
    /// The call under way: if the cycle's time limit cancels it, it still
    /// backs off (see [`Ec2Tracker::cancelled`]).
    in_flight: Option<&'static str>,
    /// The jitter's draws: this tracker's own generator.
    rng: fastrand::Rng,
}

impl Ec2Tracker {
    /// `calls` counts every EC2 call by (operation, outcome).
    pub fn new(config: Ec2Config, subnet_refresh: Duration, calls: RequestCounts) -> Ec2Tracker {
        Ec2Tracker {
            config,
            client: None,
            calls,
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

    /// The cycle's time limit cancelled [`Ec2Tracker::observe`]: the call
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
                    return Ec2View {
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
                    };
                }
            }
        }
        let instance_type = self.instance_type(&imds.instance_type, now).await;
        let subnets = self.subnets(imds, needs, now).await;
        let attachments = self.attachments(imds, now).await;
        Ec2View {
            instance_type,
            subnets,
            attachments,
        }
    }

    async fn instance_type(&mut self, name: &str, now: Instant) -> Observed<InstanceTypeFacts> {
        if let Some((cached, facts)) = &self.instance_type {
            if cached == name {
                return Ok(*facts);
            }
        }
        if let Some(u) = self.blocked(OP_TYPES, now) {
            return Err(u);
        }
        let Some(client) = &self.client else {
            return Err(Unavailable::new("ec2", "no client"));
        };
        self.in_flight = Some(OP_TYPES);
        let r = client.instance_type(name).await;
        let r = self.record(OP_TYPES, r, now);
        if let Ok(facts) = &r {
            self.instance_type = Some((name.to_string(), *facts));
        }
        r
    }

    async fn subnets(
        &mut self,
        imds: &InstanceMetadata,
        needs: &Ec2Needs,
        now: Instant,
    ) -> Vec<SubnetLookup> {
        let mut wanted: Vec<SubnetId> = needs.pod_subnet.iter().cloned().collect();
        // ENI subnets whose CIDR IMDS did not give.
        for e in &imds.enis {
            if let (Some(id), None) = (&e.subnet_id, e.subnet_cidr) {
                if !wanted.contains(id) {
                    wanted.push(id.clone());
                }
            }
        }
        let enis: Vec<EniId> = imds
            .enis
            .iter()
            .filter_map(|e| e.interface_id.clone())
            .collect();
        let mut due: Vec<SubnetId> = Vec::new();
        for id in &wanted {
            let is_due = match self.subnets.get(id) {
                None => true,
                Some(SubnetEntry {
                    facts: None, asked, ..
                }) => now.duration_since(*asked) >= NOT_FOUND_TTL,
                Some(SubnetEntry { asked, refresh, .. }) => {
                    let headroom = needs.pod_subnet.as_ref() == Some(id)
                        && (needs.headroom || enis != self.headroom_enis);
                    headroom && now.duration_since(*asked) >= *refresh
                }
            };
            if is_due {
                due.push(id.clone());
            }
        }
        let mut failed: Option<Unavailable> = None;
        if !due.is_empty() {
            match (self.blocked(OP_SUBNETS, now), &self.client) {
                (Some(u), _) => failed = Some(u),
                (None, None) => failed = Some(Unavailable::new("ec2", "no client")),
                (None, Some(client)) => {
                    self.in_flight = Some(OP_SUBNETS);
                    let r = client.describe_subnets(&due).await;
                    match self.record(OP_SUBNETS, r, now) {
                        Ok(found) => {
                            for id in &due {
                                let facts = found.iter().find(|f| &f.id == id).cloned();
                                let refresh = self.refresh_after();
                                let entry = SubnetEntry {
                                    facts,
                                    asked: now,
                                    refresh,
                                };
                                self.subnets.insert(id.clone(), entry);
                            }
                            if due.iter().any(|d| needs.pod_subnet.as_ref() == Some(d)) {
                                self.headroom_enis = enis;
                            }
                        }
                        Err(u) => failed = Some(u),
                    }
                }
            }
        }
        wanted
            .into_iter()
            .map(|id| {
                let facts = match (self.subnets.get(&id), &failed) {
                    (Some(entry), _) => Ok(entry.facts.clone()),
                    (None, Some(u)) => Err(u.clone()),
                    (None, None) => Err(Unavailable::new("ec2", "not asked yet")),
                };
                SubnetLookup { id, facts }
            })
            .collect()
    }

    async fn attachments(
        &mut self,
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
            let Some(client) = &self.client else {
                return Err(Unavailable::new("ec2", "no client"));
            };
            self.in_flight = Some(OP_ENIS);
            let r = client.instance_enis(&imds.instance_id).await;
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
