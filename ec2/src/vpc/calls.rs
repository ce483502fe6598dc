//! The VPC reader's calls on the real EC2 client, and the parsing of EC2's
//! answers into the model's types.
//!
//! Parsing is defensive: EC2 (or what answers in its place) may send a
//! field missing or malformed, and that never panics. A subnet with a CIDR
//! that does not parse keeps `cidr: None` (its checks say unknown); a record
//! without a usable id (subnet, ENI, group) is left out and counted in
//! [`Page::skipped`]; an address or prefix that does not parse is left out of
//! its ENI. Every call filters server-side and asks for EC2's largest page
//! ([`super::api`]); following `NextToken` is the policy's business.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_ec2::types::{
    Filter, InstanceTypeInfo, NetworkInterface as SdkEni, RouteState, RouteTable as SdkTable,
    Subnet as SdkSubnet, Tag,
};

use super::api::{
    EniQuery, GroupQuery, Page, SubnetQuery, TypeAnswer, VpcApi, ENI_PAGE, PAGE, TYPE_PAGE,
};
use crate::client::{classify, type_facts, Ec2Client, Ec2Error};
use eniwatch_core::model::{
    EniAttachmentFacts, NetworkInterface, RouteTable, RouteTarget, SecurityGroup, Subnet,
    SubnetFacts, VpcId, VpcRoute, CNI_INSTANCE_TAG,
};

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

fn page_size(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn tags(set: &[Tag]) -> BTreeMap<String, String> {
    set.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// Items parsed, and how many records could not be.
fn collect<S, T>(records: &[S], parse: impl Fn(&S) -> Option<T>) -> (Vec<T>, u64) {
    let items: Vec<T> = records.iter().filter_map(parse).collect();
    let skipped = records.len().saturating_sub(items.len());
    (items, u64::try_from(skipped).unwrap_or(u64::MAX))
}

pub(crate) fn subnet(s: &SdkSubnet) -> Option<Subnet> {
    Some(Subnet {
        facts: SubnetFacts {
            id: s.subnet_id()?.parse().ok()?,
            cidr: s.cidr_block().and_then(|c| c.parse().ok()),
            availability_zone: s.availability_zone().map(str::to_string),
            availability_zone_id: s.availability_zone_id().map(str::to_string),
            available_ips: s
                .available_ip_address_count()
                .and_then(|n| u32::try_from(n).ok()),
        },
        vpc_id: s.vpc_id().and_then(|v| v.parse().ok()),
        tags: tags(s.tags()),
    })
}

pub(crate) fn network_interface(n: &SdkEni) -> Option<NetworkInterface> {
    let mut addresses: Vec<_> = n
        .private_ip_addresses()
        .iter()
        .filter_map(|p| Some((!p.primary().unwrap_or(false), p.private_ip_address()?)))
        .collect();
    // The primary first (EC2 lists it first too; this does not rely on it).
    addresses.sort_by_key(|(secondary, _)| *secondary);
    Some(NetworkInterface {
        id: n.network_interface_id()?.parse().ok()?,
        subnet_id: n.subnet_id().and_then(|s| s.parse().ok()),
        vpc_id: n.vpc_id().and_then(|v| v.parse().ok()),
        status: n.status().map(|s| s.as_str().to_string()),
        interface_type: n.interface_type().map(|t| t.as_str().to_string()),
        attachment: n.attachment().map(|a| EniAttachmentFacts {
            instance_id: a.instance_id().map(str::to_string),
            status: a.status().map(|s| s.as_str().to_string()),
            device_index: a.device_index().and_then(|d| u32::try_from(d).ok()),
            network_card_index: a.network_card_index().and_then(|d| u32::try_from(d).ok()),
        }),
        private_ips: addresses
            .into_iter()
            .filter_map(|(_, a)| a.parse().ok())
            .collect(),
        prefixes: n
            .ipv4_prefixes()
            .iter()
            .filter_map(|p| p.ipv4_prefix()?.parse().ok())
            .collect(),
        tags: tags(n.tag_set()),
    })
}

fn target(r: &aws_sdk_ec2::types::Route) -> RouteTarget {
    if let Some(id) = r.nat_gateway_id() {
        return RouteTarget::NatGateway(id.to_string());
    }
    if let Some(id) = r.transit_gateway_id() {
        return RouteTarget::TransitGateway(id.to_string());
    }
    match r.gateway_id() {
        Some("local") => return RouteTarget::Local,
        Some(id) if id.starts_with("igw-") => return RouteTarget::InternetGateway(id.to_string()),
        _ => {}
    }
    let other = [
        r.gateway_id(),
        r.vpc_peering_connection_id(),
        r.network_interface_id(),
        r.instance_id(),
        r.egress_only_internet_gateway_id(),
        r.local_gateway_id(),
        r.carrier_gateway_id(),
        r.core_network_arn(),
    ];
    RouteTarget::Other(other.into_iter().flatten().next().unwrap_or("").to_string())
}

pub(crate) fn route_table(t: &SdkTable) -> Option<RouteTable> {
    let associations = t.associations();
    Some(RouteTable {
        id: t.route_table_id()?.to_string(),
        main: associations.iter().any(|a| a.main() == Some(true)),
        subnets: associations
            .iter()
            .filter_map(|a| a.subnet_id()?.parse().ok())
            .collect(),
        routes: t
            .routes()
            .iter()
            .map(|r| VpcRoute {
                destination: r.destination_cidr_block().and_then(|d| d.parse().ok()),
                target: target(r),
                // EC2 always sends `State`; an answer without it is not taken
                // for a blackhole.
                active: r.state().is_none_or(|s| *s == RouteState::Active),
            })
            .collect(),
    })
}

fn instance_type(t: &InstanceTypeInfo) -> Option<TypeAnswer> {
    let name = t.instance_type()?.as_str().to_string();
    let facts = type_facts(t).map_err(|problem| format!("EC2 DescribeInstanceTypes: {problem}"));
    Some((name, facts))
}

impl VpcApi for Ec2Client {
    fn subnets(
        &self,
        query: &SubnetQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<Subnet>, Ec2Error>> + Send {
        let f = match query {
            SubnetQuery::Vpc(vpc) => filter("vpc-id", [vpc.to_string()]),
            SubnetQuery::Ids(ids) => filter("subnet-id", ids.iter().map(|s| s.to_string())),
        };
        let call = self
            .client
            .describe_subnets()
            .filters(f)
            .max_results(page_size(PAGE))
            .set_next_token(token);
        async move {
            let out = call
                .send()
                .await
                .map_err(|e| classify("DescribeSubnets", &self.endpoint, e))?;
            let (items, skipped) = collect(out.subnets(), subnet);
            Ok::<_, Ec2Error>(Page {
                items,
                next: out.next_token().map(str::to_string),
                skipped,
            })
        }
    }

    fn network_interfaces(
        &self,
        query: &EniQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<NetworkInterface>, Ec2Error>> + Send {
        let filters = match query {
            EniQuery::CniTagged(vpc) => vec![
                filter("vpc-id", [vpc.to_string()]),
                filter("tag-key", [CNI_INSTANCE_TAG.to_string()]),
            ],
            EniQuery::InSubnets(ids) => {
                vec![filter("subnet-id", ids.iter().map(|s| s.to_string()))]
            }
        };
        let call = self
            .client
            .describe_network_interfaces()
            .set_filters(Some(filters))
            .max_results(page_size(ENI_PAGE))
            .set_next_token(token);
        async move {
            let out = call
                .send()
                .await
                .map_err(|e| classify("DescribeNetworkInterfaces", &self.endpoint, e))?;
            let (items, skipped) = collect(out.network_interfaces(), network_interface);
            Ok::<_, Ec2Error>(Page {
                items,
                next: out.next_token().map(str::to_string),
                skipped,
            })
        }
    }

    fn route_tables(
        &self,
        vpc: &VpcId,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<RouteTable>, Ec2Error>> + Send {
        let call = self
            .client
            .describe_route_tables()
            .filters(filter("vpc-id", [vpc.to_string()]))
            .max_results(100)
            .set_next_token(token);
        async move {
            let out = call
                .send()
                .await
                .map_err(|e| classify("DescribeRouteTables", &self.endpoint, e))?;
            let (items, skipped) = collect(out.route_tables(), route_table);
            Ok::<_, Ec2Error>(Page {
                items,
                next: out.next_token().map(str::to_string),
                skipped,
            })
        }
    }

    fn security_groups(
        &self,
        query: &GroupQuery,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<SecurityGroup>, Ec2Error>> + Send {
        let by = match query {
            GroupQuery::Ids(ids) => filter("group-id", ids.iter().map(|g| g.to_string())),
            GroupQuery::Vpc(vpc) => filter("vpc-id", [vpc.to_string()]),
        };
        let call = self
            .client
            .describe_security_groups()
            .filters(by)
            .max_results(page_size(PAGE))
            .set_next_token(token);
        async move {
            let out = call
                .send()
                .await
                .map_err(|e| classify("DescribeSecurityGroups", &self.endpoint, e))?;
            let (items, skipped) = collect(out.security_groups(), |g| {
                Some(SecurityGroup {
                    id: g.group_id()?.parse().ok()?,
                    vpc_id: g.vpc_id().and_then(|v| v.parse().ok()),
                    name: g.group_name().map(str::to_string),
                    tags: tags(g.tags()),
                })
            });
            Ok::<_, Ec2Error>(Page {
                items,
                next: out.next_token().map(str::to_string),
                skipped,
            })
        }
    }

    fn instance_types(
        &self,
        names: &[String],
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<TypeAnswer>, Ec2Error>> + Send {
        let call = self
            .client
            .describe_instance_types()
            .filters(filter("instance-type", names.iter().cloned()))
            .max_results(page_size(TYPE_PAGE))
            .set_next_token(token);
        async move {
            let out = call
                .send()
                .await
                .map_err(|e| classify("DescribeInstanceTypes", &self.endpoint, e))?;
            let (items, skipped) = collect(out.instance_types(), instance_type);
            Ok::<_, Ec2Error>(Page {
                items,
                next: out.next_token().map(str::to_string),
                skipped,
            })
        }
    }
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
