//! The migration view of `fixture::migration_cluster()` against the golden
//! outputs `tests/golden/status.txt` and `status.json`: any difference
//! fails. `UPDATE_GOLDEN=1 cargo test -p eniwatch-core --test status`
//! rewrites them (then read the diff before committing it).

use std::path::PathBuf;

use eniwatch_core::status::fixture::migration_cluster;
use eniwatch_core::status::view::{Amount, Severity};
use eniwatch_core::status::{render_json, render_text, StatusView};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn check(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n--- expected\n{}\n--- actual\n{}\n\
             (UPDATE_GOLDEN=1 rewrites it)",
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>")
        );
    }
}

#[test]
fn text_matches_the_golden_file() {
    let view = StatusView::from_input(&migration_cluster());
    check("status.txt", &render_text(&view, 80, false));
}

#[test]
fn json_matches_the_golden_file() {
    let view = StatusView::from_input(&migration_cluster());
    let mut json = serde_json::to_string_pretty(&render_json(&view)).unwrap();
    json.push('\n');
    check("status.json", &json);
}

#[test]
fn text_fits_80_columns_and_has_no_colour_unless_asked() {
    let view = StatusView::from_input(&migration_cluster());
    let text = render_text(&view, 80, false);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    assert!(!text.contains('\x1b'));
    assert!(render_text(&view, 80, true).contains("\x1b[31m"));
}

#[test]
fn the_plan_has_the_numbers_worked_out_by_hand() {
    let input = migration_cluster();
    assert_eq!(input.nodes.len(), 60);
    assert_eq!(input.pods.len(), 1500);
    let view = StatusView::from_input(&input);
    let zone = |z: &str| view.zones.iter().find(|r| r.zone == z).unwrap();
    let (a, b, c) = (zone("eu-west-1a"), zone("eu-west-1b"), zone("eu-west-1c"));
    assert_eq!(
        [
            a.plan.pods_to_move,
            b.plan.pods_to_move,
            c.plan.pods_to_move
        ],
        [158, 157, 160]
    );
    assert_eq!(a.plan.free_slots, Amount::Known(196));
    assert_eq!(b.plan.free_slots, Amount::Known(28));
    assert_eq!(c.plan.free_slots, Amount::Known(84));
    let add: Vec<(String, u64)> = b
        .plan
        .nodes_to_add
        .iter()
        .map(|n| (n.instance_type.clone(), n.count))
        .collect();
    assert_eq!(
        add,
        [("m5.large".to_string(), 8), ("m5.xlarge".to_string(), 4)]
    );
    assert_eq!(b.plan.warm_pool_addresses, Amount::Known(80));
    assert_eq!(c.plan.warm_pool_addresses, Amount::Known(60));
    assert_eq!(c.plan.on_demand, ["Karpenter NodePool general"]);
    let texts: Vec<&str> = view.verdicts.iter().map(|v| v.text.as_str()).collect();
    assert!(
        texts.iter().any(|t| t.starts_with(
            "zone eu-west-1b needs about 8 more m5.large (or 4 m5.xlarge) to absorb 129 pods"
        )),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| {
            t.starts_with(
        "subnet subnet-0podc has 150 free addresses for 160 pods plus warm pools of 60: 70 short"
    )
        }),
        "{texts:#?}"
    );
    assert!(texts
        .iter()
        .any(|t| t.starts_with("nodegroup old-ng cannot be deleted yet")));
    assert!(texts.contains(&"nodegroup new-ng is migrated (22 nodes)"));
    assert!(texts.contains(&"NodePool general is migrated (14 nodes)"));
    assert_eq!(view.exit_code(), 1);
    assert!(view
        .verdicts
        .iter()
        .any(|v| v.severity == Severity::Blocking));
}
