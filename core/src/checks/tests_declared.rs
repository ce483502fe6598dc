//! Every check declares the reasons it can raise ([`checks_and_reasons`]), and
//! the declaration is the truth: breaking the fixtures one way at a time raises
//! every reason, each from the check that declares it, and no reason belongs to
//! two checks.

use super::fixture::*;
use super::*;
use crate::model::*;

fn broken(base: fn() -> Snapshot, break_it: impl FnOnce(&mut Snapshot)) -> Snapshot {
    let mut s = base();
    break_it(&mut s);
    s
}

fn limits(s: &mut Snapshot, max_enis: u32, ipv4_per_eni: u32) {
    s.instance_type = Ok(InstanceTypeFacts {
        limits: InstanceLimits {
            max_enis,
            ipv4_per_eni,
        },
        nitro: Some(true),
    });
}

fn pod_subnet(s: &mut Snapshot) -> Option<&mut crate::published::PublishedSubnet> {
    published(s).subnets.first_mut()
}

fn node_subnet(e: &mut EniMetadata) {
    e.subnet_id = "subnet-node".parse().ok();
    e.subnet_cidr = Some(net("10.0.1.0/24"));
}

fn eniconfig_breakages() -> Vec<Snapshot> {
    vec![
        broken(healthy_witnessed, |s| cluster(s).eni_configs = Some(vec![])),
        broken(healthy, |s| {
            let spec = serde_json::json!({"subnet": "pods-1a", "securityGroups": "sg-pods"});
            let cfg =
                crate::sources::kube::eniconfig_from_spec("ap-southeast-1a".into(), Some(&spec));
            cluster(s).eni_configs = Some(vec![cfg]);
        }),
    ]
}

fn imds_breakages() -> Vec<Snapshot> {
    vec![
        broken(healthy, |s| {
            imds(s).enis.iter_mut().skip(1).for_each(node_subnet);
        }),
        broken(healthy, |s| node_subnet(&mut imds(s).enis[2])),
        broken(healthy, |s| {
            imds(s).enis[1].security_groups = "sg-other".parse().into_iter().collect();
        }),
        broken(healthy, |s| imds(s).enis[1].local_ipv4s.truncate(1)),
    ]
}

fn kernel_breakages() -> Vec<Snapshot> {
    let host = ipnet::Ipv4Net::from(ip("100.64.1.11"));
    vec![
        // `100: from all blackhole`, ahead of the CNI's rules.
        broken(healthy, |s| {
            kernel(s).rules.push(Rule {
                priority: 100,
                action: RuleAction::Blackhole,
                ..Rule::default()
            })
        }),
        broken(healthy, |s| {
            kernel(s).links.retain(|l| l.mac != Some(mac(3)))
        }),
        broken(healthy, |s| {
            kernel(s).routes.retain(|r| r.destination != host)
        }),
        broken(healthy, |s| {
            kernel(s)
                .rules
                .retain(|r| !(r.priority == 512 && r.destination == Some(host)))
        }),
        broken(healthy, |s| {
            for r in kernel(s)
                .rules
                .iter_mut()
                .filter(|r| r.source == Some(host))
            {
                r.table = 3;
            }
        }),
    ]
}

fn witness_breakages() -> Vec<Snapshot> {
    vec![
        broken(healthy_witnessed, |s| {
            ipamd(s).custom_networking = Some(false)
        }),
        broken(healthy_witnessed, |s| {
            ipamd(s).selected_eniconfig = Some("ap-southeast-1b".into())
        }),
        broken(healthy_witnessed, |s| {
            if let Some(f) = pod_subnet(s) {
                f.availability_zone = Some("ap-southeast-1b".into());
                f.availability_zone_id = Some("apse1-az2".into());
            }
        }),
        broken(healthy_witnessed, unpublish_pod_subnet),
        broken(healthy_witnessed, |s| {
            if let Some(f) = pod_subnet(s) {
                f.free_addresses = Some(3);
            }
        }),
        broken(healthy_witnessed, |s| {
            limits(s, 3, 10);
            cluster(s).node.capacity_pods = Some(110);
        }),
        broken(healthy_witnessed, |s| {
            ipamd(s).warm.warm_ip_target = Some(5)
        }),
        broken(healthy_witnessed, |s| {
            for (n, addr) in [(1u32, "100.64.1.13"), (2, "100.64.1.22")] {
                cluster(s).pods.push(pod(addr, addr));
                if let Ok(k) = &mut s.kernel {
                    wire_pod(k, addr, n + 1, 12 + n);
                }
                ipamd(s).enis[n as usize].assigned.push((ip(addr), None));
            }
        }),
        broken(healthy_witnessed, |s| {
            published(s).nodes.push(unattached("eni-0003"));
        }),
        broken(healthy_witnessed, |s| {
            ipamd(s).enis.pop();
        }),
        // Standard mode (no ENIConfig, ipamd's custom networking off), the
        // secondaries and pods outside the node subnet, none CNI-tagged.
        broken(healthy_witnessed, |s| {
            cluster(s).eni_configs = Some(vec![]);
            ipamd(s).custom_networking = Some(false);
            ipamd(s).selected_eniconfig = None;
            published(s).cni_subnets = Some(vec![]);
        }),
    ]
}

/// One snapshot per way of breaking a node that the fixtures know.
fn breakages() -> Vec<Snapshot> {
    let mut all = eniconfig_breakages();
    all.extend(imds_breakages());
    all.extend(kernel_breakages());
    all.extend(witness_breakages());
    all
}

#[test]
fn every_finding_is_of_a_reason_its_check_declares() {
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in breakages().iter().enumerate() {
        let e = evaluate(s);
        assert!(!e.findings.is_empty(), "breakage {i} finds nothing");
        assert_eq!(undeclared(&e), vec![], "breakage {i}");
        seen.extend(e.findings.iter().map(|f| f.reason));
    }
    let unseen: Vec<&Reason> = Reason::ALL
        .iter()
        .filter(|r| !seen.contains(r) && node_raises(**r))
        .collect();
    assert_eq!(unseen, Vec::<&Reason>::new(), "no breakage raises these");
}

/// Whether a node check declares the reason.
fn node_raises(reason: Reason) -> bool {
    checks_and_reasons().any(|(_, declared)| declared.contains(&reason))
}

#[test]
fn every_reason_is_declared_by_exactly_one_check_of_each_program_raising_it() {
    let tables: [Vec<(&str, &[Reason])>; 2] = [
        checks_and_reasons().collect(),
        super::CLUSTER_CHECKS.to_vec(),
    ];
    for reason in Reason::ALL {
        let mut programs = 0;
        for table in &tables {
            let by: Vec<&str> = table
                .iter()
                .filter(|(_, declared)| declared.contains(reason))
                .map(|(name, _)| *name)
                .collect();
            assert!(by.len() <= 1, "{reason} is declared by {by:?}");
            programs += by.len();
        }
        assert!(programs >= 1, "{reason} is declared by no check");
    }
    for table in &tables {
        for (name, declared) in table {
            let mut unique = declared.to_vec();
            unique.sort();
            unique.dedup();
            assert_eq!(
                unique.len(),
                declared.len(),
                "{name} declares a reason twice"
            );
        }
    }
}

#[test]
fn checks_and_reasons_follow_the_report_order() {
    let names: Vec<&str> = checks_and_reasons().map(|(name, _)| name).collect();
    let reported: Vec<&str> = evaluate(&healthy()).checks.iter().map(|c| c.name).collect();
    assert_eq!(names, reported);
    assert_eq!(names, check_names().collect::<Vec<_>>());
}

#[test]
fn the_module_docs_table_is_the_declared_one() {
    let backticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let documented: Vec<(String, Vec<String>)> = include_str!("mod.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//! | `"))
        .map(|row| {
            let cells: Vec<&str> = row.trim_end_matches('|').split('|').collect();
            (
                backticked(&format!("`{}", cells[0])).concat(),
                backticked(cells[cells.len() - 1]),
            )
        })
        .collect();
    let declared: Vec<(String, Vec<String>)> = checks_and_reasons()
        .map(|(name, reasons)| {
            let reasons = reasons.iter().map(|r| r.as_str().to_string()).collect();
            (name.to_string(), reasons)
        })
        .collect();
    assert_eq!(documented, declared);
}

/// The checks that are neither ok nor skipped, with their status: empty on a
/// healthy node, so that a check that silently went unknown (or not
/// applicable) fails a test that means "healthy", where "no findings" would
/// not.
pub(crate) fn not_ok(s: &Snapshot) -> Vec<(&'static str, CheckStatus)> {
    evaluate_declared(s)
        .checks
        .iter()
        .filter(|c| !matches!(c.status, CheckStatus::Ok | CheckStatus::Skipped))
        .map(|c| (c.name, c.status))
        .collect()
}
