//! `eni-attachment`: the CNI's ENIs are attached where the CNI meant them.
//!
//! Only ENIs that are ours: tagged by the CNI, and, with `--cluster-name`,
//! tagged for that cluster or for none. An ENI's age is measured from the
//! CNI's `createdAt` tag, else from when this process first saw it
//! unattached; with no age known nothing is said of an ENI of a live node
//! (no false alarm on the first refresh).
//! - `LeakedENI`: `available` (attached to nothing) for at least
//!   `--leaked-eni-after`, or `available` and tagged for an instance that is
//!   not a node of the cluster (then for at least the attach grace, when the
//!   age is known).
//! - `ENINotAttached`: tagged for a current node, not attached to its
//!   instance (attached elsewhere, `detached`, or `available`) for at least
//!   the attach grace, and not leaked. `attaching`/`detaching` is in
//!   progress, never a finding.

use std::collections::BTreeMap;

use eniwatch_core::checks::{Finding, Reason, Subject};
use eniwatch_core::model::{NetworkInterface, SubnetId, CNI_CLUSTER_TAG};
use jiff::Timestamp;

use super::context::Context;
use super::Outcome;
use crate::model::ClusterNode;

/// One CNI ENI that is not where the CNI meant it.
#[derive(Debug, Clone)]
pub(crate) struct EniVerdict<'s> {
    pub eni: &'s NetworkInterface,
    pub reason: Reason,
    /// The tagged instance, when it is a node of the cluster.
    pub node: Option<&'s ClusterNode>,
}

fn ours(eni: &NetworkInterface, cluster: Option<&str>) -> bool {
    match (cluster, eni.tags.get(CNI_CLUSTER_TAG)) {
        (Some(want), Some(tagged)) => want == tagged,
        _ => true,
    }
}

/// Seconds since the ENI was created (tag) or first seen unattached.
fn age_seconds(ctx: &Context<'_>, eni: &NetworkInterface) -> Option<i64> {
    let since = eni
        .created_at()
        .and_then(|t| t.trim().parse::<Timestamp>().ok())
        .or_else(|| {
            ctx.snapshot
                .history
                .first_seen_unattached
                .get(&eni.id)
                .copied()
        })?;
    Some(
        ctx.snapshot
            .now
            .as_second()
            .saturating_sub(since.as_second()),
    )
}

fn at_least(age: Option<i64>, limit: std::time::Duration) -> bool {
    let limit = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX);
    age.is_some_and(|a| a >= limit)
}

fn verdict<'s>(ctx: &Context<'s>, eni: &'s NetworkInterface) -> Option<EniVerdict<'s>> {
    let settings = &ctx.snapshot.settings;
    let instance = eni.cni_instance()?;
    if !ours(eni, settings.cluster_name.as_deref()) {
        return None;
    }
    let node = ctx.instances.get(instance).copied();
    let attachment = eni.attachment.as_ref().and_then(|a| a.status.as_deref());
    if matches!(attachment, Some("attaching") | Some("detaching")) {
        return None;
    }
    let available = eni.status.as_deref() == Some("available");
    let age = age_seconds(ctx, eni);
    let reason = match node {
        None if available && (age.is_none() || at_least(age, settings.attach_grace)) => {
            Reason::LeakedENI
        }
        None => return None,
        Some(_) if available && at_least(age, settings.leaked_eni_after) => Reason::LeakedENI,
        Some(_) => {
            let attached_here =
                attachment == Some("attached") && eni.attached_to() == Some(instance);
            if attached_here || !at_least(age, settings.attach_grace) {
                return None;
            }
            if !available && attachment != Some("detached") && eni.attached_to().is_none() {
                // In use with no attachment named: nothing to compare.
                return None;
            }
            Reason::ENINotAttached
        }
    };
    Some(EniVerdict { eni, reason, node })
}

/// Every CNI ENI of ours not where the CNI meant it, sorted by ENI id.
pub(crate) fn verdicts<'s>(ctx: &Context<'s>) -> Result<Vec<EniVerdict<'s>>, String> {
    let enis = ctx
        .snapshot
        .vpc
        .cni_enis
        .as_ref()
        .map_err(|u| format!("EC2 network interfaces: {}", u.reason))?;
    ctx.nodes.as_ref().map_err(|why| format!("Nodes: {why}"))?;
    let mut out: Vec<EniVerdict<'s>> = enis.iter().filter_map(|e| verdict(ctx, e)).collect();
    out.sort_by(|a, b| a.eni.id.cmp(&b.eni.id));
    Ok(out)
}

/// Leaked ENIs by subnet, for the metric.
pub(crate) fn leaked_by_subnet(verdicts: &[EniVerdict<'_>]) -> Vec<(Option<SubnetId>, u32)> {
    let mut by: BTreeMap<Option<SubnetId>, u32> = BTreeMap::new();
    for v in verdicts.iter().filter(|v| v.reason == Reason::LeakedENI) {
        *by.entry(v.eni.subnet_id.clone()).or_insert(0) += 1;
    }
    by.into_iter().collect()
}

fn message(v: &EniVerdict<'_>) -> String {
    let eni = v.eni;
    let instance = eni.cni_instance().unwrap_or_default();
    let subnet = eni
        .subnet_id
        .as_ref()
        .map_or("an unknown subnet".to_string(), |s| s.to_string());
    let status = eni.status.as_deref().unwrap_or("unknown");
    let whose = match v.node {
        Some(n) => format!("node {} ({instance})", n.info.name),
        None => format!("instance {instance}, which is not a node of the cluster"),
    };
    match (v.reason, eni.attached_to()) {
        (Reason::LeakedENI, _) => format!(
            "ENI {} in {subnet}, created by the CNI for {whose}, is {status} (attached to \
             nothing): delete it once you checked it is not in use",
            eni.id
        ),
        (_, Some(other)) if Some(other) != eni.cni_instance() => format!(
            "ENI {} in {subnet}, created by the CNI for {whose}, is attached to {other} instead",
            eni.id
        ),
        _ => format!(
            "ENI {} in {subnet}, created by the CNI for {whose}, is not attached to it \
             (status {status}, attachment {})",
            eni.id,
            eni.attachment
                .as_ref()
                .and_then(|a| a.status.as_deref())
                .unwrap_or("none")
        ),
    }
}

pub(crate) fn eni_attachment(
    ctx: &Context<'_>,
    verdicts: &Result<Vec<EniVerdict<'_>>, String>,
) -> Outcome {
    let verdicts = match verdicts {
        Err(why) => return Outcome::unknown(why.clone()),
        Ok(v) => v,
    };
    let total = ctx.snapshot.vpc.cni_enis.as_ref().map_or(0, Vec::len);
    let mut out = Outcome::ok(format!(
        "{total} CNI ENI(s) attached where the CNI meant them, or on their way"
    ));
    out.findings = verdicts
        .iter()
        .map(|v| Finding::new("", v.reason, Subject::eni(v.eni.id.as_str()), message(v)))
        .collect();
    out
}
