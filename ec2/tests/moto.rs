//! The VPC reader against a real EC2 emulator (moto's server, started on
//! loopback), seeded through the EC2 API itself: a VPC with a secondary
//! CIDR, node and pod subnets, a NAT route, a security group and the CNI's
//! ENIs, attached, available and untagged. What moto answers differently
//! from EC2 is written down in `eniwatch_ec2::vpc`'s docs.

use std::collections::BTreeSet;
use std::time::Instant;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use eniwatch_core::model::{RouteTarget, CNI_INSTANCE_TAG};
use eniwatch_core::sources::requests::RequestCounts;
use eniwatch_ec2::{Ec2Config, VpcAsk, VpcPolicy, VpcReader};

fn config(endpoint: &str) -> Ec2Config {
    Ec2Config {
        endpoint: Some(endpoint.to_string()),
        region: Some("ap-southeast-1".into()),
        static_credentials: Some(("testing".into(), "testing".into())),
    }
}

fn tagged(resource: ResourceType, key: &str, value: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(key).value(value).build())
        .build()
}

/// What was seeded.
struct Seeded {
    vpc: String,
    nodes: String,
    pods: String,
    nat: String,
    group: String,
    instance: String,
    attached: String,
    available: String,
    untagged: String,
}

async fn subnet(seed: &aws_sdk_ec2::Client, vpc: &str, cidr: &str) -> String {
    let s = seed
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone("ap-southeast-1a")
        .send()
        .await
        .unwrap();
    s.subnet().unwrap().subnet_id().unwrap().to_string()
}

async fn eni(seed: &aws_sdk_ec2::Client, subnet: &str, tag: Option<&str>) -> String {
    let mut call = seed.create_network_interface().subnet_id(subnet);
    if let Some(instance) = tag {
        call = call.tag_specifications(tagged(
            ResourceType::NetworkInterface,
            CNI_INSTANCE_TAG,
            instance,
        ));
    }
    let e = call.send().await.unwrap();
    e.network_interface()
        .unwrap()
        .network_interface_id()
        .unwrap()
        .to_string()
}

async fn seed(endpoint: &str) -> Seeded {
    let seed = eniwatch_lab::ec2_seed::client(endpoint, "ap-southeast-1").await;
    let vpc = seed
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    seed.associate_vpc_cidr_block()
        .vpc_id(&vpc)
        .cidr_block("100.64.0.0/16")
        .send()
        .await
        .unwrap();
    let nodes = subnet(&seed, &vpc, "10.0.1.0/24").await;
    let pods = subnet(&seed, &vpc, "100.64.0.0/20").await;
    let eip = seed.allocate_address().send().await.unwrap();
    let nat = seed
        .create_nat_gateway()
        .subnet_id(&nodes)
        .allocation_id(eip.allocation_id().unwrap())
        .send()
        .await
        .unwrap();
    let nat = nat
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_string();
    let table = seed.create_route_table().vpc_id(&vpc).send().await.unwrap();
    let table = table
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_string();
    seed.create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .unwrap();
    seed.associate_route_table()
        .route_table_id(&table)
        .subnet_id(&pods)
        .send()
        .await
        .unwrap();
    let group = seed
        .create_security_group()
        .vpc_id(&vpc)
        .group_name("pods")
        .description("pods")
        .send()
        .await
        .unwrap();
    let group = group.group_id().unwrap().to_string();
    let run = seed
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
        .subnet_id(&nodes)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_string();
    let attached = eni(&seed, &pods, Some(&instance)).await;
    seed.attach_network_interface()
        .network_interface_id(&attached)
        .instance_id(&instance)
        .device_index(1)
        .send()
        .await
        .unwrap();
    let available = eni(&seed, &pods, Some("i-0gone")).await;
    let untagged = eni(&seed, &pods, None).await;
    Seeded {
        vpc,
        nodes,
        pods,
        nat,
        group,
        instance,
        attached,
        available,
        untagged,
    }
}

fn ask(s: &Seeded) -> VpcAsk {
    VpcAsk {
        vpc_id: None,
        eniconfig_subnets: BTreeSet::from([
            s.pods.parse().unwrap(),
            "subnet-0doesnotexist".parse().unwrap(),
        ]),
        security_groups: BTreeSet::from([s.group.parse().unwrap(), "sg-0gone".parse().unwrap()]),
        vpc_security_groups: false,
        instance_types: BTreeSet::from(["m5.large".to_string(), "x9.nosuch".to_string()]),
    }
}

#[tokio::test]
async fn the_vpc_as_moto_describes_it() {
    let Some(m) = eniwatch_lab::moto::start("the VPC reader against moto") else {
        return;
    };
    let s = seed(&m.endpoint).await;
    let counts = RequestCounts::new();
    let mut reader = VpcReader::new(config(&m.endpoint), VpcPolicy::default(), counts.clone())
        .await
        .unwrap();
    let facts = reader.refresh(&ask(&s), Instant::now()).await;

    assert_eq!(
        facts.vpc_id.as_ref().unwrap().to_string(),
        s.vpc,
        "learnt from the ENIConfig subnet"
    );
    let subnets = facts.subnets.as_ref().unwrap();
    let pods = subnets
        .iter()
        .find(|x| x.facts.id.to_string() == s.pods)
        .unwrap();
    assert_eq!(pods.facts.cidr.unwrap().to_string(), "100.64.0.0/20");
    assert_eq!(
        pods.facts.availability_zone.as_deref(),
        Some("ap-southeast-1a")
    );
    assert_eq!(
        pods.facts.available_ips,
        Some(4091 - 3),
        "three ENIs hold an address each"
    );
    assert!(subnets.iter().any(|x| x.facts.id.to_string() == s.nodes));
    let not_found: Vec<String> = facts
        .subnets_not_found
        .iter()
        .map(|x| x.to_string())
        .collect();
    assert_eq!(not_found, ["subnet-0doesnotexist"]);

    let enis = facts.cni_enis.as_ref().unwrap();
    let ids: BTreeSet<String> = enis.iter().map(|e| e.id.to_string()).collect();
    assert!(
        ids.contains(&s.attached) && ids.contains(&s.available),
        "{ids:?}"
    );
    assert!(!ids.contains(&s.untagged), "the tag-key filter: {ids:?}");
    let attached = enis
        .iter()
        .find(|e| e.id.to_string() == s.attached)
        .unwrap();
    assert_eq!(attached.attached_to(), Some(s.instance.as_str()));
    assert_eq!(attached.cni_instance(), Some(s.instance.as_str()));
    let available = enis
        .iter()
        .find(|e| e.id.to_string() == s.available)
        .unwrap();
    assert_eq!(available.status.as_deref(), Some("available"));
    assert_eq!(available.attached_to(), None);

    let tables = facts.route_tables.as_ref().unwrap();
    let main: Vec<_> = tables.iter().filter(|t| t.main).collect();
    assert_eq!(main.len(), 1, "the VPC's main table: {tables:?}");
    let pods_table = tables
        .iter()
        .find(|t| t.subnets.iter().any(|x| x.to_string() == s.pods))
        .unwrap();
    assert!(!pods_table.main);
    let default = pods_table
        .routes
        .iter()
        .find(|r| r.destination.is_some_and(|d| d.to_string() == "0.0.0.0/0"))
        .unwrap();
    assert_eq!(default.target, RouteTarget::NatGateway(s.nat.clone()));
    assert!(default.active);

    let groups = facts.security_groups.as_ref().unwrap();
    let ids: Vec<String> = groups.iter().map(|g| g.id.to_string()).collect();
    assert_eq!(ids, [s.group.as_str()], "sg-0gone does not exist");
    assert_eq!(facts.security_groups_asked.len(), 2);

    let m5 = facts.instance_types["m5.large"].as_ref().unwrap();
    assert_eq!((m5.limits.max_enis, m5.limits.ipv4_per_eni), (3, 10));
    let nosuch = facts.instance_types["x9.nosuch"].as_ref().unwrap_err();
    assert_eq!(nosuch.kind, "not_found", "{nosuch:?}");

    let counted = counts.snapshot();
    eprintln!("attempts: {counted:?}");
    for op in [
        "DescribeSubnets",
        "DescribeNetworkInterfaces",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
        "DescribeInstanceTypes",
    ] {
        assert!(
            counted.get(&(op, "ok")).is_some_and(|n| *n >= 1),
            "{op}: {counted:?}"
        );
    }
    assert!(reader.failing(Instant::now()).is_empty());
}

#[tokio::test]
async fn no_region_is_a_clear_error() {
    if std::env::var("AWS_REGION").is_ok() || std::env::var("AWS_DEFAULT_REGION").is_ok() {
        return;
    }
    let cfg = Ec2Config {
        region: None,
        ..config("http://127.0.0.1:1")
    };
    let err = VpcReader::new(cfg, VpcPolicy::default(), RequestCounts::new())
        .await
        .err()
        .unwrap();
    assert!(err.reason.contains("--region"), "{err:?}");
}
