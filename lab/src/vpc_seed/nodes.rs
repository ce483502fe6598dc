//! The instances, their CNI ENIs, and the ENIs that break things: leaked
//! and unattached CNI ENIs, the filler of a nearly full subnet and the
//! scattered addresses of a fragmented one.

use std::net::Ipv4Addr;

use aws_sdk_ec2::types::{
    InstanceType, PrivateIpAddressSpecification, ResourceType, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;
use ipnet::Ipv4Net;
use jiff::{SignedDuration, Timestamp};

use super::network::Network;
use super::{
    err, missing, Breakage, ClusterScenario, Seeded, SeededNode, CNI_SECONDARY_IPS, INSTANCE_TYPE,
    NEARLY_EXHAUSTED_FREE, REGION, STRANGER_INSTANCE,
};
use crate::LabError;

/// The CNI's tags (written here from the VPC CNI's source, not eniwatch's).
const INSTANCE_TAG: &str = "node.k8s.amazonaws.com/instance_id";
const CREATED_AT_TAG: &str = "node.k8s.amazonaws.com/createdAt";

/// What this part created.
pub(super) struct Placed {
    pub nodes: Vec<SeededNode>,
    pub leaked: Vec<String>,
    pub unattached: Vec<String>,
    pub filler: Option<String>,
    pub scatter: Option<String>,
    pub prefixes_kept: bool,
}

/// `createdAt` as the CNI writes it (RFC 3339, seconds), `ago` before now.
fn created_at(ago: SignedDuration) -> String {
    let t = Timestamp::now()
        .checked_sub(ago)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn day() -> SignedDuration {
    SignedDuration::from_hours(24)
}

fn five_minutes() -> SignedDuration {
    SignedDuration::from_mins(5)
}

pub(super) async fn seed(
    ec2: &Client,
    s: &ClusterScenario,
    net: &Network,
) -> Result<Placed, LabError> {
    let mut nodes = instances(ec2, s, net).await?;
    for (i, node) in nodes.iter_mut().enumerate() {
        if i == 0 && s.has(Breakage::EniConfigSubnetZoneMismatch) {
            continue;
        }
        let zone = &net.zones[node.zone];
        let subnet = if node.zone == 2 && s.has(Breakage::EniConfigMissingForZone) {
            &zone.node_subnet
        } else {
            &zone.pod_subnet
        };
        let eni = cni_eni(
            ec2,
            net,
            subnet,
            &node.instance_id,
            day(),
            CNI_SECONDARY_IPS,
        )
        .await?;
        ec2.attach_network_interface()
            .network_interface_id(&eni)
            .instance_id(&node.instance_id)
            .device_index(1)
            .send()
            .await
            .map_err(|e| err("AttachNetworkInterface")(e.into()))?;
        node.cni_eni = Some(eni);
    }
    let live = nodes
        .iter()
        .filter(|n| n.zone == 0)
        .nth(1)
        .map(|n| n.instance_id.clone())
        .ok_or_else(|| missing("second node in zone a"))?;
    let pods_a = &net.zones[0].pod_subnet;
    let mut leaked = Vec::new();
    if s.has(Breakage::LeakedEni) {
        leaked.push(cni_eni(ec2, net, pods_a, STRANGER_INSTANCE, five_minutes(), 0).await?);
        leaked.push(cni_eni(ec2, net, pods_a, &live, day(), 0).await?);
    }
    let mut unattached = Vec::new();
    if s.has(Breakage::EniNotAttached) {
        unattached.push(cni_eni(ec2, net, pods_a, &live, five_minutes(), 0).await?);
    }
    let (scatter, prefixes_kept) = if s.has(Breakage::PrefixFragmentation) {
        let kept = ask_prefixes(ec2, &nodes, 1).await?;
        let zone = &net.zones[1];
        let eni = scatter(ec2, &zone.pod_subnet, zone.pod_cidr, &kept).await?;
        (Some(eni), !kept.is_empty())
    } else {
        (None, false)
    };
    let filler = if s.has(Breakage::SubnetNearlyExhausted) {
        fill(ec2, pods_a, NEARLY_EXHAUSTED_FREE).await?
    } else {
        None
    };
    Ok(Placed {
        nodes,
        leaked,
        unattached,
        filler,
        scatter,
        prefixes_kept,
    })
}

/// One RunInstances per zone; the nodes in index order.
async fn instances(
    ec2: &Client,
    s: &ClusterScenario,
    net: &Network,
) -> Result<Vec<SeededNode>, LabError> {
    let mut by_zone: Vec<std::vec::IntoIter<(String, Ipv4Addr)>> = Vec::new();
    for (z, zone) in net.zones.iter().enumerate() {
        let count = (0..s.nodes)
            .filter(|i| ClusterScenario::zone_of(*i) == z)
            .count();
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        let run = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(InstanceType::from(INSTANCE_TYPE))
            .subnet_id(&zone.node_subnet)
            .min_count(count)
            .max_count(count)
            .send()
            .await
            .map_err(|e| err("RunInstances")(e.into()))?;
        let mut got = Vec::new();
        for i in run.instances() {
            let id = i.instance_id().ok_or_else(|| missing("InstanceId"))?;
            let ip = i
                .private_ip_address()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
                .ok_or_else(|| missing("PrivateIpAddress"))?;
            got.push((id.to_string(), ip));
        }
        by_zone.push(got.into_iter());
    }
    let mut nodes = Vec::new();
    for i in 0..s.nodes {
        let zone = ClusterScenario::zone_of(i);
        let (instance_id, ip) = by_zone
            .get_mut(zone)
            .and_then(|it| it.next())
            .ok_or_else(|| missing("instance for every node"))?;
        let eni_config = if i == 0 && s.has(Breakage::EniConfigSubnetZoneMismatch) {
            "pods-skewed".to_string()
        } else {
            Seeded::eni_config_name(zone)
        };
        nodes.push(SeededNode {
            name: format!(
                "ip-{}.{REGION}.compute.internal",
                ip.to_string().replace('.', "-")
            ),
            instance_id,
            zone,
            internal_ip: ip,
            eni_config,
            cni_eni: None,
        });
    }
    Ok(nodes)
}

/// A CNI ENI tagged for `instance`, created `age` ago, unattached.
async fn cni_eni(
    ec2: &Client,
    net: &Network,
    subnet: &str,
    instance: &str,
    age: SignedDuration,
    secondaries: usize,
) -> Result<String, LabError> {
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::NetworkInterface)
        .tags(Tag::builder().key(INSTANCE_TAG).value(instance).build())
        .tags(
            Tag::builder()
                .key(CREATED_AT_TAG)
                .value(created_at(age))
                .build(),
        )
        .build();
    let mut create = ec2
        .create_network_interface()
        .subnet_id(subnet)
        .groups(&net.pod_security_group)
        .description("aws-K8S-i")
        .tag_specifications(tags);
    if secondaries > 0 {
        create = create
            .secondary_private_ip_address_count(i32::try_from(secondaries).unwrap_or(i32::MAX));
    }
    Ok(create
        .send()
        .await
        .map_err(|e| err("CreateNetworkInterface")(e.into()))?
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .ok_or_else(|| missing("NetworkInterfaceId"))?
        .to_string())
}

/// Asks a /28 prefix for each CNI ENI of zone `z`, then reads back what EC2
/// kept (moto keeps none).
async fn ask_prefixes(
    ec2: &Client,
    nodes: &[SeededNode],
    z: usize,
) -> Result<Vec<Ipv4Net>, LabError> {
    let enis: Vec<&String> = nodes
        .iter()
        .filter(|n| n.zone == z)
        .filter_map(|n| n.cni_eni.as_ref())
        .collect();
    for eni in &enis {
        ec2.assign_private_ip_addresses()
            .network_interface_id(eni.as_str())
            .ipv4_prefix_count(1)
            .send()
            .await
            .map_err(|e| err("AssignPrivateIpAddresses prefix")(e.into()))?;
    }
    if enis.is_empty() {
        return Ok(Vec::new());
    }
    let out = ec2
        .describe_network_interfaces()
        .set_network_interface_ids(Some(enis.iter().map(|e| e.to_string()).collect()))
        .send()
        .await
        .map_err(|e| err("DescribeNetworkInterfaces prefixes")(e.into()))?;
    Ok(out
        .network_interfaces()
        .iter()
        .flat_map(|n| n.ipv4_prefixes())
        .filter_map(|p| p.ipv4_prefix().and_then(|p| p.parse().ok()))
        .collect())
}

/// One address (offset 7) in every /28 of `cidr` outside `kept`, on one ENI.
async fn scatter(
    ec2: &Client,
    subnet: &str,
    cidr: Ipv4Net,
    kept: &[Ipv4Net],
) -> Result<String, LabError> {
    let blocks = cidr
        .subnets(28)
        .map_err(|e| LabError::Setup(format!("/28 blocks of {cidr}: {e}")))?;
    let addresses: Vec<Ipv4Addr> = blocks
        .filter(|b| !kept.iter().any(|k| k.contains(b)))
        .map(|b| Ipv4Addr::from(u32::from(b.network()) + 7))
        .collect();
    let mut create = ec2
        .create_network_interface()
        .subnet_id(subnet)
        .description("scattered addresses");
    for (n, ip) in addresses.iter().enumerate() {
        create = create.private_ip_addresses(
            PrivateIpAddressSpecification::builder()
                .private_ip_address(ip.to_string())
                .primary(n == 0)
                .build(),
        );
    }
    Ok(create
        .send()
        .await
        .map_err(|e| err("CreateNetworkInterface scatter")(e.into()))?
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .ok_or_else(|| missing("NetworkInterfaceId"))?
        .to_string())
}

/// Brings `subnet` down to `free` available addresses with one ENI.
async fn fill(ec2: &Client, subnet: &str, free: i32) -> Result<Option<String>, LabError> {
    let now = ec2
        .describe_subnets()
        .subnet_ids(subnet)
        .send()
        .await
        .map_err(|e| err("DescribeSubnets")(e.into()))?
        .subnets()
        .first()
        .and_then(|x| x.available_ip_address_count())
        .ok_or_else(|| missing("AvailableIpAddressCount"))?;
    let take = now.saturating_sub(free);
    if take <= 0 {
        return Ok(None);
    }
    // The ENI's own address plus `take - 1` secondaries.
    let out = ec2
        .create_network_interface()
        .subnet_id(subnet)
        .secondary_private_ip_address_count(take - 1)
        .description("filler")
        .send()
        .await
        .map_err(|e| err("CreateNetworkInterface filler")(e.into()))?;
    Ok(out
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .map(str::to_string))
}
