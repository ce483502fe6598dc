//! The optional witnesses: what eniwatch-cluster publishes (from EC2) and
//! what ipamd says about the node, beside IMDS and the kernel. Each can be
//! switched off (`--no-cluster-facts`, `--no-ipamd`); checks that need a
//! witness that is off are *skipped*, not unknown. So are the checks that
//! need the published facts when eniwatch-cluster is not installed (no
//! ConfigMap): that is a choice, not a fault.
//!
//! The EC2 shapes below (`Ec2View` and its parts) are what EC2 says about
//! one instance, as `eniwatch-ec2` reads it; the node agent no longer asks.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::ids::{EniId, SubnetId};
use super::snapshot::{Observed, Unavailable};
use crate::published::PublishedFacts;

/// What the agent read of eniwatch-cluster's ConfigMap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterFacts {
    /// `namespace/name` of the ConfigMap.
    pub configmap: String,
    /// None: the ConfigMap does not exist (eniwatch-cluster is not installed).
    pub published: Option<PublishedFacts>,
}

impl ClusterFacts {
    /// Why the checks fed by the published facts are skipped without them.
    pub fn not_installed(&self) -> String {
        format!(
            "needs eniwatch-cluster's published facts: ConfigMap {} does not exist \
             (install eniwatch-cluster: deploy/components/cluster)",
            self.configmap
        )
    }
}

/// A witness's contribution to a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Witness<T> {
    /// Switched off by configuration.
    Off,
    /// Asked: the answer, or why there is none.
    On(Observed<T>),
}

impl<T> Witness<T> {
    /// The data, if the witness is on and answered.
    pub fn data(&self) -> Option<&T> {
        match self {
            Witness::On(Ok(v)) => Some(v),
            _ => None,
        }
    }
}

/// Network limits of an instance type (network card 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InstanceLimits {
    /// `NetworkInfo.MaximumNetworkInterfaces` (of card 0 when per-card limits exist).
    pub max_enis: u32,
    /// `NetworkInfo.Ipv4AddressesPerInterface`.
    pub ipv4_per_eni: u32,
}

/// The instance type's limits, and whether it runs on Nitro (prefix delegation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InstanceTypeFacts {
    pub limits: InstanceLimits,
    pub nitro: Option<bool>,
}

/// What EC2 says about a subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetFacts {
    pub id: SubnetId,
    pub cidr: Option<Ipv4Net>,
    pub availability_zone: Option<String>,
    /// The zone's id (`apse1-az1`): the same zone in every account, unlike its name.
    pub availability_zone_id: Option<String>,
    /// `AvailableIpAddressCount` as of the last refresh.
    pub available_ips: Option<u32>,
}

/// An ENI attached (or attaching, or left behind) to this instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EniAttachment {
    pub id: EniId,
    /// `in-use`, `available`, ...
    pub status: Option<String>,
    /// `attaching`, `attached`, `detaching`, `detached`.
    pub attachment_status: Option<String>,
    pub device_index: Option<u32>,
    pub network_card_index: Option<u32>,
    /// `interface`, `trunk`, `efa`, ...
    pub interface_type: Option<String>,
    pub private_ips: Vec<Ipv4Addr>,
}

impl EniAttachment {
    /// Attached, and not on its way in or out.
    pub fn is_attached(&self) -> bool {
        self.attachment_status.as_deref() == Some("attached")
    }

    /// Being attached, or being detached (ipamd returns surplus ENIs as a
    /// matter of course): in progress, not drift.
    pub fn in_transition(&self) -> bool {
        matches!(
            self.attachment_status.as_deref(),
            Some("attaching") | Some("detaching")
        )
    }
}

/// One subnet lookup: the facts, or None when EC2 says it does not exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubnetLookup {
    pub id: SubnetId,
    pub facts: Observed<Option<SubnetFacts>>,
}

/// Everything EC2 contributed. The three calls fail independently (a role may
/// allow one and not another), so each part has its own outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2View {
    pub instance_type: Observed<InstanceTypeFacts>,
    /// The subnets the node needs: the ENIConfig's, and the ENIs'.
    pub subnets: Vec<SubnetLookup>,
    /// This instance's ENIs as EC2 sees them.
    pub attachments: Observed<Attachments>,
}

/// `DescribeNetworkInterfaces` for this instance, with the ENI set IMDS
/// listed when it was asked: only those ENIs can be judged by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachments {
    /// ENI ids IMDS listed at the time of the call, sorted.
    pub imds_enis: Vec<EniId>,
    pub enis: Vec<EniAttachment>,
}

impl Ec2View {
    /// The first call that failed this cycle, if any: EC2 is up only when
    /// every call it answered succeeded.
    pub fn first_error(&self) -> Option<&Unavailable> {
        self.instance_type
            .as_ref()
            .err()
            .or(self.attachments.as_ref().err())
            .or(self.subnets.iter().find_map(|s| s.facts.as_ref().err()))
    }

    pub fn subnet(&self, id: &SubnetId) -> Option<&Observed<Option<SubnetFacts>>> {
        self.subnets.iter().find(|s| &s.id == id).map(|s| &s.facts)
    }
}

/// ipamd's warm-pool settings, None where not reported or not set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WarmTargets {
    pub warm_eni_target: Option<u32>,
    pub warm_ip_target: Option<u32>,
    pub minimum_ip_target: Option<u32>,
    pub warm_prefix_target: Option<u32>,
    pub max_eni: Option<i32>,
}

impl WarmTargets {
    /// Each setting from `self`, else from `fallback`.
    pub fn or(&self, fallback: &WarmTargets) -> WarmTargets {
        WarmTargets {
            warm_eni_target: self.warm_eni_target.or(fallback.warm_eni_target),
            warm_ip_target: self.warm_ip_target.or(fallback.warm_ip_target),
            minimum_ip_target: self.minimum_ip_target.or(fallback.minimum_ip_target),
            warm_prefix_target: self.warm_prefix_target.or(fallback.warm_prefix_target),
            max_eni: self.max_eni.or(fallback.max_eni),
        }
    }
}

/// What ipamd says about the node, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpamdView {
    /// `AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG` as ipamd resolved it.
    pub custom_networking: Option<bool>,
    pub warm: WarmTargets,
    pub prefix_delegation: Option<bool>,
    /// The ENIConfig name ipamd selects for this node (None: ipamd could not say).
    pub selected_eniconfig: Option<String>,
    /// Every ENI in ipamd's datastore, sorted by (network card, device number).
    pub enis: Vec<IpamdEni>,
}

/// One ENI in ipamd's datastore.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpamdEni {
    pub id: EniId,
    pub network_card: u32,
    pub device_number: u32,
    pub primary: bool,
    pub trunk: bool,
    pub efa: bool,
    /// Every address ipamd holds, assigned or not: its /32 entries plus the
    /// addresses it has handed out from prefixes. Sorted and unique.
    pub ipv4_addresses: Vec<Ipv4Addr>,
    /// Addresses assigned to a pod, with `namespace/name` where ipamd records it.
    pub assigned: Vec<(Ipv4Addr, Option<String>)>,
    /// Delegated prefixes (/28 under prefix delegation).
    pub prefixes: Vec<Ipv4Net>,
}

/// Settings of the capacity and warm-pool checks: the CNI's own (as flags,
/// for when ipamd does not report them) and eniwatch's thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolSettings {
    /// Warm-pool targets given as flags; ipamd's answer wins where it has one.
    pub warm: WarmTargets,
    /// `ENABLE_PREFIX_DELEGATION` given as a flag (None: from ipamd or the ENIs).
    pub prefix_delegation: Option<bool>,
    /// `SubnetNearlyExhausted` below max(this many addresses, `subnet_min_free_percent` of the subnet).
    pub subnet_min_free: u32,
    pub subnet_min_free_percent: u32,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            warm: WarmTargets::default(),
            prefix_delegation: None,
            subnet_min_free: 32,
            subnet_min_free_percent: 10,
        }
    }
}
