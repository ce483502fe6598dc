//! Configuration, parsed once from the command line (and the environment
//! variables clap reads for it) into one struct the rest of the crate uses.

use std::path::PathBuf;
use std::time::Duration;

use crate::sources::cluster_facts::FactsRef;
use crate::sources::imds::ImdsConfig;
use eniwatch_core::model::{FlagExpectation, PoolSettings, SelectionSettings};

/// Where the expectation and the pods come from.
#[derive(Debug, Clone)]
pub enum KubeMode {
    /// The Kubernetes API, from this kubeconfig (None: infer).
    Api { kubeconfig: Option<PathBuf> },
    /// `--no-kube`: expectation from flags, pods from the kernel.
    Flags(FlagExpectation),
}

/// Everything one check (or one daemon cycle) needs to gather a snapshot.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Required with the Kubernetes API; optional (display only) with `--no-kube`.
    pub node_name: Option<String>,
    pub imds: ImdsConfig,
    pub kube: KubeMode,
    pub selection: SelectionSettings,
    pub veth_prefix: String,
    /// Upper bound for gathering one snapshot.
    pub gather_timeout: Duration,
    /// eniwatch-cluster's published facts; None with `--no-cluster-facts` or `--no-kube`.
    pub cluster_facts: Option<FactsRef>,
    /// ipamd's introspection base URL; None with `--no-ipamd`.
    pub ipamd: Option<String>,
    pub pool: PoolSettings,
}

/// A configuration that cannot work, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Usage(String),
}
