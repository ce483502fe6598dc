//! `pod-traffic`: no policy rule ahead of the CNI's sends pod traffic
//! elsewhere. `pod-rules` proves the CNI's 512 and 1536 rules exist; the
//! kernel evaluates rules by priority, so a rule before them that matches pod
//! traffic decides instead (a host tool's table, a VPN's, a drop). This is a
//! property of the node's rule list, so it is its own check with one finding
//! per node (the first such rule, how many pods it catches), not per pod.
//!
//! Two flows per pod are judged, as the CNI routes them:
//! - *to the pod* (`to <pod> lookup main` at 512): a packet from anywhere,
//!   arriving on an ENI link, with no mark;
//! - *from the pod* (`from <pod> lookup <ENI table>` at 1536; `main` at 32766
//!   for a pod still on the primary ENI): a packet from the pod's IP, entering
//!   by its host veth, to anywhere, with no mark.
//!
//! A rule before that priority *matches* the flow when its selector can match
//! such a packet: `from all` or a source containing the pod IP; `to all` or,
//! for traffic to the pod, a destination containing it (a rule for one
//! destination range diverts only the traffic to that range, the host's
//! routing decision for it, e.g. a VPN's: not judged); no `iif`, or the
//! pod's veth (from the pod) or an ENI link (to the pod); `not` inverts.
//! `fwmark` rules match only marked packets, and pod packets enter unmarked:
//! a rule for a mark (other than 0) is not judged, as what marks packets
//! (iptables) is not observed; a rule for mark 0, or `not fwmark M`, matches
//! every unmarked pod packet and is judged. `oif` and `l3mdev` rules never
//! match forwarded pod traffic.
//!
//! Rules are walked as the kernel walks them: the first matching rule that
//! decides (finds a route, drops) ends the walk, so a rule behind one that
//! already sends the flow the CNI's way changes nothing. A deciding rule
//! *shadows* when it sends the flow elsewhere, judged by where its table
//! routes it: `blackhole`/`unreachable`/`prohibit`, a `goto`
//! past the CNI's rule, or a lookup whose route for the flow (the pod's /32
//! for traffic to it, the default route for traffic from it, minus what
//! `suppress_prefixlength` hides) leaves by another link than the CNI's
//! table would use. A table with no such route is not harm: the kernel then
//! goes on to the next rule. So `lookup main` before 512 for traffic to a
//! pod, or a table whose default route also leaves by the pod's ENI, is quiet.
//!
//! Never findings: the kernel's and the CNI's own rules ([`super::cni_rules`]).

use std::net::Ipv4Addr;

use super::cni_rules::{is_default, MAIN_PRIORITY};
use super::context::{is_host_veth, Context, EniRole};
use super::dataplane::{FROM_POD_PRIORITY, TO_POD_PRIORITY};
use super::pod_placement::pod_subject;
use super::rule_text::{describe, describe_route};
use super::{Finding, Outcome, Reason, Subject};
use crate::model::{KernelState, Link, PodInfo, Route, Rule, RuleAction, MAIN_TABLE};

/// One flow of one pod, and where the CNI means it to go.
struct Flow<'a> {
    pod: &'a PodInfo,
    ip: Ipv4Addr,
    /// Traffic to the pod (else from it).
    inbound: bool,
    /// The CNI's rule for it; only rules before this one can shadow it.
    priority: u32,
    /// The table the CNI's rule looks up.
    table: u32,
    /// The CNI's route for it: the link it leaves by.
    link: &'a Link,
    /// The pod's host veth.
    veth: &'a str,
}

/// A rule that shadows pod traffic: what it does to the first flow it
/// catches, and the pods it catches.
struct Shadow<'r> {
    rule: &'r Rule,
    example: String,
    pods: Vec<Ipv4Addr>,
}

/// `pod-traffic`: nothing before the CNI's rules takes pod traffic elsewhere.
pub(crate) fn pod_traffic(ctx: &Context) -> Outcome {
    let kernel = match (&ctx.kernel, &ctx.pods) {
        (Err(r), _) => return Outcome::unknown(format!("kernel: {r}")),
        (_, Err(r)) => return Outcome::unknown(format!("pods: {r}")),
        (Ok(k), Ok(_)) => *k,
    };
    let pods = ctx.routed_pods();
    let mut flows: Vec<Flow> = pods
        .iter()
        .flat_map(|(pod, ip)| flows_of(ctx, kernel, pod, *ip))
        .collect();
    // Traffic from pods first, lowest address first: the example a finding gives.
    flows.sort_by_key(|f| (f.inbound, f.ip));
    let eni_links: Vec<&str> = ctx
        .enis
        .iter()
        .filter_map(|e| e.link.map(|l| l.name.as_str()))
        .collect();
    let mut rules: Vec<&Rule> = kernel
        .rules
        .iter()
        .filter(|r| !is_default(ctx, kernel, r))
        .collect();
    rules.sort_by_key(|r| r.priority);
    let mut shadows: Vec<Shadow> = Vec::new();
    for flow in &flows {
        let Some((rule, harm)) = verdict(kernel, &rules, flow, &eni_links) else {
            continue;
        };
        match shadows.iter_mut().find(|s| std::ptr::eq(s.rule, rule)) {
            Some(s) => s.pods.push(flow.ip),
            None => shadows.push(Shadow {
                rule,
                example: harm,
                pods: vec![flow.ip],
            }),
        }
    }
    shadows.sort_by_key(|s| s.rule.priority);
    let mut out = Outcome::ok(format!(
        "no rule before the CNI's takes the traffic of {} pods elsewhere",
        pods.len()
    ));
    if ctx.imds.is_err() && !pods.is_empty() {
        out.unknown = Some("IMDS is unavailable, so traffic from pods was not judged".into());
    }
    if let Some(first) = shadows.first() {
        out.findings.push(finding(ctx, first, shadows.len() - 1));
    }
    out
}

fn finding(ctx: &Context, s: &Shadow, others: usize) -> Finding {
    let mut pods = s.pods.clone();
    pods.sort();
    pods.dedup();
    let n = pods.len();
    let mut message = format!(
        "rule '{}' comes before the CNI's rules and catches the traffic of {n} pod{}: {}",
        describe(s.rule),
        if n == 1 { "" } else { "s" },
        s.example
    );
    if others > 0 {
        message.push_str(&format!(
            "; {others} more rule{} before the CNI's do{} the same",
            if others == 1 { "" } else { "s" },
            if others == 1 { "es" } else { "" }
        ));
    }
    Finding::new(
        "",
        Reason::PodTrafficShadowed,
        Subject::node(ctx.node_name.clone()),
        message,
    )
}

/// `traffic from 100.64.1.11 (pod default/a)`.
fn flow_words(flow: &Flow) -> String {
    let pod = pod_subject(flow.pod);
    let who = match &pod.namespace {
        Some(ns) => format!("pod {ns}/{}", pod.name),
        None => format!("pod {}", pod.name),
    };
    let dir = if flow.inbound { "to" } else { "from" };
    format!("traffic {dir} {} ({who})", flow.ip)
}

/// Where the CNI sends the flow.
fn intended(flow: &Flow) -> String {
    if flow.inbound {
        format!("to its veth {} (main table)", flow.veth)
    } else {
        format!("out of {} (table {})", flow.link.name, flow.table)
    }
}

/// The pod's two flows, where the CNI's route for each is known.
fn flows_of<'f>(
    ctx: &'f Context,
    kernel: &'f KernelState,
    pod: &'f PodInfo,
    ip: Ipv4Addr,
) -> Vec<Flow<'f>> {
    let link_of = |r: &Route| {
        r.out_link
            .and_then(|i| kernel.links.iter().find(|l| l.index == i))
    };
    // No /32 route via a veth: PodRouteMissing's, and nothing to compare with.
    let veth = best_route(kernel, MAIN_TABLE, ip, None)
        .filter(|r| r.destination.prefix_len() == 32)
        .and_then(link_of)
        .filter(|l| is_host_veth(l, &ctx.snapshot.veth_prefix));
    let Some(veth) = veth else {
        return Vec::new();
    };
    let mut flows = vec![Flow {
        pod,
        ip,
        inbound: true,
        priority: TO_POD_PRIORITY,
        table: MAIN_TABLE,
        link: veth,
        veth: &veth.name,
    }];
    let (priority, table) = match ctx.owner_of(ip) {
        Some(o) if o.role == EniRole::Primary => (MAIN_PRIORITY, MAIN_TABLE),
        Some(o) => (FROM_POD_PRIORITY, o.meta.route_table()),
        // An IP on no ENI is PodIPNotOnAnyENI's; IMDS unknown: not judged.
        None => return flows,
    };
    // The ENI's table without a default route is ENINotConfigured's.
    if let Some(link) = default_route(kernel, table, None).and_then(link_of) {
        flows.push(Flow {
            pod,
            ip,
            inbound: false,
            priority,
            table,
            link,
            veth: &veth.name,
        });
    }
    flows
}

/// Whether the rule's selector can match the flow's packets.
fn selects(r: &Rule, flow: &Flow, eni_links: &[&str]) -> bool {
    if r.oif.is_some() || r.l3mdev {
        return false;
    }
    let (src_ok, dst_ok, iif_ok) = if flow.inbound {
        (
            r.source.is_none_or(|n| n.prefix_len() == 0),
            r.destination.is_none_or(|n| n.contains(&flow.ip)),
            r.iif.as_deref().is_none_or(|i| eni_links.contains(&i)),
        )
    } else {
        (
            r.source.is_none_or(|n| n.contains(&flow.ip)),
            r.destination.is_none_or(|n| n.prefix_len() == 0),
            r.iif.as_deref().is_none_or(|i| i == flow.veth),
        )
    };
    // Pod packets enter unmarked: only a rule for mark 0 matches them.
    let mark_ok = r
        .fwmark
        .is_none_or(|m| m & r.fwmask.unwrap_or(u32::MAX) == 0);
    (src_ok && dst_ok && iif_ok && mark_ok) != r.invert
}

/// What a rule that matches a flow does with it.
enum Decision {
    /// Nothing final: no route for the flow in its table, `nop`, or an
    /// action this version does not know. The kernel goes on.
    Continue,
    /// Evaluation goes on at this priority.
    Goto(u32),
    /// The flow leaves the CNI's way.
    Same,
    /// The flow goes elsewhere: how, in words.
    Elsewhere(String),
}

/// The rule that decides the flow before the CNI's rule, and how, when it
/// does not send the flow the CNI's way. Rules are walked as the kernel
/// does: the first matching rule that finds a route (or drops) decides.
fn verdict<'r>(
    kernel: &KernelState,
    rules: &[&'r Rule],
    flow: &Flow,
    eni_links: &[&str],
) -> Option<(&'r Rule, String)> {
    let mut from = 0;
    for r in rules.iter().copied() {
        if r.priority < from || r.priority >= flow.priority || !selects(r, flow, eni_links) {
            continue;
        }
        match decide(kernel, r, flow) {
            Decision::Continue => {}
            Decision::Same => return None,
            Decision::Elsewhere(how) => return Some((r, how)),
            // The kernel only jumps forward.
            Decision::Goto(to) if to <= r.priority => {}
            Decision::Goto(to) if to > flow.priority => {
                let how = format!(
                    "{} jumps to priority {to}, past the CNI's rule at {}",
                    flow_words(flow),
                    flow.priority
                );
                return Some((r, how));
            }
            Decision::Goto(to) => from = to,
        }
    }
    None
}

/// What a rule whose selector matches the flow does with it.
fn decide(kernel: &KernelState, r: &Rule, flow: &Flow) -> Decision {
    if let Some(word) = r.action.drops() {
        return Decision::Elsewhere(format!(
            "{} is dropped ({word}) instead of going {}",
            flow_words(flow),
            intended(flow)
        ));
    }
    match r.action {
        RuleAction::Goto => r.goto.map_or(Decision::Continue, Decision::Goto),
        RuleAction::Lookup => {
            let route = if flow.inbound {
                best_route(kernel, r.table, flow.ip, r.suppress_prefixlen)
            } else {
                default_route(kernel, r.table, r.suppress_prefixlen)
            };
            match route {
                None => Decision::Continue,
                Some(route) if route.out_link == Some(flow.link.index) => Decision::Same,
                Some(route) => Decision::Elsewhere(format!(
                    "{} goes {} (table {}, route {}) instead of {}",
                    flow_words(flow),
                    describe_route(kernel, route),
                    r.table,
                    route.destination,
                    intended(flow)
                )),
            }
        }
        _ => Decision::Continue,
    }
}

/// The longest-prefix route for `ip` in `table`, ignoring routes of
/// `suppress` bits or fewer.
fn best_route(
    kernel: &KernelState,
    table: u32,
    ip: Ipv4Addr,
    suppress: Option<u32>,
) -> Option<&Route> {
    kernel
        .routes
        .iter()
        .filter(|r| r.table == table && r.destination.contains(&ip))
        .filter(|r| suppress.is_none_or(|s| u32::from(r.destination.prefix_len()) > s))
        .max_by_key(|r| r.destination.prefix_len())
}

/// The default route of `table`, unless `suppress` hides it.
fn default_route(kernel: &KernelState, table: u32, suppress: Option<u32>) -> Option<&Route> {
    if suppress.is_some() {
        return None;
    }
    kernel
        .routes
        .iter()
        .find(|r| r.table == table && r.destination.prefix_len() == 0)
}
