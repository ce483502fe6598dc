#!/usr/bin/env bash
# The demo: builds eniwatch, then checks the built-in lab node healthy and
# with drift, then an m5.large whose max-pods custom networking cannot supply
# (its limits from the instance table built into eniwatch). Needs root
# (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
ENIWATCH_SETUP_PROMETHEUS=0 source scripts/setup.sh
if [ "$(id -u)" != 0 ]; then
  echo "demo: the lab builds network namespaces and needs root (try: sudo $0)" >&2
  exit 1
fi
cargo build --locked --quiet --bins
lab=target/debug/eniwatch-lab

echo "=== 1. A healthy custom-networking node (lab/scenarios/healthy.yaml) ==="
echo
set +e
"$lab" check lab/scenarios/healthy.yaml
echo "(eniwatch check exited $?)"
echo
echo "=== 2. The same node with drift (lab/scenarios/drifted.yaml) ==="
echo
"$lab" check lab/scenarios/drifted.yaml
echo "(eniwatch check exited $?)"
echo
echo "=== 3. The drifted node's report as JSON (--output json) ==="
if command -v jq >/dev/null 2>&1; then
  "$lab" check lab/scenarios/drifted.yaml -- --output json | jq '{status, checks, findings}'
else
  "$lab" check lab/scenarios/drifted.yaml -- --output json
fi
echo
echo "=== 4. An m5.large with max-pods 110, limits from the built-in table (lab/scenarios/max-pods-m5-large.yaml) ==="
echo
"$lab" check lab/scenarios/max-pods-m5-large.yaml
echo "(eniwatch check exited $?)"
exit 0
