//! `ipamd-state`, addresses ipamd lost: an address IMDS lists on an ENI
//! ipamd pools, that ipamd holds on no ENI at all.
//!
//! ipamd holds a secondary address as a /32 of its datastore, and a delegated
//! prefix as the prefix (it lists only the addresses it handed out from it).
//! So an address is held when some ENI of ipamd has it as an address or
//! inside a prefix, and an IMDS prefix is held when some ipamd prefix covers it.
//!
//! What is compared, per ENI ipamd pools (a secondary ENI, or the primary ENI
//! when ipamd holds any of its addresses, as outside custom networking):
//! - every secondary address IMDS lists on it;
//! - for an IMDS prefix ipamd does not hold: the addresses in it that pods use
//!   (routed to a pod veth, or a pod's IP in the API), else the prefix itself.
//!
//! Not compared: the ENI's own primary address (never ipamd's to hold); the
//! primary ENI under custom networking (ipamd holds none of its addresses and
//! hands none out); trunk, EFA-only and unmanaged ENIs; ENIs ipamd does not
//! know at all (one finding for the ENI says so); pod addresses no ENI
//! carries (`PodIPNotOnAnyENI`'s). One finding per address, named after the
//! pod that uses it where there is one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::context::{Context, EniRole, EniView};
use super::pod_placement::pod_subject;
use super::{Finding, Reason, Subject};
use crate::model::{EniId, IpamdEni, IpamdView, PodInfo};

/// Whether ipamd holds `ip` on any ENI.
fn holds(view: &IpamdView, ip: Ipv4Addr) -> bool {
    view.enis
        .iter()
        .any(|e| e.ipv4_addresses.contains(&ip) || e.prefixes.iter().any(|p| p.contains(&ip)))
}

/// Whether some prefix ipamd holds covers `prefix`.
fn holds_prefix(view: &IpamdView, prefix: &Ipv4Net) -> bool {
    view.enis
        .iter()
        .any(|e| e.prefixes.iter().any(|p| p.contains(prefix)))
}

/// Whether ipamd hands out this ENI's addresses: every secondary ENI; the
/// primary only when ipamd holds some of its addresses (not custom networking).
fn pooled(eni: &EniView, theirs: &IpamdEni) -> bool {
    match eni.role {
        EniRole::Secondary => true,
        EniRole::Primary => !theirs.ipv4_addresses.is_empty() || !theirs.prefixes.is_empty(),
        _ => false,
    }
}

/// Who uses the node's pod addresses: the kernel's routes to pod veths and
/// the API's pods (running, not host-network, not on a branch ENI).
struct Users<'a> {
    routed: &'a BTreeSet<Ipv4Addr>,
    pods: Vec<(&'a PodInfo, Ipv4Addr)>,
}

impl Users<'_> {
    fn all(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.routed
            .iter()
            .copied()
            .chain(self.pods.iter().map(|(_, ip)| *ip))
    }

    fn pod(&self, ip: Ipv4Addr) -> Option<&PodInfo> {
        self.pods
            .iter()
            .find(|(_, p)| *p == ip)
            .map(|(pod, _)| *pod)
    }

    /// The witnesses that say a pod uses `ip`, in words, and the subject.
    fn witness(&self, ip: Ipv4Addr) -> Option<(String, Subject)> {
        let pod = self.pod(ip);
        let name = pod.and_then(|p| match (&p.namespace, &p.name) {
            (Some(ns), Some(n)) => Some(format!("{ns}/{n}")),
            (None, Some(n)) => Some(n.clone()),
            _ => None,
        });
        let subject = pod.map_or_else(|| Subject::pod(None, ip.to_string()), pod_subject);
        let words = match (self.routed.contains(&ip), name) {
            (true, Some(n)) => format!("the kernel routes it to pod {n}"),
            (true, None) => "the kernel routes it to a pod veth".to_string(),
            (false, Some(n)) => format!("the API gives it to pod {n}"),
            (false, None) => return None,
        };
        Some((words, subject))
    }
}

/// What ipamd lost: per pod address, one finding; per ENI, the clauses on
/// addresses no pod uses (the caller joins them with its other ENI clauses,
/// so an ENI has one finding).
#[derive(Default)]
pub(crate) struct Lost {
    pub pods: Vec<Finding>,
    pub enis: BTreeMap<EniId, Vec<String>>,
}

/// Every address IMDS lists on an ENI ipamd pools that ipamd does not hold.
pub(crate) fn lost_addresses(ctx: &Context, view: &IpamdView, routed: &BTreeSet<Ipv4Addr>) -> Lost {
    let users = Users {
        routed,
        pods: ctx.routed_pods(),
    };
    let mut out = Lost::default();
    for eni in &ctx.enis {
        let Some(id) = &eni.meta.interface_id else {
            continue;
        };
        let Some(theirs) = view.enis.iter().find(|i| &i.id == id) else {
            continue;
        };
        if !pooled(eni, theirs) {
            continue;
        }
        let mut unused = Vec::new();
        for ip in eni.meta.local_ipv4s.iter().skip(1) {
            if holds(view, *ip) {
                continue;
            }
            match users.witness(*ip) {
                Some(w) => out
                    .pods
                    .push(lost(w, format!("IMDS lists {ip} on ENI {id}"))),
                None => unused.push(ip.to_string()),
            }
        }
        let mut clauses = Vec::new();
        if !unused.is_empty() {
            clauses.push(format!(
                "IMDS lists {} on ENI {id}, which ipamd does not hold (no pod uses {}): ipamd's \
                 datastore has lost addresses the ENI carries",
                unused.join(", "),
                if unused.len() == 1 { "it" } else { "them" }
            ));
        }
        for prefix in &eni.meta.ipv4_prefixes {
            if holds_prefix(view, prefix) {
                continue;
            }
            // From the addresses in use, not the prefix's: a bad answer can
            // carry a prefix of any size.
            let in_use: BTreeSet<Ipv4Addr> = users
                .all()
                .filter(|ip| prefix.contains(ip) && !holds(view, *ip))
                .collect();
            if in_use.is_empty() {
                clauses.push(format!(
                    "IMDS lists prefix {prefix} on ENI {id}, which no prefix of ipamd covers"
                ));
            }
            for ip in in_use {
                if let Some(w) = users.witness(ip) {
                    let place = format!("IMDS lists prefix {prefix} (with {ip}) on ENI {id}");
                    out.pods.push(lost(w, place));
                }
            }
        }
        if !clauses.is_empty() {
            out.enis.insert(id.clone(), clauses);
        }
    }
    out
}

fn lost((words, subject): (String, Subject), place: String) -> Finding {
    mismatch(
        subject,
        format!(
            "{place} and {words}, but ipamd does not hold it: ipamd can hand that \
             address to a second pod once it re-adds it as free"
        ),
    )
}

pub(crate) fn mismatch(subject: Subject, message: String) -> Finding {
    Finding::new("", Reason::IPAMDStateMismatch, subject, message)
}
