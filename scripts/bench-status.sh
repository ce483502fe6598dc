#!/usr/bin/env bash
# Benchmark: `eniwatch status --output json` against the lab's Kubernetes
# emulator holding 5,000 nodes and 100,000 pods: wall time and peak RSS of
# the binary (/usr/bin/time), next to the emulator's own time to serve the
# same pages to a bare HTTP client. Goal: under 5 s and 300 MiB.
# Usage: scripts/bench-status.sh [profile]   (default release; the emulator
# runs in the benchmark's test process, built in the same profile)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
flag=$([ "$profile" = release ] && echo --release || echo)
# The binary as shipped: its own package, so no dev features leak into it.
cargo build --locked --quiet $flag -p eniwatch --bin eniwatch
ENIWATCH_STATUS_BIN=$PWD/target/$profile/eniwatch \
  cargo test --locked --quiet $flag -p eniwatch --test status_bench -- --ignored --nocapture
