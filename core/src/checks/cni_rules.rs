//! The policy rules that are the kernel's and the CNI's own, which no check
//! holds against the node: the kernel's defaults (0 `lookup local`, 32766
//! `main`, 32767 `default`), the CNI's 1024 `fwmark 0x80/0x80 lookup main`,
//! 512 `to <ip>/32 lookup main`, 1536 `from <ip>/32 lookup <table>` and 32765
//! `from <ENI primary> lookup <its table>`, and the security-groups-for-pods
//! rules at 10 and 20 that look up a VLAN's table (`vlan id + 100`).

use super::context::Context;
use super::dataplane::{FROM_POD_PRIORITY, TO_POD_PRIORITY};
use crate::model::{KernelState, Rule, RuleAction, MAIN_TABLE};

/// The kernel's `local` table, looked up by the priority-0 rule.
const LOCAL_TABLE: u32 = 255;
/// The kernel's `main` and `default` rules.
pub const MAIN_PRIORITY: u32 = 32766;
const DEFAULT_PRIORITY: u32 = 32767;
/// The CNI's rule for the secondary ENIs' own addresses.
const ENI_PRIMARY_PRIORITY: u32 = 32765;
/// The CNI's fwmark rule (connmark of SNAT'd connections): `fwmark 0x80/0x80 lookup main`.
const CNI_MARK_PRIORITY: u32 = 1024;
const CNI_MARK: u32 = 0x80;

/// The kernel's and the CNI's own rules.
pub(crate) fn is_default(ctx: &Context, kernel: &KernelState, r: &Rule) -> bool {
    let plain = r.action == RuleAction::Lookup && !r.invert && r.iif.is_none() && r.oif.is_none();
    let unselective = plain && r.source.is_none() && r.destination.is_none() && r.fwmark.is_none();
    let host = |n: Option<ipnet::Ipv4Net>| n.is_some_and(|n| n.prefix_len() == 32);
    match r.priority {
        0 => unselective && r.table == LOCAL_TABLE,
        MAIN_PRIORITY => unselective && r.table == MAIN_TABLE,
        DEFAULT_PRIORITY => unselective,
        CNI_MARK_PRIORITY => {
            plain
                && r.fwmark == Some(CNI_MARK)
                && r.fwmask == Some(CNI_MARK)
                && r.table == MAIN_TABLE
        }
        TO_POD_PRIORITY => {
            plain && host(r.destination) && r.source.is_none() && r.table == MAIN_TABLE
        }
        FROM_POD_PRIORITY | ENI_PRIMARY_PRIORITY => {
            plain && host(r.source) && r.destination.is_none()
        }
        10 | 20 => r.action == RuleAction::Lookup && is_vlan_table(ctx, kernel, r.table),
        _ => false,
    }
}

/// A branch ENI's table (security groups for pods): `vlan id + 100`.
fn is_vlan_table(ctx: &Context, kernel: &KernelState, table: u32) -> bool {
    let Some(vlan) = table.checked_sub(100).filter(|v| *v > 0) else {
        return false;
    };
    let link = format!("vlan.eth.{vlan}");
    let annotated = ctx.pods.as_ref().is_ok_and(|pods| {
        pods.iter()
            .filter_map(|p| p.branch.as_ref()?.as_ref().ok())
            .flatten()
            .any(|b| b.vlan_id == Some(vlan))
    });
    annotated || kernel.links.iter().any(|l| l.name == link)
}
