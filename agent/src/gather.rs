//! Gathers one [`Snapshot`] from all sources, concurrently.
//!
//! Each source is read independently and bounded by the gather timeout; a
//! source that fails or times out becomes an [`Unavailable`] part of the
//! snapshot with the error's text, so the checks that need it say *unknown*
//! while the others still run. ipamd depends on nothing else, so `check`
//! reads it beside IMDS, the kernel and the API; only EC2 waits for them
//! (it needs the instance and the expected subnet).

use crate::config::{KubeMode, SourceConfig};
use crate::sources::ipamd::read_ipamd;
use crate::sources::{imds, netlink};
use crate::witnesses::WitnessSources;
use eniwatch_core::model::{
    Expectation, InstanceMetadata, KernelState, Observed, Snapshot, Unavailable, Witness,
};
use eniwatch_core::sources::bounded::bounded;
use eniwatch_core::sources::kube;
use eniwatch_core::sources::requests::RequestCounts;

/// A snapshot from its first three parts, with the witnesses (EC2, ipamd)
/// still off: [`WitnessSources::observe`] fills them in. The one place a
/// [`Snapshot`] is put together, for `check` and the daemon's loop alike.
pub fn assemble(
    config: &SourceConfig,
    imds: Observed<InstanceMetadata>,
    kernel: Observed<KernelState>,
    expectation: Expectation,
) -> Snapshot {
    Snapshot {
        node_name: config.node_name.clone(),
        imds,
        kernel,
        expectation,
        selection: config.selection.clone(),
        veth_prefix: config.veth_prefix.clone(),
        ec2: Witness::Off,
        ipamd: Witness::Off,
        pool: config.pool.clone(),
    }
}

/// Reads IMDS, the kernel, (unless `--no-kube`) the Kubernetes API and
/// (unless `--no-ipamd`) ipamd, then EC2 (unless `--no-ec2`), which depends
/// on the first two. EC2 calls are counted into `ec2_calls`.
pub async fn gather(config: &SourceConfig, ec2_calls: RequestCounts) -> Snapshot {
    let limit = config.gather_timeout;
    let imds_part = async {
        let client = imds::ImdsClient::new(config.imds.clone())
            .map_err(|e| Unavailable::new("imds", e.to_string()).with_kind(e.kind()))?;
        bounded("imds", limit, imds::read_instance_metadata(&client)).await
    };
    let kernel_part = bounded("kernel", limit, netlink::read_kernel_state());
    let kube_part = async {
        match &config.kube {
            KubeMode::Flags(f) => Expectation::Flags(f.clone()),
            KubeMode::Api { kubeconfig } => {
                let read = async {
                    let node_name = config.node_name.as_deref().unwrap_or_default();
                    let (client, server) = kube::check_client(kubeconfig.as_ref()).await?;
                    kube::read_cluster(&client, node_name)
                        .await
                        .map_err(|e| e.at(&server))
                };
                Expectation::Kubernetes(bounded("kubernetes", limit, read).await)
            }
        }
    };
    let WitnessSources { ec2, ipamd, .. } =
        WitnessSources::new(config, ec2_calls, RequestCounts::new());
    let ipamd_part = async {
        match &ipamd {
            None => Witness::Off,
            Some(Err(u)) => Witness::On(Err(u.clone())),
            Some(Ok(c)) => Witness::On(bounded("ipamd", limit, read_ipamd(c)).await),
        }
    };
    let (imds, kernel, expectation, ipamd) =
        tokio::join!(imds_part, kernel_part, kube_part, ipamd_part);
    let mut snapshot = assemble(config, imds, kernel, expectation);
    // EC2 alone: ipamd was read above.
    let mut witnesses = WitnessSources::from_parts(ec2, None);
    witnesses
        .observe(&mut snapshot, true, limit, std::time::Instant::now())
        .await;
    snapshot.ipamd = ipamd;
    snapshot
}
