//! A healthy custom-networking node as a hand-built snapshot, for unit tests.
//! Tests break one thing and look at what the checks say. Compiled for this
//! crate's tests and, with the `fixture` feature, for the other crates' tests.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{checks_and_reasons, evaluate, CheckStatus, Evaluation, Reason};
use crate::model::*;

pub const NODE: &str = "ip-10-0-1-10.lab.internal";

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub fn net(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

pub fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

pub fn eni(n: u8, device: u32, subnet: &str, cidr: &str, sg: &str, ips: &[&str]) -> EniMetadata {
    EniMetadata {
        mac: mac(n),
        device_number: device,
        network_card: 0,
        interface_id: Some(format!("eni-{n:04}").parse().unwrap()),
        subnet_id: Some(subnet.parse().unwrap()),
        subnet_cidr: Some(net(cidr)),
        vpc_id: Some("vpc-1".parse().unwrap()),
        vpc_cidrs: vec![net("10.0.0.0/16"), net("100.64.0.0/16")],
        security_groups: vec![sg.parse().unwrap()],
        local_ipv4s: ips.iter().map(|s| ip(s)).collect(),
        ipv4_prefixes: vec![],
    }
}

pub fn pod(name: &str, addr: &str) -> PodInfo {
    PodInfo {
        namespace: Some("default".into()),
        name: Some(name.into()),
        ip: Some(ip(addr)),
        ip_text: None,
        host_network: false,
        terminal: false,
        completed: false,
        branch: None,
    }
}

/// Adds link, address and (for secondaries) the CNI's table for an ENI.
pub fn configure_eni(k: &mut KernelState, e: &EniMetadata, index: u32) {
    k.links.push(Link {
        index,
        name: format!("eth{}", e.device_number),
        mac: Some(e.mac),
        kind: None,
        admin_up: true,
        oper_state: "up".into(),
        mtu: Some(9001),
        parent_index: None,
    });
    if let Some(p) = e.primary_ip() {
        k.addresses.push(Address {
            link_index: index,
            address: p,
            prefix_len: 24,
        });
    }
    if e.device_number > 0 {
        k.routes.push(Route {
            table: e.route_table(),
            destination: net("0.0.0.0/0"),
            gateway: Some(ip("100.64.1.1")),
            out_link: Some(index),
        });
    }
}

/// Adds the veth, /32 route and 512/1536 rules for a pod on an ENI table.
pub fn wire_pod(k: &mut KernelState, addr: &str, table: u32, index: u32) {
    k.links.push(Link {
        index,
        name: format!("eni{index:011x}"),
        mac: Some(MacAddr([0x0a, 0, 0, 0, 1, index as u8])),
        kind: Some("veth".into()),
        admin_up: true,
        oper_state: "up".into(),
        mtu: Some(9001),
        parent_index: None,
    });
    let host = ipnet::Ipv4Net::from(ip(addr));
    k.routes.push(Route {
        table: MAIN_TABLE,
        destination: host,
        gateway: None,
        out_link: Some(index),
    });
    k.rules.push(Rule {
        priority: 512,
        source: None,
        destination: Some(host),
        table: MAIN_TABLE,
        ..Rule::default()
    });
    k.rules.push(Rule {
        priority: 1536,
        source: Some(host),
        destination: None,
        table,
        ..Rule::default()
    });
}

/// Primary ENI in the node subnet, two secondaries in the ENIConfig subnet,
/// three pods on the secondaries, one host-network pod; kernel consistent.
pub fn healthy() -> Snapshot {
    let primary = eni(
        1,
        0,
        "subnet-node",
        "10.0.1.0/24",
        "sg-node",
        &["10.0.1.10", "10.0.1.11"],
    );
    let s1 = eni(
        2,
        1,
        "subnet-pods",
        "100.64.1.0/24",
        "sg-pods",
        &["100.64.1.10", "100.64.1.11", "100.64.1.12", "100.64.1.13"],
    );
    let s2 = eni(
        3,
        2,
        "subnet-pods",
        "100.64.1.0/24",
        "sg-pods",
        &["100.64.1.20", "100.64.1.21", "100.64.1.22"],
    );
    let mut k = KernelState::default();
    configure_eni(&mut k, &primary, 2);
    configure_eni(&mut k, &s1, 3);
    configure_eni(&mut k, &s2, 4);
    wire_pod(&mut k, "100.64.1.11", 2, 10);
    wire_pod(&mut k, "100.64.1.12", 2, 11);
    wire_pod(&mut k, "100.64.1.21", 3, 12);
    let mut host_pod = pod("aws-node-x", "10.0.1.10");
    host_pod.host_network = true;
    host_pod.namespace = Some("kube-system".into());
    let imds = InstanceMetadata {
        instance_id: "i-0123".into(),
        instance_type: "t3.2xlarge".into(),
        region: Some("ap-southeast-1".into()),
        availability_zone: "ap-southeast-1a".into(),
        availability_zone_id: Some("apse1-az1".into()),
        local_ipv4: Some(ip("10.0.1.10")),
        primary_mac: mac(1),
        enis: vec![primary, s1, s2],
    };
    let cluster = ClusterView {
        node: NodeInfo {
            name: NODE.into(),
            labels: BTreeMap::from([(
                "topology.kubernetes.io/zone".into(),
                "ap-southeast-1a".into(),
            )]),
            annotations: BTreeMap::new(),
            capacity_pods: Some(44),
        },
        pods: vec![
            pod("a", "100.64.1.11"),
            pod("b", "100.64.1.12"),
            pod("c", "100.64.1.21"),
            host_pod,
        ],
        eni_configs: Some(vec![EniConfig {
            name: "ap-southeast-1a".into(),
            subnet: Some("subnet-pods".parse().unwrap()),
            security_groups: vec!["sg-pods".parse().unwrap()],
            problems: vec![],
        }]),
    };
    Snapshot {
        node_name: Some(NODE.into()),
        imds: Ok(imds),
        kernel: Ok(k),
        expectation: Expectation::Kubernetes(Ok(cluster)),
        selection: SelectionSettings {
            label_def: "topology.kubernetes.io/zone".into(),
            ..SelectionSettings::default()
        },
        veth_prefix: "eni".into(),
        instance_type: Ok(t3_2xlarge()),
        cluster_facts: Witness::Off,
        ipamd: Witness::Off,
        // The node keeps 2 addresses free (WARM_IP_TARGET=2), as it has.
        pool: PoolSettings {
            warm: WarmTargets {
                warm_ip_target: Some(2),
                ..WarmTargets::default()
            },
            ..PoolSettings::default()
        },
    }
}

/// The fixture's instance type as the embedded table has it: 4 ENIs of 15
/// addresses, Nitro.
pub fn t3_2xlarge() -> InstanceTypeFacts {
    InstanceTypeFacts {
        limits: InstanceLimits {
            max_enis: 4,
            ipv4_per_eni: 15,
        },
        nitro: Some(true),
    }
}

/// eniwatch-cluster's document for the fixture: the ENIConfig subnet in the
/// node's zone with 200 free addresses, the CNI's ENIs listed, none unattached.
pub fn published_healthy() -> crate::published::PublishedFacts {
    use crate::published::{PublishedFacts, PublishedSubnet, SCHEMA_VERSION};
    PublishedFacts {
        schema_version: SCHEMA_VERSION,
        vpc_id: Some("vpc-lab".parse().unwrap()),
        subnets: vec![PublishedSubnet {
            id: "subnet-pods".parse().unwrap(),
            cidr: Some(net("100.64.1.0/24")),
            availability_zone: Some("ap-southeast-1a".into()),
            availability_zone_id: Some("apse1-az1".into()),
            free_addresses: Some(200),
            free_prefixes: None,
            observed_at: "2026-01-01T00:00:00Z".into(),
        }],
        subnets_not_found: vec![],
        enis_observed_at: Some("2026-01-01T00:00:00Z".into()),
        nodes: vec![],
        nodes_truncated: false,
        cni_subnets: None,
        node_classes: vec![],
    }
}

pub fn cluster(s: &mut Snapshot) -> &mut ClusterView {
    match &mut s.expectation {
        Expectation::Kubernetes(Ok(c)) => c,
        _ => panic!("fixture has a cluster view"),
    }
}

pub fn imds(s: &mut Snapshot) -> &mut InstanceMetadata {
    s.imds.as_mut().unwrap()
}

pub fn kernel(s: &mut Snapshot) -> &mut KernelState {
    s.kernel.as_mut().unwrap()
}

/// [`healthy`] with the published facts and ipamd on and agreeing: the
/// ENIConfig subnet in the node's zone with room, no ENI unattached, ipamd
/// holding the secondaries' addresses with the three pods, `WARM_IP_TARGET=2`.
pub fn healthy_witnessed() -> Snapshot {
    let mut s = healthy();
    let ids: Vec<EniId> = (1..=3)
        .map(|n| format!("eni-{n:04}").parse().unwrap())
        .collect();
    // ipamd reports the warm targets: no flags.
    s.pool = PoolSettings::default();
    s.cluster_facts = Witness::On(Ok(ClusterFacts {
        configmap: "kube-system/eniwatch-cluster-facts".into(),
        published: Some(published_healthy()),
    }));
    let ipamd_eni = |n: usize, device: u32, addrs: &[&str], assigned: &[&str]| IpamdEni {
        id: ids[n].clone(),
        network_card: 0,
        device_number: device,
        primary: device == 0,
        trunk: false,
        efa: false,
        ipv4_addresses: addrs.iter().map(|a| ip(a)).collect(),
        assigned: assigned.iter().map(|a| (ip(a), None)).collect(),
        prefixes: vec![],
    };
    s.ipamd = Witness::On(Ok(IpamdView {
        custom_networking: Some(true),
        warm: WarmTargets {
            warm_eni_target: Some(1),
            warm_ip_target: Some(2),
            ..WarmTargets::default()
        },
        prefix_delegation: None,
        ipv6: None,
        selected_eniconfig: Some("ap-southeast-1a".into()),
        enis: vec![
            ipamd_eni(0, 0, &[], &[]),
            ipamd_eni(
                1,
                1,
                &["100.64.1.11", "100.64.1.12", "100.64.1.13"],
                &["100.64.1.11", "100.64.1.12"],
            ),
            ipamd_eni(2, 2, &["100.64.1.21", "100.64.1.22"], &["100.64.1.21"]),
        ],
    }));
    s
}

pub fn published(s: &mut Snapshot) -> &mut crate::published::PublishedFacts {
    match &mut s.cluster_facts {
        Witness::On(Ok(ClusterFacts {
            published: Some(p), ..
        })) => p,
        _ => panic!("no published facts in this snapshot"),
    }
}

/// eniwatch-cluster's entry for the fixture's node with one ENI EC2 says is detached.
pub fn unattached(eni: &str) -> crate::published::PublishedNode {
    crate::published::PublishedNode {
        name: NODE.into(),
        instance_id: "i-0123".into(),
        enis_not_attached: vec![crate::published::PublishedEni {
            id: eni.parse().unwrap(),
            status: Some("in-use".into()),
            attachment_status: Some("detached".into()),
            attached_to: None,
        }],
    }
}

/// The published facts say EC2 does not know the ENIConfig subnet.
pub fn unpublish_pod_subnet(s: &mut Snapshot) {
    let p = published(s);
    let gone = p.subnets.remove(0);
    p.subnets_not_found.push(gone.id);
}

pub fn ipamd(s: &mut Snapshot) -> &mut IpamdView {
    match &mut s.ipamd {
        Witness::On(Ok(v)) => v,
        _ => panic!("ipamd is not on in this snapshot"),
    }
}

/// The ENIConfig names a subnet no ENI is in, and the secondary ENIs' CIDRs
/// are unknown and carry no secondary address: nothing the node knows places
/// the pods' IPs in any subnet.
pub fn subnet_cidrs_unknown(s: &mut Snapshot) {
    cluster(s).eni_configs.as_mut().unwrap()[0].subnet = Some("subnet-elsewhere".parse().unwrap());
    for e in imds(s).enis.iter_mut().skip(1) {
        e.subnet_cidr = None;
        e.local_ipv4s.truncate(1);
    }
}

/// The reasons of every finding, in report order.
pub fn reasons(s: &Snapshot) -> Vec<Reason> {
    evaluate_declared(s)
        .findings
        .iter()
        .map(|f| f.reason)
        .collect()
}

/// One check's status.
pub fn status(s: &Snapshot, check: &str) -> CheckStatus {
    evaluate_declared(s)
        .checks
        .iter()
        .find(|c| c.name == check)
        .unwrap()
        .status
}

/// The findings whose reason their check does not declare, as (check, reason).
pub fn undeclared(e: &Evaluation) -> Vec<(&'static str, Reason)> {
    e.findings
        .iter()
        .filter(|f| {
            !checks_and_reasons()
                .any(|(name, declared)| name == f.check && declared.contains(&f.reason))
        })
        .map(|f| (f.check, f.reason))
        .collect()
}

/// Evaluates, asserting that every finding's reason is declared by its check.
pub fn evaluate_declared(s: &Snapshot) -> Evaluation {
    let e = evaluate(s);
    assert_eq!(undeclared(&e), vec![], "findings of undeclared reasons");
    e
}
