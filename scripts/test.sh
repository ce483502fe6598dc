#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the lab tests (which
# build network namespaces and so need root; in CI (CI=true) a lab test that
# cannot run fails instead of skipping), and the checks of what ships beside
# the binary (agent/tests/ship.rs: Dockerfile, deploy/, systemd/, docs/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
bash scripts/setup-ship.sh   # kubectl (kustomize), schema validator, hadolint, promtool, systemd-analyze
cargo fmt --check
# Every crate and target of the workspace.
cargo clippy --locked --workspace --all-targets -- -D warnings
# What the Dockerfile ships, selected as it selects it (`-p eniwatch -p
# eniwatch-cluster`: the same package set unifies the same features): both
# programs without dev-dependencies (no lab, no test fixtures), linted as
# such; the node agent's own graph checked to hold no lab and no AWS SDK.
cargo clippy --locked -p eniwatch -p eniwatch-cluster --bins -- -D warnings
if cargo tree --locked -p eniwatch -e normal --prefix none | grep -qE '^(eniwatch-lab|eniwatch-ec2|aws-(sdk|config|smithy|types|sigv4|credential)[a-z0-9-]*) '; then
  echo "test: the shipped node agent's dependency graph holds the lab, eniwatch-ec2 or the AWS SDK" >&2
  exit 1
fi
# ...built as such, and that binary is the one the integration tests run
# (agent/tests/common/bin.rs): `cargo test` would otherwise give them one built
# with the features the lab's dev-dependencies add to shared crates.
cargo build --locked -p eniwatch -p eniwatch-cluster --bins
mkdir -p target/shipped
cp target/debug/eniwatch target/debug/eniwatch-cluster target/shipped/
export ENIWATCH_BIN="$PWD/target/shipped/eniwatch"
export ENIWATCH_CLUSTER_BIN="$PWD/target/shipped/eniwatch-cluster"
cargo test --locked --workspace --no-fail-fast
