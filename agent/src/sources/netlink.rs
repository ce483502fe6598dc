//! The kernel's view: links, IPv4 addresses, IPv4 routes of every table and
//! IPv4 policy rules, read over rtnetlink in the current network namespace.
//!
//! Policy: one netlink socket per read, four dumps in sequence, the whole read
//! bounded by [`READ_TIMEOUT`] (the kernel answers a 250-pod node's dumps in a
//! few milliseconds; a read that takes seconds means something is wrong, and
//! the checks should say unknown rather than wait). Messages the crate cannot
//! decode fail the read: a partial dump must not look like missing routes.
//!
//! Route dumps ask for `RT_TABLE_UNSPEC`, which the kernel answers with every
//! table (the CNI's per-ENI tables live outside main).

use std::net::IpAddr;
use std::time::Duration;

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use netlink_packet_route::AddressFamily;
use rtnetlink::{IpVersion, RouteMessageBuilder};

use eniwatch_core::model::{
    Address, KernelState, Link, MacAddr, Route, Rule, RuleAction as ModelAction,
};

/// Upper bound for one full read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error(
        "cannot open a netlink socket: {0} (is this Linux, and may this process use AF_NETLINK?)"
    )]
    Socket(#[source] std::io::Error),
    #[error("netlink dump of {what} failed: {}", dump_cause(source))]
    Dump {
        what: &'static str,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("netlink read did not finish within {0:?}")]
    Timeout(Duration),
}

/// rtnetlink's error in words: its own text of some variants is a `Debug`
/// dump of the whole message or of raw bytes.
fn dump_cause(e: &rtnetlink::Error) -> String {
    use rtnetlink::Error as E;
    match e {
        E::NetlinkError(m) => format!("the kernel answered: {m}"),
        E::UnexpectedMessage(_) => "the kernel sent a message of an unexpected type".to_string(),
        E::RequestFailed => "the request failed (the netlink socket closed)".to_string(),
        E::InvalidHardwareAddress(_) => "a link has a malformed hardware address".to_string(),
        E::InvalidIp(_) | E::InvalidAddress(..) => "an address is malformed".to_string(),
        other => other.to_string(),
    }
}

impl NetlinkError {
    /// A bounded classification of the error, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            NetlinkError::Socket(_) => "unreachable",
            NetlinkError::Dump { .. } => "error",
            NetlinkError::Timeout(_) => "timeout",
        }
    }
}

/// Reads links, addresses, routes and rules.
pub async fn read_kernel_state() -> Result<KernelState, NetlinkError> {
    tokio::time::timeout(READ_TIMEOUT, read_all())
        .await
        .map_err(|_| NetlinkError::Timeout(READ_TIMEOUT))?
}

async fn read_all() -> Result<KernelState, NetlinkError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Socket)?;
    // The connection task ends when the handle (and its clones) are dropped.
    let conn = tokio::spawn(connection);
    let dump = |what| move |source| NetlinkError::Dump { what, source };

    let links: Vec<LinkMessage> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(dump("links"))?;
    let addresses: Vec<AddressMessage> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(dump("addresses"))?;
    let mut route_query = RouteMessageBuilder::<std::net::Ipv4Addr>::new().build();
    route_query.header.table = RouteHeader::RT_TABLE_UNSPEC;
    let routes: Vec<RouteMessage> = handle
        .route()
        .get(route_query)
        .execute()
        .try_collect()
        .await
        .map_err(dump("routes"))?;
    let rules: Vec<RuleMessage> = handle
        .rule()
        .get(IpVersion::V4)
        .execute()
        .try_collect()
        .await
        .map_err(dump("rules"))?;
    drop(handle);
    conn.abort();

    Ok(KernelState {
        links: links.iter().map(link).collect(),
        addresses: addresses.iter().filter_map(address).collect(),
        routes: routes.iter().filter_map(route).collect(),
        rules: rules.iter().filter_map(rule).collect(),
    })
}

fn oper_state(s: &State) -> String {
    match s {
        State::Up => "up".into(),
        State::Down => "down".into(),
        State::LowerLayerDown => "lowerlayerdown".into(),
        State::Dormant => "dormant".into(),
        State::Testing => "testing".into(),
        State::NotPresent => "notpresent".into(),
        _ => "unknown".into(),
    }
}

pub(crate) fn link(m: &LinkMessage) -> Link {
    let mut out = Link {
        index: m.header.index,
        name: String::new(),
        mac: None,
        kind: None,
        admin_up: m.header.flags.contains(LinkFlags::Up),
        oper_state: "unknown".into(),
        mtu: None,
        parent_index: None,
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => out.name = n.clone(),
            LinkAttribute::Address(bytes) => out.mac = MacAddr::from_bytes(bytes),
            LinkAttribute::Mtu(mtu) => out.mtu = Some(*mtu),
            LinkAttribute::OperState(s) => out.oper_state = oper_state(s),
            LinkAttribute::Link(parent) => out.parent_index = Some(*parent),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        out.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn address(m: &AddressMessage) -> Option<Address> {
    if m.header.family != AddressFamily::Inet {
        return None;
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
    // point-to-point links and equal to it elsewhere.
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(v4)) => Some(*v4),
        _ => None,
    });
    let addr = local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(v4)) => Some(*v4),
            _ => None,
        })
    })?;
    Some(Address {
        link_index: m.header.index,
        address: addr,
        prefix_len: m.header.prefix_len,
    })
}

pub(crate) fn route(m: &RouteMessage) -> Option<Route> {
    if m.header.address_family != AddressFamily::Inet {
        return None;
    }
    let mut table = u32::from(m.header.table);
    let mut dst = std::net::Ipv4Addr::UNSPECIFIED;
    let mut gateway = None;
    let mut out_link = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = *d,
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => gateway = Some(*g),
            RouteAttribute::Oif(i) => out_link = Some(*i),
            _ => {}
        }
    }
    Some(Route {
        table,
        destination: Ipv4Net::new(dst, m.header.destination_prefix_length).ok()?,
        gateway,
        out_link,
    })
}

pub(crate) fn rule(m: &RuleMessage) -> Option<Rule> {
    if m.header.family != AddressFamily::Inet {
        return None;
    }
    let mut out = Rule {
        priority: 0,
        source: None,
        destination: None,
        table: u32::from(m.header.table),
        iif: None,
        fwmark: None,
        action: match m.header.action {
            RuleAction::Unspec | RuleAction::ToTable => ModelAction::Lookup,
            RuleAction::Goto => ModelAction::Goto,
            RuleAction::Nop => ModelAction::Nop,
            RuleAction::Blackhole => ModelAction::Blackhole,
            RuleAction::Unreachable => ModelAction::Unreachable,
            RuleAction::Prohibit => ModelAction::Prohibit,
            _ => ModelAction::Other,
        },
        invert: m.header.flags.contains(RuleFlags::Invert),
        fwmask: None,
        oif: None,
        l3mdev: false,
        goto: None,
        suppress_prefixlen: None,
    };
    for a in &m.attributes {
        match a {
            RuleAttribute::Priority(p) => out.priority = *p,
            RuleAttribute::Table(t) => out.table = *t,
            RuleAttribute::Source(IpAddr::V4(s)) => {
                out.source = Ipv4Net::new(*s, m.header.src_len).ok()
            }
            RuleAttribute::Destination(IpAddr::V4(d)) => {
                out.destination = Ipv4Net::new(*d, m.header.dst_len).ok()
            }
            RuleAttribute::Iifname(n) => out.iif = Some(n.clone()),
            RuleAttribute::FwMark(f) => out.fwmark = Some(*f),
            RuleAttribute::FwMask(f) => out.fwmask = Some(*f),
            RuleAttribute::Oifname(n) => out.oif = Some(n.clone()),
            RuleAttribute::L3MDev(on) => out.l3mdev = *on,
            RuleAttribute::Goto(p) => out.goto = Some(*p),
            // The kernel reports "not set" as u32::MAX.
            RuleAttribute::SuppressPrefixLen(n) if *n != u32::MAX => {
                out.suppress_prefixlen = Some(*n)
            }
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod error_text_tests {
    use super::*;

    #[test]
    fn dump_errors_are_words_not_debug_dumps() {
        let e = NetlinkError::Dump {
            what: "links",
            source: rtnetlink::Error::InvalidIp(vec![1, 2, 3]),
        };
        assert_eq!(
            e.to_string(),
            "netlink dump of links failed: an address is malformed"
        );
        let e = NetlinkError::Dump {
            what: "routes",
            source: rtnetlink::Error::InvalidHardwareAddress(vec![0xde, 0xad]),
        };
        assert!(!e.to_string().contains('['), "{e}");
    }
}
