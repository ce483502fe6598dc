//! Rules of the workspace as a whole, read from its manifests and sources:
//! every crate root forbids `unsafe`, every direct dependency is used, and no
//! product crate depends on the lab.

use std::path::{Path, PathBuf};

/// The workspace's root.
fn root() -> PathBuf {
    let agent = Path::new(env!("CARGO_MANIFEST_DIR"));
    agent.parent().unwrap_or(agent).to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names in one `[section]` of a manifest (`name = ...` and
/// `name.workspace = true` lines).
fn section_names(manifest: &str, section: &str) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == section;
        } else if inside && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                let name = name.trim();
                names.push(name.strip_suffix(".workspace").unwrap_or(name).to_string());
            }
        }
    }
    names
}

/// The workspace's member directories, from the root manifest's `members`.
fn members() -> Vec<PathBuf> {
    let manifest = read(&root().join("Cargo.toml"));
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("the root manifest lists its members");
    let members: Vec<PathBuf> = line
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|m| root().join(m))
        .collect();
    assert!(
        members.len() >= 5,
        "core, agent, ec2, cluster, lab: {members:?}"
    );
    members
}

/// A member's crate roots: `src/lib.rs`, `src/main.rs` and every `path = ...`.
fn crate_roots(member: &Path) -> Vec<PathBuf> {
    let manifest = read(&member.join("Cargo.toml"));
    let mut roots: Vec<PathBuf> = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|r| member.join(r))
        .filter(|p| p.exists())
        .collect();
    roots.extend(
        manifest
            .lines()
            .filter_map(|l| l.trim().strip_prefix("path = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .map(|p| member.join(p)),
    );
    roots.sort();
    roots.dedup();
    roots
}

#[test]
fn every_crate_root_forbids_unsafe_code() {
    let roots: Vec<PathBuf> = members().iter().flat_map(|m| crate_roots(m)).collect();
    assert!(
        roots.len() >= 7,
        "five libraries and two binaries: {roots:?}"
    );
    for path in &roots {
        let text = read(path);
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{} lacks #![forbid(unsafe_code)]",
            path.display()
        );
    }
}

/// The names of `deps` that no file of `files` mentions as `name::`.
fn unused<'a>(deps: &'a [String], files: &[PathBuf]) -> Vec<&'a String> {
    let sources: Vec<String> = files.iter().map(|f| read(f)).collect();
    deps.iter()
        .filter(|name| {
            let path = format!("{}::", name.replace('-', "_"));
            !sources.iter().any(|s| s.contains(&path))
        })
        .collect()
}

#[test]
fn every_direct_dependency_is_used() {
    for member in members() {
        let manifest = read(&member.join("Cargo.toml"));
        let mut product = Vec::new();
        rust_files(&member.join("src"), &mut product);
        let deps = section_names(&manifest, "[dependencies]");
        let unused_deps = unused(&deps, &product);
        assert!(
            unused_deps.is_empty(),
            "{}: dependencies no source file uses: {unused_deps:?}",
            member.display()
        );
        let mut all = product.clone();
        rust_files(&member.join("tests"), &mut all);
        let dev = section_names(&manifest, "[dev-dependencies]");
        let unused_dev = unused(&dev, &all);
        assert!(
            unused_dev.is_empty(),
            "{}: dev-dependencies no source or test file uses: {unused_dev:?}",
            member.display()
        );
    }
}

#[test]
fn no_product_crate_depends_on_the_lab() {
    for member in members() {
        if member.ends_with("lab") {
            continue;
        }
        let manifest = read(&member.join("Cargo.toml"));
        let deps = section_names(&manifest, "[dependencies]");
        assert!(
            !deps.iter().any(|d| d == "eniwatch-lab"),
            "{} depends on the lab outside its tests",
            member.display()
        );
    }
    let lab = read(&root().join("lab/Cargo.toml"));
    let lab_deps = section_names(&lab, "[dependencies]");
    let product: Vec<&String> = lab_deps
        .iter()
        .filter(|d| d.starts_with("eniwatch"))
        .collect();
    assert!(product.is_empty(), "the lab depends on {product:?}");
}
