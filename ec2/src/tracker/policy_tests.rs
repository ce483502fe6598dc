//! The call policy against EC2 from memory, on a simulated clock: what is
//! asked, when, and what the view holds in between. Each cycle runs at a
//! whole second; a wait measured in cycles is the policy's wait rounded up
//! to the next cycle.

use std::time::{Duration, Instant};

use super::fake::{attachment, subnet, Call, FakeEc2, Reply, TYPE_FACTS};
use super::*;
use eniwatch_core::checks::fixture;

const POD_SUBNET: &str = "subnet-pods";
const POD_CIDR: &str = "100.64.1.0/24";
const REFRESH: Duration = Duration::from_secs(300);
const THROTTLED: Reply = Reply::Fail("RequestLimitExceeded");

fn pod_subnet() -> SubnetId {
    POD_SUBNET.parse().unwrap()
}

fn eni(n: u8) -> EniId {
    format!("eni-{n:04}").parse().unwrap()
}

/// The fixture's node (three ENIs, pods in `subnet-pods`), its EC2, and the
/// policy, with the clock at whole seconds from `t0`.
struct Node {
    policy: Ec2Policy,
    ec2: FakeEc2,
    imds: InstanceMetadata,
    needs: Ec2Needs,
    t0: Instant,
}

impl Node {
    fn new() -> Node {
        let imds = fixture::imds(&mut fixture::healthy()).clone();
        Node {
            policy: Ec2Policy::new(REFRESH),
            ec2: FakeEc2::of(&imds),
            imds,
            needs: Ec2Needs {
                pod_subnet: Some(pod_subnet()),
                headroom: false,
            },
            t0: Instant::now(),
        }
    }

    /// One cycle at `secs`.
    async fn at(&mut self, secs: u64) -> Ec2View {
        let now = self.t0 + Duration::from_secs(secs);
        self.policy
            .observe(&self.ec2, &self.imds, &self.needs, now)
            .await
    }

    /// A cycle every `step` seconds from `from` until before `to`: the calls
    /// EC2 got, each with the second it was asked in.
    async fn run(&mut self, from: u64, to: u64, step: u64) -> Vec<(u64, Call)> {
        let mut calls = Vec::new();
        for t in (from..to).step_by(step as usize) {
            self.at(t).await;
            calls.extend(self.ec2.take_log().into_iter().map(|c| (t, c)));
        }
        calls
    }

    /// EC2 lists the ENIs of the fixture, the third in this attachment state.
    fn third_eni(&self, state: &str) {
        self.ec2.set_enis(vec![
            attachment(&eni(1), 0, "attached"),
            attachment(&eni(2), 1, "attached"),
            attachment(&eni(3), 2, state),
        ]);
    }
}

/// When `op` was asked.
fn times(calls: &[(u64, Call)], op: &str) -> Vec<u64> {
    calls
        .iter()
        .filter(|(_, c)| c.op() == op)
        .map(|(t, _)| *t)
        .collect()
}

fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Whether a wait measured in cycles of `step` seconds lies in
/// `[nominal, nominal + 20 %]`, the upper end rounded up to a cycle.
fn within_jitter(gap: u64, nominal: u64, step: u64) -> bool {
    gap >= nominal && gap <= nominal + nominal / 5 + step
}

#[tokio::test]
async fn a_steady_node_asks_each_thing_once_at_start_up_and_then_never() {
    let mut node = Node::new();
    let calls = node.run(0, 6 * 3600, 10).await;
    assert_eq!(
        calls,
        vec![
            (0, Call::InstanceType("t3.2xlarge".into())),
            (0, Call::Subnets(vec![pod_subnet()])),
            (0, Call::Enis("i-0123".into())),
        ]
    );
    let view = node.at(6 * 3600).await;
    assert_eq!(node.ec2.take_log(), vec![]);
    assert_eq!(view.instance_type, Ok(TYPE_FACTS));
    assert_eq!(
        view.subnets,
        vec![SubnetLookup {
            id: pod_subnet(),
            facts: Ok(Some(subnet(POD_SUBNET, POD_CIDR, 200))),
        }]
    );
    let attachments = view.attachments.expect("attachments");
    assert_eq!(attachments.imds_enis, vec![eni(1), eni(2), eni(3)]);
    assert!(attachments.enis.iter().all(|a| a.is_attached()));
}

#[tokio::test]
async fn the_instance_type_is_asked_once_while_other_calls_are_due_again() {
    let mut node = Node::new();
    node.needs.headroom = true;
    node.third_eni("attaching");
    let calls = node.run(0, 3600, 10).await;
    assert_eq!(times(&calls, OP_TYPES), vec![0]);
    assert!(times(&calls, OP_SUBNETS).len() > 5, "{calls:?}");
    assert!(times(&calls, OP_ENIS).len() > 30, "{calls:?}");
}

#[tokio::test]
async fn a_subnets_cidr_and_zone_are_asked_once_and_subnets_due_together_share_a_call() {
    let mut node = Node::new();
    // IMDS did not give the primary ENI's CIDR: its subnet is asked too.
    node.imds.enis[0].subnet_cidr = None;
    let node_subnet: SubnetId = "subnet-node".parse().unwrap();
    node.needs.headroom = true;
    let calls = node.run(0, 3600, 10).await;
    let asked: Vec<&Call> = calls.iter().map(|(_, c)| c).collect();
    let subnets: Vec<&&Call> = asked.iter().filter(|c| c.op() == OP_SUBNETS).collect();
    assert_eq!(
        **subnets[0],
        Call::Subnets(vec![pod_subnet(), node_subnet.clone()])
    );
    assert!(
        subnets.len() > 5,
        "the pod subnet is refreshed: {subnets:?}"
    );
    for c in &subnets[1..] {
        assert_eq!(
            ***c,
            Call::Subnets(vec![pod_subnet()]),
            "only free addresses are refreshed"
        );
    }
    let view = node.at(3600).await;
    assert_eq!(view.subnets[1].id, node_subnet);
    let facts = view.subnets[1]
        .facts
        .clone()
        .expect("answered")
        .expect("found");
    assert_eq!(facts.cidr, Some(fixture::net("10.0.1.0/24")));
}

#[tokio::test]
async fn free_addresses_are_refreshed_only_while_needed_at_most_every_refresh_plus_a_fifth() {
    let mut node = Node::new();
    node.needs.headroom = true;
    let calls = node.run(0, 4 * 3600, 1).await;
    let asked = times(&calls, OP_SUBNETS);
    assert!(asked.len() >= 40, "{asked:?}");
    let waits = gaps(&asked);
    for w in &waits {
        assert!(within_jitter(*w, 300, 1), "refresh after {w} s: {asked:?}");
    }
    assert!(
        waits.iter().any(|w| *w != waits[0]),
        "jitter drawn anew: {waits:?}"
    );

    // The count shown is that of the last refresh until the next is due.
    let last = asked[asked.len() - 1];
    node.ec2.set_subnet(subnet(POD_SUBNET, POD_CIDR, 17));
    let free = |v: &Ec2View| v.subnets[0].facts.clone().unwrap().unwrap().available_ips;
    assert_eq!(free(&node.at(last + 299).await), Some(200));
    assert_eq!(free(&node.at(last + 361).await), Some(17));
    assert_eq!(node.ec2.take_log(), vec![Call::Subnets(vec![pod_subnet()])]);

    // No longer needed: no refresh at all.
    node.needs.headroom = false;
    let calls = node.run(last + 362, last + 362 + 4 * 3600, 10).await;
    assert_eq!(calls, vec![]);
}

#[tokio::test]
async fn an_eni_set_change_asks_for_attachments_at_most_once_a_minute() {
    let mut node = Node::new();
    assert_eq!(times(&node.run(0, 100, 10).await, OP_ENIS), vec![0]);
    // A fourth ENI, in IMDS and in EC2.
    let mut fourth = node.imds.enis[2].clone();
    fourth.mac = fixture::mac(4);
    fourth.device_number = 3;
    fourth.interface_id = Some(eni(4));
    node.imds.enis.push(fourth);
    node.ec2.set_enis(
        (1..=4)
            .map(|n| attachment(&eni(n), u32::from(n) - 1, "attached"))
            .collect(),
    );
    assert_eq!(times(&node.run(100, 130, 10).await, OP_ENIS), vec![100]);
    let view = node.at(130).await;
    assert_eq!(view.attachments.unwrap().enis.len(), 4);
    // It goes again at once: asked a minute after the last ask, then never.
    node.imds.enis.pop();
    node.third_eni("attached");
    let calls = node.run(130, 3600, 10).await;
    assert_eq!(times(&calls, OP_ENIS), vec![160], "{calls:?}");
}

#[tokio::test]
async fn an_eni_set_change_refreshes_the_free_addresses_once() {
    let mut node = Node::new();
    node.run(0, 1000, 10).await;
    node.imds.enis.pop();
    node.ec2.set_enis(vec![
        attachment(&eni(1), 0, "attached"),
        attachment(&eni(2), 1, "attached"),
    ]);
    let calls = node.run(1000, 3600, 10).await;
    assert_eq!(
        calls,
        vec![
            (1000, Call::Subnets(vec![pod_subnet()])),
            (1000, Call::Enis("i-0123".into())),
        ]
    );
}

#[tokio::test]
async fn an_eni_not_attached_is_asked_about_once_a_minute_until_it_is() {
    let mut node = Node::new();
    node.third_eni("attaching");
    let calls = node.run(0, 295, 5).await;
    assert_eq!(times(&calls, OP_ENIS), vec![0, 60, 120, 180, 240]);
    node.third_eni("attached");
    let calls = node.run(295, 3600, 5).await;
    assert_eq!(times(&calls, OP_ENIS), vec![300]);
}

#[tokio::test]
async fn an_eni_ec2_does_not_list_yet_is_asked_about_once_a_minute() {
    let mut node = Node::new();
    node.ec2.set_enis(vec![
        attachment(&eni(1), 0, "attached"),
        attachment(&eni(2), 1, "attached"),
    ]);
    let calls = node.run(0, 185, 5).await;
    assert_eq!(times(&calls, OP_ENIS), vec![0, 60, 120, 180]);
}

#[tokio::test]
async fn throttling_backs_off_30_s_doubling_to_15_min_each_at_most_a_fifth_longer() {
    let mut node = Node::new();
    node.ec2.reply(OP_TYPES, THROTTLED);
    let calls = node.run(0, 3 * 3600, 1).await;
    let asked = times(&calls, OP_TYPES);
    assert_eq!(asked[0], 0);
    assert!(asked.len() >= 12, "{asked:?}");
    for (n, wait) in gaps(&asked).into_iter().enumerate() {
        let nominal = (30u64 << n).min(900);
        assert!(
            within_jitter(wait, nominal, 1),
            "wait {n}: {wait} s, {asked:?}"
        );
    }
    assert_eq!(
        times(&calls, OP_SUBNETS),
        vec![0],
        "other calls do not back off"
    );
    let view = node.at(3 * 3600).await;
    let u = view.instance_type.unwrap_err();
    assert_eq!((u.source, u.kind), ("ec2", "throttled"));
    assert!(u.reason.contains("RequestLimitExceeded"), "{u:?}");
}

#[tokio::test]
async fn access_denied_waits_5_min_at_once_then_doubles_to_15_min() {
    let mut node = Node::new();
    node.ec2
        .reply(OP_ENIS, Reply::Fail("UnauthorizedOperation"));
    let calls = node.run(0, 2 * 3600, 1).await;
    let asked = times(&calls, OP_ENIS);
    assert_eq!(asked[0], 0);
    assert!(asked.len() >= 6, "{asked:?}");
    for (n, wait) in gaps(&asked).into_iter().enumerate() {
        let nominal = (300u64 << n).min(900);
        assert!(
            within_jitter(wait, nominal, 1),
            "wait {n}: {wait} s, {asked:?}"
        );
    }
    let view = node.at(2 * 3600).await;
    assert_eq!(view.attachments.unwrap_err().kind, "forbidden");
}

#[tokio::test]
async fn a_success_ends_the_backoff() {
    let mut node = Node::new();
    node.needs.headroom = true;
    node.ec2.reply(OP_SUBNETS, THROTTLED);
    let failed = times(&node.run(0, 200, 1).await, OP_SUBNETS);
    assert_eq!(failed.len(), 3, "{failed:?}");
    node.ec2.reply(OP_SUBNETS, Reply::Answer);
    let answered = times(&node.run(200, 300, 1).await, OP_SUBNETS);
    let [ok] = answered[..] else {
        panic!("one more ask, answered: {answered:?}");
    };
    assert!(within_jitter(ok - failed[2], 120, 1), "{failed:?} {ok}");
    // The next refresh fails: the backoff starts again at 30 s.
    node.ec2.reply(OP_SUBNETS, THROTTLED);
    let asked = times(&node.run(300, ok + 400, 1).await, OP_SUBNETS);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        within_jitter(asked[0] - ok, 300, 1),
        "the refresh: {asked:?}"
    );
    assert!(within_jitter(asked[1] - asked[0], 30, 1), "{asked:?}");
}

#[tokio::test]
async fn a_subnet_ec2_does_not_know_is_believed_absent_for_10_min() {
    let mut node = Node::new();
    node.needs.headroom = true;
    node.ec2.remove_subnet(&pod_subnet());
    let calls = node.run(0, 1800, 10).await;
    assert_eq!(times(&calls, OP_SUBNETS), vec![0, 600, 1200]);
    assert_eq!(node.at(1790).await.subnets[0].facts, Ok(None));
    // Once it exists, the next ask finds it.
    node.ec2.set_subnet(subnet(POD_SUBNET, POD_CIDR, 200));
    let view = node.at(1800).await;
    assert_eq!(node.ec2.take_log(), vec![Call::Subnets(vec![pod_subnet()])]);
    assert_eq!(
        view.subnets[0].facts,
        Ok(Some(subnet(POD_SUBNET, POD_CIDR, 200)))
    );
}

#[tokio::test]
async fn cached_facts_stay_in_use_while_their_calls_back_off() {
    let mut node = Node::new();
    node.needs.headroom = true;
    node.third_eni("attaching");
    let first = node.at(0).await;
    node.ec2.take_log();
    for op in [OP_TYPES, OP_SUBNETS, OP_ENIS] {
        node.ec2.reply(op, THROTTLED);
    }
    node.ec2.set_subnet(subnet(POD_SUBNET, POD_CIDR, 5));
    let calls = node.run(1, 1800, 5).await;
    assert!(
        times(&calls, OP_SUBNETS).len() >= 2,
        "due, and failed: {calls:?}"
    );
    assert!(
        times(&calls, OP_ENIS).len() >= 2,
        "due, and failed: {calls:?}"
    );
    assert!(times(&calls, OP_TYPES).is_empty(), "never asked again");
    let view = node.at(1800).await;
    assert_eq!(view.instance_type, first.instance_type);
    assert_eq!(view.subnets, first.subnets, "the last count answered");
    assert_eq!(view.attachments, first.attachments);
    // A subnet never answered is unknown, with the error.
    node.imds.enis[0].subnet_cidr = None;
    let view = node.at(1805).await;
    assert_eq!(view.subnets[0].facts, first.subnets[0].facts);
    assert_eq!(view.subnets[1].facts.clone().unwrap_err().kind, "throttled");
}

#[tokio::test]
async fn a_call_cut_off_by_the_cycle_limit_backs_off_like_a_failed_one() {
    let mut node = Node::new();
    node.ec2.reply(OP_TYPES, Reply::Hang);
    let limit = Duration::from_millis(50);
    assert!(tokio::time::timeout(limit, node.at(0)).await.is_err());
    node.policy.cancelled(limit, node.t0);
    assert_eq!(
        node.ec2.take_log(),
        vec![Call::InstanceType("t3.2xlarge".into())]
    );
    node.ec2.reply(OP_TYPES, Reply::Answer);
    let calls = node.run(1, 120, 1).await;
    let asked = times(&calls, OP_TYPES);
    assert_eq!(asked.len(), 1, "{calls:?}");
    assert!(within_jitter(asked[0], 30, 1), "{asked:?}");
    assert_eq!(node.at(120).await.instance_type, Ok(TYPE_FACTS));
}
