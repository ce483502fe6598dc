//! What a test does when a tool it needs is missing: outside CI it is skipped
//! with a printed reason; in CI (`CI=true`) it fails with that reason, so that
//! a CI machine without the tool never passes a check it did not run.

use std::process::Command;

/// Whether this is a CI run (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Outside CI prints `SKIPPED: {what} because {why}`; in CI panics with it.
pub fn skip_or_fail(what: &str, why: &str) {
    let message = format!("{what} because {why}");
    if in_ci() {
        panic!("cannot run in CI: {message}");
    }
    eprintln!("SKIPPED: {message}");
}

/// Ok when `program args` starts and exits 0; else why not, in words. A
/// program that exists but cannot run (a version-manager shim without the
/// tool behind it, a broken wrapper) counts as missing.
pub fn runs(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{program} {}` exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("`{program}` cannot be started: {e}")),
    }
}
