use std::time::Instant;

use super::*;
use crate::checks::capacity::{max_pods, AddressingMode};

fn known(instance_type: &str) -> InstanceNetworkLimits {
    match lookup(instance_type) {
        Some(l) => l,
        None => panic!("{instance_type} is not in the embedded table"),
    }
}

fn mode(custom_networking: bool) -> AddressingMode {
    AddressingMode {
        custom_networking,
        prefix_delegation: false,
    }
}

#[test]
fn the_embedded_table_parses_whole() {
    let started = Instant::now();
    let table = LimitsTable::parse(EMBEDDED_CSV);
    let took = started.elapsed();
    println!("parsed {} instance types in {took:?}", table.len());
    assert_eq!(table.errors(), &[] as &[RowError]);
    assert_eq!(table.len(), 1391);
    assert_eq!(embedded().len(), 1391);
    assert!(embedded().errors().is_empty());
}

#[test]
fn m5_large_and_t3_2xlarge() {
    let m5 = known("m5.large");
    assert_eq!((m5.max_enis_default_card, m5.ipv4_per_eni), (3, 10));
    assert_eq!(m5.hypervisor, Hypervisor::Nitro);
    assert_eq!(m5.nitro(), Some(true));
    assert!(!m5.bare_metal);
    assert_eq!(m5.default_network_card, 0);
    assert_eq!(
        m5.network_cards,
        vec![NetworkCard {
            index: 0,
            max_enis: 3
        }]
    );

    let t3 = known("t3.2xlarge");
    assert_eq!((t3.max_enis_default_card, t3.ipv4_per_eni), (4, 15));
}

#[test]
fn p5_48xlarge_has_32_cards_of_2_enis() {
    let p5 = known("p5.48xlarge");
    assert_eq!(p5.ipv4_per_eni, 50);
    assert_eq!(p5.network_cards.len(), 32);
    assert!(p5.network_cards.iter().all(|c| c.max_enis == 2));
    let indices: Vec<u32> = p5.network_cards.iter().map(|c| c.index).collect();
    assert_eq!(indices, (0..32).collect::<Vec<u32>>());
    assert_eq!(p5.card_max_enis(31), Some(2));
    assert_eq!(p5.card_max_enis(32), None);
    // Pods are placed on card 0 only.
    assert_eq!(
        InstanceLimits::from(&p5),
        InstanceLimits {
            max_enis: 2,
            ipv4_per_eni: 50
        }
    );
}

#[test]
fn unknown_types_are_none() {
    assert_eq!(lookup("m99.huge"), None);
    assert_eq!(lookup(""), None);
    assert_eq!(lookup("M5.LARGE"), None);
}

#[test]
fn bare_metal_and_xen() {
    let metal = known("c5.metal");
    assert!(metal.bare_metal);
    assert_eq!(metal.hypervisor, Hypervisor::Unreported);
    assert_eq!(metal.nitro(), None);
    let xen = known("m4.large");
    assert_eq!(xen.nitro(), Some(false));
    assert!(!xen.bare_metal);
}

#[test]
fn converts_into_the_models_facts() {
    let facts = InstanceTypeFacts::from(&known("m5.large"));
    assert_eq!(
        facts,
        InstanceTypeFacts {
            limits: InstanceLimits {
                max_enis: 3,
                ipv4_per_eni: 10
            },
            nitro: Some(true),
        }
    );
}

#[test]
fn max_pods_from_the_table() {
    let m5 = InstanceLimits::from(&known("m5.large"));
    let t3 = InstanceLimits::from(&known("t3.2xlarge"));
    assert_eq!(max_pods(m5, mode(true)), 20);
    assert_eq!(max_pods(t3, mode(true)), 44);
    assert_eq!(max_pods(m5, mode(false)), 29);
    // The formulas of the domain brief, written out.
    let custom = |l: InstanceLimits| (l.max_enis - 1) * (l.ipv4_per_eni - 1) + 2;
    assert_eq!((custom(m5), custom(t3)), (20, 44));
    assert_eq!(m5.max_enis * (m5.ipv4_per_eni - 1) + 2, 29);
}

const SMALL: &str = "\
instance_type,max_enis_default_card,ipv4_per_eni,default_network_card,network_cards,hypervisor,bare_metal
a.good,3,10,0,0:3,nitro,false
b.columns,3,10,0,0:3,nitro
c.number,three,10,0,0:3,nitro,false
d.cards,3,10,0,0-3,nitro,false
e.default,3,10,1,0:3,nitro,false
f.mismatch,4,10,0,0:3,nitro,false
g.hyper,3,10,0,0:3,kvm,false
h.metal,3,10,0,0:3,nitro,yes
a.good,8,30,0,0:8,nitro,false
,3,10,0,0:3,nitro,false
i.twice,3,10,0,0:3;0:3,nitro,false

j.good,4,15,0,1:2;0:4,xen,true
";

#[test]
fn a_malformed_table_keeps_its_good_rows() {
    let table = LimitsTable::parse(SMALL);
    let problems: Vec<(usize, &RowProblem)> = table
        .errors()
        .iter()
        .map(|e| (e.line, &e.problem))
        .collect();
    assert_eq!(
        problems,
        vec![
            (3, &RowProblem::Columns { found: 6 }),
            (
                4,
                &RowProblem::Number {
                    column: "max_enis_default_card",
                    value: "three".into()
                }
            ),
            (
                5,
                &RowProblem::Card {
                    value: "0-3".into()
                }
            ),
            (6, &RowProblem::MissingDefaultCard { index: 1 }),
            (7, &RowProblem::DefaultCardMismatch { card: 3, row: 4 }),
            (
                8,
                &RowProblem::Hypervisor {
                    value: "kvm".into()
                }
            ),
            (
                9,
                &RowProblem::BareMetal {
                    value: "yes".into()
                }
            ),
            (
                10,
                &RowProblem::Duplicate {
                    instance_type: "a.good".into()
                }
            ),
            (11, &RowProblem::EmptyType),
            (12, &RowProblem::DuplicateCard { index: 0 }),
        ]
    );
    assert_eq!(table.len(), 2);
    // The first of two rows for a type is kept.
    assert_eq!(table.get("a.good").map(|l| l.ipv4_per_eni), Some(10));
    let j = table.get("j.good").cloned();
    let cards = j.as_ref().map(|l| l.network_cards.clone());
    assert_eq!(
        cards,
        Some(vec![
            NetworkCard {
                index: 0,
                max_enis: 4
            },
            NetworkCard {
                index: 1,
                max_enis: 2
            },
        ])
    );
    assert_eq!(
        j.as_ref().map(|l| (l.bare_metal, l.nitro())),
        Some((true, Some(false)))
    );
    assert_eq!(table.get("c.number"), None);
    assert_eq!(
        table.errors()[0].to_string(),
        "instance network limits, line 3: 6 columns, expected 7"
    );
}

#[test]
fn a_wrong_header_keeps_nothing() {
    let swapped = "instance_type,ipv4_per_eni,max_enis_default_card,default_network_card,\
                   network_cards,hypervisor,bare_metal\nm5.large,10,3,0,0:3,nitro,false\n";
    for text in [swapped, "", "m5.large,3,10,0,0:3,nitro,false\n"] {
        let table = LimitsTable::parse(text);
        assert!(table.is_empty(), "{text:?}");
        assert_eq!(
            table.errors(),
            &[RowError {
                line: 1,
                problem: RowProblem::Header
            }]
        );
    }
}

#[test]
fn carriage_returns_and_spaces_are_tolerated() {
    let text = format!("{HEADER}\r\nm5.large, 3, 10, 0, 0:3 , nitro, false\r\n");
    let table = LimitsTable::parse(&text);
    assert!(table.errors().is_empty(), "{:?}", table.errors());
    assert_eq!(
        table.get("m5.large").map(|l| l.pod_limits().max_enis),
        Some(3)
    );
}

#[test]
fn a_type_not_in_the_table_is_unavailable_with_the_fix() {
    assert_eq!(facts("t3.2xlarge").unwrap().limits.max_enis, 4);
    let why = facts("m99.huge").unwrap_err();
    assert_eq!(why.kind, "not_found");
    assert!(
        why.reason
            .contains("instance type m99.huge is not in eniwatch's table of 1391 types")
            && why
                .reason
                .contains(&format!("EC2's figures of {TABLE_DATE}"))
            && why.reason.contains("upgrade eniwatch"),
        "{}",
        why.reason
    );
    // The date is the one the table's README gives.
    let readme = include_str!("../data/README.md");
    assert!(readme.contains(&format!("as of {TABLE_DATE}")));
}
