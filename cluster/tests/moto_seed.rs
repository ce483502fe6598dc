//! The cluster scenario as moto holds it, read back through the EC2 API:
//! the routes, associations, tags, ENI states and free counts the scenario
//! tests (`moto_scenarios.rs`) rely on. If one of these fails, a scenario
//! test's verdict would say nothing about eniwatch-cluster.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use aws_sdk_ec2::types::{Filter, NetworkInterface};
use aws_sdk_ec2::Client;
use eniwatch_lab::vpc_seed::{
    self, Breakage, ClusterScenario, Seeded, INSTANCE_TYPE, MISSING_GROUP, MISSING_SUBNET,
    NEARLY_EXHAUSTED_FREE, REGION, STRANGER_INSTANCE,
};
use ipnet::Ipv4Net;

use common::moto;

fn filter(name: &str, values: &[&str]) -> Filter {
    let mut f = Filter::builder().name(name);
    for v in values {
        f = f.values(*v);
    }
    f.build()
}

async fn seeded(m: &moto::Moto, s: &ClusterScenario) -> (Client, Seeded) {
    let ec2 = eniwatch_lab::ec2_seed::client(&m.endpoint, REGION).await;
    let seeded = vpc_seed::seed(&ec2, s).await.expect("the scenario seeds");
    (ec2, seeded)
}

/// Subnet id → (CIDR, zone, zone id, free, tags), every subnet of the VPC.
async fn subnets(ec2: &Client, vpc: &str) -> Subnets {
    let out = ec2
        .describe_subnets()
        .filters(filter("vpc-id", &[vpc]))
        .send()
        .await
        .unwrap();
    out.subnets()
        .iter()
        .map(|s| {
            let tags = s
                .tags()
                .iter()
                .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                .collect();
            (
                s.subnet_id().unwrap().to_string(),
                (
                    s.cidr_block().unwrap().to_string(),
                    s.availability_zone().unwrap().to_string(),
                    s.availability_zone_id().unwrap().to_string(),
                    s.available_ip_address_count().unwrap(),
                    tags,
                ),
            )
        })
        .collect()
}

/// Subnet id → the route table it uses (explicit association, else main),
/// and each table's active default route target.
async fn routes(
    ec2: &Client,
    seeded: &Seeded,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let out = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &[&seeded.vpc_id]))
        .send()
        .await
        .unwrap();
    let mut table_of = BTreeMap::new();
    let mut default_of = BTreeMap::new();
    let mut main = None;
    for t in out.route_tables() {
        let id = t.route_table_id().unwrap().to_string();
        for a in t.associations() {
            if a.main() == Some(true) {
                main = Some(id.clone());
            }
            if let Some(s) = a.subnet_id() {
                assert!(
                    table_of.insert(s.to_string(), id.clone()).is_none(),
                    "{s} twice"
                );
            }
        }
        for r in t.routes() {
            if r.destination_cidr_block() == Some("0.0.0.0/0") {
                assert_eq!(r.state().map(|s| s.as_str()), Some("active"), "{r:?}");
                let target = r.nat_gateway_id().or(r.gateway_id()).unwrap();
                default_of.insert(id.clone(), target.to_string());
            }
        }
    }
    assert_eq!(main.as_deref(), Some(seeded.main_table.as_str()));
    for z in &seeded.zones {
        for s in [&z.node_subnet, &z.pod_subnet] {
            table_of
                .entry(s.clone())
                .or_insert_with(|| seeded.main_table.clone());
        }
    }
    (table_of, default_of)
}

async fn enis(ec2: &Client, filters: Vec<Filter>) -> Vec<NetworkInterface> {
    ec2.describe_network_interfaces()
        .set_filters(Some(filters))
        .max_results(1000)
        .send()
        .await
        .unwrap()
        .network_interfaces()
        .to_vec()
}

fn tag<'a>(eni: &'a NetworkInterface, key: &str) -> Option<&'a str> {
    eni.tag_set()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Free aligned /28 blocks of `cidr`: none of the 16 addresses used by any
/// ENI address or prefix, and none of the 4 first / last reserved addresses.
fn free_blocks(cidr: Ipv4Net, enis: &[NetworkInterface]) -> usize {
    let mut used: BTreeSet<u32> = BTreeSet::new();
    for e in enis {
        for a in e.private_ip_addresses() {
            let ip: Ipv4Addr = a.private_ip_address().unwrap().parse().unwrap();
            used.insert(u32::from(ip));
        }
        for p in e.ipv4_prefixes() {
            let p: Ipv4Net = p.ipv4_prefix().unwrap().parse().unwrap();
            used.extend(u32::from(p.network())..=u32::from(p.broadcast()));
        }
    }
    let first = u32::from(cidr.network());
    let last = u32::from(cidr.broadcast());
    used.extend(first..first + 4);
    used.insert(last);
    cidr.subnets(28)
        .unwrap()
        .filter(|b| !(u32::from(b.network())..=u32::from(b.broadcast())).any(|a| used.contains(&a)))
        .count()
}

async fn check(ec2: &Client, seeded: &Seeded) {
    let subnets = check_subnets(ec2, seeded).await;
    check_routes_and_groups(ec2, seeded).await;
    check_enis(ec2, seeded, &subnets).await;
    check_nodes(ec2, seeded).await;
}

type Subnets = BTreeMap<String, (String, String, String, i32, BTreeMap<String, String>)>;

/// The VPC's CIDRs; subnets in their zones, the tag only where broken.
async fn check_subnets(ec2: &Client, seeded: &Seeded) -> Subnets {
    let s = &seeded.scenario;
    let vpc = ec2
        .describe_vpcs()
        .vpc_ids(&seeded.vpc_id)
        .send()
        .await
        .unwrap();
    let cidrs: BTreeSet<_> = vpc.vpcs()[0]
        .cidr_block_association_set()
        .iter()
        .map(|a| a.cidr_block().unwrap().to_string())
        .collect();
    assert_eq!(
        cidrs,
        BTreeSet::from(["10.0.0.0/16".into(), "100.64.0.0/16".into()])
    );

    // Subnets: zones and zone ids as EC2 gave them; the tag only where broken.
    let subnets = subnets(ec2, &seeded.vpc_id).await;
    assert_eq!(subnets.len(), 9, "{subnets:?}");
    let zone_ids: BTreeSet<_> = seeded.zones.iter().map(|z| z.zone_id.clone()).collect();
    assert_eq!(zone_ids.len(), 3, "three distinct zone ids: {zone_ids:?}");
    for (i, z) in seeded.zones.iter().enumerate() {
        for (id, cidr) in [(&z.node_subnet, z.node_cidr), (&z.pod_subnet, z.pod_cidr)] {
            let (c, zone, zone_id, _, _) = &subnets[id];
            assert_eq!((c, zone, zone_id), (&cidr.to_string(), &z.name, &z.zone_id));
        }
        let tags = &subnets[&z.pod_subnet].4;
        let tagged = i == 1 && s.has(Breakage::PodSubnetTaggedForLoadBalancers);
        assert_eq!(
            tags.get("kubernetes.io/role/internal-elb")
                .map(String::as_str),
            tagged.then_some("1"),
            "zone {i} pod subnet tags {tags:?}"
        );
    }
    let unknown = ec2
        .describe_subnets()
        .filters(filter("subnet-id", &[MISSING_SUBNET]))
        .send()
        .await
        .unwrap();
    assert!(unknown.subnets().is_empty());
    subnets
}

/// Node subnets and healthy pod subnets on their zone's NAT; the pods'
/// group exists in the VPC, the missing one does not.
async fn check_routes_and_groups(ec2: &Client, seeded: &Seeded) {
    let s = &seeded.scenario;
    // Routes: every node subnet and healthy pod subnet on its zone's NAT.
    let (table_of, default_of) = routes(ec2, seeded).await;
    assert!(
        !default_of.contains_key(&seeded.main_table),
        "main table: local routes only"
    );
    for (i, z) in seeded.zones.iter().enumerate() {
        assert_eq!(table_of[&z.node_subnet], z.private_table);
        assert_eq!(default_of[&z.private_table], z.nat_gateway);
        let on_main = i == 1 && s.has(Breakage::PodSubnetNoDefaultRoute);
        let want = if on_main {
            &seeded.main_table
        } else {
            &z.private_table
        };
        assert_eq!(&table_of[&z.pod_subnet], want, "zone {i} pod subnet");
    }

    // Security groups: the pods' group exists in the VPC, the missing one not.
    let groups = ec2
        .describe_security_groups()
        .filters(filter(
            "group-id",
            &[&seeded.pod_security_group, MISSING_GROUP],
        ))
        .send()
        .await
        .unwrap();
    let found: Vec<_> = groups
        .security_groups()
        .iter()
        .map(|g| (g.group_id().unwrap(), g.vpc_id().unwrap()))
        .collect();
    assert_eq!(
        found,
        vec![(seeded.pod_security_group.as_str(), seeded.vpc_id.as_str())]
    );
}

async fn check_enis(ec2: &Client, seeded: &Seeded, subnets: &Subnets) {
    let s = &seeded.scenario;
    let cni = enis(
        ec2,
        vec![
            filter("vpc-id", &[&seeded.vpc_id]),
            filter("tag-key", &["node.k8s.amazonaws.com/instance_id"]),
        ],
    )
    .await;
    let instances: BTreeSet<_> = seeded
        .nodes
        .iter()
        .map(|n| n.instance_id.as_str())
        .collect();
    let mut available = BTreeSet::new();
    for e in &cni {
        let id = e.network_interface_id().unwrap();
        let tagged = tag(e, "node.k8s.amazonaws.com/instance_id").unwrap();
        let created: jiff::Timestamp = tag(e, "node.k8s.amazonaws.com/createdAt")
            .unwrap()
            .parse()
            .unwrap();
        let age = jiff::Timestamp::now().duration_since(created).as_secs();
        match e.status().map(|s| s.as_str()) {
            Some("in-use") => {
                let a = e.attachment().unwrap();
                assert_eq!(
                    a.instance_id(),
                    Some(tagged),
                    "{id} attached to its instance"
                );
                assert_eq!(a.device_index(), Some(1));
                assert_eq!(a.status().map(|s| s.as_str()), Some("attached"));
                assert!(age > 23 * 3600, "{id}: attached CNI ENIs are old");
                assert_eq!(e.private_ip_addresses().len(), 4);
            }
            Some("available") => {
                assert!(e.attachment().is_none());
                available.insert((id.to_string(), tagged == STRANGER_INSTANCE, age > 3600));
                assert!(age >= 4 * 60, "{id}: past the attach grace");
                assert!(instances.contains(tagged) || tagged == STRANGER_INSTANCE);
            }
            other => panic!("{id}: status {other:?}"),
        }
    }
    let skewed = usize::from(s.has(Breakage::EniConfigSubnetZoneMismatch));
    let attached = cni.len() - available.len();
    assert_eq!(attached, seeded.nodes.len() - skewed);
    let mut want = BTreeSet::new();
    if s.has(Breakage::LeakedEni) {
        want.insert((seeded.leaked_enis[0].clone(), true, false));
        want.insert((seeded.leaked_enis[1].clone(), false, true));
    }
    if s.has(Breakage::EniNotAttached) {
        want.insert((seeded.unattached_enis[0].clone(), false, false));
    }
    assert_eq!(available, want);

    // Free counts: every pod subnet has headroom but the one filled.
    let pods_a = &seeded.zones[0].pod_subnet;
    let free_a = subnets[pods_a].3;
    if s.has(Breakage::SubnetNearlyExhausted) {
        assert_eq!(free_a, NEARLY_EXHAUSTED_FREE);
    }
    for (i, z) in seeded.zones.iter().enumerate() {
        let free = subnets[&z.pod_subnet].3;
        if i != 0 || !s.has(Breakage::SubnetNearlyExhausted) {
            assert!(free >= 102 * 2, "zone {i} pod subnet has {free} free");
        }
    }

    // Fragmentation: no free /28 in zone b's pod subnet, plenty of addresses.
    let b = &seeded.zones[1];
    let in_b = enis(ec2, vec![filter("subnet-id", &[&b.pod_subnet])]).await;
    let blocks = free_blocks(b.pod_cidr, &in_b);
    let demand = seeded
        .nodes
        .iter()
        .filter(|n| n.eni_config == Seeded::eni_config_name(1) || n.eni_config == "pods-skewed")
        .count();
    println!(
        "zone b pod subnet: {blocks} free /28 blocks, {} free addresses, {demand} nodes; \
         prefixes kept by EC2: {}",
        subnets[&b.pod_subnet].3, seeded.prefixes_kept
    );
    if s.has(Breakage::PrefixFragmentation) {
        assert_eq!(blocks, 0);
        assert!(subnets[&b.pod_subnet].3 >= i32::try_from(16 * demand).unwrap());
    } else {
        assert!(blocks >= demand, "{blocks} free blocks for {demand} nodes");
    }
}

/// The instances and the Node objects agree with each other and with EC2.
async fn check_nodes(ec2: &Client, seeded: &Seeded) {
    let ids: Vec<String> = seeded.nodes.iter().map(|n| n.instance_id.clone()).collect();
    let out = ec2
        .describe_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
        .unwrap();
    let by_id: BTreeMap<_, _> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| (i.instance_id().unwrap().to_string(), i.clone()))
        .collect();
    let objects = seeded.node_objects();
    assert_eq!(objects.len(), seeded.scenario.nodes);
    for (n, obj) in seeded.nodes.iter().zip(&objects) {
        let z = &seeded.zones[n.zone];
        let i = &by_id[&n.instance_id];
        assert_eq!(i.instance_type().map(|t| t.as_str()), Some(INSTANCE_TYPE));
        assert_eq!(i.subnet_id(), Some(z.node_subnet.as_str()));
        assert_eq!(
            i.private_ip_address(),
            Some(n.internal_ip.to_string().as_str())
        );
        assert!(z.node_cidr.contains(&n.internal_ip));
        let labels = &obj["metadata"]["labels"];
        assert_eq!(labels["topology.k8s.aws/zone-id"], z.zone_id.as_str());
        assert_eq!(labels["topology.kubernetes.io/zone"], z.name.as_str());
        assert_eq!(labels["k8s.amazonaws.com/eniConfig"], n.eni_config.as_str());
        assert_eq!(
            obj["spec"]["providerID"],
            format!("aws:///{}/{}", z.name, n.instance_id).as_str()
        );
        assert_eq!(
            obj["status"]["addresses"][0]["address"],
            n.internal_ip.to_string().as_str()
        );
    }
    let configs: BTreeSet<String> = seeded.eni_configs.iter().map(|c| c.name.clone()).collect();
    for n in &seeded.nodes {
        let missing_zone = n.zone == 2 && seeded.scenario.has(Breakage::EniConfigMissingForZone);
        assert_eq!(configs.contains(&n.eni_config), !missing_zone, "{}", n.name);
    }
    let objects = seeded.eni_config_objects();
    assert_eq!(objects.len(), seeded.eni_configs.len());
}

#[tokio::test]
async fn the_healthy_cluster_is_seeded_as_described() {
    let Some(m) = moto::start("the cluster scenario on moto") else {
        return;
    };
    let (ec2, seeded) = seeded(&m, &ClusterScenario::healthy(5)).await;
    assert_eq!(seeded.eni_configs.len(), 3);
    check(&ec2, &seeded).await;
}

#[tokio::test]
async fn every_breakage_is_seeded_as_described_at_fifty_nodes() {
    let Some(m) = moto::start("the cluster scenario on moto") else {
        return;
    };
    let (ec2, seeded) = seeded(&m, &ClusterScenario::broken(50)).await;
    assert_eq!(seeded.eni_configs.len(), 4, "a, b, skewed, retired");
    check(&ec2, &seeded).await;
}

#[tokio::test]
async fn each_breakage_alone_is_seeded_as_described() {
    let Some(m) = moto::start("the cluster scenario on moto") else {
        return;
    };
    let ec2 = eniwatch_lab::ec2_seed::client(&m.endpoint, REGION).await;
    for b in Breakage::ALL {
        // Each seed is a VPC of its own in the same moto: every read filters by it.
        let seeded = vpc_seed::seed(&ec2, &ClusterScenario::healthy(5).with(b))
            .await
            .expect("the scenario seeds");
        check(&ec2, &seeded).await;
    }
}

#[tokio::test]
async fn fewer_than_four_nodes_is_refused() {
    // Refused before any call: no EC2 behind the endpoint.
    let ec2 = eniwatch_lab::ec2_seed::client("http://127.0.0.1:1", REGION).await;
    let e = vpc_seed::seed(&ec2, &ClusterScenario::healthy(3))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 4 nodes"), "{e}");
}

#[tokio::test]
async fn the_seeded_objects_are_served_as_the_api_serves_them() {
    use k8s_openapi::api::core::v1::Node;
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

    let Some(m) = moto::start("the cluster scenario on moto") else {
        return;
    };
    let (_, seeded) = seeded(&m, &ClusterScenario::broken(5)).await;
    let api = common::kube::serve(seeded.node_objects(), seeded.eni_config_objects()).await;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&api.kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let provider: BTreeSet<_> = nodes
        .items
        .iter()
        .map(|n| n.spec.as_ref().unwrap().provider_id.clone().unwrap())
        .collect();
    let want: BTreeSet<_> = seeded
        .nodes
        .iter()
        .map(|n| format!("aws:///{}/{}", seeded.zones[n.zone].name, n.instance_id))
        .collect();
    assert_eq!(provider, want);
    let gvk = GroupVersionKind::gvk("crd.k8s.amazonaws.com", "v1alpha1", "ENIConfig");
    let configs = Api::<DynamicObject>::all_with(client, &ApiResource::from_gvk(&gvk))
        .list(&ListParams::default())
        .await
        .unwrap();
    let subnets: BTreeSet<_> = configs
        .items
        .iter()
        .map(|c| c.data["spec"]["subnet"].as_str().unwrap().to_string())
        .collect();
    assert!(subnets.contains(MISSING_SUBNET), "{subnets:?}");
    assert_eq!(configs.items.len(), seeded.eni_configs.len());
}
