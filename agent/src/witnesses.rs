//! When to ask EC2 and ipamd, and what to remember of their answers.
//!
//! EC2's call policy (what is asked when, what is cached, how it backs off)
//! is [`eniwatch_ec2::tracker`]'s, with its table.
//!
//! ipamd is local (`127.0.0.1:61679`) and cheap: it is read on every full
//! cycle (any kernel, API or IMDS change, and at least every
//! `--full-cycle-interval`).
//!
//! The daemon does not let readiness wait on EC2 (a throttled or slow EC2
//! once held the first report, and `/readyz`, for seconds): its first cycle
//! does not ask EC2, so the parts that need EC2 are *unknown* in that first
//! report, and the loop runs the next cycle, which asks, at once
//! ([`WitnessSources::defer_first_ec2`]). The one-shot `check` asks at once.
//!
//! The clock is passed in, so a simulated hour can be run in a test.

use std::time::{Duration, Instant};

use crate::config::SourceConfig;
use crate::sources::ipamd::{read_ipamd, IpamdClient};
use eniwatch_core::model::{Snapshot, Unavailable, Witness};
use eniwatch_core::sources::bounded::bounded;
use eniwatch_core::sources::requests::RequestCounts;

// The node agent's one link to EC2 (and the AWS SDK): every use goes through here.
pub use eniwatch_ec2::{Ec2Config, Ec2Needs, Ec2Tracker, ATTACHMENT_INTERVAL};

/// Whether EC2's first ask waits for the first report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum FirstAsk {
    /// Ask whenever due (the one-shot check, and after the first report).
    #[default]
    Now,
    /// Do not ask in the next cycle that could: it is the first report.
    AfterFirstReport,
    /// The last cycle did not ask: the caller should run the next one at once.
    Deferred,
}

/// The witnesses as configured: EC2 (None: `--no-ec2`) and ipamd (None: `--no-ipamd`).
pub struct WitnessSources {
    pub ec2: Option<Ec2Tracker>,
    pub ipamd: Option<Result<IpamdClient, Unavailable>>,
    first_ask: FirstAsk,
}

impl WitnessSources {
    pub fn new(config: &SourceConfig, ec2_calls: RequestCounts, counts: RequestCounts) -> Self {
        let ec2 = config
            .ec2
            .as_ref()
            .map(|c| Ec2Tracker::new(c.clone(), config.subnet_refresh, ec2_calls));
        let ipamd = config.ipamd.as_ref().map(|base| {
            IpamdClient::new(base, crate::sources::ipamd::DEFAULT_TIMEOUT)
                .map(|c| c.with_counts(counts))
                .map_err(|e| Unavailable::new("ipamd", e.to_string()).with_kind(e.kind()))
        });
        WitnessSources {
            ec2,
            ipamd,
            first_ask: FirstAsk::Now,
        }
    }

    /// The witnesses from their parts (tests, and callers that build their own).
    pub fn from_parts(
        ec2: Option<Ec2Tracker>,
        ipamd: Option<Result<IpamdClient, Unavailable>>,
    ) -> Self {
        WitnessSources {
            ec2,
            ipamd,
            first_ask: FirstAsk::Now,
        }
    }

    /// The first cycle that could ask EC2 does not: its report (and
    /// readiness) must not wait on EC2. [`WitnessSources::take_deferred`]
    /// then says the next cycle should run at once.
    pub fn defer_first_ec2(mut self) -> Self {
        self.first_ask = FirstAsk::AfterFirstReport;
        self
    }

    /// Whether the last [`WitnessSources::observe`] left EC2 unasked for the
    /// first report; true once.
    pub fn take_deferred(&mut self) -> bool {
        let deferred = self.first_ask == FirstAsk::Deferred;
        if deferred {
            self.first_ask = FirstAsk::Now;
        }
        deferred
    }

    /// Fills the snapshot's `ec2` and `ipamd` parts. `headroom`: the node
    /// wants addresses (see [`Ec2Needs`]).
    pub async fn observe(
        &mut self,
        snapshot: &mut Snapshot,
        headroom: bool,
        limit: Duration,
        now: Instant,
    ) {
        let needs = Ec2Needs {
            pod_subnet: eniwatch_core::expectation::expected(snapshot)
                .ok()
                .map(|e| e.subnet),
            headroom,
        };
        let imds = snapshot.imds.as_ref().ok();
        let defer = self.first_ask == FirstAsk::AfterFirstReport && imds.is_some();
        if self.first_ask == FirstAsk::AfterFirstReport {
            self.first_ask = if defer && self.ec2.is_some() {
                FirstAsk::Deferred
            } else {
                FirstAsk::Now
            };
        }
        let ec2 = async {
            match (&mut self.ec2, imds) {
                (Some(_), Some(_)) if defer => Witness::On(Err(Unavailable::new(
                    "ec2",
                    "not asked yet: EC2 is asked right after the first report, so that readiness does not wait on it",
                )
                .with_kind("dependency"))),
                (None, _) => Witness::Off,
                (Some(_), None) => Witness::On(Err(Unavailable::new(
                    "ec2",
                    "not asked: needs the instance id, type and region from IMDS",
                )
                .with_kind("dependency"))),
                (Some(t), Some(m)) => {
                    match tokio::time::timeout(limit, t.observe(m, &needs, now)).await {
                        Ok(v) => Witness::On(Ok(v)),
                        Err(_) => Witness::On(Err({
                            t.cancelled(limit, now);
                            Unavailable::new("ec2", format!("no answer within {limit:?}"))
                                .with_kind("timeout")
                        })),
                    }
                }
            }
        };
        let ipamd = async {
            match &self.ipamd {
                None => Witness::Off,
                Some(Err(u)) => Witness::On(Err(u.clone())),
                Some(Ok(c)) => Witness::On(bounded("ipamd", limit, read_ipamd(c)).await),
            }
        };
        let (ec2, ipamd) = tokio::join!(ec2, ipamd);
        snapshot.ec2 = ec2;
        snapshot.ipamd = ipamd;
    }
}

#[cfg(test)]
#[path = "witnesses_tests.rs"]
mod tests;
