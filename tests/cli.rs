//! The command line without a lab: usage errors, help, the reasons table.

use std::process::Command;

fn eniwatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eniwatch"))
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
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    for reason in eniwatch::checks::Reason::ALL {
        assert!(table.contains(reason.as_str()));
    }
    assert!(
        readme.contains(table.trim()),
        "README's reasons table is out of date: paste `eniwatch reasons`"
    );
}
