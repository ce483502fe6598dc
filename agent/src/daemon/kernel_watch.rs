//! Wakes the loop when the kernel's network state changes: rtnetlink
//! multicast groups for links, IPv4 addresses, IPv4 routes and IPv4 rules.
//!
//! Only *that* something changed is passed on, and whether a link other than
//! a pod's veth came or went: that makes the loop re-read IMDS, because such
//! a link is usually an ENI attach or detach. Pod veths (named with the CNI's
//! prefix) come and go with every pod and must not cost IMDS requests. The loop re-reads the whole state after
//! a short debounce, because a pod start changes a route and two rules within
//! milliseconds, and the dump is cheap.

use std::collections::HashSet;

use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::{new_multicast_connection, MulticastGroup};
use tokio::sync::mpsc;

/// What changed in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelChange {
    /// A link appeared or disappeared.
    Link,
    /// Addresses, routes, rules, or a link's state.
    Other,
}

/// Subscribes to the multicast groups and forwards changes until the
/// receiver is dropped. Fails only when the socket cannot be opened.
pub fn spawn(changes: mpsc::Sender<KernelChange>, veth_prefix: String) -> std::io::Result<()> {
    let (conn, _handle, mut messages) = new_multicast_connection(&[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv4Rule,
    ])?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        // Links seen so far: a NewLink for a known index is a state change.
        let mut known: HashSet<u32> = HashSet::new();
        while let Some((message, _)) = messages.next().await {
            let change = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    let appeared = known.insert(l.header.index);
                    if appeared && !is_pod_veth(&l, &veth_prefix) {
                        KernelChange::Link
                    } else {
                        KernelChange::Other
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                    known.remove(&l.header.index);
                    if is_pod_veth(&l, &veth_prefix) {
                        KernelChange::Other
                    } else {
                        KernelChange::Link
                    }
                }
                _ => KernelChange::Other,
            };
            // try_send: when the channel is full, a wake-up is already
            // pending and this change will be read with it. A Link change
            // must not be lost, so it waits for room.
            let sent = match change {
                KernelChange::Link => changes.send(change).await.is_ok(),
                KernelChange::Other => !matches!(
                    changes.try_send(change),
                    Err(mpsc::error::TrySendError::Closed(_))
                ),
            };
            if !sent {
                break;
            }
        }
    });
    Ok(())
}

fn is_pod_veth(l: &LinkMessage, veth_prefix: &str) -> bool {
    l.attributes.iter().any(|a| match a {
        LinkAttribute::IfName(name) => name.starts_with(veth_prefix),
        _ => false,
    })
}
