//! The security groups part of the plan: the groups the ENIConfigs and
//! NodeClasses name (filter `group-id`), and every group of the VPC (filter
//! `vpc-id`, with tags) when a NodeClass selects pod groups by tag; then by
//! `group-id` only the named groups absent from the VPC's answer (another
//! VPC's, or none: absent means it does not exist).

use std::time::Instant;

use super::super::api::{GroupQuery, VpcApi};
use super::super::VpcAsk;
use super::{VpcPlan, OP_GROUPS};
use eniwatch_core::model::{Observed, SecurityGroup, SecurityGroupId, VpcId};

/// What the groups call asked: the ids, and the VPC whose groups were
/// listed whole (when a NodeClass selects pod groups by tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GroupsAsked {
    pub(super) ids: Vec<SecurityGroupId>,
    pub(super) vpc: Option<VpcId>,
}

impl GroupsAsked {
    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.vpc.is_none()
    }
}

impl VpcPlan {
    /// The groups to ask for: the ids asked, and the VPC's whole list when
    /// the ask wants it and the VPC is known.
    pub(super) fn groups_wanted(&self, ask: &VpcAsk) -> GroupsAsked {
        GroupsAsked {
            ids: ask.security_groups.iter().cloned().collect(),
            vpc: ask
                .vpc_security_groups
                .then(|| self.vpc(ask).ok())
                .flatten(),
        }
    }

    pub(super) async fn refresh_groups<A: VpcApi>(&mut self, api: &A, ask: &VpcAsk, now: Instant) {
        let wanted = self.groups_wanted(ask);
        let changed = self
            .groups
            .value
            .as_ref()
            .is_none_or(|(asked, _)| asked != &wanted);
        if wanted.is_empty() {
            self.groups.value = Some((wanted, Vec::new()));
            self.groups.error = None;
        } else if changed || self.groups.is_due(now) {
            let r = self.read_groups(api, &wanted, now).await;
            let next = now + self.gate.jittered(self.policy.route_refresh);
            self.groups.settle(r.map(|g| (wanted, g)), next);
        }
    }

    /// The VPC's groups (filter `vpc-id`) when wanted, then by `group-id`
    /// the asked groups absent from that answer (another VPC's, or none).
    async fn read_groups<A: VpcApi>(
        &mut self,
        api: &A,
        wanted: &GroupsAsked,
        now: Instant,
    ) -> Observed<Vec<SecurityGroup>> {
        let mut all = match &wanted.vpc {
            Some(vpc) => {
                let query = GroupQuery::Vpc(vpc.clone());
                self.gate
                    .paged(OP_GROUPS, now, |t| api.security_groups(&query, t))
                    .await?
            }
            None => Vec::new(),
        };
        let rest: Vec<SecurityGroupId> = wanted
            .ids
            .iter()
            .filter(|id| !all.iter().any(|g| &g.id == *id))
            .cloned()
            .collect();
        if !rest.is_empty() {
            let query = GroupQuery::Ids(rest);
            let found = self
                .gate
                .paged(OP_GROUPS, now, |t| api.security_groups(&query, t))
                .await?;
            for g in found {
                if !all.iter().any(|a| a.id == g.id) {
                    all.push(g);
                }
            }
        }
        Ok(all)
    }
}
