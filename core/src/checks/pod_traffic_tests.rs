//! `pod-traffic` from hand-built snapshots: rules before the CNI's that take
//! pod traffic elsewhere are one finding per node; the kernel's, the CNI's
//! and harmless host rules stay quiet.

use super::fixture::*;
use super::tests_declared::not_ok;
use super::*;
use crate::model::*;

fn rule(priority: u32, table: u32) -> Rule {
    Rule {
        priority,
        table,
        ..Rule::default()
    }
}

fn route(table: u32, dst: &str, gw: Option<&str>, link: u32) -> Route {
    Route {
        table,
        destination: net(dst),
        gateway: gw.map(ip),
        out_link: Some(link),
    }
}

/// The healthy node with the rules and routes every real node has besides
/// the pods': the kernel's three, the CNI's fwmark and ENI-primary rules,
/// and the main table's default route out of eth0 (link 2).
fn node() -> Snapshot {
    let mut s = healthy();
    let k = kernel(&mut s);
    k.rules.push(rule(0, 255));
    let mut mark = rule(1024, MAIN_TABLE);
    mark.fwmark = Some(0x80);
    mark.fwmask = Some(0x80);
    k.rules.push(mark);
    for (from, table) in [("100.64.1.10/32", 2), ("100.64.1.20/32", 3)] {
        let mut r = rule(32765, table);
        r.source = Some(net(from));
        k.rules.push(r);
    }
    k.rules.push(rule(32766, MAIN_TABLE));
    k.rules.push(rule(32767, 253));
    k.routes
        .push(route(MAIN_TABLE, "0.0.0.0/0", Some("10.0.1.1"), 2));
    s
}

/// `node()` with table 200 routing everything out of eth0, looked up by `r`.
fn with_table_200(r: Rule) -> Snapshot {
    let mut s = node();
    let k = kernel(&mut s);
    k.routes.push(route(200, "0.0.0.0/0", Some("10.0.1.1"), 2));
    k.rules.push(r);
    s
}

fn shadowed(s: &Snapshot) -> Vec<Finding> {
    evaluate(s)
        .findings
        .into_iter()
        .filter(|f| f.reason == Reason::PodTrafficShadowed)
        .collect()
}

fn quiet(s: &Snapshot, what: &str) {
    assert_eq!(status(s, "pod-traffic"), CheckStatus::Ok, "{what}");
    assert!(shadowed(s).is_empty(), "{what}: {:#?}", shadowed(s));
}

#[test]
fn the_kernels_and_the_cnis_rules_are_quiet() {
    quiet(&healthy(), "the fixture");
    let s = node();
    quiet(&s, "with the default rules");
    assert!(reasons(&s).is_empty(), "{:?}", reasons(&s));
    assert_eq!(not_ok(&s), vec![]);
}

#[test]
fn a_rule_from_all_to_another_table_is_one_finding_for_the_node() {
    let s = with_table_200(rule(100, 200));
    let found = shadowed(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[0].subject, Subject::node(NODE));
    let m = &found[0].message;
    assert_eq!(
        m,
        "rule '100: from all lookup 200' comes before the CNI's rules and catches the traffic \
         of 3 pods: traffic from 100.64.1.11 (pod default/a) goes out of eth0 via 10.0.1.1 \
         (table 200, route 0.0.0.0/0) instead of out of eth1 (table 2)"
    );
    assert_eq!(status(&s, "pod-traffic"), CheckStatus::Drift);
    assert_eq!(reasons(&s), vec![Reason::PodTrafficShadowed]);
    assert_eq!(evaluate(&s).overall(), CheckStatus::Drift);
}

#[test]
fn dropping_rules_and_gotos_past_the_cni() {
    let mut r = rule(50, 0);
    r.action = RuleAction::Blackhole;
    r.source = Some(net("100.64.1.0/24"));
    let found = shadowed(&with_table_200(r));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].message.contains(
            "3 pods: traffic from 100.64.1.11 (pod default/a) is dropped (blackhole) instead of \
             going out of eth1 (table 2)"
        ),
        "{}",
        found[0].message
    );
    // Traffic to one pod only.
    let mut r = rule(300, 0);
    r.action = RuleAction::Unreachable;
    r.destination = Some(net("100.64.1.11/32"));
    let found = shadowed(&with_table_200(r));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].message.contains(
            "traffic of 1 pod: traffic to 100.64.1.11 (pod default/a) is dropped (unreachable) \
             instead of going to its veth eni0000000000a (main table)"
        ),
        "{}",
        found[0].message
    );
    // A goto past 1536 skips the CNI's rules; one to 200 does not.
    let mut r = rule(100, 0);
    r.action = RuleAction::Goto;
    r.goto = Some(32000);
    assert_eq!(shadowed(&with_table_200(r.clone())).len(), 1);
    r.goto = Some(200);
    quiet(&with_table_200(r), "goto 200");
}

#[test]
fn rules_that_do_not_take_pod_traffic_elsewhere_are_quiet() {
    // nm-cloud-setup: its tables only for the node's own addresses, and main
    // without the default route.
    let mut own = rule(100, 30400);
    own.source = Some(net("10.0.1.11/32"));
    let mut s = with_table_200(own);
    kernel(&mut s)
        .routes
        .push(route(30400, "0.0.0.0/0", Some("10.0.1.1"), 2));
    let mut main = rule(200, MAIN_TABLE);
    main.suppress_prefixlen = Some(0);
    kernel(&mut s).rules.push(main);
    quiet(&s, "nm-cloud-setup-like rules");
    // lookup main before 512 for traffic to a pod: what 512 does anyway.
    let mut to_pod = rule(100, MAIN_TABLE);
    to_pod.destination = Some(net("100.64.1.11/32"));
    quiet(&with_table_200(to_pod), "to a pod lookup main");
    // A table without a route for the traffic: the kernel goes on.
    quiet(&with_table_200(rule(100, 300)), "an empty table");
    let mut s = with_table_200(rule(100, 300));
    kernel(&mut s)
        .routes
        .push(route(300, "10.9.0.0/16", None, 2));
    quiet(&s, "a table for one range");
    // A table that sends the pod's traffic out of its own ENI.
    let mut one = rule(100, 300);
    one.source = Some(net("100.64.1.11/32"));
    let mut s = with_table_200(one);
    kernel(&mut s)
        .routes
        .push(route(300, "0.0.0.0/0", Some("100.64.1.1"), 3));
    quiet(&s, "the same way out");
    // A destination range: the host's routing decision for it.
    let mut vpn = rule(100, 200);
    vpn.destination = Some(net("10.8.0.0/16"));
    quiet(&with_table_200(vpn), "a rule for one destination range");
}

#[test]
fn marks_interfaces_and_vrfs() {
    // Pod packets enter unmarked: a rule for a mark does not take them.
    let mut marked = rule(100, 200);
    marked.fwmark = Some(0x4000);
    marked.fwmask = Some(0x4000);
    quiet(&with_table_200(marked.clone()), "fwmark 0x4000");
    // `not fwmark M` (wg-quick) takes every unmarked packet.
    marked.invert = true;
    assert_eq!(shadowed(&with_table_200(marked)).len(), 1);
    // Another link's traffic, oif and l3mdev rules: not pod traffic.
    let mut iif = rule(100, 200);
    iif.iif = Some("tun0".into());
    quiet(&with_table_200(iif), "iif tun0");
    let mut oif = rule(100, 200);
    oif.oif = Some("eth0".into());
    quiet(&with_table_200(oif), "oif eth0");
    let mut vrf = rule(1000, 0);
    vrf.l3mdev = true;
    quiet(&with_table_200(vrf), "l3mdev");
    // A pod's own veth as iif: its traffic.
    let mut veth = rule(100, 200);
    veth.iif = Some(format!("eni{:011x}", 10));
    let found = shadowed(&with_table_200(veth));
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("1 pod:"), "{}", found[0].message);
}

#[test]
fn security_groups_for_pods_rules_are_the_cnis() {
    let mut s = node();
    let k = kernel(&mut s);
    k.links.push(Link {
        index: 40,
        name: "vlan.eth.5".into(),
        mac: Some(mac(3)),
        kind: Some("vlan".into()),
        admin_up: true,
        oper_state: "up".into(),
        mtu: Some(9001),
        parent_index: Some(4),
    });
    k.routes
        .push(route(105, "0.0.0.0/0", Some("100.64.1.1"), 40));
    for (priority, iif) in [
        (10, "vlan.eth.5"),
        (10, "vlan0123456789a"),
        (20, "vlan0123456789a"),
    ] {
        let mut r = rule(priority, 105);
        r.iif = Some(iif.into());
        k.rules.push(r);
    }
    let mut from_branch = rule(10, 105);
    from_branch.source = Some(net("100.64.1.50/32"));
    k.rules.push(from_branch);
    quiet(&s, "security groups for pods");
}

#[test]
fn several_rules_are_still_one_finding() {
    let mut one = rule(100, 200);
    one.source = Some(net("100.64.1.11/32"));
    let mut s = with_table_200(one);
    let mut r = rule(150, 0);
    r.action = RuleAction::Prohibit;
    r.destination = Some(net("100.64.1.21/32"));
    kernel(&mut s).rules.push(r);
    let found = shadowed(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    let m = &found[0].message;
    assert!(m.starts_with("rule '100: from 100.64.1.11/32 lookup 200' comes before the CNI's rules and catches the traffic of 1 pod:"), "{m}");
    assert!(
        m.ends_with("; 1 more rule before the CNI's does the same"),
        "{m}"
    );
}

#[test]
fn the_first_rule_that_decides_wins_as_in_the_kernel() {
    // Pod a's traffic is decided at 50, its own ENI's way: the rule at 100
    // never sees it.
    let mut own = rule(50, 2);
    own.iif = Some(format!("eni{:011x}", 10));
    let mut s = node();
    kernel(&mut s).rules.push(own);
    let mut later = rule(100, 200);
    later.source = Some(net("100.64.1.11/32"));
    kernel(&mut s).rules.push(later);
    kernel(&mut s)
        .routes
        .push(route(200, "0.0.0.0/0", Some("10.0.1.1"), 2));
    quiet(&s, "decided before");
    // A goto past the shadowing rule, to a priority before 1536, skips it
    // for traffic from pods; traffic to them (512) is jumped past.
    let mut s = with_table_200(rule(200, 200));
    let mut jump = rule(100, 0);
    jump.action = RuleAction::Goto;
    jump.goto = Some(1000);
    kernel(&mut s).rules.push(jump);
    let found = shadowed(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains(
            "traffic to 100.64.1.11 (pod default/a) jumps to priority 1000, past the CNI's rule at 512"
        ),
        "{}",
        found[0].message
    );
}

#[test]
fn without_the_kernel_or_pods_it_is_unknown() {
    let mut s = with_table_200(rule(100, 200));
    s.kernel = Err(Unavailable::new("kernel", "netlink refused"));
    assert_eq!(status(&s, "pod-traffic"), CheckStatus::Unknown);
    let mut s = with_table_200(rule(100, 200));
    s.expectation = Expectation::Kubernetes(Err(Unavailable::new("kubernetes", "down")));
    assert_eq!(status(&s, "pod-traffic"), CheckStatus::Unknown);
}
