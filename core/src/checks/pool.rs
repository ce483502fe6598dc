//! Capacity and the warm pool: can custom networking supply the pods the
//! kubelet will admit, and are free addresses kept as the CNI is told to?
//!
//! The numbers come from three places: the instance type's limits (eniwatch's embedded table), the
//! ENIs and their addresses (IMDS), and the warm-pool settings (ipamd's
//! answer, else the flags, else the CNI's defaults). [`PoolFacts`] holds them
//! once per snapshot; the checks, the report and the metrics read it.
//!
//! Warm-pool target (what ipamd keeps free), as the CNI computes it:
//! - prefix delegation: `WARM_IP_TARGET` if set, else `WARM_PREFIX_TARGET`
//!   (default 1) × 16;
//! - otherwise: `WARM_IP_TARGET` if set (and at least `MINIMUM_IP_TARGET`
//!   minus the addresses in use), else `WARM_ENI_TARGET` (default 1) × the
//!   addresses one ENI holds for pods.
//! - Setting either `WARM_IP_TARGET` or `MINIMUM_IP_TARGET` switches ipamd to
//!   address targets, in both modes: the target is then the larger of
//!   `WARM_IP_TARGET` (0 when unset) and `MINIMUM_IP_TARGET` minus the
//!   addresses in use.
//!
//! A pool below its target is not drift while every ENI the type allows (or
//! `MAX_ENI`) is attached: nothing more can be attached; that is reported as
//! `ENILimitReached`, which is informational.
//!
//! Nor is a pool that cannot grow because the CNI cannot create ENIs at all
//! (`ENIConfigNotFound`, `ENIConfigSubnetNotFound`,
//! `ENIConfigSubnetZoneMismatch`): one root cause is one error. Its
//! `WarmPoolExhausted` / `WarmPoolBelowTarget` is not raised; the check is
//! *unknown* and its detail names the finding that explains the pool.

use serde::Serialize;

use super::capacity::{max_pods, AddressingMode};
use super::context::{Context, EniRole};
use super::{Finding, Outcome, Reason, Subject};
use crate::model::{InstanceLimits, WarmTargets};

/// Everything known about this node's address capacity, once per snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolFacts {
    /// The instance type's limits (the embedded table), or why unknown.
    pub limits: Result<InstanceLimits, String>,
    pub custom_networking: bool,
    pub prefix_delegation: Result<bool, String>,
    /// Pods custom networking can host (the max-pods formula), or why unknown.
    pub capacity: Result<u64, String>,
    /// The kubelet's max-pods (`status.capacity.pods`).
    pub kubelet_max_pods: Option<u32>,
    /// ENIs on network card 0 now.
    pub attached_enis: u32,
    /// The most ENIs that can be attached: the type's limit, or `MAX_ENI` if lower.
    pub eni_limit: Option<u32>,
    /// Addresses on pod ENIs: in all, held by pods, free.
    pub total: u64,
    pub assigned: u64,
    pub free: u64,
    /// Free addresses ipamd aims to keep, or why unknown.
    pub target: Result<u64, String>,
    /// The settings the target was computed from.
    pub warm: WarmTargets,
    /// Each ENI's addresses, in the context's ENI order (the report's rows).
    #[serde(skip)]
    pub per_eni: Vec<Addresses>,
    /// Summed over the secondary ENIs only (`eniwatch_secondary_ipv4_addresses`).
    #[serde(skip)]
    pub secondary: Addresses,
}

/// Addresses for pods on one ENI (or summed over several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Addresses {
    /// Secondary IPs plus 16 per delegated /28.
    pub total: u64,
    /// Of those, held by pods on this node.
    pub assigned: u64,
    pub free: u64,
}

impl Addresses {
    fn add(self, other: Addresses) -> Addresses {
        Addresses {
            total: self.total.saturating_add(other.total),
            assigned: self.assigned.saturating_add(other.assigned),
            free: self.free.saturating_add(other.free),
        }
    }
}

impl PoolFacts {
    pub fn new(ctx: &Context) -> PoolFacts {
        let snap = ctx.snapshot;
        let ipamd = snap.ipamd.data();
        let warm = ipamd
            .map(|v| v.warm.or(&snap.pool.warm))
            .unwrap_or_else(|| snap.pool.warm.clone());
        let limits = match &snap.instance_type {
            Ok(f) if f.limits.max_enis > 0 && f.limits.ipv4_per_eni > 0 => Ok(f.limits),
            Ok(_) => Err("eniwatch's table has no network limits for the instance type".into()),
            Err(u) => Err(u.reason.clone()),
        };
        // The node's mode, unless ipamd says otherwise.
        let custom_networking = ipamd
            .and_then(|v| v.custom_networking)
            .unwrap_or(ctx.mode.is_custom_networking());
        // Without custom networking the primary ENI holds pods too, and
        // ipamd fills it first: a node may have no secondary ENI at all.
        let pod_enis: Vec<_> = ctx
            .enis
            .iter()
            .filter(|e| {
                e.role == EniRole::Secondary || (!custom_networking && e.role == EniRole::Primary)
            })
            .collect();
        let prefix_delegation = snap
            .pool
            .prefix_delegation
            .or_else(|| ipamd.and_then(|v| v.prefix_delegation))
            .map(Ok)
            .unwrap_or_else(|| {
                if pod_enis.iter().any(|e| !e.meta.ipv4_prefixes.is_empty()) {
                    Ok(true)
                } else if pod_enis.iter().any(|e| e.meta.local_ipv4s.len() > 1) {
                    Ok(false)
                } else {
                    Err("prefix delegation unknown: no pod addresses yet; pass --enable-prefix-delegation".into())
                }
            });
        let capacity = match (&limits, &prefix_delegation) {
            (Ok(l), Ok(pd)) => Ok(max_pods(
                *l,
                AddressingMode {
                    custom_networking,
                    prefix_delegation: *pd,
                },
            )),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        let pods = ctx.routed_pods();
        let total: u64 = pod_enis.iter().map(|e| e.meta.pod_capacity()).sum();
        let assigned = pods
            .iter()
            .filter(|(_, ip)| pod_enis.iter().any(|e| e.meta.carries(*ip)))
            .count() as u64;
        let attached_enis = ctx.enis.iter().filter(|e| e.meta.network_card == 0).count() as u32;
        let max_eni = warm
            .max_eni
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m > 0);
        let eni_limit = match (&limits, max_eni) {
            (Ok(l), Some(m)) => Some(l.max_enis.min(m)),
            (Ok(l), None) => Some(l.max_enis),
            (Err(_), m) => m,
        };
        let target = warm_target(&warm, &limits, &prefix_delegation, assigned);
        let per_eni: Vec<Addresses> = ctx
            .enis
            .iter()
            .map(|e| {
                let total = e.meta.pod_capacity();
                let used = pods.iter().filter(|(_, ip)| e.meta.carries(*ip)).count() as u64;
                Addresses {
                    total,
                    assigned: used,
                    free: total.saturating_sub(used),
                }
            })
            .collect();
        let secondary = ctx
            .enis
            .iter()
            .zip(&per_eni)
            .filter(|(e, _)| e.role == EniRole::Secondary)
            .fold(Addresses::default(), |sum, (_, a)| sum.add(*a));
        PoolFacts {
            limits,
            custom_networking,
            prefix_delegation,
            capacity,
            kubelet_max_pods: ctx.kubelet_max_pods(),
            attached_enis,
            eni_limit,
            total,
            assigned,
            free: total.saturating_sub(assigned),
            target,
            warm,
            per_eni,
            secondary,
        }
    }

    /// Pod addresses custom networking can supply on this type: the
    /// capacity without the two host-network pods (`eniwatch_ipv4_addresses_max`).
    pub fn addresses_max(&self) -> Option<u64> {
        self.capacity.as_ref().ok().map(|c| c.saturating_sub(2))
    }

    /// Every ENI the type (or `MAX_ENI`) allows is attached.
    pub fn at_eni_limit(&self) -> Option<bool> {
        self.eni_limit.map(|l| self.attached_enis >= l)
    }
}

fn warm_target(
    warm: &WarmTargets,
    limits: &Result<InstanceLimits, String>,
    prefix_delegation: &Result<bool, String>,
    assigned: u64,
) -> Result<u64, String> {
    let set = |v: Option<u32>| v.filter(|n| *n > 0).map(u64::from);
    if ip_targets(warm) {
        let ip = set(warm.warm_ip_target).unwrap_or(0);
        let minimum = set(warm.minimum_ip_target).unwrap_or(0);
        return Ok(ip.max(minimum.saturating_sub(assigned)));
    }
    let pd = prefix_delegation.clone()?;
    if pd {
        return Ok(set(warm.warm_prefix_target).unwrap_or(1).saturating_mul(16));
    }
    let per_eni = match limits {
        Ok(l) => u64::from(l.ipv4_per_eni.saturating_sub(1)),
        Err(e) => return Err(format!("WARM_ENI_TARGET needs the instance limits: {e}")),
    };
    let enis = warm.warm_eni_target.map_or(1, u64::from);
    Ok(enis.saturating_mul(per_eni))
}

/// ipamd keeps address targets (not ENI or prefix targets): either
/// `WARM_IP_TARGET` or `MINIMUM_IP_TARGET` is set above 0.
fn ip_targets(warm: &WarmTargets) -> bool {
    warm.warm_ip_target.is_some_and(|n| n > 0) || warm.minimum_ip_target.is_some_and(|n| n > 0)
}

/// `warm-pool`: free addresses at the target; none free while pods can still come.
pub(crate) fn warm_pool(ctx: &Context) -> Outcome {
    if ctx.imds.is_err() {
        return Outcome::unknown("IMDS unknown");
    }
    let f = ctx.pool();
    let node = Subject::node(ctx.node_name.clone());
    let mut out = Outcome::ok(format!(
        "{} free of {} pod addresses (target {})",
        f.free,
        f.total,
        f.target
            .as_ref()
            .map_or("unknown".to_string(), |t| t.to_string())
    ));
    let at_limit = f.at_eni_limit();
    if at_limit == Some(true) {
        out.findings.push(Finding::new(
            "",
            Reason::ENILimitReached,
            node.clone(),
            format!(
                "{} ENIs attached: all that {} allows; the node cannot grow its pool further",
                f.attached_enis,
                if f.warm.max_eni.is_some_and(|m| m > 0) {
                    "MAX_ENI"
                } else {
                    "the instance type"
                }
            ),
        ));
    }
    // Exhausted: nothing free while the kubelet still admits pods.
    let pods_on_node = match &ctx.pods {
        Ok(p) => Some(p.iter().filter(|p| !p.terminal).count() as u64),
        Err(_) => None,
    };
    match (pods_on_node, f.kubelet_max_pods) {
        (Some(n), Some(max)) if f.free == 0 && n < u64::from(max) => {
            out.findings.push(Finding::new(
                "",
                Reason::WarmPoolExhausted,
                node.clone(),
                format!(
                    "no free pod address ({} of {} in use) while the node runs {n} of {max} pods: \
                     new pods wait in ContainerCreating",
                    f.assigned, f.total
                ),
            ));
        }
        (Some(_), Some(_)) => {}
        _ if f.free == 0 => {
            out.unknown = Some("pods or the kubelet's max-pods unknown".into());
        }
        _ => {}
    }
    match (&f.target, at_limit) {
        (Ok(t), Some(false)) if f.free < *t && f.free > 0 => {
            out.findings.push(Finding::new(
                "",
                Reason::WarmPoolBelowTarget,
                node,
                format!(
                    "{} free pod addresses, below the target of {t} ({}), with {} of {} ENIs \
                     attached: ipamd is not refilling its pool",
                    f.free,
                    target_source(&f.warm, f.prefix_delegation == Ok(true), f.assigned),
                    f.attached_enis,
                    f.eni_limit.unwrap_or(0)
                ),
            ));
        }
        (Ok(_), Some(_)) => {}
        (Err(e), _) if out.unknown.is_none() => out.unknown = Some(e.clone()),
        (Ok(_), None) if out.unknown.is_none() => {
            out.unknown = Some(f.limits.clone().err().unwrap_or_default())
        }
        _ => {}
    }
    if let Some(note) = super::capacity::table_vs_ipamd(ctx) {
        out.ok_detail.push_str(&note);
    }
    attribute_to_blocker(ctx, &mut out);
    out
}

/// Findings that stop the CNI from creating ENIs for the node.
const BLOCKERS: [Reason; 3] = [
    Reason::ENIConfigNotFound,
    Reason::ENIConfigSubnetNotFound,
    Reason::ENIConfigSubnetZoneMismatch,
];

/// A pool that cannot grow because the CNI cannot create ENIs is that
/// cause's consequence, not a second root cause: its findings are not
/// raised, and the check (unknown) names the cause instead.
fn attribute_to_blocker(ctx: &Context, out: &mut Outcome) {
    let is_pool = |f: &Finding| {
        matches!(
            f.reason,
            Reason::WarmPoolExhausted | Reason::WarmPoolBelowTarget
        )
    };
    if !out.findings.iter().any(is_pool) {
        return;
    }
    let cause = super::eniconfig::eniconfig_selected(ctx)
        .findings
        .into_iter()
        .chain(super::subnet::eniconfig_subnet(ctx).findings)
        .find(|f| BLOCKERS.contains(&f.reason));
    let Some(cause) = cause else {
        return;
    };
    let (pool, rest): (Vec<Finding>, Vec<Finding>) = out.findings.drain(..).partition(is_pool);
    out.findings = rest;
    let what: Vec<String> = pool
        .iter()
        .map(|f| format!("{} ({})", f.message, f.reason))
        .collect();
    out.unknown = Some(format!(
        "{}; because {} ({}), the CNI cannot create ENIs, so the pool is that finding's \
         consequence and not raised on its own",
        what.join("; "),
        cause.message,
        cause.reason
    ));
}

/// Where the target comes from, as [`warm_target`] computed it.
fn target_source(w: &WarmTargets, prefix_delegation: bool, assigned: u64) -> String {
    let set = |v: Option<u32>| v.filter(|n| *n > 0);
    if ip_targets(w) {
        let mut parts = Vec::new();
        if let Some(n) = set(w.warm_ip_target) {
            parts.push(format!("WARM_IP_TARGET={n}"));
        }
        if let Some(n) = set(w.minimum_ip_target) {
            parts.push(format!("MINIMUM_IP_TARGET={n} with {assigned} in use"));
        }
        parts.join(", ")
    } else if prefix_delegation {
        let n = set(w.warm_prefix_target).unwrap_or(1);
        format!("WARM_PREFIX_TARGET={n} × 16 addresses per prefix")
    } else {
        let n = w.warm_eni_target.unwrap_or(1);
        format!("WARM_ENI_TARGET={n} × the addresses of one ENI")
    }
}

#[cfg(test)]
#[path = "pool_target_tests.rs"]
mod tests;
