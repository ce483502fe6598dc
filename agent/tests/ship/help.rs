//! Reading the CLI's own description of itself: the options that
//! `eniwatch <command> --help` lists, and the option tables of
//! docs/configuration.md, so the two can be compared.

use std::collections::{BTreeMap, BTreeSet};

use super::eniwatch;

/// One option as `--help` or the docs describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub env: Option<String>,
    pub default: Option<String>,
}

fn between<'a>(text: &'a str, start: &str, end: char) -> Option<&'a str> {
    let at = text.find(start)? + start.len();
    let rest = &text[at..];
    Some(&rest[..rest.find(end)?])
}

/// The subcommands `eniwatch --help` lists (without `help`).
pub fn commands() -> Vec<String> {
    let help = eniwatch(&["--help"]);
    let mut commands = Vec::new();
    let mut listing = false;
    for line in help.lines() {
        if !line.starts_with(' ') {
            listing = line == "Commands:";
            continue;
        }
        if listing {
            if let Some(name) = line.split_whitespace().next() {
                if name != "help" {
                    commands.push(name.to_string());
                }
            }
        }
    }
    assert!(
        commands.contains(&"run".to_string()),
        "no commands in:\n{help}"
    );
    commands
}

/// Every `--flag` of `eniwatch <command> --help` (without --help), with its
/// `[env: NAME=]` and `[default: VALUE]`.
pub fn help_options(command: &str) -> BTreeMap<String, Opt> {
    let help = eniwatch(&[command, "--help"]);
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            // Section headings ("Options:", "EC2:", ...) end with a colon;
            // the after-help text ("Examples:", "Exit codes: ...") is not options.
            in_options = line.ends_with(':') && line != "Examples:";
            continue;
        }
        if !in_options {
            continue;
        }
        let text = line.trim_start();
        let indent = line.len() - text.len();
        if indent <= 6 && text.starts_with('-') {
            let flag = text
                .split([' ', ','])
                .find(|t| t.starts_with("--"))
                .unwrap_or_else(|| panic!("no --flag in {line:?}"))
                .to_string();
            entries.push((flag, text.to_string()));
        } else if let Some((_, body)) = entries.last_mut() {
            body.push(' ');
            body.push_str(text);
        }
    }
    let mut options = BTreeMap::new();
    for (flag, body) in entries {
        if flag == "--help" || flag == "--version" {
            continue;
        }
        let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
        let opt = Opt {
            env: between(&body, "[env: ", '=').map(str::to_string),
            default: between(&body, "[default: ", ']').map(str::to_string),
        };
        assert!(
            options.insert(flag.clone(), opt).is_none(),
            "{flag} twice in `{command} --help`"
        );
    }
    options
}

/// One row of an option table in docs/configuration.md:
/// `| option | environment | default | used by | meaning |`.
#[derive(Debug)]
pub struct DocRow {
    pub flag: String,
    pub opt: Opt,
    pub used_by: BTreeSet<String>,
}

pub fn backticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn doc_value(cell: &str, what: &str, line: &str) -> Option<String> {
    match backticked(cell).as_slice() {
        [] => {
            assert_eq!(cell, "—", "{what} cell is neither `value` nor —: {line}");
            None
        }
        [one] => Some(one.to_string()),
        _ => panic!("{what} cell has more than one value: {line}"),
    }
}

pub fn doc_rows(doc: &str) -> Vec<DocRow> {
    let mut rows = Vec::new();
    for line in doc.lines().filter(|l| l.starts_with("| `-")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 5, "option row without 5 cells: {line}");
        let flag = backticked(cells[0])
            .into_iter()
            .find(|t| t.starts_with("--"))
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_else(|| panic!("no --flag in the first cell: {line}"))
            .to_string();
        rows.push(DocRow {
            flag,
            opt: Opt {
                env: doc_value(cells[1], "environment", line),
                default: doc_value(cells[2], "default", line),
            },
            used_by: cells[3].split(',').map(|c| c.trim().to_string()).collect(),
        });
    }
    rows
}
