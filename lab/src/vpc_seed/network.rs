//! The VPC, its subnets, gateways and route tables, and the pods' group.

use std::net::Ipv4Addr;

use aws_sdk_ec2::types::{DomainType, Filter, Tag};
use aws_sdk_ec2::Client;
use ipnet::Ipv4Net;

use super::{err, missing, Breakage, ClusterScenario, SeededZone, ZONES};
use crate::LabError;

/// What the network part created.
pub(super) struct Network {
    pub vpc_id: String,
    pub main_table: String,
    pub pod_security_group: String,
    pub zones: Vec<SeededZone>,
}

fn net(a: u8, b: u8, c: u8, len: u8) -> Result<Ipv4Net, LabError> {
    Ipv4Net::new(Ipv4Addr::new(a, b, c, 0), len)
        .map_err(|e| LabError::Setup(format!("a scenario CIDR: {e}")))
}

/// Creates the VPC and everything but instances and ENIs.
pub(super) async fn seed(ec2: &Client, s: &ClusterScenario) -> Result<Network, LabError> {
    let vpc_id = vpc(ec2).await?;
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .map_err(|e| err("CreateInternetGateway")(e.into()))?
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .ok_or_else(|| missing("InternetGatewayId"))?
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc_id)
        .send()
        .await
        .map_err(|e| err("AttachInternetGateway")(e.into()))?;
    let public_table = route_table(ec2, &vpc_id).await?;
    ec2.create_route()
        .route_table_id(&public_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .map_err(|e| err("CreateRoute igw")(e.into()))?;
    let mut zones = Vec::new();
    for (z, name) in ZONES.iter().enumerate() {
        let zone = self::zone(ec2, s, &vpc_id, &public_table, z, name).await?;
        zones.push(zone);
    }
    let main_table = main_table(ec2, &vpc_id).await?;
    let pod_security_group = ec2
        .create_security_group()
        .vpc_id(&vpc_id)
        .group_name("pods")
        .description("pods on custom networking")
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(e.into()))?
        .group_id()
        .ok_or_else(|| missing("GroupId"))?
        .to_string();
    Ok(Network {
        vpc_id,
        main_table,
        pod_security_group,
        zones,
    })
}

async fn vpc(ec2: &Client) -> Result<String, LabError> {
    let vpc_id = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .map_err(|e| err("CreateVpc")(e.into()))?
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| missing("VpcId"))?
        .to_string();
    ec2.associate_vpc_cidr_block()
        .vpc_id(&vpc_id)
        .cidr_block("100.64.0.0/16")
        .send()
        .await
        .map_err(|e| err("AssociateVpcCidrBlock")(e.into()))?;
    Ok(vpc_id)
}

/// Zone `z`: public subnet and NAT gateway, private table, node and pod subnets.
async fn zone(
    ec2: &Client,
    s: &ClusterScenario,
    vpc_id: &str,
    public_table: &str,
    z: usize,
    name: &str,
) -> Result<SeededZone, LabError> {
    let zb = u8::try_from(z).unwrap_or(0);
    let (public_subnet, _) = subnet(ec2, vpc_id, name, net(10, 0, zb, 24)?).await?;
    associate(ec2, public_table, &public_subnet).await?;
    let allocation = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .map_err(|e| err("AllocateAddress")(e.into()))?
        .allocation_id()
        .ok_or_else(|| missing("AllocationId"))?
        .to_string();
    let nat_gateway = ec2
        .create_nat_gateway()
        .subnet_id(&public_subnet)
        .allocation_id(allocation)
        .send()
        .await
        .map_err(|e| err("CreateNatGateway")(e.into()))?
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .ok_or_else(|| missing("NatGatewayId"))?
        .to_string();
    let private_table = route_table(ec2, vpc_id).await?;
    ec2.create_route()
        .route_table_id(&private_table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat_gateway)
        .send()
        .await
        .map_err(|e| err("CreateRoute nat")(e.into()))?;
    let node_cidr = net(10, 0, 16 * (zb + 1), 20)?;
    let (node_subnet, zone_id) = subnet(ec2, vpc_id, name, node_cidr).await?;
    associate(ec2, &private_table, &node_subnet).await?;
    let pod_cidr = net(100, 64, 4 * zb, 22)?;
    let (pod_subnet, _) = subnet(ec2, vpc_id, name, pod_cidr).await?;
    if !(z == 1 && s.has(Breakage::PodSubnetNoDefaultRoute)) {
        associate(ec2, &private_table, &pod_subnet).await?;
    }
    if z == 1 && s.has(Breakage::PodSubnetTaggedForLoadBalancers) {
        ec2.create_tags()
            .resources(&pod_subnet)
            .tags(
                Tag::builder()
                    .key("kubernetes.io/role/internal-elb")
                    .value("1")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| err("CreateTags subnet")(e.into()))?;
    }
    Ok(SeededZone {
        name: name.to_string(),
        zone_id,
        public_subnet,
        node_subnet,
        node_cidr,
        pod_subnet,
        pod_cidr,
        private_table,
        nat_gateway,
    })
}

/// A subnet in `zone`: its id and EC2's zone id.
async fn subnet(
    ec2: &Client,
    vpc_id: &str,
    zone: &str,
    cidr: Ipv4Net,
) -> Result<(String, String), LabError> {
    let out = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr.to_string())
        .availability_zone(zone)
        .send()
        .await
        .map_err(|e| err("CreateSubnet")(e.into()))?;
    let subnet = out.subnet().ok_or_else(|| missing("Subnet"))?;
    let id = subnet.subnet_id().ok_or_else(|| missing("SubnetId"))?;
    let zone_id = subnet
        .availability_zone_id()
        .ok_or_else(|| missing("AvailabilityZoneId"))?;
    Ok((id.to_string(), zone_id.to_string()))
}

async fn route_table(ec2: &Client, vpc_id: &str) -> Result<String, LabError> {
    Ok(ec2
        .create_route_table()
        .vpc_id(vpc_id)
        .send()
        .await
        .map_err(|e| err("CreateRouteTable")(e.into()))?
        .route_table()
        .and_then(|t| t.route_table_id())
        .ok_or_else(|| missing("RouteTableId"))?
        .to_string())
}

async fn associate(ec2: &Client, table: &str, subnet: &str) -> Result<(), LabError> {
    ec2.associate_route_table()
        .route_table_id(table)
        .subnet_id(subnet)
        .send()
        .await
        .map_err(|e| err("AssociateRouteTable")(e.into()))?;
    Ok(())
}

async fn main_table(ec2: &Client, vpc_id: &str) -> Result<String, LabError> {
    let out = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(
            Filter::builder()
                .name("association.main")
                .values("true")
                .build(),
        )
        .send()
        .await
        .map_err(|e| err("DescribeRouteTables")(e.into()))?;
    Ok(out
        .route_tables()
        .first()
        .and_then(|t| t.route_table_id())
        .ok_or_else(|| missing("main route table"))?
        .to_string())
}
