//! Plain data: identifiers and the snapshot the checks judge.

pub mod ids;
pub mod node_kind;
pub mod snapshot;
pub mod vpc;
pub mod witness;

pub use ids::{EniId, IdError, MacAddr, SecurityGroupId, SubnetId, VpcId};
pub use snapshot::*;
pub use vpc::*;
pub use witness::*;

/// How the node selects its ENIConfig (the CNI's settings of the same names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelectionSettings {
    /// `ENI_CONFIG_LABEL_DEF`: the node label whose value names the ENIConfig.
    pub label_def: String,
    /// `ENI_CONFIG_ANNOTATION_DEF`: the node annotation whose value names the ENIConfig.
    pub annotation_def: String,
}

impl Default for SelectionSettings {
    fn default() -> Self {
        SelectionSettings {
            label_def: "k8s.amazonaws.com/eniConfig".to_string(),
            annotation_def: "k8s.amazonaws.com/eniConfig".to_string(),
        }
    }
}

/// The expectation given on the command line when there is no API server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlagExpectation {
    pub subnet: SubnetId,
    /// None: the primary ENI's groups (what the CNI uses when the ENIConfig lists none).
    pub security_groups: Option<Vec<SecurityGroupId>>,
}

/// Where the expected subnet and security groups come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// The node, its pods and the ENIConfigs from the Kubernetes API.
    Kubernetes(Observed<ClusterView>),
    /// `--no-kube`: `--expect-subnet` / `--expect-security-groups`; pods from the kernel.
    Flags(FlagExpectation),
}

/// Everything observed about the node at one moment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Snapshot {
    /// The node name as configured (`--node-name`), used when the API has no Node.
    pub node_name: Option<String>,
    pub imds: Observed<InstanceMetadata>,
    pub kernel: Observed<KernelState>,
    pub expectation: Expectation,
    pub selection: SelectionSettings,
    /// `AWS_VPC_K8S_CNI_VETHPREFIX`: host-side veth names start with this.
    pub veth_prefix: String,
    /// The instance type's network limits, from eniwatch's embedded table
    /// (`instance_limits`): unavailable when IMDS is, or when the type is
    /// not in the table.
    pub instance_type: Observed<InstanceTypeFacts>,
    /// eniwatch-cluster's published facts (subnets, ENIs EC2 says are not
    /// attached); off with `--no-cluster-facts` or `--no-kube`.
    pub cluster_facts: Witness<ClusterFacts>,
    /// ipamd's introspection API: its settings and its datastore.
    pub ipamd: Witness<IpamdView>,
    pub pool: PoolSettings,
}
