//! What every cluster check reads, derived once per judgement from the
//! snapshot: the nodes in scope with the ENIConfig each selects and its zone,
//! the ENIConfigs and subnets by name and id, which subnets pods use and
//! which the nodes sit in, and which pod subnets use prefix delegation.
//! Nothing here judges; a part EC2 or the API could not give stays an `Err`
//! with the reason, for the checks that need it to say *unknown*.

use std::collections::{BTreeMap, BTreeSet};

use eniwatch_core::expectation::selection::{select_eniconfig, Selection};
use eniwatch_core::model::{EniConfig, Observed, Subnet, SubnetId};

use super::demand::{subnet_demand, Demand};
use super::prefixes::free_blocks;
use crate::model::{ClusterNode, ClusterSnapshot};

/// A zone as a node label or a subnet names it: by id, by name, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Zone<'s> {
    pub id: Option<&'s str>,
    pub name: Option<&'s str>,
}

impl<'s> Zone<'s> {
    pub fn of_node(node: &'s ClusterNode) -> Zone<'s> {
        Zone {
            id: node.zone_id.as_deref(),
            name: node.zone.as_deref(),
        }
    }

    pub fn of_subnet(subnet: &'s Subnet) -> Zone<'s> {
        Zone {
            id: subnet.facts.availability_zone_id.as_deref(),
            name: subnet.facts.availability_zone.as_deref(),
        }
    }

    /// What nodes are grouped by: the zone id, else the name.
    pub fn key(&self) -> Option<&'s str> {
        self.id.or(self.name)
    }

    /// Whether two zones are the same. Names map to zones differently in
    /// each account (a shared subnet), ids do not: names are compared only
    /// when a side has no id. None when neither can be compared.
    pub fn same(&self, other: &Zone<'_>) -> Option<bool> {
        match (self.id, other.id, self.name, other.name) {
            (Some(a), Some(b), _, _) => Some(a == b),
            (_, _, Some(a), Some(b)) => Some(a == b),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match (self.name, self.id) {
            (Some(n), Some(i)) => format!("{n} ({i})"),
            (Some(n), None) => n.to_string(),
            (None, Some(i)) => i.to_string(),
            (None, None) => "an unlabelled zone".to_string(),
        }
    }
}

/// A node eniwatch judges (not out of scope), with what it selects.
#[derive(Debug)]
pub(crate) struct NodeView<'s> {
    pub node: &'s ClusterNode,
    pub selection: Selection,
    pub zone: Zone<'s>,
}

impl NodeView<'_> {
    pub fn name(&self) -> &str {
        &self.node.info.name
    }
}

/// A subnet an ENIConfig names.
#[derive(Debug, Default)]
pub(crate) struct PodSubnet<'s> {
    /// The ENIConfigs naming it, sorted.
    pub eniconfigs: Vec<&'s str>,
    /// Indexes into [`Context::nodes`] of the nodes selecting one of them.
    pub nodes: Vec<usize>,
}

impl PodSubnet<'_> {
    /// The ENIConfig a finding about the subnet is filed on.
    pub fn subject(&self) -> &str {
        self.eniconfigs.first().copied().unwrap_or_default()
    }

    pub fn named_by(&self) -> String {
        let names: Vec<String> = self.eniconfigs.iter().map(|n| format!("{n:?}")).collect();
        format!("ENIConfig {}", names.join(", "))
    }
}

pub(crate) struct Context<'s> {
    pub snapshot: &'s ClusterSnapshot,
    /// Nodes in scope, sorted by name.
    pub nodes: Result<Vec<NodeView<'s>>, &'s str>,
    /// Every node (in scope or not) by instance id: whether an instance is a
    /// node of the cluster.
    pub instances: BTreeMap<&'s str, &'s ClusterNode>,
    /// None: the ENIConfig CRD is not installed.
    pub eni_configs: Result<Option<BTreeMap<&'s str, &'s EniConfig>>, &'s str>,
    pub subnets: Result<BTreeMap<&'s SubnetId, &'s Subnet>, &'s str>,
    pub pod_subnets: BTreeMap<&'s SubnetId, PodSubnet<'s>>,
    /// Subnets some node in scope has an InternalIP in, with their node count.
    pub node_subnets: BTreeMap<&'s SubnetId, u32>,
    /// Pod subnets where some CNI ENI holds a delegated prefix.
    pub prefix_subnets: Result<BTreeSet<&'s SubnetId>, &'s str>,
    /// Demand and free /28 blocks of each pod subnet.
    pub figures: BTreeMap<&'s SubnetId, Figures>,
}

/// What a pod subnet's headroom is judged on, derived once for the check,
/// the summaries and the metrics.
#[derive(Debug)]
pub(crate) struct Figures {
    pub demand: Demand,
    /// Ok(None): the subnet does not use prefixes (or its size is unknown).
    pub free_prefixes: Result<Option<u64>, String>,
}

fn reason<T>(o: &Observed<T>) -> Result<&T, &str> {
    o.as_ref().map_err(|u| u.reason.as_str())
}

impl<'s> Context<'s> {
    pub fn new(snapshot: &'s ClusterSnapshot) -> Context<'s> {
        let nodes = reason(&snapshot.nodes).map(|nodes| {
            let mut views: Vec<NodeView<'s>> = nodes
                .iter()
                .filter(|n| n.out_of_scope.is_none())
                .map(|node| NodeView {
                    node,
                    selection: select_eniconfig(&node.info, &snapshot.selection),
                    zone: Zone::of_node(node),
                })
                .collect();
            views.sort_by(|a, b| a.name().cmp(b.name()));
            views
        });
        let instances = snapshot
            .nodes
            .iter()
            .flatten()
            .filter_map(|n| Some((n.instance_id.as_deref()?, n)))
            .collect();
        let eni_configs = reason(&snapshot.eni_configs).map(|c| {
            c.as_ref()
                .map(|list| list.iter().map(|c| (c.name.as_str(), c)).collect())
        });
        let subnets = reason(&snapshot.vpc.subnets)
            .map(|list| list.iter().map(|s| (&s.facts.id, s)).collect());
        let mut ctx = Context {
            snapshot,
            nodes,
            instances,
            eni_configs,
            subnets,
            pod_subnets: BTreeMap::new(),
            node_subnets: BTreeMap::new(),
            prefix_subnets: Err(""),
            figures: BTreeMap::new(),
        };
        ctx.pod_subnets = ctx.find_pod_subnets();
        ctx.node_subnets = ctx.find_node_subnets();
        ctx.prefix_subnets = reason(&snapshot.vpc.cni_enis).map(|enis| {
            enis.iter()
                .filter(|e| !e.prefixes.is_empty())
                .filter_map(|e| e.subnet_id.as_ref())
                .filter_map(|id| ctx.pod_subnets.get_key_value(id).map(|(k, _)| *k))
                .collect()
        });
        ctx.figures = ctx
            .pod_subnets
            .iter()
            .map(|(id, pod)| (*id, ctx.figures_of(id, pod)))
            .collect();
        ctx
    }

    fn figures_of(&self, id: &SubnetId, pod: &PodSubnet<'_>) -> Figures {
        let demand = subnet_demand(self, id, pod);
        let uses_prefixes = self.prefix_subnets.as_ref().is_ok_and(|s| s.contains(id));
        let cidr = self.subnet(id).and_then(|s| s.facts.cidr);
        let free_prefixes = match (uses_prefixes, cidr, &self.snapshot.vpc.prefix_subnet_enis) {
            (false, _, _) | (_, None, _) => Ok(None),
            (true, Some(_), Err(u)) => Err(u.reason.clone()),
            (true, Some(cidr), Ok(others)) => {
                let cni = self.snapshot.vpc.cni_enis.iter().flatten();
                Ok(free_blocks(id, cidr, others.iter().chain(cni)))
            }
        };
        Figures {
            demand,
            free_prefixes,
        }
    }

    fn find_pod_subnets(&self) -> BTreeMap<&'s SubnetId, PodSubnet<'s>> {
        let mut out: BTreeMap<&'s SubnetId, PodSubnet<'s>> = BTreeMap::new();
        let Ok(Some(configs)) = &self.eni_configs else {
            return out;
        };
        for (name, cfg) in configs {
            if let Some(id) = &cfg.subnet {
                out.entry(id).or_default().eniconfigs.push(name);
            }
        }
        if let Ok(nodes) = &self.nodes {
            for (i, n) in nodes.iter().enumerate() {
                let subnet = configs
                    .get(n.selection.name.as_str())
                    .and_then(|c| c.subnet.as_ref());
                if let Some(p) = subnet.and_then(|id| out.get_mut(id)) {
                    p.nodes.push(i);
                }
            }
        }
        out
    }

    fn find_node_subnets(&self) -> BTreeMap<&'s SubnetId, u32> {
        let mut out = BTreeMap::new();
        let (Ok(nodes), Ok(subnets)) = (&self.nodes, &self.subnets) else {
            return out;
        };
        let cidrs: Vec<_> = subnets
            .iter()
            .filter_map(|(id, s)| Some((*id, s.facts.cidr?)))
            .collect();
        for n in nodes {
            let mut seen = BTreeSet::new();
            for ip in &n.node.internal_ips {
                if let Some((id, _)) = cidrs.iter().find(|(_, c)| c.contains(ip)) {
                    seen.insert(*id);
                }
            }
            for id in seen {
                *out.entry(id).or_insert(0) += 1;
            }
        }
        out
    }

    /// The nodes selecting the subnet (empty when nodes are unavailable).
    pub fn pod_subnet_nodes(&self, pod: &PodSubnet<'_>) -> Vec<&NodeView<'s>> {
        match &self.nodes {
            Ok(nodes) => pod.nodes.iter().filter_map(|i| nodes.get(*i)).collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn subnet(&self, id: &SubnetId) -> Option<&'s Subnet> {
        self.subnets.as_ref().ok()?.get(id).copied()
    }
}
