//! The published facts ([`eniwatch_core::published`]) from one judgement.

use eniwatch_core::published::{PublishedFacts, SCHEMA_VERSION};

use crate::checks::ClusterEvaluation;
use crate::model::ClusterSnapshot;

/// The document to publish. `previous`: what is published now; a subnet
/// whose values did not change keeps its `observed_at`, so an unchanged
/// cluster produces an identical document (and no write).
pub fn published(
    _snapshot: &ClusterSnapshot,
    _evaluation: &ClusterEvaluation,
    _previous: Option<&PublishedFacts>,
) -> PublishedFacts {
    PublishedFacts {
        schema_version: SCHEMA_VERSION,
        vpc_id: None,
        subnets: Vec::new(),
        subnets_not_found: Vec::new(),
        enis_observed_at: None,
        nodes: Vec::new(),
        nodes_truncated: false,
    }
}
