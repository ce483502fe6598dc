//! Gathers one [`Snapshot`] from all sources, concurrently.
//!
//! Each source is read independently and bounded by the gather timeout; a
//! source that fails or times out becomes an [`Unavailable`] part of the
//! snapshot with the error's text, so the checks that need it say *unknown*
//! while the others still run. The instance type's limits are looked up in
//! the embedded table once IMDS has named the type; nothing is asked of EC2.

use crate::config::{KubeMode, SourceConfig};
use crate::sources::cluster_facts::{self, FactsRef, SOURCE};
use crate::sources::{imds, netlink};
use crate::witnesses::WitnessSources;
use eniwatch_core::model::{
    ClusterFacts, Expectation, InstanceMetadata, InstanceTypeFacts, KernelState, Observed,
    Snapshot, Unavailable, Witness,
};
use eniwatch_core::sources::bounded::bounded;
use eniwatch_core::sources::kube;
use eniwatch_core::sources::requests::RequestCounts;

/// A snapshot from its first three parts and the instance limits, with the
/// witnesses (published facts, ipamd) still off: the caller fills them in.
/// The one place a [`Snapshot`] is put together, for `check` and the
/// daemon's loop alike.
pub fn assemble(
    config: &SourceConfig,
    imds: Observed<InstanceMetadata>,
    kernel: Observed<KernelState>,
    expectation: Expectation,
) -> Snapshot {
    Snapshot {
        node_name: config.node_name.clone(),
        instance_type: instance_type(&imds),
        imds,
        kernel,
        expectation,
        selection: config.selection.clone(),
        veth_prefix: config.veth_prefix.clone(),
        cluster_facts: Witness::Off,
        ipamd: Witness::Off,
        pool: config.pool.clone(),
    }
}

/// The instance type's limits from the embedded table.
fn instance_type(imds: &Observed<InstanceMetadata>) -> Observed<InstanceTypeFacts> {
    match imds {
        Ok(m) => eniwatch_core::instance_limits::facts(&m.instance_type),
        Err(_) => Err(Unavailable::new(
            "instance_limits",
            "the instance type is unknown: IMDS was not read",
        )
        .with_kind("dependency")),
    }
}

/// Reads IMDS, the kernel, (unless `--no-kube`) the Kubernetes API and the
/// published facts, and (unless `--no-ipamd`) ipamd, all at once.
pub async fn gather(config: &SourceConfig) -> Snapshot {
    let limit = config.gather_timeout;
    let imds_part = async {
        let client = imds::ImdsClient::new(config.imds.clone())
            .map_err(|e| Unavailable::new("imds", e.to_string()).with_kind(e.kind()))?;
        bounded("imds", limit, imds::read_instance_metadata(&client)).await
    };
    let kernel_part = bounded("kernel", limit, netlink::read_kernel_state());
    let kube_part = async {
        match &config.kube {
            KubeMode::Flags(f) => (Expectation::Flags(f.clone()), Witness::Off),
            KubeMode::Api { kubeconfig } => {
                let node_name = config.node_name.as_deref().unwrap_or_default();
                let connected =
                    bounded("kubernetes", limit, kube::check_client(kubeconfig.as_ref())).await;
                let (client, server) = match connected {
                    Ok(c) => c,
                    Err(u) => {
                        let facts = config.cluster_facts.as_ref().map_or(Witness::Off, |_| {
                            Witness::On(Err(
                                Unavailable::new(SOURCE, u.reason.clone()).with_kind("dependency")
                            ))
                        });
                        return (Expectation::Kubernetes(Err(u)), facts);
                    }
                };
                let cluster = bounded("kubernetes", limit, async {
                    kube::read_cluster(&client, node_name)
                        .await
                        .map_err(|e| e.at(&server))
                });
                let facts = async {
                    match &config.cluster_facts {
                        None => Witness::Off,
                        Some(at) => Witness::On(read_facts(&client, at, limit).await),
                    }
                };
                let (cluster, facts) = tokio::join!(cluster, facts);
                (Expectation::Kubernetes(cluster), facts)
            }
        }
    };
    let witnesses = WitnessSources::new(config, RequestCounts::new());
    let ipamd_part = witnesses.ipamd(limit);
    let (imds, kernel, (expectation, cluster_facts), ipamd) =
        tokio::join!(imds_part, kernel_part, kube_part, ipamd_part);
    let mut snapshot = assemble(config, imds, kernel, expectation);
    snapshot.cluster_facts = cluster_facts;
    snapshot.ipamd = ipamd;
    snapshot
}

/// `check`'s one GET of the published facts, bounded.
async fn read_facts(
    client: &::kube::Client,
    at: &FactsRef,
    limit: std::time::Duration,
) -> Observed<ClusterFacts> {
    match tokio::time::timeout(limit, cluster_facts::read_once(client, at)).await {
        Ok(r) => r,
        Err(_) => Err(Unavailable::new(
            SOURCE,
            format!("reading ConfigMap {at}: no answer within {limit:?}"),
        )
        .with_kind("timeout")),
    }
}
