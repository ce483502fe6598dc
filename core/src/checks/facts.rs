//! The facts the checks derived from one snapshot, handed out with their
//! verdicts: the report, the metrics and the node condition render these
//! and never derive them again (no second [`Context`], no second pod
//! classification, no capacity arithmetic of their own).

use serde::Serialize;

use super::context::{Context, EniRole, Expected, NoExpectation};
use super::placement::Placement;
use super::pool::{Addresses, PoolFacts};
use crate::model::EniMetadata;

/// What [`super::evaluate`] derived, once per snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// The node's name: the Node's, else the flag's, else the instance id.
    pub node_name: String,
    /// The ENIConfig the node should follow, or why there is none.
    pub expected: Result<Expected, NoExpectation>,
    /// IMDS's ENIs (empty when IMDS is unknown), each with its role.
    pub enis: Vec<EniFacts>,
    /// Where each pod is: the `pod-subnet` check, the report's `pods` and
    /// the `eniwatch_pods` metric all read this one classification.
    pub placement: Placement,
    /// Capacity and the warm pool.
    pub pool: PoolFacts,
}

/// One ENI as the checks saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EniFacts {
    pub meta: EniMetadata,
    pub role: EniRole,
    /// The name of the kernel link with this MAC.
    pub link: Option<String>,
    pub addresses: Addresses,
}

impl Facts {
    pub(crate) fn new(ctx: &Context) -> Facts {
        let pool = ctx.pool().clone();
        let enis = ctx
            .enis
            .iter()
            .enumerate()
            .map(|(i, e)| EniFacts {
                meta: e.meta.clone(),
                role: e.role,
                link: e.link.map(|l| l.name.clone()),
                addresses: pool.per_eni.get(i).copied().unwrap_or_default(),
            })
            .collect();
        Facts {
            node_name: ctx.node_name.clone(),
            expected: ctx.expected.clone(),
            enis,
            placement: ctx.placement().clone(),
            pool,
        }
    }
}
