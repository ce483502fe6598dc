//! `eniwatch status`'s command line (shared by `kubectl eniwatch status`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use eniwatch_core::duration::parse_duration;

/// How the view is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusOutput {
    /// A table for a terminal (readable at 80 columns).
    Text,
    /// The view as JSON (schema in docs/status.md).
    Json,
}

/// The whole after-help text.
pub const STATUS_HELP: &str = concat!(
    "Examples:\n  ",
    "eniwatch status                                  # the whole cluster, current context\n  ",
    "eniwatch status --nodegroup new-ng --zone eu-west-1b\n  ",
    "eniwatch status --output json | jq '.plan'\n  ",
    "eniwatch status --watch 10s                      # redraw every 10 s until Ctrl-C\n  ",
    "eniwatch status --kubeconfig ~/.kube/prod --context prod-eu\n  ",
    "kubectl eniwatch status                          # the same, as a kubectl plugin\n\n",
    "Exit codes: 0 migration done, 1 drift or a blocking capacity problem, 2 inconclusive ",
    "(something could not be read or judged), 64 bad usage.\n\n",
    "Colour only on a terminal, never with NO_COLOR set; the width is the terminal's (80 otherwise).\n\n",
    "RBAC (read-only):\n  ClusterRole rules:\n    ",
    "{apiGroups: [\"\"], resources: [\"nodes\", \"pods\"], verbs: [\"list\"]}\n    ",
    "{apiGroups: [\"crd.k8s.amazonaws.com\"], resources: [\"eniconfigs\"], verbs: [\"list\"]}\n    ",
    "{apiGroups: [\"eks.amazonaws.com\"], resources: [\"nodeclasses\"], verbs: [\"list\"]}\n  ",
    "Role in kube-system (or the namespace of --facts):\n    ",
    "{apiGroups: [\"\"], resources: [\"configmaps\"], resourceNames: [\"eniwatch-cluster-facts\"], verbs: [\"get\"]}",
);

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusOutput::Text)]
    pub output: StatusOutput,
    /// Only this nodegroup (managed nodegroup, Karpenter NodePool, eksctl nodegroup, or
    /// "unlabelled"), and the pods on its nodes.
    #[arg(long, value_name = "NAME")]
    pub nodegroup: Option<String>,
    /// Only this zone (topology.kubernetes.io/zone, e.g. eu-west-1b), and the pods on its nodes.
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
    /// Refresh in place every INTERVAL (default 5s, at least 1s) until Ctrl-C.
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "5s",
          value_parser = parse_duration)]
    pub watch: Option<Duration>,
    /// Kubeconfig file (default: ~/.kube/config).
    #[arg(long, value_name = "PATH", env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Where eniwatch-cluster publishes its facts.
    #[arg(
        long,
        value_name = "NS/NAME",
        default_value = "kube-system/eniwatch-cluster-facts"
    )]
    pub facts: String,
    /// The node label naming a node's ENIConfig: aws-node's ENI_CONFIG_LABEL_DEF (the CNI's
    /// default is k8s.amazonaws.com/eniConfig). When not given, and no node carries that label
    /// while the ENIConfigs are named after the nodes' zones, topology.kubernetes.io/zone is
    /// used, and a note on stderr says so.
    #[arg(long, value_name = "KEY", env = "ENI_CONFIG_LABEL_DEF")]
    pub eniconfig_label: Option<String>,
}

impl StatusArgs {
    /// `--facts` split, or why it is not `NAMESPACE/NAME`.
    pub fn facts_at(&self) -> Result<(String, String), String> {
        match self.facts.trim().split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok((ns.to_string(), name.to_string()))
            }
            _ => Err(format!("--facts {:?} is not NAMESPACE/NAME", self.facts)),
        }
    }
}
