#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the lab tests (which
# build network namespaces and so need root; in CI (CI=true) a lab test that
# cannot run fails instead of skipping), and the checks of what ships beside
# the binary (tests/ship.rs: Dockerfile, deploy/, systemd/, docs/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
bash scripts/setup-ship.sh   # kubectl (kustomize), schema validator, hadolint, promtool, systemd-analyze
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# What the Dockerfile ships: the agent without the lab feature, compiled and linted as such.
cargo clippy --locked --no-default-features --bin eniwatch -- -D warnings
cargo test --locked
