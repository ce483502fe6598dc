//! Parsing EC2's records: malformed fields never panic; what cannot be
//! used is left out and counted.

use aws_sdk_ec2::types::{
    Ipv4PrefixSpecification, NetworkInterface as SdkEni, NetworkInterfacePrivateIpAddress, Route,
    RouteTable as SdkTable, RouteTableAssociation, Subnet as SdkSubnet,
};

use super::*;
use eniwatch_core::model::SubnetId;

#[test]
fn a_subnet_with_a_bad_cidr_keeps_its_id_and_no_cidr() {
    let s = SdkSubnet::builder()
        .subnet_id("subnet-0a")
        .cidr_block("100.64.0.0/99")
        .vpc_id("vpc-0a")
        .tags(
            Tag::builder()
                .key("kubernetes.io/role/elb")
                .value("1")
                .build(),
        )
        .build();
    let parsed = subnet(&s).unwrap();
    assert_eq!(parsed.facts.cidr, None);
    assert_eq!(parsed.facts.availability_zone, None);
    assert_eq!(parsed.vpc_id, Some("vpc-0a".parse().unwrap()));
    assert_eq!(parsed.elb_roles(), ["kubernetes.io/role/elb"]);
}

#[test]
fn records_without_a_usable_id_are_skipped_and_counted() {
    let enis = [
        SdkEni::builder().network_interface_id("eni-0a").build(),
        SdkEni::builder().network_interface_id("not-an-eni").build(),
        SdkEni::builder().build(),
    ];
    let (items, skipped) = collect(&enis, network_interface);
    assert_eq!(items.len(), 1);
    assert_eq!(skipped, 2);
}

#[test]
fn an_eni_lists_its_primary_address_first_and_its_prefixes() {
    let address = |a: &str, primary| {
        NetworkInterfacePrivateIpAddress::builder()
            .private_ip_address(a)
            .primary(primary)
            .build()
    };
    let n = SdkEni::builder()
        .network_interface_id("eni-0a")
        .private_ip_addresses(address("10.0.0.9", false))
        .private_ip_addresses(address("10.0.0.5", true))
        .private_ip_addresses(address("garbage", false))
        .ipv4_prefixes(
            Ipv4PrefixSpecification::builder()
                .ipv4_prefix("10.0.0.16/28")
                .build(),
        )
        .ipv4_prefixes(
            Ipv4PrefixSpecification::builder()
                .ipv4_prefix("nope")
                .build(),
        )
        .tag_set(Tag::builder().key(CNI_INSTANCE_TAG).value("i-0a").build())
        .build();
    let e = network_interface(&n).unwrap();
    let ips: Vec<String> = e.private_ips.iter().map(|a| a.to_string()).collect();
    assert_eq!(ips, ["10.0.0.5", "10.0.0.9"]);
    assert_eq!(e.prefixes.len(), 1);
    assert_eq!(e.cni_instance(), Some("i-0a"));
    assert_eq!(e.attachment, None);
}

#[test]
fn a_route_table_knows_main_its_subnets_targets_and_blackholes() {
    let t = SdkTable::builder()
        .route_table_id("rtb-0a")
        .associations(RouteTableAssociation::builder().main(true).build())
        .associations(
            RouteTableAssociation::builder()
                .subnet_id("subnet-0a")
                .build(),
        )
        .routes(
            Route::builder()
                .destination_cidr_block("10.0.0.0/16")
                .gateway_id("local")
                .state(RouteState::Active)
                .build(),
        )
        .routes(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id("nat-0a")
                .state(RouteState::Blackhole)
                .build(),
        )
        .routes(
            Route::builder()
                .destination_ipv6_cidr_block("::/0")
                .gateway_id("igw-0a")
                .build(),
        )
        .routes(
            Route::builder()
                .destination_cidr_block("10.9.0.0/16")
                .vpc_peering_connection_id("pcx-0a")
                .build(),
        )
        .build();
    let parsed = route_table(&t).unwrap();
    assert!(parsed.main);
    assert_eq!(
        parsed.subnets,
        vec!["subnet-0a".parse::<SubnetId>().unwrap()]
    );
    let r = &parsed.routes;
    assert_eq!(r[0].target, RouteTarget::Local);
    assert_eq!(r[1].target, RouteTarget::NatGateway("nat-0a".into()));
    assert!(r[0].active && !r[1].active);
    assert_eq!(r[2].destination, None);
    assert_eq!(r[2].target, RouteTarget::InternetGateway("igw-0a".into()));
    assert_eq!(r[3].target, RouteTarget::Other("pcx-0a".into()));
}
