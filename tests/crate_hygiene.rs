//! Rules of the crate as a whole, read from its sources: every crate root
//! forbids `unsafe`, and every direct dependency is used.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names in one `[section]` of Cargo.toml (`name = ...` lines).
fn section_names(manifest: &str, section: &str) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == section;
        } else if inside && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_string());
            }
        }
    }
    names
}

#[test]
fn every_crate_root_forbids_unsafe_code() {
    let manifest = read(&root().join("Cargo.toml"));
    let mut roots = vec!["src/lib.rs".to_string()];
    roots.extend(
        manifest
            .lines()
            .filter_map(|l| l.trim().strip_prefix("path = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .map(str::to_string),
    );
    assert!(roots.len() >= 3, "lib and both binaries: {roots:?}");
    for path in &roots {
        let text = read(&root().join(path));
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{path} lacks #![forbid(unsafe_code)]"
        );
    }
}

#[test]
fn every_direct_dependency_is_used() {
    let manifest = read(&root().join("Cargo.toml"));
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let sources: Vec<String> = files.iter().map(|f| read(f)).collect();
    let deps = section_names(&manifest, "[dependencies]");
    assert!(deps.len() > 10, "{deps:?}");
    let unused: Vec<&String> = deps
        .iter()
        .filter(|name| {
            let path = format!("{}::", name.replace('-', "_"));
            !sources.iter().any(|s| s.contains(&path))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "dependencies no source file uses: {unused:?}"
    );
}
