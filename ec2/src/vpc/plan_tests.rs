//! The VPC plan against EC2 from memory, on a simulated clock: what is
//! asked, when, how many attempts any minute holds, and what the facts hold
//! in between. Refreshes run at whole seconds from `t0`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::budget::WINDOW;
use super::fake::{cni_eni, subnet, vpc, Call, FakeVpc, Reply, TYPE_FACTS, VPC};
use super::plan::{OP_ENIS, OP_GROUPS, OP_ROUTES, OP_SUBNETS, OP_TYPES};
use super::*;
use eniwatch_core::checks::fixture::net;
use eniwatch_core::model::{RouteTable, SecurityGroup, SecurityGroupId, SubnetId};

const THROTTLED: Reply = Reply::Fail("RequestLimitExceeded");
const DENIED: Reply = Reply::Fail("UnauthorizedOperation");

struct Cluster {
    plan: VpcPlan,
    ec2: FakeVpc,
    ask: VpcAsk,
    t0: Instant,
}

/// A VPC with a node subnet and a pod subnet, one route table, one group,
/// and two CNI ENIs for each of `nodes` nodes.
fn cluster(nodes: usize, policy: VpcPolicy) -> Cluster {
    let ec2 = FakeVpc::default();
    {
        let mut s = ec2.state();
        s.subnets = vec![
            subnet("subnet-nodes", "10.0.1.0/24", VPC),
            subnet("subnet-pods", "100.64.0.0/16", VPC),
            subnet("subnet-other", "10.1.1.0/24", "vpc-0other"),
        ];
        s.enis = (0..nodes * 2)
            .map(|n| cni_eni(n, "subnet-pods", &format!("i-{:04}", n / 2)))
            .collect();
        s.tables = vec![RouteTable {
            id: "rtb-main".into(),
            main: true,
            subnets: vec![],
            routes: vec![],
        }];
        s.groups = vec![
            SecurityGroup {
                id: "sg-pods".parse().unwrap(),
                vpc_id: Some(vpc()),
                name: Some("pods".into()),
                tags: Default::default(),
            },
            SecurityGroup {
                id: "sg-auto".parse().unwrap(),
                vpc_id: Some(vpc()),
                name: Some("auto".into()),
                tags: [("role".to_string(), "pods".to_string())].into(),
            },
            SecurityGroup {
                id: "sg-elsewhere".parse().unwrap(),
                vpc_id: Some("vpc-0other".parse().unwrap()),
                name: Some("elsewhere".into()),
                tags: Default::default(),
            },
        ];
        s.types.insert("x9.large".into(), TYPE_FACTS);
    }
    Cluster {
        plan: VpcPlan::new(policy),
        ec2,
        ask: VpcAsk {
            vpc_id: Some(vpc()),
            eniconfig_subnets: BTreeSet::from(["subnet-pods".parse().unwrap()]),
            security_groups: BTreeSet::from(["sg-pods".parse().unwrap()]),
            vpc_security_groups: false,
            instance_types: BTreeSet::new(),
        },
        t0: Instant::now(),
    }
}

impl Cluster {
    async fn at(&mut self, secs: u64) -> VpcFacts {
        let now = self.t0 + Duration::from_secs(secs);
        self.plan.refresh(&self.ec2, &self.ask, now).await
    }

    /// A refresh every `step` seconds from `from` until before `to`: every
    /// attempt EC2 got, with the second it was made in.
    async fn run(&mut self, from: u64, to: u64, step: u64) -> Vec<(u64, Call)> {
        let mut calls = Vec::new();
        for t in (from..to).step_by(step as usize) {
            self.at(t).await;
            calls.extend(self.ec2.take_log().into_iter().map(|c| (t, c)));
        }
        calls
    }

    /// Refreshes only when the plan says the next call is due, as the daemon does.
    async fn run_as_daemon(&mut self, to: u64) -> (Vec<(u64, Call)>, usize) {
        let mut calls = Vec::new();
        let mut refreshes = 0;
        let mut t = self.next_second();
        while t < to {
            refreshes += 1;
            self.at(t).await;
            calls.extend(self.ec2.take_log().into_iter().map(|c| (t, c)));
            t = self.next_second().max(t + 1);
        }
        (calls, refreshes)
    }

    /// The plan's next due time, rounded up to a whole second.
    fn next_second(&self) -> u64 {
        let next = self.plan.next_due().duration_since(self.t0);
        next.as_secs() + u64::from(next.subsec_nanos() > 0)
    }
}

fn ops(calls: &[Call]) -> Vec<&'static str> {
    calls.iter().map(|c| c.op).collect()
}

fn times(calls: &[(u64, Call)], op: &str) -> Vec<u64> {
    calls
        .iter()
        .filter(|(_, c)| c.op == op)
        .map(|(t, _)| *t)
        .collect()
}

fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

fn within_jitter(gap: u64, nominal: u64, step: u64) -> bool {
    gap >= nominal && gap <= nominal + nominal / 5 + step
}

#[tokio::test]
async fn the_first_refresh_asks_four_calls_and_returns_every_part() {
    let mut c = cluster(3, VpcPolicy::default());
    let facts = c.at(0).await;
    let log = c.ec2.take_log();
    assert_eq!(ops(&log), [OP_SUBNETS, OP_ENIS, OP_ROUTES, OP_GROUPS]);
    assert_eq!(log[0].what, format!("vpc-id={VPC}"));
    assert_eq!(
        log[1].what,
        format!("vpc-id={VPC} tag-key=node.k8s.amazonaws.com/instance_id")
    );
    assert_eq!(log[3].what, "group-id=sg-pods");
    assert_eq!(facts.vpc_id, Ok(vpc()));
    let subnets = facts.subnets.unwrap();
    assert_eq!(subnets.len(), 2, "only the VPC's: {subnets:?}");
    assert!(facts.subnets_not_found.is_empty());
    assert_eq!(facts.cni_enis.unwrap().len(), 6);
    assert_eq!(facts.prefix_subnet_enis, Ok(vec![]));
    assert_eq!(facts.route_tables.unwrap()[0].id, "rtb-main");
    assert_eq!(facts.security_groups.unwrap().len(), 1);
    assert_eq!(
        facts.security_groups_asked,
        vec!["sg-pods".parse::<SecurityGroupId>().unwrap()]
    );
}

#[tokio::test]
async fn a_steady_cluster_asks_subnets_and_enis_every_5_min_and_routes_every_30() {
    let mut c = cluster(3, VpcPolicy::default());
    let calls = c.run(0, 6 * 3600, 10).await;
    for op in [OP_SUBNETS, OP_ENIS] {
        let g = gaps(&times(&calls, op));
        assert!(g.len() >= 59 && g.len() <= 72, "{op}: {g:?}");
        assert!(g.iter().all(|g| within_jitter(*g, 300, 10)), "{op}: {g:?}");
    }
    for op in [OP_ROUTES, OP_GROUPS] {
        let g = gaps(&times(&calls, op));
        assert!(g.len() >= 9 && g.len() <= 12, "{op}: {g:?}");
        assert!(g.iter().all(|g| within_jitter(*g, 1800, 10)), "{op}: {g:?}");
    }
    assert!(times(&calls, OP_TYPES).is_empty());
}

/// The whole point of the cluster component: the calls do not grow with the
/// nodes, only with the pages of ENIs (1,000 a page).
#[tokio::test]
async fn the_calls_a_refresh_makes_do_not_depend_on_the_node_count() {
    let mut first = Vec::new();
    for nodes in [5, 50, 750] {
        let mut c = cluster(nodes, VpcPolicy::default());
        let facts = c.at(0).await;
        assert_eq!(facts.cni_enis.unwrap().len(), nodes * 2);
        let log = c.ec2.take_log();
        first.push(log.clone());
        // Every later refresh of the ENIs asks as many pages as the first.
        let calls = c.run(1, 3600, 10).await;
        let at = times(&calls, OP_ENIS);
        let refreshes: BTreeSet<u64> = at.iter().copied().collect();
        assert!(refreshes.len() >= 9, "{at:?}");
        let pages = log.iter().filter(|c| c.op == OP_ENIS).count();
        assert_eq!(at.len(), refreshes.len() * pages, "{nodes} nodes: {at:?}");
    }
    assert_eq!(first[0], first[1], "5 and 50 nodes");
    assert_eq!(ops(&first[0]), [OP_SUBNETS, OP_ENIS, OP_ROUTES, OP_GROUPS]);
    // 1,500 ENIs: ceil(1500 / 1000) = 2 pages, the second with the first's token.
    let pages: Vec<&Call> = first[2].iter().filter(|c| c.op == OP_ENIS).collect();
    assert_eq!(pages.len(), 1500_usize.div_ceil(1000));
    assert_eq!(pages[0].token, None);
    assert_eq!(pages[1].token.as_deref(), Some("1000"));
    let others = |log: &[Call]| ops(log).into_iter().filter(|o| *o != OP_ENIS).count();
    assert_eq!(others(&first[2]), others(&first[0]));
}

#[tokio::test]
async fn prefix_subnets_get_every_eni_in_them_and_only_then() {
    let mut c = cluster(2, VpcPolicy::default());
    {
        let mut s = c.ec2.state();
        s.enis[0].prefixes = vec![net("100.64.0.16/28")];
        let mut foreign = cni_eni(99, "subnet-pods", "i-lb");
        foreign.tags.clear();
        s.enis.push(foreign);
    }
    let facts = c.at(0).await;
    let log = c.ec2.take_log();
    assert_eq!(
        ops(&log),
        [OP_SUBNETS, OP_ENIS, OP_ENIS, OP_ROUTES, OP_GROUPS]
    );
    assert_eq!(log[2].what, "subnet-id=subnet-pods");
    assert_eq!(
        facts.cni_enis.unwrap().len(),
        4,
        "the untagged ENI is not the CNI's"
    );
    assert_eq!(facts.prefix_subnet_enis.unwrap().len(), 5);
}

#[tokio::test]
async fn without_a_vpc_id_the_vpc_is_learnt_from_the_eniconfig_subnets_once() {
    let mut c = cluster(1, VpcPolicy::default());
    c.ask.vpc_id = None;
    c.ask.eniconfig_subnets = ["subnet-pods", "subnet-other", "subnet-gone"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let facts = c.at(0).await;
    let log = c.ec2.take_log();
    assert_eq!(
        log[0].what,
        "subnet-id=subnet-gone,subnet-other,subnet-pods"
    );
    assert_eq!(log[1].what, format!("vpc-id={VPC}"));
    assert_eq!(
        ops(&log),
        [OP_SUBNETS, OP_SUBNETS, OP_ENIS, OP_ROUTES, OP_GROUPS]
    );
    assert_eq!(facts.vpc_id, Ok(vpc()));
    assert_eq!(
        facts.subnets_not_found,
        vec!["subnet-gone".parse::<SubnetId>().unwrap()]
    );
    let ids: Vec<String> = facts
        .subnets
        .unwrap()
        .iter()
        .map(|s| s.facts.id.to_string())
        .collect();
    assert_eq!(ids, ["subnet-nodes", "subnet-pods", "subnet-other"]);
    // The next subnet refresh asks the VPC, then only the ENIConfig subnets outside it.
    let calls = c.run(1, 400, 1).await;
    let asked: Vec<&str> = calls
        .iter()
        .filter(|(_, c)| c.op == OP_SUBNETS)
        .map(|(_, c)| c.what.as_str())
        .collect();
    let vpc_filter = format!("vpc-id={VPC}");
    assert_eq!(
        asked,
        [vpc_filter.as_str(), "subnet-id=subnet-gone,subnet-other"]
    );
}

#[tokio::test]
async fn an_eniconfig_subnet_not_seen_yet_is_asked_at_once() {
    let mut c = cluster(1, VpcPolicy::default());
    c.at(0).await;
    c.ec2.take_log();
    assert!(c.run(1, 100, 1).await.is_empty());
    c.ask
        .eniconfig_subnets
        .insert("subnet-other".parse().unwrap());
    c.ask.security_groups.insert("sg-gone".parse().unwrap());
    let calls = c.run(100, 200, 1).await;
    let ops: Vec<_> = calls
        .iter()
        .map(|(t, c)| (*t, c.op, c.what.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (100, OP_SUBNETS, format!("vpc-id={VPC}").as_str()),
            (100, OP_SUBNETS, "subnet-id=subnet-other"),
            (100, OP_GROUPS, "group-id=sg-gone,sg-pods"),
        ]
    );
    let facts = c.at(200).await;
    assert_eq!(facts.security_groups_asked.len(), 2);
    assert_eq!(
        facts.security_groups.unwrap().len(),
        1,
        "sg-gone does not exist"
    );
}

#[tokio::test]
async fn instance_types_are_asked_once_each_at_most_100_a_call() {
    let mut c = cluster(1, VpcPolicy::default());
    c.ask.instance_types = (0..149).map(|n| format!("z{n}.large")).collect();
    c.ask.instance_types.insert("x9.large".into());
    let calls = c.run(0, 3600, 10).await;
    let types: Vec<_> = calls.iter().filter(|(_, c)| c.op == OP_TYPES).collect();
    assert_eq!(types.len(), 2, "150 types: two calls, then never again");
    let facts = c.at(3600).await;
    assert_eq!(facts.instance_types["x9.large"], Ok(TYPE_FACTS));
    let unknown = facts.instance_types["z7.large"].clone().unwrap_err();
    assert_eq!(unknown.kind, "not_found", "{unknown:?}");
}

#[tokio::test]
async fn a_throttled_operation_backs_off_and_its_cached_part_stays_in_use() {
    let mut c = cluster(1, VpcPolicy::default());
    let first = c.at(0).await;
    c.ec2.take_log();
    c.ec2.reply(OP_SUBNETS, THROTTLED);
    let calls = c.run(1, 4 * 3600, 5).await;
    let t = times(&calls, OP_SUBNETS);
    let g = gaps(&t);
    // Due at 300..360, then 30 s, 60, 120, 240, 480, 900, 900...
    for (gap, nominal) in g.iter().zip([30, 60, 120, 240, 480, 900, 900, 900]) {
        assert!(within_jitter(*gap, nominal, 5), "{g:?}");
    }
    let facts = c.at(4 * 3600).await;
    assert_eq!(facts.subnets, first.subnets, "the last answer stays in use");
    // The other operations went on as usual.
    assert!(times(&calls, OP_ENIS).len() >= 35);
}

#[tokio::test]
async fn access_denied_waits_5_min_and_with_nothing_cached_the_part_says_why() {
    let mut c = cluster(1, VpcPolicy::default());
    c.ec2.reply(OP_ROUTES, DENIED);
    let facts = c.at(0).await;
    let e = facts.route_tables.unwrap_err();
    assert_eq!(e.kind, "forbidden");
    assert!(
        facts.cni_enis.is_ok(),
        "one denied call does not stop the others"
    );
    c.ec2.take_log();
    let t = times(&c.run(1, 1300, 1).await, OP_ROUTES);
    assert!(within_jitter(t[0], 300, 1), "{t:?}");
    assert!(within_jitter(t[1] - t[0], 600, 1), "{t:?}");
}

/// Every attempt's time is recorded; no 60 s window holds more than the
/// budget, what the budget held is counted and asked later, and the daemon
/// sleeps between refreshes instead of spinning.
#[tokio::test]
async fn no_60_s_window_holds_more_attempts_than_the_budget() {
    let policy = VpcPolicy {
        calls_per_minute: 4,
        ..VpcPolicy::default()
    };
    let mut c = cluster(750, policy);
    c.ask.instance_types = (0..250).map(|n| format!("z{n}.large")).collect();
    c.ask
        .eniconfig_subnets
        .insert("subnet-other".parse().unwrap());
    let first = c.at(0).await;
    let mut calls: Vec<(u64, Call)> = c.ec2.take_log().into_iter().map(|c| (0, c)).collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(
        first.route_tables.is_err(),
        "deferred with nothing cached: unknown"
    );
    assert_eq!(first.route_tables.unwrap_err().kind, "throttled");
    let (more, refreshes) = c.run_as_daemon(3 * 3600).await;
    calls.extend(more);
    let at: Vec<u64> = calls.iter().map(|(t, _)| *t).collect();
    for start in &at {
        let n = at
            .iter()
            .filter(|t| **t >= *start && **t < start + WINDOW.as_secs())
            .count();
        assert!(n <= 4, "{n} attempts in the minute from {start}: {calls:?}");
    }
    let deferred = c.plan.gate.deferred().clone();
    assert!(
        deferred.get(OP_ROUTES).is_some_and(|n| *n > 0),
        "{deferred:?}"
    );
    assert!(
        deferred.get(OP_TYPES).is_some_and(|n| *n > 0),
        "{deferred:?}"
    );
    assert!(refreshes < 200, "{refreshes} refreshes in 3 h");
    let facts = c.at(3 * 3600).await;
    assert!(facts.route_tables.is_ok() && facts.security_groups.is_ok());
    assert!(facts
        .instance_types
        .values()
        .all(|t| t.as_ref().is_err_and(|e| e.kind == "not_found")));
}

#[tokio::test]
async fn next_due_is_the_earliest_part_after_backoff_and_budget() {
    let mut c = cluster(1, VpcPolicy::default());
    c.at(0).await;
    let due = c.plan.next_due().duration_since(c.t0).as_secs();
    assert!((300..=360).contains(&due), "{due}");
    c.ask.instance_types.insert("x9.large".into());
    c.ec2.reply(OP_TYPES, THROTTLED);
    c.at(10).await;
    let due = c.plan.next_due().duration_since(c.t0).as_secs();
    assert!((40..=46).contains(&due), "backing off from 10: {due}");
}

#[path = "plan_tests_groups.rs"]
mod groups;
