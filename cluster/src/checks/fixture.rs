//! A healthy cluster under custom networking, as a hand-built snapshot:
//! two zones, a node and an ENIConfig in each, node and pod subnets routed
//! through each zone's NAT gateway, every CNI ENI attached. Tests break one
//! thing and look at what the checks say.

use std::collections::BTreeMap;

use eniwatch_core::checks::CheckStatus;
use eniwatch_core::model::*;
use jiff::Timestamp;

use super::{judge, ClusterEvaluation};
use crate::model::{ClusterNode, ClusterSettings, ClusterSnapshot, EniHistory};

pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const NOW: &str = "2026-03-01T12:00:00Z";

pub fn now() -> Timestamp {
    NOW.parse().unwrap()
}

pub fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

/// A node in `zone` (`a` or `b`) with instance `i-<zone>`.
pub fn node(name: &str, zone: char, ip: &str) -> ClusterNode {
    let zone_name = format!("eu-west-1{zone}");
    ClusterNode {
        info: NodeInfo {
            name: name.into(),
            labels: BTreeMap::from([(ZONE_LABEL.to_string(), zone_name.clone())]),
            annotations: BTreeMap::new(),
            capacity_pods: Some(29),
        },
        instance_id: Some(format!("i-{name}")),
        instance_type: Some("m5.large".into()),
        zone: Some(zone_name),
        zone_id: Some(zone_id(zone)),
        internal_ips: vec![ip.parse().unwrap()],
        nodegroup: Some("ng".into()),
        out_of_scope: None,
    }
}

pub fn zone_id(zone: char) -> String {
    match zone {
        'a' => "euw1-az1".into(),
        _ => "euw1-az2".into(),
    }
}

pub fn subnet(name: &str, cidr: &str, zone: char, free: u32) -> Subnet {
    Subnet {
        facts: SubnetFacts {
            id: id(name),
            cidr: Some(id(cidr)),
            availability_zone: Some(format!("eu-west-1{zone}")),
            availability_zone_id: Some(zone_id(zone)),
            available_ips: Some(free),
        },
        vpc_id: Some(id("vpc-1")),
        tags: BTreeMap::new(),
    }
}

pub fn eniconfig(name: &str, subnet: &str, groups: &[&str]) -> EniConfig {
    EniConfig {
        name: name.into(),
        subnet: Some(id(subnet)),
        security_groups: groups.iter().map(|g| id(g)).collect(),
        problems: vec![],
    }
}

pub fn default_route(target: RouteTarget) -> VpcRoute {
    VpcRoute {
        destination: Some(id("0.0.0.0/0")),
        target,
        active: true,
    }
}

pub fn table(name: &str, main: bool, subnets: &[&str], target: RouteTarget) -> RouteTable {
    RouteTable {
        id: name.into(),
        main,
        subnets: subnets.iter().map(|s| id(s)).collect(),
        routes: vec![
            VpcRoute {
                destination: Some(id("10.0.0.0/16")),
                target: RouteTarget::Local,
                active: true,
            },
            default_route(target),
        ],
    }
}

/// A CNI ENI created for `instance`, attached to it.
pub fn cni_eni(name: &str, subnet: &str, instance: &str, ip: &str) -> NetworkInterface {
    NetworkInterface {
        id: id(name),
        subnet_id: Some(id(subnet)),
        vpc_id: Some(id("vpc-1")),
        status: Some("in-use".into()),
        interface_type: Some("interface".into()),
        attachment: Some(EniAttachmentFacts {
            instance_id: Some(instance.into()),
            status: Some("attached".into()),
            device_index: Some(1),
            network_card_index: Some(0),
        }),
        private_ips: vec![ip.parse().unwrap()],
        prefixes: vec![],
        tags: BTreeMap::from([
            (CNI_INSTANCE_TAG.to_string(), instance.to_string()),
            (
                CNI_CREATED_AT_TAG.to_string(),
                "2026-03-01T10:00:00Z".to_string(),
            ),
        ]),
    }
}

/// The same ENI, left behind unattached.
pub fn available(mut eni: NetworkInterface) -> NetworkInterface {
    eni.status = Some("available".into());
    eni.attachment = None;
    eni
}

pub const NODE_A: &str = "ip-10-0-1-10.eu-west-1.compute.internal";
pub const NODE_B: &str = "ip-10-0-2-10.eu-west-1.compute.internal";

pub fn healthy() -> ClusterSnapshot {
    let nat = |z: &str| RouteTarget::NatGateway(format!("nat-{z}"));
    ClusterSnapshot {
        node_classes: Ok(None),
        now: now(),
        nodes: Ok(vec![
            node(NODE_A, 'a', "10.0.1.10"),
            node(NODE_B, 'b', "10.0.2.10"),
        ]),
        eni_configs: Ok(Some(vec![
            eniconfig("eu-west-1a", "subnet-poda", &["sg-pods"]),
            eniconfig("eu-west-1b", "subnet-podb", &["sg-pods"]),
        ])),
        selection: SelectionSettings {
            label_def: ZONE_LABEL.into(),
            ..SelectionSettings::default()
        },
        vpc: VpcFacts {
            vpc_id: Ok(id("vpc-1")),
            subnets: Ok(vec![
                subnet("subnet-nodea", "10.0.1.0/24", 'a', 200),
                subnet("subnet-nodeb", "10.0.2.0/24", 'b', 200),
                subnet("subnet-poda", "100.64.0.0/19", 'a', 8000),
                subnet("subnet-podb", "100.64.32.0/19", 'b', 8000),
            ]),
            subnets_not_found: vec![],
            route_tables: Ok(vec![
                table(
                    "rtb-main",
                    true,
                    &[],
                    RouteTarget::InternetGateway("igw-1".into()),
                ),
                table("rtb-a", false, &["subnet-nodea", "subnet-poda"], nat("a")),
                table("rtb-b", false, &["subnet-nodeb", "subnet-podb"], nat("b")),
            ]),
            security_groups: Ok(vec![SecurityGroup {
                id: id("sg-pods"),
                vpc_id: Some(id("vpc-1")),
                name: Some("pods".into()),
                tags: Default::default(),
            }]),
            security_groups_asked: vec![id("sg-pods")],
            cni_enis: Ok(vec![
                cni_eni(
                    "eni-a1",
                    "subnet-poda",
                    &format!("i-{NODE_A}"),
                    "100.64.0.10",
                ),
                cni_eni(
                    "eni-b1",
                    "subnet-podb",
                    &format!("i-{NODE_B}"),
                    "100.64.32.10",
                ),
            ]),
            prefix_subnet_enis: Ok(vec![]),
            instance_types: BTreeMap::new(),
        },
        history: EniHistory::default(),
        settings: ClusterSettings::default(),
    }
}

pub fn vpc(s: &mut ClusterSnapshot) -> &mut VpcFacts {
    &mut s.vpc
}

pub fn subnets(s: &mut ClusterSnapshot) -> &mut Vec<Subnet> {
    s.vpc.subnets.as_mut().unwrap()
}

pub fn subnet_mut<'a>(s: &'a mut ClusterSnapshot, name: &str) -> &'a mut Subnet {
    let want: SubnetId = id(name);
    subnets(s).iter_mut().find(|x| x.facts.id == want).unwrap()
}

pub fn configs(s: &mut ClusterSnapshot) -> &mut Vec<EniConfig> {
    s.eni_configs.as_mut().unwrap().as_mut().unwrap()
}

pub fn enis(s: &mut ClusterSnapshot) -> &mut Vec<NetworkInterface> {
    s.vpc.cni_enis.as_mut().unwrap()
}

pub fn tables(s: &mut ClusterSnapshot) -> &mut Vec<RouteTable> {
    s.vpc.route_tables.as_mut().unwrap()
}

pub fn status(e: &ClusterEvaluation, check: &str) -> CheckStatus {
    e.checks
        .iter()
        .find(|c| c.name == check)
        .map(|c| c.status)
        .unwrap()
}

pub fn broken(f: impl FnOnce(&mut ClusterSnapshot)) -> ClusterEvaluation {
    let mut s = healthy();
    f(&mut s);
    judge(&s)
}
