//! `eniwatch-cluster check`: one refresh, one judgement, one verdict.
//!
//! Policy: the Kubernetes reads use eniwatch-core's one-shot client (no
//! retries; connect 5 s, read 15 s); EC2 is asked once through the same
//! [`VpcReader`] as `run` (one attempt per call, 3 s per attempt, 10 s per
//! operation), the whole EC2 refresh bounded by [`EC2_DEADLINE`]. A source
//! that cannot be read makes the checks that need it *unknown* and the
//! verdict at best unknown (exit 2), with the cause in words; never a
//! finding, never a panic. The NodeClasses are not judged: a failure to
//! list them is reported beside the verdict (`node_classes_error`), never
//! in it. There is no history: an unattached ENI's age
//! comes from the CNI's `createdAt` tag only.

use std::time::{Duration, Instant};

use eniwatch_core::model::{Observed, Unavailable};
use eniwatch_core::sources::kube as core_kube;
use eniwatch_core::sources::requests::RequestCounts;
use eniwatch_ec2::VpcReader;

use crate::checks::judge;
use crate::cli::Config;
use crate::model::EniHistory;
use crate::publish::published;
use crate::render::{SourceError, Verdict};
use crate::snapshot::{self, ec2_error, vpc_ask, vpc_unavailable, Parts};
use crate::sources::{self, unavailable};

/// The longest a `check` waits for EC2 as a whole.
pub const EC2_DEADLINE: Duration = Duration::from_secs(60);

/// Reads, judges and returns the verdict.
pub async fn check(config: &Config) -> Verdict {
    let (nodes, eni_configs, node_classes) = read_kube(config).await;
    let ask = vpc_ask(config.vpc_id.as_ref(), &nodes, &eni_configs, &node_classes);
    let counts = RequestCounts::new();
    let vpc = match VpcReader::new(config.ec2.clone(), config.policy.clone(), counts.clone()).await
    {
        Ok(mut reader) => {
            match tokio::time::timeout(EC2_DEADLINE, reader.refresh(&ask, Instant::now())).await {
                Ok(facts) => facts,
                Err(_) => vpc_unavailable(
                    &Unavailable::new(
                        "ec2",
                        format!("EC2 did not answer within {}s", EC2_DEADLINE.as_secs()),
                    )
                    .with_kind("timeout"),
                ),
            }
        }
        Err(why) => vpc_unavailable(&why),
    };
    let mut errors = Vec::new();
    for e in [nodes.as_ref().err(), eni_configs.as_ref().err()]
        .into_iter()
        .flatten()
    {
        if !errors.iter().any(|s: &SourceError| s.error == e.reason) {
            errors.push(SourceError {
                source: "kubernetes",
                error: e.reason.clone(),
            });
        }
    }
    if let Some(e) = ec2_error(&vpc) {
        errors.push(SourceError {
            source: "ec2",
            error: e,
        });
    }
    let now = jiff::Timestamp::now();
    let vpc_id = vpc.vpc_id.as_ref().ok().map(|v| v.as_str().to_string());
    let node_classes_error = node_classes.as_ref().err().map(|e| e.reason.clone());
    let parts = Parts {
        nodes,
        eni_configs,
        node_classes,
        vpc,
    };
    let snap = snapshot::snapshot(parts, config, &EniHistory::default(), now);
    let eval = judge(&snap);
    let facts = published(&snap, &eval, None);
    Verdict::new(&eval, vpc_id, now, &counts.snapshot(), errors)
        .with_facts(&facts, node_classes_error)
}

type KubeParts = (
    Observed<Vec<crate::model::ClusterNode>>,
    Observed<Option<Vec<eniwatch_core::model::EniConfig>>>,
    Observed<Option<Vec<crate::node_classes::NodeClass>>>,
);

async fn read_kube(config: &Config) -> KubeParts {
    let (client, url) = match core_kube::check_client(config.kubeconfig.as_ref()).await {
        Ok(c) => c,
        Err(e) => {
            let u = unavailable(&e);
            return (Err(u.clone()), Err(u.clone()), Err(u));
        }
    };
    let (nodes, configs, classes) = tokio::join!(
        sources::read_nodes(&client),
        sources::read_eniconfigs(&client),
        sources::read_node_classes(&client)
    );
    (
        nodes.map_err(|e| unavailable(&e.at(&url))),
        configs.map_err(|e| unavailable(&e.at(&url))),
        classes.map_err(|e| unavailable(&e.at(&url))),
    )
}
