//! Materialises a scenario's data plane as the VPC CNI builds it, as
//! `ip -batch` scripts for two network namespaces.
//!
//! - The *node* namespace holds what eniwatch inspects: one veth per ENI
//!   standing in for the ENI's netdev (named `eth<N>`, with the ENI's MAC, MTU
//!   9001 and its primary address), the per-ENI route tables (`device + 1`, or
//!   `10000 + device + 100 * card`) with the gateway /32 and default route, the
//!   CNI's rules (512 `to pod lookup main`, 1024 fwmark, 1536 `from pod lookup
//!   <ENI table>`, 32765 `from <ENI primary> lookup <table>`), and one host
//!   veth per pod named `eni` + 11 hex of `sha1("<namespace>.<name>")` with
//!   its /32 route. Its loopback also holds 169.254.169.254 for the IMDS
//!   emulator. A `shadowing_rule` break adds a host tool's rule and table
//!   ahead of the CNI's rules.
//! - Branch ENIs (security groups for pods) hang off the trunk as
//!   `vlan.eth.<id>` links. Many CI kernels lack the 8021q and dummy modules,
//!   so the lab makes every link a veth: the branch link is a veth *named* as
//!   the VLAN would be. eniwatch does not rely on branch links being VLANs.
//! - The *pods* namespace holds the other ends: the "wire" of each ENI and
//!   the pod side of each veth, so that every node-side link has a peer and a
//!   carrier, as on a real node.
//!
//! Scripts are plain text (`render`), so the builder can be read and tested
//! without root, and the kernel state is made by iproute2, independently of
//! the netlink code that reads it back.

use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha1::{Digest, Sha1};

use super::scenario::{Break, EniKind, EniSpec, PodSpec, Scenario};

/// The IMDS address, held by a dummy link in the node namespace.
pub const IMDS_ADDR: &str = "169.254.169.254";

/// The host-side veth name the CNI gives a pod.
pub fn host_veth_name(prefix: &str, namespace: &str, name: &str) -> String {
    let digest = Sha1::digest(format!("{namespace}.{name}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{}", &hex[..11])
}

/// The subnet gateway: base address + 1 (the VPC router).
pub fn gateway(cidr: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(cidr.network()).saturating_add(1))
}

/// The name of the pods namespace that goes with a node namespace.
pub fn pods_ns(node_ns: &str) -> String {
    format!("{node_ns}-p")
}

fn wire_name(eni: &EniSpec) -> String {
    format!("w{}", eni.link_name())
}

fn peer_name(host_veth: &str) -> String {
    // The pod side: same hash, other prefix, still within 15 characters.
    let tail: String = host_veth
        .chars()
        .rev()
        .take(11)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("p{tail}")
}

/// Pods whose network the CNI set up with a host veth (not host-network,
/// not finished, with an IP, not on a branch ENI).
pub fn wired_pods(s: &Scenario) -> impl Iterator<Item = (&PodSpec, Ipv4Addr)> {
    s.pods.iter().filter_map(|p| {
        let running = !matches!(p.phase.as_deref(), Some("Succeeded" | "Failed"));
        match (p.ip, p.host_network, &p.branch_eni, running) {
            (Some(ip), false, None, true) => Some((p, ip)),
            _ => None,
        }
    })
}

/// The script for the node namespace (run with `ip -n <node> -batch -`).
pub fn node_script(s: &Scenario, node_ns: &str) -> String {
    let pods = pods_ns(node_ns);
    let mtu = s.cni.mtu;
    let mut o = String::new();
    let _ = writeln!(o, "link set lo up");
    let _ = writeln!(o, "address add {IMDS_ADDR}/32 dev lo");
    let _ = writeln!(o, "rule add fwmark 0x80/0x80 lookup main priority 1024");
    for eni in s.enis.iter().filter(|e| e.kind != EniKind::EfaOnly) {
        let link = eni.link_name();
        let Some(subnet) = s.subnet(&eni.subnet) else {
            continue;
        };
        let Some(primary) = eni.ips.first() else {
            continue;
        };
        let gw = gateway(subnet.cidr);
        let table = eni.route_table();
        let _ = writeln!(
            o,
            "link add {link} address {} mtu {mtu} type veth peer name {} netns {pods}",
            eni.mac.to_ascii_lowercase(),
            wire_name(eni)
        );
        let _ = writeln!(o, "link set {link} up");
        let _ = writeln!(
            o,
            "address add {primary}/{} dev {link}",
            subnet.cidr.prefix_len()
        );
        if eni.is_primary() {
            let _ = writeln!(o, "route add default via {gw} dev {link}");
        } else {
            let _ = writeln!(o, "route add {gw}/32 dev {link} scope link table {table}");
            let _ = writeln!(o, "route add default via {gw} dev {link} table {table}");
            let _ = writeln!(
                o,
                "rule add from {primary}/32 lookup {table} priority 32765"
            );
        }
    }
    for (pod, ip) in wired_pods(s) {
        o.push_str(&pod_script(s, pod, ip, &pods));
    }
    branch_pods(s, &pods, &mut o);
    o
}

/// What the CNI's ADD does for one pod, in the node namespace: the host veth
/// (its peer in the pods namespace), the /32 route, the 512 and 1536 rules.
pub fn pod_script(s: &Scenario, pod: &PodSpec, ip: Ipv4Addr, pods_ns: &str) -> String {
    let mut o = String::new();
    let veth = host_veth_name(&s.cni.veth_prefix, &pod.namespace, &pod.name);
    let _ = writeln!(
        o,
        "link add {veth} mtu {} type veth peer name {} netns {pods_ns}",
        s.cni.mtu,
        peer_name(&veth)
    );
    let _ = writeln!(o, "link set {veth} up");
    let _ = writeln!(o, "route add {ip}/32 dev {veth} scope link");
    let _ = writeln!(o, "rule add to {ip}/32 lookup main priority 512");
    if let Some(owner) = s.owner_of(ip).filter(|e| !e.is_primary()) {
        let _ = writeln!(
            o,
            "rule add from {ip}/32 lookup {} priority 1536",
            owner.route_table()
        );
    }
    o
}

/// What the CNI's DEL does for one pod: rules out, veth (and its route) gone.
pub fn pod_teardown_script(s: &Scenario, pod: &PodSpec, ip: Ipv4Addr) -> String {
    let veth = host_veth_name(&s.cni.veth_prefix, &pod.namespace, &pod.name);
    format!(
        "rule del to {ip}/32 priority 512\nrule del from {ip}/32 priority 1536\nlink del {veth}\n"
    )
}

/// Brings the pod side of a pod's veth up (run in the pods namespace).
pub fn pod_peer_script(s: &Scenario, pod: &PodSpec) -> String {
    let veth = host_veth_name(&s.cni.veth_prefix, &pod.namespace, &pod.name);
    format!("link set {} up\n", peer_name(&veth))
}

/// Security groups for pods: a VLAN per branch ENI on the trunk, a table per
/// VLAN (`vlan + 100`), a host veth `vlan<hash>` and priority-10 rules.
fn branch_pods(s: &Scenario, pods: &str, o: &mut String) {
    if !s.enis.iter().any(|e| e.kind == EniKind::Trunk) {
        return;
    }
    for pod in &s.pods {
        let (Some(b), Some(ip)) = (&pod.branch_eni, pod.ip) else {
            continue;
        };
        let vlan_link = format!("vlan.eth.{}", b.vlan_id);
        let table = b.vlan_id + 100;
        let veth = host_veth_name("vlan", &pod.namespace, &pod.name);
        let _ = writeln!(
            o,
            "link add {vlan_link} type veth peer name wv{} netns {pods}",
            b.vlan_id
        );
        let _ = writeln!(o, "link set {vlan_link} up");
        let _ = writeln!(
            o,
            "route add default via {} dev {vlan_link} table {table} onlink",
            gateway(b.subnet_cidr)
        );
        let _ = writeln!(
            o,
            "link add {veth} type veth peer name {} netns {pods}",
            peer_name(&veth)
        );
        let _ = writeln!(o, "link set {veth} up");
        let _ = writeln!(o, "route add {ip}/32 dev {veth} scope link table {table}");
        let _ = writeln!(o, "rule add iif {veth} lookup {table} priority 10");
        let _ = writeln!(o, "rule add iif {vlan_link} lookup {table} priority 10");
    }
}

/// The script for the pods namespace: bring every peer up.
pub fn pods_script(s: &Scenario) -> String {
    let mut o = String::from("link set lo up\n");
    for eni in s
        .enis
        .iter()
        .filter(|e| e.kind != EniKind::EfaOnly && !e.ips.is_empty())
    {
        let _ = writeln!(o, "link set {} up", wire_name(eni));
    }
    for (pod, _) in wired_pods(s) {
        o.push_str(&pod_peer_script(s, pod));
    }
    let has_trunk = s.enis.iter().any(|e| e.kind == EniKind::Trunk);
    for pod in s.pods.iter().filter(|p| has_trunk && p.ip.is_some()) {
        let Some(b) = &pod.branch_eni else { continue };
        let _ = writeln!(
            o,
            "link set {} up",
            peer_name(&host_veth_name("vlan", &pod.namespace, &pod.name))
        );
        let _ = writeln!(o, "link set wv{} up", b.vlan_id);
    }
    o
}

/// The script that applies the scenario's breaks in the node namespace.
pub fn breaks_script(s: &Scenario) -> String {
    let mut o = String::new();
    for b in &s.breaks {
        let _ = writeln!(o, "{}", break_command(s, b));
    }
    o
}

/// One break as an `ip` batch line. Names that do not resolve (validated
/// scenarios always resolve) produce a comment line, which `ip` ignores.
pub fn break_command(s: &Scenario, b: &Break) -> String {
    let pod_ip = |key: &str| s.pod(key).and_then(|p| p.ip);
    let eni = |mac: &str| s.eni_by_mac(mac);
    let unresolved = format!("# unresolved break {b:?}");
    match b {
        Break::RemovePodRoute { pod } => pod_ip(pod).map_or(unresolved, |ip| format!("route del {ip}/32 table main")),
        Break::RemovePodRule { pod, priority: 512 } => {
            pod_ip(pod).map_or(unresolved, |ip| format!("rule del to {ip}/32 priority 512"))
        }
        Break::RemovePodRule { pod, priority } => {
            pod_ip(pod).map_or(unresolved, |ip| format!("rule del from {ip}/32 priority {priority}"))
        }
        Break::PodRuleTable { pod, table } => pod_ip(pod).map_or(unresolved, |ip| {
            format!("rule del from {ip}/32 priority 1536\nrule add from {ip}/32 lookup {table} priority 1536")
        }),
        Break::RemoveEniLink { mac } => eni(mac).map_or(unresolved, |e| format!("link del {}", e.link_name())),
        Break::EniLinkDown { mac } => eni(mac).map_or(unresolved, |e| format!("link set {} down", e.link_name())),
        Break::RemoveEniAddress { mac } => match eni(mac).and_then(|e| Some((e, s.subnet(&e.subnet)?, e.ips.first()?))) {
            Some((e, subnet, ip)) => format!("address del {ip}/{} dev {}", subnet.cidr.prefix_len(), e.link_name()),
            None => unresolved,
        },
        Break::RemoveEniDefaultRoute { mac } => {
            eni(mac).map_or(unresolved, |e| format!("route del default table {}", e.route_table()))
        }
        Break::ShadowingRule { priority, from, table, via_mac } => {
            match eni(via_mac).and_then(|e| Some((e, s.subnet(&e.subnet)?))) {
                Some((e, subnet)) => {
                    let (link, gw) = (e.link_name(), gateway(subnet.cidr));
                    let from = from.map_or("all".to_string(), |n| n.to_string());
                    format!(
                        "route add {gw}/32 dev {link} scope link table {table}\n\
                         route add default via {gw} dev {link} table {table}\n\
                         rule add from {from} lookup {table} priority {priority}"
                    )
                }
                None => unresolved,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_name_matches_the_cni() {
        // sha1("default.web-1") starts with 9b9ae0a0c4c... ; 11 hex chars after the prefix.
        let name = host_veth_name("eni", "default", "web-1");
        assert_eq!(name.len(), 14);
        assert!(name.starts_with("eni"));
        let digest = Sha1::digest(b"default.web-1");
        assert_eq!(
            &name[3..],
            &format!(
                "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]
            )[..11]
        );
        assert_eq!(peer_name(&name).len(), 12);
    }

    #[test]
    fn gateway_is_base_plus_one() {
        assert_eq!(
            gateway("100.64.1.0/24".parse().unwrap()),
            Ipv4Addr::new(100, 64, 1, 1)
        );
    }
}
