//! The optional witnesses: what eniwatch-cluster publishes (from EC2) and
//! what ipamd says about the node, beside IMDS and the kernel. Each can be
//! switched off (`--no-cluster-facts`, `--no-ipamd`); checks that need a
//! witness that is off are *skipped*, not unknown. So are the checks that
//! need the published facts when eniwatch-cluster is not installed (no
//! ConfigMap): that is a choice, not a fault.
//!
//! The instance limits and subnet facts below are plain data: the agent
//! takes the limits from the embedded table, eniwatch-cluster the subnet
//! facts from EC2.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::ids::{EniId, SubnetId};
use super::snapshot::Observed;
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
    /// `ENABLE_IPv6` as ipamd reports it (None: not reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<bool>,
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
