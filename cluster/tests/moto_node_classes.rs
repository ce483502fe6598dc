//! SCENARIO TEST: enhanced subnet discovery and EKS Auto Mode NodeClasses
//! on the moto cluster (`vpc_seed`, tagged and extended by
//! `vpc_seed::auto_mode`), through the shipped `eniwatch-cluster check
//! --output json`: the `cni_subnets` and `node_classes` it would publish,
//! resolved from what EC2 says, and the calls it took.

mod common;

use std::collections::BTreeSet;

use eniwatch_lab::vpc_seed::{self, ClusterScenario, REGION};
use serde_json::Value;

use common::check::check;
use common::{kube, moto};

/// `[(zone, [subnet ids])]` of a published `cni_subnets` / `pod_subnets`.
fn zones(v: &Value) -> Vec<(String, Vec<String>)> {
    let text = |x: &Value| x.as_str().unwrap_or("?").to_string();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|z| {
            let ids = z["subnet_ids"].as_array().into_iter().flatten();
            (text(&z["availability_zone"]), ids.map(text).collect())
        })
        .collect()
}

/// Enhanced subnet discovery and EKS Auto Mode on the healthy cluster:
/// subnets tagged `kubernetes.io/role/cni=1` (one tagged `0`), and
/// NodeClasses selecting pod subnets and groups by id, by tag with `*`,
/// matching nothing, and without pod terms, resolved from what moto says.
#[tokio::test(flavor = "multi_thread")]
async fn cni_subnets_and_nodeclasses_are_resolved_from_the_vpc() {
    use eniwatch_lab::vpc_seed::auto_mode::{self, node_class_object, CNI_ROLE_TAG};
    use serde_json::json;
    let Some(m) = moto::start("NodeClasses resolved against moto") else {
        return;
    };
    let ec2 = eniwatch_lab::ec2_seed::client(&m.endpoint, REGION).await;
    let seeded = vpc_seed::seed(&ec2, &ClusterScenario::healthy(4))
        .await
        .expect("the scenario seeds");
    let z = &seeded.zones;
    const AUTO: &str = "eniwatch.io/auto-pods";
    for (subnet, key, value) in [
        (&z[0].pod_subnet, CNI_ROLE_TAG, "1"),
        (&z[2].pod_subnet, CNI_ROLE_TAG, "1"),
        (&z[2].node_subnet, CNI_ROLE_TAG, "0"),
        (&z[1].pod_subnet, AUTO, "b"),
        (&z[2].pod_subnet, AUTO, "c"),
    ] {
        auto_mode::tag(&ec2, subnet, key, value).await.expect("tag");
    }
    let auto_group = auto_mode::security_group(&ec2, &seeded.vpc_id, "auto-pods", &[(AUTO, "1")])
        .await
        .expect("group");
    let classes = vec![
        node_class_object(
            "by-id",
            json!({"podSubnetSelectorTerms": [{"id": z[0].pod_subnet}],
                   "podSecurityGroupSelectorTerms": [{"id": seeded.pod_security_group}]}),
        ),
        node_class_object(
            "by-tag",
            json!({"podSubnetSelectorTerms": [{"tags": {AUTO: "*"}}],
                   "podSecurityGroupSelectorTerms": [{"tags": {AUTO: "1"}}]}),
        ),
        node_class_object(
            "no-match",
            json!({"podSubnetSelectorTerms": [{"tags": {AUTO: "z"}}],
                   "podSecurityGroupSelectorTerms": [{"id": vpc_seed::MISSING_GROUP}]}),
        ),
        node_class_object(
            "nodes-only",
            json!({"subnetSelectorTerms": [{"id": z[0].node_subnet}]}),
        ),
    ];
    let api = kube::serve_with_node_classes(
        seeded.node_objects(),
        seeded.eni_config_objects(),
        Some(classes),
    )
    .await;
    let (endpoint, kubeconfig, vpc) = (
        m.endpoint.clone(),
        api.kubeconfig.clone(),
        seeded.vpc_id.clone(),
    );
    let out = tokio::task::spawn_blocking(move || {
        check(&endpoint, &kubeconfig, &["--vpc-id", vpc.as_str()])
    })
    .await
    .expect("check ran");
    let r = &out.report;
    let zone = |i: usize, subnet: &str| (vpc_seed::ZONES[i].to_string(), vec![subnet.to_string()]);
    assert_eq!(
        zones(&r["cni_subnets"]),
        [zone(0, &z[0].pod_subnet), zone(2, &z[2].pod_subnet)],
        "{r}"
    );
    let class = |name: &str| {
        r["node_classes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("NodeClass {name} published: {r}"))
    };
    let by_id = class("by-id");
    assert_eq!(zones(&by_id["pod_subnets"]), [zone(0, &z[0].pod_subnet)]);
    assert_eq!(
        by_id["pod_security_groups"],
        json!([seeded.pod_security_group])
    );
    assert!(by_id.get("problems").is_none(), "{by_id}");
    let by_tag = class("by-tag");
    assert_eq!(
        zones(&by_tag["pod_subnets"]),
        [zone(1, &z[1].pod_subnet), zone(2, &z[2].pod_subnet)]
    );
    assert_eq!(by_tag["pod_security_groups"], json!([auto_group]));
    let none = class("no-match");
    assert_eq!(none["problems"].as_array().map(Vec::len), Some(2), "{none}");
    let nodes_only = class("nodes-only");
    assert_eq!(
        nodes_only,
        json!({"name": "nodes-only"}),
        "pods use the node's subnets"
    );
    assert_eq!(
        out.reasons(),
        BTreeSet::new(),
        "NodeClasses raise no finding: {r}"
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.ec2_calls().get("DescribeSecurityGroups"),
        Some(&2),
        "the VPC's groups, then by id only the named group absent from them"
    );
}
