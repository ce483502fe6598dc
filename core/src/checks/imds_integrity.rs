//! IMDS answers that cannot be true of a real instance.
//!
//! Such an answer (a proxy rewriting bodies, an emulator or a mirror that
//! lost a field) must not be judged as drift: the checks that rest on the
//! field say *unknown* and name the source, the field and the ENI.
//!
//! - `local-ipv4s` empty on an ENI that is no EFA-only interface: every ENI
//!   has its primary address. EFA-only interfaces legitimately have none; an
//!   ENI is not one when it is the primary (device 0, card 0), carries
//!   delegated prefixes, or the kernel uses it for IPv4 (an address on its
//!   link, pod rules looking up its table).
//! - `security-group-ids` empty: every ENI has at least one group.
//! - two ENIs in the same (`network-card`, `device-number`) slot.

use crate::model::{EniMetadata, InstanceMetadata, KernelState, Link};

/// Which impossibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    NoAddresses,
    NoSecurityGroups,
    SharedSlot,
}

/// One impossible IMDS answer, phrased for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsProblem {
    pub kind: ProblemKind,
    pub mac: crate::model::MacAddr,
    pub message: String,
}

/// `eni-… (02:…)`, or the MAC alone when IMDS has no id.
pub fn eni_label(e: &EniMetadata) -> String {
    match &e.interface_id {
        Some(id) => format!("{id} ({})", e.mac),
        None => e.mac.to_string(),
    }
}

/// Whether the kernel uses this ENI for IPv4: an address on its link, or a
/// pod's priority-1536 rule looking up its table.
pub fn kernel_uses_ipv4(
    e: &EniMetadata,
    link: Option<&Link>,
    kernel: Option<&KernelState>,
) -> bool {
    let Some(k) = kernel else { return false };
    let addressed = link.is_some_and(|l| k.addresses.iter().any(|a| a.link_index == l.index));
    addressed
        || k.rules
            .iter()
            .any(|r| r.priority == 1536 && r.source.is_some() && r.table == e.route_table())
}

/// Every impossible answer in the metadata; `efa_only` tells which ENIs were
/// classified EFA-only (and so may lack addresses).
pub fn problems(
    meta: &InstanceMetadata,
    efa_only: &dyn Fn(&EniMetadata) -> bool,
) -> Vec<ImdsProblem> {
    let mut out = Vec::new();
    for e in &meta.enis {
        if e.local_ipv4s.is_empty() && !efa_only(e) {
            let why = if e.mac == meta.primary_mac || (e.device_number == 0 && e.network_card == 0)
            {
                "it is the primary ENI, and"
            } else if !e.ipv4_prefixes.is_empty() {
                "it carries delegated prefixes, so it is no EFA-only interface, and"
            } else {
                "the kernel uses it for IPv4, so it is no EFA-only interface, and"
            };
            out.push(ImdsProblem {
                kind: ProblemKind::NoAddresses,
                mac: e.mac,
                message: format!(
                    "IMDS: local-ipv4s of ENI {} is empty, but {why} every such ENI has a primary address",
                    eni_label(e)
                ),
            });
        }
        if e.security_groups.is_empty() && !efa_only(e) {
            out.push(ImdsProblem {
                kind: ProblemKind::NoSecurityGroups,
                mac: e.mac,
                message: format!(
                    "IMDS: security-group-ids of ENI {} is empty: every ENI has at least one security group",
                    eni_label(e)
                ),
            });
        }
    }
    for (i, a) in meta.enis.iter().enumerate() {
        for b in meta.enis.iter().skip(i + 1) {
            if (a.network_card, a.device_number) == (b.network_card, b.device_number) {
                out.push(ImdsProblem {
                    kind: ProblemKind::SharedSlot,
                    mac: b.mac,
                    message: format!(
                        "IMDS: ENIs {} and {} both report network-card {} device-number {}: no two ENIs share a slot",
                        eni_label(a),
                        eni_label(b),
                        a.network_card,
                        a.device_number
                    ),
                });
            }
        }
    }
    out
}

/// Checks whose judgement an impossibility spoils as a whole (the route
/// tables follow from the slot; the address pool from `local-ipv4s`).
/// `pod-ip-on-eni` and `eni-security-groups` judge around the affected ENI
/// themselves.
pub fn spoils(kind: ProblemKind, check: &str) -> bool {
    match kind {
        ProblemKind::NoAddresses => matches!(check, "warm-pool" | "ipamd-state"),
        ProblemKind::SharedSlot => matches!(check, "pod-rules" | "eni-configured"),
        ProblemKind::NoSecurityGroups => false,
    }
}
