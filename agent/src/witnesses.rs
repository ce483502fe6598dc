//! When to ask ipamd, the one witness the agent asks itself.
//!
//! ipamd is local (`127.0.0.1:61679`) and cheap: it is read on every full
//! cycle (any kernel, API or IMDS change, and at least every
//! `--full-cycle-interval`), bounded by the gather timeout.
//!
//! The node agent asks EC2 nothing: the instance type's limits come from
//! the table built into eniwatch (`eniwatch_core::instance_limits`), and
//! what EC2 says about subnets and ENIs from eniwatch-cluster's published
//! facts ([`crate::sources::cluster_facts`]), which the API watch delivers.

use std::time::Duration;

use crate::config::SourceConfig;
use crate::sources::ipamd::{read_ipamd, IpamdClient};
use eniwatch_core::model::{IpamdView, Unavailable, Witness};
use eniwatch_core::sources::bounded::bounded;
use eniwatch_core::sources::requests::RequestCounts;

/// The witnesses as configured: ipamd (None: `--no-ipamd`).
pub struct WitnessSources {
    pub ipamd: Option<Result<IpamdClient, Unavailable>>,
}

impl WitnessSources {
    pub fn new(config: &SourceConfig, counts: RequestCounts) -> Self {
        let ipamd = config.ipamd.as_ref().map(|base| {
            IpamdClient::new(base, crate::sources::ipamd::DEFAULT_TIMEOUT)
                .map(|c| c.with_counts(counts))
                .map_err(|e| Unavailable::new("ipamd", e.to_string()).with_kind(e.kind()))
        });
        WitnessSources { ipamd }
    }

    /// ipamd's part of a snapshot.
    pub async fn ipamd(&self, limit: Duration) -> Witness<IpamdView> {
        match &self.ipamd {
            None => Witness::Off,
            Some(Err(u)) => Witness::On(Err(u.clone())),
            Some(Ok(c)) => Witness::On(bounded("ipamd", limit, read_ipamd(c)).await),
        }
    }
}
