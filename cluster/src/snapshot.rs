//! From what the sources read to what the checks judge: the question for
//! EC2 ([`VpcAsk`]), the [`ClusterSnapshot`], and the history of ENIs seen
//! unattached that the running component keeps between refreshes.

use std::collections::BTreeSet;

use eniwatch_core::model::{EniConfig, NetworkInterface, Observed, Unavailable, VpcFacts, VpcId};
use eniwatch_ec2::VpcAsk;
use jiff::Timestamp;

use crate::model::{ClusterNode, ClusterSnapshot, EniHistory};
use crate::node_classes::{self, NodeClass};

/// What to ask EC2, from the ENIConfigs, NodeClasses and Nodes read now. A
/// part that could not be read asks for nothing of its own (EC2 keeps the
/// rest).
pub fn vpc_ask(
    vpc_id: Option<&VpcId>,
    nodes: &Observed<Vec<ClusterNode>>,
    eni_configs: &Observed<Option<Vec<EniConfig>>>,
    classes: &Observed<Option<Vec<NodeClass>>>,
) -> VpcAsk {
    let configs: &[EniConfig] = match eni_configs {
        Ok(Some(c)) => c,
        _ => &[],
    };
    let classes: &[NodeClass] = match classes {
        Ok(Some(c)) => c,
        _ => &[],
    };
    let instance_types: BTreeSet<String> = match nodes {
        Ok(nodes) => nodes
            .iter()
            .filter(|n| n.out_of_scope.is_none())
            .filter_map(|n| n.instance_type.clone())
            .filter(|t| eniwatch_core::instance_limits::lookup(t).is_none())
            .collect(),
        Err(_) => BTreeSet::new(),
    };
    VpcAsk {
        vpc_id: vpc_id.cloned(),
        eniconfig_subnets: configs.iter().filter_map(|c| c.subnet.clone()).collect(),
        security_groups: configs
            .iter()
            .flat_map(|c| c.security_groups.iter().cloned())
            .chain(node_classes::named_groups(classes))
            .collect(),
        vpc_security_groups: node_classes::needs_vpc_groups(classes),
        instance_types,
    }
}

/// An ENI the CNI created that is attached to nothing (yet, or any more).
fn unattached(eni: &NetworkInterface) -> bool {
    let detached = eni
        .attachment
        .as_ref()
        .is_none_or(|a| a.instance_id.is_none() || a.status.as_deref() == Some("detached"));
    eni.status.as_deref() == Some("available") || detached
}

/// Brings the history up to date with the ENIs EC2 listed now: an ENI seen
/// unattached for the first time is dated `now`; one attached again, or
/// gone, is forgotten. When the ENIs could not be listed the history stays
/// as it was (an outage does not reset the ages).
pub fn update_history(history: &mut EniHistory, vpc: &VpcFacts, now: Timestamp) {
    let Ok(enis) = &vpc.cni_enis else {
        return;
    };
    let unattached_now: BTreeSet<_> = enis
        .iter()
        .filter(|e| unattached(e))
        .map(|e| e.id.clone())
        .collect();
    history
        .first_seen_unattached
        .retain(|id, _| unattached_now.contains(id));
    for id in unattached_now {
        history.first_seen_unattached.entry(id).or_insert(now);
    }
}

/// Everything one judgement needs, with a copy of the history.
pub struct Parts {
    pub nodes: Observed<Vec<ClusterNode>>,
    pub eni_configs: Observed<Option<Vec<EniConfig>>>,
    pub node_classes: Observed<Option<Vec<NodeClass>>>,
    pub vpc: VpcFacts,
}

pub fn snapshot(
    parts: Parts,
    config: &crate::cli::Config,
    history: &EniHistory,
    now: Timestamp,
) -> ClusterSnapshot {
    ClusterSnapshot {
        now,
        nodes: parts.nodes,
        eni_configs: parts.eni_configs,
        node_classes: parts.node_classes,
        selection: config.selection.clone(),
        vpc: parts.vpc,
        history: history.clone(),
        settings: config.settings.clone(),
    }
}

/// The VPC when EC2 could not be asked at all: every part `why`.
pub fn vpc_unavailable(why: &Unavailable) -> VpcFacts {
    VpcFacts {
        vpc_id: Err(why.clone()),
        subnets: Err(why.clone()),
        subnets_not_found: Vec::new(),
        route_tables: Err(why.clone()),
        security_groups: Err(why.clone()),
        security_groups_asked: Vec::new(),
        cni_enis: Err(why.clone()),
        prefix_subnet_enis: Err(why.clone()),
        instance_types: Default::default(),
    }
}

/// Whether EC2 answered every part this refresh (`eniwatch_cluster_source_up{source="ec2"}`).
pub fn ec2_up(vpc: &VpcFacts) -> bool {
    vpc.subnets.is_ok()
        && vpc.cni_enis.is_ok()
        && vpc.route_tables.is_ok()
        && vpc.security_groups.is_ok()
}

/// Why EC2 is not fully read, in words (the first part that failed).
pub fn ec2_error(vpc: &VpcFacts) -> Option<String> {
    [
        vpc.subnets.as_ref().err(),
        vpc.cni_enis.as_ref().err(),
        vpc.route_tables.as_ref().err(),
        vpc.security_groups.as_ref().err(),
        vpc.vpc_id.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .next()
    .map(|u| u.reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eniwatch_core::model::EniAttachmentFacts;

    fn eni(id: &str, status: &str, attached: Option<&str>) -> NetworkInterface {
        NetworkInterface {
            id: id.parse().unwrap(),
            subnet_id: None,
            vpc_id: None,
            status: Some(status.into()),
            interface_type: Some("interface".into()),
            attachment: attached.map(|i| EniAttachmentFacts {
                instance_id: Some(i.into()),
                status: Some("attached".into()),
                device_index: Some(1),
                network_card_index: Some(0),
            }),
            private_ips: vec![],
            prefixes: vec![],
            tags: Default::default(),
        }
    }

    fn facts(enis: Observed<Vec<NetworkInterface>>) -> VpcFacts {
        VpcFacts {
            cni_enis: enis,
            ..vpc_unavailable(&Unavailable::new("ec2", "x"))
        }
    }

    #[test]
    fn history_dates_unattached_enis_once_and_forgets_attached_ones() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let mut h = EniHistory::default();
        let v = facts(Ok(vec![
            eni("eni-0a", "available", None),
            eni("eni-0b", "in-use", Some("i-1")),
        ]));
        update_history(&mut h, &v, t0);
        assert_eq!(h.first_seen_unattached.len(), 1);
        update_history(&mut h, &v, t1);
        let a: eniwatch_core::model::EniId = "eni-0a".parse().unwrap();
        assert_eq!(h.first_seen_unattached[&a], t0, "first seen stays");
        update_history(&mut h, &facts(Err(Unavailable::new("ec2", "down"))), t1);
        assert_eq!(h.first_seen_unattached.len(), 1, "an outage keeps the ages");
        let v = facts(Ok(vec![eni("eni-0a", "in-use", Some("i-1"))]));
        update_history(&mut h, &v, t1);
        assert!(h.first_seen_unattached.is_empty());
    }

    #[test]
    fn the_question_for_ec2() {
        let configs = Ok(Some(vec![EniConfig {
            name: "a".into(),
            subnet: Some("subnet-0a".parse().unwrap()),
            security_groups: vec!["sg-01".parse().unwrap()],
            problems: vec![],
        }]));
        let ask = vpc_ask(None, &Ok(vec![]), &configs, &Ok(None));
        assert_eq!(ask.eniconfig_subnets.len(), 1);
        assert_eq!(ask.security_groups.len(), 1);
        assert!(!ask.vpc_security_groups);
        let ask = vpc_ask(None, &Ok(vec![]), &Ok(None), &Ok(None));
        assert!(ask.eniconfig_subnets.is_empty());
        let classes = Ok(Some(vec![
            node_classes::node_class_from_spec(
                "by-id".into(),
                Some(&serde_json::json!({"podSecurityGroupSelectorTerms": [{"id": "sg-02"}]})),
            ),
            node_classes::node_class_from_spec(
                "by-tag".into(),
                Some(&serde_json::json!({"podSecurityGroupSelectorTerms": [{"tags": {"a": "*"}}]})),
            ),
        ]));
        let ask = vpc_ask(None, &Ok(vec![]), &configs, &classes);
        assert_eq!(
            ask.security_groups.len(),
            2,
            "the ENIConfig's and the NodeClass's"
        );
        assert!(ask.vpc_security_groups, "a NodeClass selects groups by tag");
    }
}
