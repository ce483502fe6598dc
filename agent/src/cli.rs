//! The command line: `eniwatch check`, `eniwatch reasons`.
//!
//! Every option that the VPC CNI also has reads the CNI's own environment
//! variable, so the agent can be given `aws-node`'s settings unchanged.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, KubeMode, SourceConfig};
use crate::sources::cluster_facts::FactsRef;
use crate::sources::imds::{ImdsConfig, DEFAULT_ENDPOINT};
use eniwatch_core::model::{
    FlagExpectation, PoolSettings, SecurityGroupId, SelectionSettings, SubnetId, WarmTargets,
};

#[derive(Debug, Parser)]
#[command(
    name = "eniwatch",
    version,
    about = "Validates a node's AWS VPC CNI custom networking: pod IPs, ENIs, routes and rules against the ENIConfig.",
    long_about = "eniwatch compares what a node really has (IMDS: its ENIs and their subnets; the kernel: \
links, addresses, routes, rules; the Kubernetes API: the node, its pods, the ENIConfigs; unless switched off, ipamd's \
introspection and the facts eniwatch-cluster publishes from EC2; the instance type's limits from a \
table built in) with what \
custom networking should give it: every pod IP from the ENIConfig subnet, every secondary ENI in that \
subnet with the right security groups and configured in the kernel.\n\n\
Run `eniwatch check` on a node (host network, root or CAP_NET_ADMIN not needed: reading netlink is \
unprivileged) to get a report and an exit code: 0 ok, 1 drift, 2 inconclusive, 64 bad usage."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check this node once, print a report and exit with its verdict.
    #[command(after_help = "Examples:\n  \
        NODE_NAME=$(hostname -f) eniwatch check\n  \
        eniwatch check --node-name ip-10-0-1-23.ec2.internal --output json | jq '.findings[]'\n  \
        eniwatch check --no-kube --expect-subnet subnet-0abc --expect-security-groups sg-1,sg-2\n\n\
        Exit codes: 0 all ok (or skipped, or not applicable), 1 drift found, 2 inconclusive (no drift, some check unknown), 64 bad usage.\n\
        Reasons and fixes: `eniwatch reasons`.")]
    Check(Box<CheckArgs>),
    /// Run as a node daemon: watch for changes, export metrics, emit drift events.
    #[command(after_help = "Examples:\n  \
        NODE_NAME=$(hostname -f) eniwatch run\n  \
        eniwatch run --node-name \"$NODE_NAME\" --listen 127.0.0.1:9742 --grace-period 30s --no-condition\n\n\
        Endpoints on --listen: /metrics (Prometheus), /healthz (the loop is alive), /readyz (first full\n\
        cycle done). On --debug-listen (loopback by default): /debug/snapshot (the current snapshot and\n\
        findings as JSON), /healthz. Each listener holds at most 256 connections (the longest idle is\n\
        closed for a new one) and gives a request head 5 s and 16 KiB.\n\
        With --secure-metrics --listen speaks TLS and /metrics needs a ServiceAccount bearer token\n\
        allowed to get the non-resource URL /metrics (TokenReview + SubjectAccessReview, as\n\
        kube-rbac-proxy does); /healthz and /readyz stay open.\n\
        Logs: JSON lines by default, human text on a terminal or with --log-format text; RUST_LOG filters.")]
    Run(Box<RunArgs>),
    /// Print every finding reason with its meaning, likely cause and fix (markdown).
    Reasons,
    /// The cluster's migration: nodegroups, zones, pods to move, capacity (kubeconfig).
    #[command(after_help = crate::status::args::STATUS_HELP)]
    Status(Box<crate::status::args::StatusArgs>),
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// JSON, unless stderr is a terminal.
    Auto,
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "ENIWATCH_LISTEN", default_value = "0.0.0.0:9742")]
    pub listen: std::net::SocketAddr,
    /// Address for /debug/snapshot (and /healthz), or `off`. It shows pod names and addresses,
    /// ENI, subnet and security-group ids: keep it on loopback (another address is logged as a
    /// warning).
    #[arg(
        long,
        env = "ENIWATCH_DEBUG_LISTEN",
        default_value = "127.0.0.1:9743",
        value_parser = parse_debug_listen
    )]
    pub debug_listen: DebugListen,
    /// Serve --listen over TLS; /metrics then needs a bearer token that TokenReview authenticates
    /// and SubjectAccessReview allows to `get` the non-resource URL /metrics (/healthz and /readyz
    /// stay open). Needs the Kubernetes API and system:auth-delegator for the agent.
    #[arg(long, env = "ENIWATCH_SECURE_METRICS")]
    pub secure_metrics: bool,
    /// With --secure-metrics: the PEM certificate chain to serve (with --tls-key-file; neither: a
    /// self-signed certificate generated at start). Read at start: restart to pick up a new one.
    #[arg(long, env = "ENIWATCH_TLS_CERT_FILE", value_name = "PATH")]
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// With --secure-metrics: the PEM private key of --tls-cert-file.
    #[arg(long, env = "ENIWATCH_TLS_KEY_FILE", value_name = "PATH")]
    pub tls_key_file: Option<std::path::PathBuf>,
    /// How often IMDS is re-read (at least 1s; also at once when a link other than a pod veth
    /// comes or goes).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub imds_interval: Duration,
    /// How long a finding must persist before it counts as drift (0 reports at once).
    /// Reasons whose witnesses lag one another wait at least 90-150 s (docs/configuration.md).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub grace_period: Duration,
    /// Wait after a wake-up (a kernel or API change, a timer) before the state is read, so a
    /// burst is read once.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Longest time between two full cycles when nothing announces a change: ipamd and
    /// EC2 do not, so this is how soon their drift is seen on a quiet node (at least 1s).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub full_cycle_interval: Duration,
    /// Do not write Kubernetes Events for drift transitions.
    #[arg(long)]
    pub no_events: bool,
    /// Do not maintain the node condition CustomNetworkingReady.
    #[arg(long)]
    pub no_condition: bool,
    /// Re-patch the node condition at least this often, even unchanged (at least 10s).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub condition_heartbeat: Duration,
    /// How long the node condition keeps its last judged status while a source is
    /// unavailable (its message says since when it is stale); Unknown after that.
    /// 0: Unknown at once.
    #[arg(
        long,
        env = "ENIWATCH_CONDITION_STALE_AFTER",
        default_value = "5m",
        value_parser = parse_duration
    )]
    pub condition_stale_after: Duration,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub sources: SourceArgs,
}

pub use eniwatch_core::duration::parse_duration;

/// `--debug-listen`: an address, or None for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugListen(pub Option<std::net::SocketAddr>);

pub fn parse_debug_listen(s: &str) -> Result<DebugListen, String> {
    if s == "off" {
        return Ok(DebugListen(None));
    }
    s.parse()
        .map(|a| DebugListen(Some(a)))
        .map_err(|e| format!("{e}: expected an address such as 127.0.0.1:9743, or `off`"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Report format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub sources: SourceArgs,
}

/// Options shared by every command that reads the node.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The Kubernetes node name of this machine (in a DaemonSet: spec.nodeName via the downward API).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Kubeconfig to use; default: ~/.kube/config, else the in-cluster service account.
    #[arg(long, env = "KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Do not use the Kubernetes API: expect --expect-subnet, find pods from the kernel's routes.
    #[arg(long, requires = "expect_subnet")]
    pub no_kube: bool,
    /// With --no-kube: the subnet pod ENIs must be in (the ENIConfig's spec.subnet).
    #[arg(long, value_name = "SUBNET_ID", requires = "no_kube")]
    pub expect_subnet: Option<String>,
    /// With --no-kube: the security groups pod ENIs must have; default: the primary ENI's.
    #[arg(
        long,
        value_name = "SG_ID,...",
        value_delimiter = ',',
        requires = "no_kube"
    )]
    pub expect_security_groups: Vec<String>,
    /// IMDS base URL.
    #[arg(long, env = "AWS_EC2_METADATA_SERVICE_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL")]
    pub imds_endpoint: String,
    /// Timeout of one IMDS request, in milliseconds (retries come on top).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub imds_timeout_ms: u64,
    /// Node label whose value names the ENIConfig (the CNI's ENI_CONFIG_LABEL_DEF).
    #[arg(
        long,
        env = "ENI_CONFIG_LABEL_DEF",
        default_value = "k8s.amazonaws.com/eniConfig"
    )]
    pub eni_config_label_def: String,
    /// Node annotation whose value names the ENIConfig (the CNI's ENI_CONFIG_ANNOTATION_DEF).
    #[arg(
        long,
        env = "ENI_CONFIG_ANNOTATION_DEF",
        default_value = "k8s.amazonaws.com/eniConfig"
    )]
    pub eni_config_annotation_def: String,
    /// Prefix of the host-side pod veths (the CNI's AWS_VPC_K8S_CNI_VETHPREFIX).
    #[arg(long, env = "AWS_VPC_K8S_CNI_VETHPREFIX", default_value = "eni")]
    pub veth_prefix: String,
    /// Upper bound for reading all sources once, in seconds (1 to 3600).
    #[arg(long, default_value_t = 20, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub gather_timeout: u64,
    #[command(flatten)]
    pub witnesses: WitnessArgs,
}

/// The published facts and ipamd, the optional witnesses, and the warm-pool settings.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The ConfigMap eniwatch-cluster publishes its EC2 facts in (subnets, ENIs not
    /// attached); default: eniwatch-cluster-facts in the namespace of the agent's service
    /// account (in a pod), else in kube-system. Read with one watch by name.
    #[arg(
        long,
        env = "ENIWATCH_CLUSTER_FACTS",
        value_name = "NAMESPACE/NAME",
        help_heading = "Cluster facts"
    )]
    pub cluster_facts: Option<String>,
    /// Do not read eniwatch-cluster's facts: the eniconfig-subnet, subnet-headroom and
    /// eni-attachment checks are skipped.
    #[arg(long, help_heading = "Cluster facts")]
    pub no_cluster_facts: bool,
    /// Accepted and ignored: the agent no longer calls EC2 (eniwatch-cluster does).
    #[arg(long, hide = true)]
    pub no_ec2: bool,
    /// SubnetNearlyExhausted below this many free addresses (at most a quarter of the
    /// subnet), or below the percentage, if larger.
    #[arg(
        long,
        default_value_t = 32,
        value_name = "N",
        help_heading = "Cluster facts"
    )]
    pub subnet_min_free: u32,
    /// SubnetNearlyExhausted below this percentage of the subnet's size (or the count, if larger).
    #[arg(long, default_value_t = 10, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100), help_heading = "Cluster facts")]
    pub subnet_min_free_percent: u32,
    /// Do not read ipamd's introspection API: the ipamd checks are skipped.
    #[arg(long, help_heading = "ipamd")]
    pub no_ipamd: bool,
    /// ipamd's introspection API (aws-node, host network).
    #[arg(long, default_value = crate::sources::ipamd::DEFAULT_BASE, value_name = "URL", help_heading = "ipamd")]
    pub ipamd_endpoint: String,
    /// The CNI's WARM_ENI_TARGET, when ipamd does not report it (default 1).
    #[arg(
        long,
        env = "WARM_ENI_TARGET",
        value_name = "N",
        help_heading = "Warm pool"
    )]
    pub warm_eni_target: Option<u32>,
    /// The CNI's WARM_IP_TARGET, when ipamd does not report it.
    #[arg(
        long,
        env = "WARM_IP_TARGET",
        value_name = "N",
        help_heading = "Warm pool"
    )]
    pub warm_ip_target: Option<u32>,
    /// The CNI's MINIMUM_IP_TARGET, when ipamd does not report it.
    #[arg(
        long,
        env = "MINIMUM_IP_TARGET",
        value_name = "N",
        help_heading = "Warm pool"
    )]
    pub minimum_ip_target: Option<u32>,
    /// The CNI's WARM_PREFIX_TARGET, when ipamd does not report it.
    #[arg(
        long,
        env = "WARM_PREFIX_TARGET",
        value_name = "N",
        help_heading = "Warm pool"
    )]
    pub warm_prefix_target: Option<u32>,
    /// The CNI's MAX_ENI, when ipamd does not report it; default: the instance type's limit.
    #[arg(long, env = "MAX_ENI", value_name = "N", help_heading = "Warm pool")]
    pub max_eni: Option<i32>,
    /// The CNI's ENABLE_PREFIX_DELEGATION; default: ipamd's value, else seen from the ENIs
    /// (prefixes or not).
    #[arg(
        long,
        env = "ENABLE_PREFIX_DELEGATION",
        value_name = "BOOL",
        help_heading = "Warm pool"
    )]
    pub enable_prefix_delegation: Option<bool>,
}

impl WitnessArgs {
    /// Where the published facts are; None with `--no-cluster-facts`.
    fn cluster_facts(&self) -> Result<Option<FactsRef>, ConfigError> {
        if self.no_cluster_facts {
            return Ok(None);
        }
        match self
            .cluster_facts
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|e| ConfigError::Usage(format!("--cluster-facts: {e}"))),
            None => Ok(Some(FactsRef::in_namespace(&own_namespace()))),
        }
    }

    fn pool(&self) -> PoolSettings {
        PoolSettings {
            warm: WarmTargets {
                warm_eni_target: self.warm_eni_target,
                warm_ip_target: self.warm_ip_target,
                minimum_ip_target: self.minimum_ip_target,
                warm_prefix_target: self.warm_prefix_target,
                max_eni: self.max_eni,
            },
            prefix_delegation: self.enable_prefix_delegation,
            subnet_min_free: self.subnet_min_free,
            subnet_min_free_percent: self.subnet_min_free_percent,
        }
    }
}

/// The namespace of the pod's service account, else `kube-system`.
fn own_namespace() -> String {
    std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "kube-system".to_string())
}

/// Where a pod's service account namespace is mounted.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

impl SourceArgs {
    /// One line per option that is accepted but no longer does anything.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.witnesses.no_ec2 {
            out.push(
                "--no-ec2 is ignored: the node agent no longer calls EC2 \
                 (eniwatch-cluster does; --no-cluster-facts skips its facts)",
            );
        }
        out
    }

    /// Validates the options into the configuration the sources use.
    pub fn to_config(&self) -> Result<SourceConfig, ConfigError> {
        let usage = |m: String| ConfigError::Usage(m);
        let kube = if self.no_kube {
            let raw = self.expect_subnet.as_deref().unwrap_or_default();
            let subnet: SubnetId = raw
                .parse()
                .map_err(|e| usage(format!("--expect-subnet: {e}")))?;
            let groups = self
                .expect_security_groups
                .iter()
                .filter(|g| !g.trim().is_empty())
                .map(|g| g.parse::<SecurityGroupId>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| usage(format!("--expect-security-groups: {e}")))?;
            KubeMode::Flags(FlagExpectation {
                subnet,
                security_groups: (!groups.is_empty()).then_some(groups),
            })
        } else {
            if self
                .node_name
                .as_deref()
                .is_none_or(|n| n.trim().is_empty())
            {
                return Err(usage(
                    "the node name is needed to read the node and its pods: pass --node-name or set NODE_NAME \
                     (in a DaemonSet, from spec.nodeName via the downward API), or use --no-kube --expect-subnet subnet-..."
                        .into(),
                ));
            }
            KubeMode::Api {
                kubeconfig: self
                    .kubeconfig
                    .clone()
                    .filter(|p| !p.as_os_str().is_empty()),
            }
        };
        if self.imds_timeout_ms == 0 {
            return Err(usage("--imds-timeout-ms must be above 0".into()));
        }
        if self.veth_prefix.is_empty()
            || self.eni_config_label_def.is_empty()
            || self.eni_config_annotation_def.is_empty()
        {
            return Err(usage("--veth-prefix, --eni-config-label-def and --eni-config-annotation-def must not be empty".into()));
        }
        // Read from the API: none without it.
        let cluster_facts = match kube {
            KubeMode::Api { .. } => self.witnesses.cluster_facts()?,
            KubeMode::Flags(_) => None,
        };
        Ok(SourceConfig {
            node_name: self.node_name.clone().map(|n| n.trim().to_string()),
            imds: ImdsConfig {
                endpoint: self.imds_endpoint.clone(),
                request_timeout: Duration::from_millis(self.imds_timeout_ms),
                ..ImdsConfig::default()
            },
            kube,
            selection: SelectionSettings {
                label_def: self.eni_config_label_def.clone(),
                annotation_def: self.eni_config_annotation_def.clone(),
            },
            veth_prefix: self.veth_prefix.clone(),
            gather_timeout: Duration::from_secs(self.gather_timeout),
            cluster_facts,
            ipamd: (!self.witnesses.no_ipamd).then(|| self.witnesses.ipamd_endpoint.clone()),
            pool: self.witnesses.pool(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "s", "-1s", "10x", "1e9h", "NaNs"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
