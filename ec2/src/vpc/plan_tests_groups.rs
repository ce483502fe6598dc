//! The groups of the VPC, listed when a NodeClass selects pod groups by tag.

use super::*;

#[tokio::test]
async fn a_nodeclass_by_tag_lists_the_vpcs_groups_then_only_the_named_ones_outside_it() {
    let mut c = cluster(1, VpcPolicy::default());
    c.at(0).await;
    c.ec2.take_log();
    c.ask.vpc_security_groups = true;
    c.ask
        .security_groups
        .insert("sg-elsewhere".parse().unwrap());
    c.ask.security_groups.insert("sg-gone".parse().unwrap());
    let calls = c.run(10, 100, 1).await;
    let ops: Vec<_> = calls
        .iter()
        .map(|(t, c)| (*t, c.op, c.what.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (10, OP_GROUPS, format!("vpc-id={VPC}").as_str()),
            (10, OP_GROUPS, "group-id=sg-elsewhere,sg-gone"),
        ],
        "sg-pods is in the VPC's answer: not asked again"
    );
    let facts = c.at(100).await;
    let mut ids: Vec<String> = facts
        .security_groups
        .unwrap()
        .iter()
        .map(|g| g.id.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["sg-auto", "sg-elsewhere", "sg-pods"]);
    assert_eq!(facts.security_groups_asked.len(), 3);
    c.ec2.take_log();
    let later = c.run(101, 1800, 10).await;
    assert!(
        later.iter().all(|(_, call)| call.op != OP_GROUPS),
        "no group call until the route refresh: {later:?}"
    );
}
