//! The subnets the node needs: asked once for their CIDR and zone, "does
//! not exist" believed for [`NOT_FOUND_TTL`], and the pod subnet's free
//! addresses refreshed only while the node needs addresses (see the table in
//! [`crate::tracker`]).

use std::time::{Duration, Instant};

use super::{Ec2Needs, Ec2Policy, NOT_FOUND_TTL, OP_SUBNETS};
use crate::api::Ec2Api;
use eniwatch_core::model::{
    EniId, InstanceMetadata, SubnetFacts, SubnetId, SubnetLookup, Unavailable,
};

#[derive(Debug, Clone)]
pub(super) struct SubnetEntry {
    pub(super) facts: Option<SubnetFacts>,
    pub(super) asked: Instant,
    /// When its free-address count may be refreshed: `subnet_refresh` plus
    /// jitter drawn when it was asked.
    pub(super) refresh: Duration,
}

impl Ec2Policy {
    pub(super) async fn subnets<A: Ec2Api>(
        &mut self,
        api: &A,
        imds: &InstanceMetadata,
        needs: &Ec2Needs,
        now: Instant,
    ) -> Vec<SubnetLookup> {
        let wanted = wanted_subnets(imds, needs);
        let enis: Vec<EniId> = imds
            .enis
            .iter()
            .filter_map(|e| e.interface_id.clone())
            .collect();
        let due: Vec<SubnetId> = wanted
            .iter()
            .filter(|id| self.subnet_due(id, needs, &enis, now))
            .cloned()
            .collect();
        let failed = match due.is_empty() {
            true => None,
            false => self.ask_subnets(api, &due, needs, enis, now).await.err(),
        };
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

    /// Whether subnet `id` is asked this cycle; `enis` is IMDS's ENI set.
    fn subnet_due(&self, id: &SubnetId, needs: &Ec2Needs, enis: &[EniId], now: Instant) -> bool {
        match self.subnets.get(id) {
            None => true,
            Some(SubnetEntry {
                facts: None, asked, ..
            }) => now.duration_since(*asked) >= NOT_FOUND_TTL,
            Some(SubnetEntry { asked, refresh, .. }) => {
                let headroom = needs.pod_subnet.as_ref() == Some(id)
                    && (needs.headroom || enis != self.headroom_enis.as_slice());
                headroom && now.duration_since(*asked) >= *refresh
            }
        }
    }

    /// One `DescribeSubnets` for the subnets due, remembered with their
    /// refresh time; an id EC2 does not know is remembered as absent.
    async fn ask_subnets<A: Ec2Api>(
        &mut self,
        api: &A,
        due: &[SubnetId],
        needs: &Ec2Needs,
        enis: Vec<EniId>,
        now: Instant,
    ) -> Result<(), Unavailable> {
        if let Some(u) = self.blocked(OP_SUBNETS, now) {
            return Err(u);
        }
        self.in_flight = Some(OP_SUBNETS);
        let r = api.describe_subnets(due).await;
        let found = self.record(OP_SUBNETS, r, now)?;
        for id in due {
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
        Ok(())
    }
}

/// The subnets the node needs: the pod subnet, and those of ENIs whose CIDR
/// IMDS did not give.
fn wanted_subnets(imds: &InstanceMetadata, needs: &Ec2Needs) -> Vec<SubnetId> {
    let mut wanted: Vec<SubnetId> = needs.pod_subnet.iter().cloned().collect();
    for e in &imds.enis {
        if let (Some(id), None) = (&e.subnet_id, e.subnet_cidr) {
            if !wanted.contains(id) {
                wanted.push(id.clone());
            }
        }
    }
    wanted
}
