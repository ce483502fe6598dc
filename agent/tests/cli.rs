//! The command line without a lab: usage errors, help, the reasons table.

#[path = "common/bin.rs"]
mod bin;

use std::process::Command;

fn eniwatch(args: &[&str]) -> std::process::Output {
    Command::new(bin::eniwatch_bin())
        .args(args)
        .env_remove("NODE_NAME")
        .env_remove("KUBECONFIG")
        .output()
        .expect("eniwatch runs")
}

#[test]
fn bad_usage_exits_64_with_a_reason() {
    for args in [
        vec!["check", "--bogus"],
        vec!["check"],
        vec!["check", "--no-kube"],
        vec!["check", "--no-kube", "--expect-subnet", "sg-123"],
        vec!["check", "--expect-subnet", "subnet-1"],
        vec!["check", "--node-name", "n", "--output", "yaml"],
        vec!["run", "--node-name", "n", "--gather-timeout", "0"],
        vec![
            "run",
            "--node-name",
            "n",
            "--gather-timeout",
            "18446744073709551615",
        ],
    ] {
        let out = eniwatch(&args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
}

#[test]
fn help_teaches_exit_codes() {
    let out = eniwatch(&["check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Exit codes",
        "--no-kube",
        "--expect-subnet",
        "ENI_CONFIG_LABEL_DEF",
        "NODE_NAME",
    ] {
        assert!(text.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn readme_documents_every_reason() {
    let out = eniwatch(&["reasons"]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    for reason in eniwatch_core::checks::Reason::ALL {
        assert!(table.contains(reason.as_str()));
    }
    assert!(
        readme.contains(table.trim()),
        "README's reasons table is out of date: paste `eniwatch reasons`"
    );
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README")
}

/// The words between backticks in `text`, in order.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The README's "Checks and reasons" table: per row, the check (first
/// column) and its reasons (the last column's backticked words).
fn readme_check_table(readme: &str) -> Vec<(String, Vec<String>)> {
    let section = readme
        .split("\n## Checks and reasons\n")
        .nth(1)
        .expect("README has a 'Checks and reasons' section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
            let name = backticked(cells[0]).concat();
            let reasons = backticked(cells[cells.len() - 1]);
            (name, reasons)
        })
        .collect()
}

#[test]
fn readme_check_table_is_the_declared_one() {
    let declared: Vec<(String, Vec<String>)> = eniwatch_core::checks::checks_and_reasons()
        .map(|(name, reasons)| {
            let reasons = reasons.iter().map(|r| r.as_str().to_string()).collect();
            (name.to_string(), reasons)
        })
        .collect();
    assert_eq!(
        readme_check_table(&readme()),
        declared,
        "README's 'Checks and reasons' table differs from the checks and the reasons they declare"
    );
}

const NUMBER_WORDS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// Every count the text states right before the word "checks" ("all eight
/// checks", "15 checks").
fn stated_check_counts(text: &str) -> Vec<(String, usize)> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    words
        .windows(2)
        .filter(|w| w[1] == "checks")
        .filter_map(|w| {
            let n = w[0]
                .parse::<usize>()
                .ok()
                .or_else(|| NUMBER_WORDS.iter().position(|x| *x == w[0]))?;
            Some((w.join(" "), n))
        })
        .collect()
}

#[test]
fn readme_and_docs_state_no_wrong_number_of_checks() {
    let count = eniwatch_core::checks::check_names().count();
    assert_eq!(
        stated_check_counts("all eight checks, 15 checks"),
        vec![
            ("eight checks".to_string(), 8),
            ("15 checks".to_string(), 15)
        ]
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = vec![format!("{dir}/README.md")];
    for entry in std::fs::read_dir(format!("{dir}/docs")).expect("docs/") {
        files.push(entry.expect("docs entry").path().display().to_string());
    }
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable doc");
        for (phrase, n) in stated_check_counts(&text) {
            assert_eq!(n, count, "{file} says {phrase:?}: there are {count} checks");
        }
    }
}
