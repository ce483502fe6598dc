//! What the VPC reader asks when, and what it remembers (the schedule is in
//! [`super`]'s docs). Generic over [`VpcApi`] with the clock passed in, so
//! it is tested on a simulated clock against EC2 from memory.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::api::{EniQuery, SubnetQuery, VpcApi, TYPE_PAGE};
use super::part::{
    absent, invalid_type, most_common_vpc, no_vpc_found, not_read, unknown_type, Part,
};
use super::policy::Gate;
use super::{VpcAsk, VpcPolicy};
use eniwatch_core::model::{
    InstanceTypeFacts, NetworkInterface, Observed, RouteTable, SecurityGroup, Subnet, SubnetId,
    Unavailable, VpcFacts, VpcId,
};

#[path = "plan_groups.rs"]
mod groups;
use groups::GroupsAsked;

pub(super) const OP_SUBNETS: &str = "DescribeSubnets";
pub(super) const OP_ENIS: &str = "DescribeNetworkInterfaces";
pub(super) const OP_ROUTES: &str = "DescribeRouteTables";
pub(super) const OP_GROUPS: &str = "DescribeSecurityGroups";
pub(super) const OP_TYPES: &str = "DescribeInstanceTypes";

/// The subnets' answer: the VPC's, plus the ENIConfig subnets outside it,
/// and the ENIConfig subnet ids EC2 does not know.
#[derive(Debug, Clone, Default)]
struct SubnetsAnswer {
    subnets: Vec<Subnet>,
    not_found: Vec<SubnetId>,
}

/// The schedule and the caches.
pub struct VpcPlan {
    policy: VpcPolicy,
    pub(super) gate: Gate,
    last_now: Option<Instant>,
    last_ask: VpcAsk,
    learnt_vpc: Option<VpcId>,
    /// Why the VPC is not known (no `--vpc-id`, and learning failed).
    vpc_error: Option<Unavailable>,
    subnets: Part<SubnetsAnswer>,
    cni_enis: Part<Vec<NetworkInterface>>,
    /// The subnets asked, and every ENI in them.
    prefix_enis: Part<(Vec<SubnetId>, Vec<NetworkInterface>)>,
    route_tables: Part<Vec<RouteTable>>,
    /// The groups asked, and those that exist.
    groups: Part<(GroupsAsked, Vec<SecurityGroup>)>,
    /// Per type: the answer, and whether it is final (EC2 answered).
    types: BTreeMap<String, (Observed<InstanceTypeFacts>, bool)>,
}

impl VpcPlan {
    pub fn new(policy: VpcPolicy) -> VpcPlan {
        VpcPlan {
            gate: Gate::new(policy.calls_per_minute),
            policy,
            last_now: None,
            last_ask: VpcAsk::default(),
            learnt_vpc: None,
            vpc_error: None,
            subnets: Part::default(),
            cni_enis: Part::default(),
            prefix_enis: Part::default(),
            route_tables: Part::default(),
            groups: Part::default(),
            types: BTreeMap::new(),
        }
    }

    fn vpc(&self, ask: &VpcAsk) -> Observed<VpcId> {
        if let Some(v) = ask.vpc_id.as_ref().or(self.learnt_vpc.as_ref()) {
            return Ok(v.clone());
        }
        Err(self.vpc_error.clone().unwrap_or_else(|| {
            Unavailable::new(
                "ec2",
                "the VPC is not known: no --vpc-id, and no ENIConfig names a subnet to learn it from",
            )
            .with_kind("invalid")
        }))
    }

    /// An ENIConfig subnet neither in the last answer nor known to be absent.
    fn new_eniconfig_subnet(&self, ask: &VpcAsk) -> bool {
        let Some(answer) = &self.subnets.value else {
            return false;
        };
        ask.eniconfig_subnets.iter().any(|id| {
            !answer.not_found.contains(id) && !answer.subnets.iter().any(|s| &s.facts.id == id)
        })
    }

    /// The subnets where some CNI ENI holds a prefix, sorted.
    fn prefix_subnets(&self) -> Option<Vec<SubnetId>> {
        let enis = self.cni_enis.value.as_ref()?;
        let set: BTreeSet<SubnetId> = enis
            .iter()
            .filter(|e| !e.prefixes.is_empty())
            .filter_map(|e| e.subnet_id.clone())
            .collect();
        Some(set.into_iter().collect())
    }

    fn types_due(&self, ask: &VpcAsk) -> Vec<String> {
        ask.instance_types
            .iter()
            .filter(|t| !self.types.get(*t).is_some_and(|(_, done)| *done))
            .cloned()
            .collect()
    }

    /// Asks what is due at `now` and returns the facts.
    pub async fn refresh<A: VpcApi>(&mut self, api: &A, ask: &VpcAsk, now: Instant) -> VpcFacts {
        self.last_now = Some(now);
        self.last_ask = ask.clone();
        if self.new_eniconfig_subnet(ask) {
            self.subnets.due = None;
        }
        if self.subnets.is_due(now) {
            self.refresh_subnets(api, ask, now).await;
        }
        if let Ok(vpc) = self.vpc(ask) {
            self.refresh_enis(api, &vpc, now).await;
            if self.route_tables.is_due(now) {
                let r = self
                    .gate
                    .paged(OP_ROUTES, now, |t| api.route_tables(&vpc, t))
                    .await;
                let next = now + self.gate.jittered(self.policy.route_refresh);
                self.route_tables.settle(r, next);
            }
        }
        self.refresh_groups(api, ask, now).await;
        self.refresh_types(api, ask, now).await;
        self.facts(ask)
    }

    /// The VPC's subnets, learning the VPC first when `--vpc-id` is not given.
    async fn refresh_subnets<A: VpcApi>(&mut self, api: &A, ask: &VpcAsk, now: Instant) {
        let next = now + self.gate.jittered(self.policy.subnet_refresh);
        let eniconfig: Vec<SubnetId> = ask.eniconfig_subnets.iter().cloned().collect();
        let mut learnt_from = None;
        if ask.vpc_id.is_none() && self.learnt_vpc.is_none() {
            if eniconfig.is_empty() {
                self.subnets.due = Some(next);
                return;
            }
            let query = SubnetQuery::Ids(eniconfig.clone());
            match self
                .gate
                .paged(OP_SUBNETS, now, |t| api.subnets(&query, t))
                .await
            {
                Err(e) => return self.subnets.settle(Err(e), next),
                Ok(found) => {
                    self.learnt_vpc = most_common_vpc(&found);
                    if self.learnt_vpc.is_none() {
                        self.vpc_error = Some(no_vpc_found(&eniconfig));
                        let answer = SubnetsAnswer {
                            not_found: absent(&eniconfig, &found),
                            subnets: found,
                        };
                        self.subnets.value = Some(answer);
                        self.subnets.due = Some(next);
                        return;
                    }
                    learnt_from = Some(found);
                }
            }
        }
        let Ok(vpc) = self.vpc(ask) else { return };
        let query = SubnetQuery::Vpc(vpc);
        let mut all = match self
            .gate
            .paged(OP_SUBNETS, now, |t| api.subnets(&query, t))
            .await
        {
            Ok(all) => all,
            Err(e) => return self.subnets.settle(Err(e), next),
        };
        let outside = absent(&eniconfig, &all);
        let found = match learnt_from {
            Some(found) => found,
            None if outside.is_empty() => Vec::new(),
            None => {
                let query = SubnetQuery::Ids(outside.clone());
                match self
                    .gate
                    .paged(OP_SUBNETS, now, |t| api.subnets(&query, t))
                    .await
                {
                    Ok(found) => found,
                    Err(e) => return self.subnets.settle(Err(e), next),
                }
            }
        };
        let not_found = absent(&outside, &found);
        for s in found {
            if !all.iter().any(|a| a.facts.id == s.facts.id) {
                all.push(s);
            }
        }
        let answer = SubnetsAnswer {
            subnets: all,
            not_found,
        };
        self.subnets.settle(Ok(answer), next);
    }

    /// The CNI's ENIs, then every ENI of the subnets where they hold prefixes.
    async fn refresh_enis<A: VpcApi>(&mut self, api: &A, vpc: &VpcId, now: Instant) {
        if self.cni_enis.is_due(now) {
            let query = EniQuery::CniTagged(vpc.clone());
            let r = self
                .gate
                .paged(OP_ENIS, now, |t| api.network_interfaces(&query, t))
                .await;
            let next = now + self.gate.jittered(self.policy.subnet_refresh);
            self.cni_enis.settle(r, next);
        }
        let Some(wanted) = self.prefix_subnets() else {
            return;
        };
        let changed = self
            .prefix_enis
            .value
            .as_ref()
            .is_some_and(|(asked, _)| asked != &wanted);
        if wanted.is_empty() {
            self.prefix_enis.value = Some((wanted, Vec::new()));
            self.prefix_enis.error = None;
        } else if changed || self.prefix_enis.is_due(now) {
            let query = EniQuery::InSubnets(wanted.clone());
            let r = self
                .gate
                .paged(OP_ENIS, now, |t| api.network_interfaces(&query, t))
                .await;
            let next = now + self.gate.jittered(self.policy.subnet_refresh);
            self.prefix_enis.settle(r.map(|enis| (wanted, enis)), next);
        }
    }

    async fn refresh_types<A: VpcApi>(&mut self, api: &A, ask: &VpcAsk, now: Instant) {
        for chunk in self.types_due(ask).chunks(TYPE_PAGE) {
            let r = self
                .gate
                .paged(OP_TYPES, now, |t| api.instance_types(chunk, t))
                .await;
            for name in chunk {
                let entry = match &r {
                    Ok(answers) => match answers.iter().find(|(n, _)| n == name) {
                        Some((_, Ok(facts))) => (Ok(*facts), true),
                        Some((_, Err(problem))) => (Err(invalid_type(problem)), true),
                        None => (Err(unknown_type(name)), true),
                    },
                    Err(e) => (Err(e.clone()), false),
                };
                self.types.insert(name.clone(), entry);
            }
        }
    }

    fn facts(&self, ask: &VpcAsk) -> VpcFacts {
        let vpc_id = self.vpc(ask);
        // Parts that need the VPC are unknown for its reason until read once.
        let missing = || vpc_id.clone().err().unwrap_or_else(not_read);
        VpcFacts {
            subnets: match &vpc_id {
                Err(e) => Err(e.clone()),
                Ok(_) => self.subnets.observed(missing, |a| a.subnets.clone()),
            },
            subnets_not_found: self
                .subnets
                .value
                .as_ref()
                .map(|a| a.not_found.clone())
                .unwrap_or_default(),
            route_tables: self.route_tables.observed(missing, Clone::clone),
            security_groups: self.groups.observed(not_read, |(_, g)| g.clone()),
            security_groups_asked: self
                .groups
                .value
                .as_ref()
                .map(|(asked, _)| asked.ids.clone())
                .unwrap_or_default(),
            cni_enis: self.cni_enis.observed(missing, Clone::clone),
            prefix_subnet_enis: match &self.cni_enis.value {
                None => self.cni_enis.observed(missing, |_| Vec::new()),
                Some(_) => self.prefix_enis.observed(not_read, |(_, e)| e.clone()),
            },
            instance_types: ask
                .instance_types
                .iter()
                .map(|t| {
                    let r = self
                        .types
                        .get(t)
                        .map_or_else(|| Err(not_read()), |(r, _)| r.clone());
                    (t.clone(), r)
                })
                .collect(),
            vpc_id,
        }
    }

    /// When the next call is due: the earliest part, after its operation's
    /// backoff and the budget's window.
    pub fn next_due(&self) -> Instant {
        let now = self.last_now.unwrap_or_else(Instant::now);
        let ask = &self.last_ask;
        let at = |due: Option<Instant>| due.unwrap_or(now);
        let mut times = Vec::new();
        let subnets_due = if self.new_eniconfig_subnet(ask) {
            now
        } else {
            at(self.subnets.due)
        };
        times.push(self.gate.earliest(OP_SUBNETS, subnets_due));
        if self.vpc(ask).is_ok() {
            times.push(self.gate.earliest(OP_ENIS, at(self.cni_enis.due)));
            if let Some(wanted) = self.prefix_subnets().filter(|w| !w.is_empty()) {
                let changed = self
                    .prefix_enis
                    .value
                    .as_ref()
                    .is_some_and(|(asked, _)| asked != &wanted);
                let due = if changed {
                    now
                } else {
                    at(self.prefix_enis.due)
                };
                times.push(self.gate.earliest(OP_ENIS, due));
            }
            times.push(self.gate.earliest(OP_ROUTES, at(self.route_tables.due)));
        }
        let wanted = self.groups_wanted(ask);
        if !wanted.is_empty() {
            let changed = self.groups.value.as_ref().is_none_or(|(a, _)| a != &wanted);
            let due = if changed { now } else { at(self.groups.due) };
            times.push(self.gate.earliest(OP_GROUPS, due));
        }
        if !self.types_due(ask).is_empty() {
            times.push(self.gate.earliest(OP_TYPES, now));
        }
        times.into_iter().min().unwrap_or(now)
    }
}
