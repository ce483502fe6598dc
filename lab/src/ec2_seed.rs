//! Seeds a real EC2 emulator (moto's server) with a scenario through the EC2
//! API itself, and renames the scenario's ids to the ones EC2 gave.
//!
//! What is created: the VPC with its CIDRs; every subnet in its zone; the
//! instance (its type, its primary ENI with the scenario's primary address
//! and secondary addresses); every other ENI with its addresses, attached at
//! its device index unless the scenario lists it in `ec2.detached`. A subnet
//! with `available_ip_address_count` gets a filler ENI holding the addresses
//! that bring EC2's count down to it.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{InstanceType, PrivateIpAddressSpecification};
use aws_sdk_ec2::Client;

use super::scenario::{EniKind, Scenario};
use super::LabError;

/// Scenario id → EC2 id.
pub type IdMap = BTreeMap<String, String>;

fn err(what: &str) -> impl Fn(aws_sdk_ec2::Error) -> LabError + '_ {
    move |e| LabError::Setup(format!("seeding EC2 ({what}): {e}"))
}

fn missing(what: &str) -> LabError {
    LabError::Setup(format!("seeding EC2: no {what} in the answer"))
}

/// A client for the emulator at `endpoint` (static test credentials).
pub async fn client(endpoint: &str, region: &str) -> Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "lab",
        ))
        .load()
        .await;
    Client::new(&shared)
}

/// Creates the scenario in EC2 and returns the id map.
pub async fn seed(ec2: &Client, s: &Scenario) -> Result<IdMap, LabError> {
    let mut ids = IdMap::new();
    let first = s.vpc.cidrs.first().ok_or_else(|| missing("VPC CIDR"))?;
    let vpc = ec2
        .create_vpc()
        .cidr_block(first.to_string())
        .send()
        .await
        .map_err(|e| err("CreateVpc")(e.into()))?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| missing("VpcId"))?
        .to_string();
    ids.insert(s.vpc.id.clone(), vpc_id.clone());
    for cidr in s.vpc.cidrs.iter().skip(1) {
        ec2.associate_vpc_cidr_block()
            .vpc_id(&vpc_id)
            .cidr_block(cidr.to_string())
            .send()
            .await
            .map_err(|e| err("AssociateVpcCidrBlock")(e.into()))?;
    }
    for subnet in &s.subnets {
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(subnet.cidr.to_string())
            .availability_zone(&subnet.availability_zone)
            .send()
            .await
            .map_err(|e| err("CreateSubnet")(e.into()))?;
        let id = out
            .subnet()
            .and_then(|x| x.subnet_id())
            .ok_or_else(|| missing("SubnetId"))?;
        ids.insert(subnet.id.clone(), id.to_string());
    }
    let id_of = |ids: &IdMap, k: &str| {
        ids.get(k)
            .cloned()
            .ok_or_else(|| LabError::Setup(format!("seeding EC2: {k} was not created")))
    };
    let primary = s.primary_eni().ok_or_else(|| missing("primary ENI"))?;
    let primary_ip = primary
        .ips
        .first()
        .ok_or_else(|| missing("primary address"))?;
    let run = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from(s.node.instance_type.as_str()))
        .subnet_id(id_of(&ids, &primary.subnet)?)
        .private_ip_address(primary_ip.to_string())
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .map_err(|e| err("RunInstances")(e.into()))?;
    let instance = run.instances().first().ok_or_else(|| missing("instance"))?;
    let instance_id = instance
        .instance_id()
        .ok_or_else(|| missing("InstanceId"))?;
    ids.insert(s.node.instance_id.clone(), instance_id.to_string());
    let primary_eni = instance
        .network_interfaces()
        .first()
        .and_then(|n| n.network_interface_id())
        .ok_or_else(|| missing("primary ENI id"))?;
    ids.insert(primary.id.clone(), primary_eni.to_string());
    if primary.ips.len() > 1 {
        ec2.assign_private_ip_addresses()
            .network_interface_id(primary_eni)
            .set_private_ip_addresses(Some(
                primary.ips.iter().skip(1).map(|i| i.to_string()).collect(),
            ))
            .send()
            .await
            .map_err(|e| err("AssignPrivateIpAddresses")(e.into()))?;
    }
    let detached = s
        .ec2
        .as_ref()
        .map(|e| e.detached.clone())
        .unwrap_or_default();
    for eni in s.enis.iter().filter(|e| !e.is_primary()) {
        let mut create = ec2
            .create_network_interface()
            .subnet_id(id_of(&ids, &eni.subnet)?);
        for (n, ip) in eni.ips.iter().enumerate() {
            create = create.private_ip_addresses(
                PrivateIpAddressSpecification::builder()
                    .private_ip_address(ip.to_string())
                    .primary(n == 0)
                    .build(),
            );
        }
        if eni.kind == EniKind::EfaOnly {
            create = create.interface_type(aws_sdk_ec2::types::NetworkInterfaceCreationType::Efa);
        }
        let out = create
            .send()
            .await
            .map_err(|e| err("CreateNetworkInterface")(e.into()))?;
        let id = out
            .network_interface()
            .and_then(|n| n.network_interface_id())
            .ok_or_else(|| missing("NetworkInterfaceId"))?
            .to_string();
        ids.insert(eni.id.clone(), id.clone());
        if detached.contains(&eni.id) {
            continue;
        }
        ec2.attach_network_interface()
            .network_interface_id(&id)
            .instance_id(instance_id)
            .device_index(i32::try_from(eni.device_number).unwrap_or(i32::MAX))
            .network_card_index(i32::try_from(eni.network_card).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| err("AttachNetworkInterface")(e.into()))?;
    }
    fill_subnets(ec2, s, &ids).await?;
    Ok(ids)
}

/// Brings each subnet with `available_ip_address_count` down to that count.
async fn fill_subnets(ec2: &Client, s: &Scenario, ids: &IdMap) -> Result<(), LabError> {
    for subnet in &s.subnets {
        let (Some(want), Some(id)) = (subnet.available_ip_address_count, ids.get(&subnet.id))
        else {
            continue;
        };
        let out = ec2
            .describe_subnets()
            .subnet_ids(id)
            .send()
            .await
            .map_err(|e| err("DescribeSubnets")(e.into()))?;
        let now = out
            .subnets()
            .first()
            .and_then(|x| x.available_ip_address_count())
            .ok_or_else(|| missing("AvailableIpAddressCount"))?;
        let take = now.saturating_sub(i32::try_from(want).unwrap_or(i32::MAX));
        if take > 0 {
            // One ENI's own address plus `take - 1` secondaries.
            ec2.create_network_interface()
                .subnet_id(id)
                .secondary_private_ip_address_count(take - 1)
                .description("lab filler")
                .send()
                .await
                .map_err(|e| err("CreateNetworkInterface filler")(e.into()))?;
        }
    }
    Ok(())
}

/// The scenario with every seeded id replaced by EC2's.
pub fn rename(s: &Scenario, ids: &IdMap) -> Scenario {
    let map = |id: &mut String| {
        if let Some(new) = ids.get(id.as_str()) {
            id.clone_from(new);
        }
    };
    let mut s = s.clone();
    map(&mut s.node.instance_id);
    map(&mut s.vpc.id);
    s.subnets.iter_mut().for_each(|x| map(&mut x.id));
    for e in &mut s.enis {
        map(&mut e.id);
        map(&mut e.subnet);
    }
    s.eniconfigs.iter_mut().for_each(|c| map(&mut c.subnet));
    if let Some(ec2) = &mut s.ec2 {
        ec2.detached.iter_mut().for_each(map);
    }
    s.ipamd.forget_enis.iter_mut().for_each(map);
    s
}
