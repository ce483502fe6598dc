//! The command line: `eniwatch-cluster check`, `eniwatch-cluster run`.
//!
//! Options the VPC CNI also has (`WARM_*_TARGET`, `CLUSTER_NAME`,
//! `ENI_CONFIG_*_DEF`) read the CNI's own environment variables, so the
//! Deployment can be given `aws-node`'s settings unchanged. Durations are
//! parsed as the node agent parses them (`250ms`, `10s`, `5m`, `1h`, a bare
//! number of seconds; at most 7 days).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use eniwatch_core::model::{SelectionSettings, VpcId};
use eniwatch_ec2::{Ec2Config, VpcPolicy};

use crate::model::ClusterSettings;

const IAM_ACTIONS: &str = "IAM actions it needs (read-only, deploy/iam/cluster-policy.json): \
ec2:DescribeSubnets, ec2:DescribeRouteTables, ec2:DescribeSecurityGroups, \
ec2:DescribeNetworkInterfaces, ec2:DescribeInstanceTypes. Kubernetes: list/watch nodes and \
eniconfigs; get/list/watch/create/update the facts ConfigMap; create/patch events.k8s.io events.";

#[derive(Debug, Parser)]
#[command(
    name = "eniwatch-cluster",
    version,
    about = "Checks what belongs to the VPC rather than to a node (subnets, routes, security groups, \
the CNI's ENIs) for AWS VPC CNI custom networking, and publishes subnet facts for the node agents.",
    long_about = "eniwatch-cluster is eniwatch's cluster component: one replica per cluster asks EC2 \
about the VPC (a handful of calls per refresh, whatever the node count), reads the Nodes and \
ENIConfigs from the Kubernetes API, and judges: ENIConfig subnets and security groups that do not \
exist or sit in the wrong zone, zones without an ENIConfig, pod subnets nearly out of addresses or \
/28 prefixes, pod subnets without a private default route, CNI ENIs leaked or not attached.\n\n\
Commands:\n  check  one refresh, a verdict (text or JSON) and an exit code: 0 ok, 1 drift, 2 unknown, 64 bad usage\n  \
run    the Deployment: refresh, judge, export metrics, write Events, publish the ConfigMap \
the node agents read (eniwatch-cluster-facts)",
    after_help = IAM_ACTIONS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Refresh once, print the verdict and exit with it.
    #[command(after_help = "Examples:\n  \
        AWS_REGION=eu-west-1 eniwatch-cluster check\n  \
        eniwatch-cluster check --region us-east-1 --vpc-id vpc-0abc --output json | jq '.findings[]'\n\n\
        Exit codes: 0 all ok, 1 drift found, 2 inconclusive (an API server or EC2 could not be read, \
        or a check is unknown), 64 bad usage.")]
    Check(Box<CheckArgs>),
    /// Run as the cluster Deployment: refresh, judge, export metrics, write Events, publish facts.
    #[command(after_help = "Examples:\n  \
        eniwatch-cluster run --region eu-west-1 --cluster-name prod\n  \
        eniwatch-cluster run --listen 127.0.0.1:9743 --no-events --log-format text\n\n\
        Endpoints on --listen: /metrics (Prometheus), /healthz (the loop is alive), /readyz (the \
        first refresh is done). Logs: JSON lines by default, text on a terminal; RUST_LOG filters.")]
    Run(Box<RunArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
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
pub struct CheckArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "ENIWATCH_LISTEN", default_value = "0.0.0.0:9743")]
    pub listen: std::net::SocketAddr,
    /// Do not write Kubernetes Events for findings.
    #[arg(long)]
    pub no_events: bool,
    /// Do not write the facts ConfigMap (the node agents' subnet checks are then unknown).
    #[arg(long)]
    pub no_publish: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What both commands read and judge with.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Kubeconfig file (else the usual inference: ~/.kube/config, then the service account).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace of the facts ConfigMap (eniwatch's namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "kube-system")]
    pub namespace: String,
    /// Name of the facts ConfigMap the node agents read.
    #[arg(long, default_value = eniwatch_core::published::CONFIGMAP_NAME)]
    pub facts_configmap: String,
    /// The cluster's VPC (else learnt from the ENIConfig subnets).
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// AWS region of the cluster (required unless AWS_REGION or AWS_DEFAULT_REGION is set).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// EC2 endpoint URL: a VPC endpoint or an emulator (moto).
    #[arg(long, env = "ENIWATCH_EC2_ENDPOINT")]
    pub ec2_endpoint: Option<String>,
    /// Never more EC2 calls than this in any 60 s window (calls over it wait).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub ec2_calls_per_minute: u32,
    /// How often subnets and the CNI's ENIs are asked for (+0..20 % jitter).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub subnet_refresh: Duration,
    /// How often route tables and security groups are asked for (+0..20 % jitter).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub route_refresh: Duration,
    /// SubnetNearlyExhausted below this many free addresses (capped at a quarter of the subnet)...
    #[arg(long, default_value_t = 32)]
    pub subnet_min_free: u32,
    /// ...or below this percentage of the subnet, whichever is larger.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub subnet_min_free_percent: u32,
    /// An unattached CNI ENI older than this is LeakedENI.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub leaked_eni_after: Duration,
    /// A live node's ENI unattached for longer than this is ENINotAttached.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub eni_attach_grace: Duration,
    /// aws-node's WARM_ENI_TARGET, for each zone's warm-pool demand.
    #[arg(long, env = "WARM_ENI_TARGET", default_value_t = 1)]
    pub warm_eni_target: u32,
    /// aws-node's WARM_IP_TARGET.
    #[arg(long, env = "WARM_IP_TARGET")]
    pub warm_ip_target: Option<u32>,
    /// aws-node's WARM_PREFIX_TARGET.
    #[arg(long, env = "WARM_PREFIX_TARGET", default_value_t = 1)]
    pub warm_prefix_target: u32,
    /// aws-node's CLUSTER_NAME: ENIs tagged for another cluster are not this one's.
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// aws-node's ENI_CONFIG_LABEL_DEF.
    #[arg(long, env = "ENI_CONFIG_LABEL_DEF")]
    pub eni_config_label_def: Option<String>,
    /// aws-node's ENI_CONFIG_ANNOTATION_DEF.
    #[arg(long, env = "ENI_CONFIG_ANNOTATION_DEF")]
    pub eni_config_annotation_def: Option<String>,
}

/// A configuration that cannot be run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "no AWS region: pass --region (or set AWS_REGION or AWS_DEFAULT_REGION, as the \
         Deployment's env does); eniwatch-cluster does not ask the node's instance metadata"
    )]
    NoRegion,
    #[error("--vpc-id {0:?} is not a VPC id (vpc-...)")]
    BadVpcId(String),
}

/// Everything the program needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    pub namespace: String,
    pub facts_configmap: String,
    pub vpc_id: Option<VpcId>,
    pub ec2: Ec2Config,
    pub policy: VpcPolicy,
    pub settings: ClusterSettings,
    pub selection: SelectionSettings,
}

impl CommonArgs {
    /// Checks the arguments; `default_region` is `AWS_DEFAULT_REGION` (passed in, so
    /// tests do not depend on the environment).
    pub fn to_config(&self, default_region: Option<String>) -> Result<Config, ConfigError> {
        let region = self
            .region
            .clone()
            .or(default_region)
            .filter(|r| !r.trim().is_empty())
            .ok_or(ConfigError::NoRegion)?;
        let vpc_id = match &self.vpc_id {
            Some(v) => Some(
                v.parse::<VpcId>()
                    .map_err(|_| ConfigError::BadVpcId(v.clone()))?,
            ),
            None => None,
        };
        let defaults = SelectionSettings::default();
        Ok(Config {
            kubeconfig: self.kubeconfig.clone(),
            namespace: self.namespace.clone(),
            facts_configmap: self.facts_configmap.clone(),
            vpc_id,
            ec2: Ec2Config {
                endpoint: self.ec2_endpoint.clone(),
                region: Some(region),
                static_credentials: None,
            },
            policy: VpcPolicy {
                subnet_refresh: self.subnet_refresh.max(Duration::from_secs(10)),
                route_refresh: self.route_refresh.max(Duration::from_secs(10)),
                calls_per_minute: self.ec2_calls_per_minute,
            },
            settings: ClusterSettings {
                subnet_min_free: self.subnet_min_free,
                subnet_min_free_percent: self.subnet_min_free_percent,
                leaked_eni_after: self.leaked_eni_after,
                attach_grace: self.eni_attach_grace,
                warm_eni_target: self.warm_eni_target,
                warm_ip_target: self.warm_ip_target,
                warm_prefix_target: self.warm_prefix_target,
                cluster_name: self.cluster_name.clone().filter(|n| !n.is_empty()),
            },
            selection: SelectionSettings {
                label_def: non_empty(&self.eni_config_label_def).unwrap_or(defaults.label_def),
                annotation_def: non_empty(&self.eni_config_annotation_def)
                    .unwrap_or(defaults.annotation_def),
            },
        })
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.trim().is_empty())
}

pub use eniwatch_core::duration::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    fn common(args: &[&str]) -> CommonArgs {
        let mut argv = vec!["eniwatch-cluster", "check"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Check(c) => c.common,
            Command::Run(_) => unreachable!(),
        }
    }

    #[test]
    fn durations_as_the_agent_reads_them() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("8000h")
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn region_from_the_flag_or_the_default_variable() {
        let c = common(&["--region", "eu-west-1"]);
        assert_eq!(
            c.to_config(None).unwrap().ec2.region.as_deref(),
            Some("eu-west-1")
        );
        let c = common(&[]);
        if c.region.is_none() {
            assert_eq!(c.to_config(None).unwrap_err(), ConfigError::NoRegion);
            let cfg = c.to_config(Some("us-east-2".into())).unwrap();
            assert_eq!(cfg.ec2.region.as_deref(), Some("us-east-2"));
        }
    }

    #[test]
    fn settings_and_selection_from_the_flags() {
        let c = common(&[
            "--region=r",
            "--leaked-eni-after=1h",
            "--cluster-name=prod",
            "--eni-config-label-def=topology.kubernetes.io/zone",
            "--vpc-id=vpc-0abc",
        ]);
        let cfg = c.to_config(None).unwrap();
        assert_eq!(cfg.settings.leaked_eni_after, Duration::from_secs(3600));
        assert_eq!(cfg.settings.cluster_name.as_deref(), Some("prod"));
        assert_eq!(cfg.selection.label_def, "topology.kubernetes.io/zone");
        assert_eq!(cfg.vpc_id.unwrap().as_str(), "vpc-0abc");
        let c = common(&["--region=r", "--vpc-id=subnet-1"]);
        assert!(matches!(c.to_config(None), Err(ConfigError::BadVpcId(_))));
    }
}
