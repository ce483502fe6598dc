#!/usr/bin/env bash
# Benchmark: wall time of one `eniwatch check` on a large lab node (15 ENIs,
# 250 pods), process start to exit, including all IMDS, netlink and API reads.
# Usage: sudo scripts/bench-check.sh [runs] [profile]   (defaults: 50 release)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
runs=${1:-50}
profile=${2:-release}
flag=$([ "$profile" = release ] && echo --release || echo)
# The agent as shipped (its own package, so no lab features leak into it),
# then the lab tools.
cargo build --locked --quiet $flag -p eniwatch
cargo build --locked --quiet $flag -p eniwatch-lab
bin=target/$profile
name=ewbench
scenario=$(mktemp --suffix=.yaml)
"$bin/eniwatch-lab" generate --enis 15 --ips-per-eni 19 --pods 250 > "$scenario"
"$bin/eniwatch-lab" up "$scenario" --name "$name" > /dev/null &
lab=$!
trap 'kill -INT $lab 2>/dev/null; wait $lab 2>/dev/null; rm -f "$scenario"' EXIT
kubeconfig=/tmp/eniwatch-lab/$name/kubeconfig
for _ in $(seq 100); do [ -e "/tmp/eniwatch-lab/$name/ready" ] && break; sleep 0.1; done
node=ip-10-0-1-10.bench.internal
run() {
  ip netns exec "$name" "$bin/eniwatch" check --node-name "$node" --kubeconfig "$kubeconfig" \
    --eni-config-label-def topology.kubernetes.io/zone --output json > /dev/null
}
run || { echo "bench: the check did not pass on the generated node" >&2; exit 1; }
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N); run; end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" -v profile="$profile" '
  { t[NR] = $1 }
  END {
    printf "eniwatch check, 15 ENIs / 250 pods, %s build, %d runs (ms): min %.1f  p50 %.1f  p95 %.1f  max %.1f\n",
      profile, runs, t[1]/1000, t[int(NR*0.5)+0]/1000, t[int(NR*0.95)]/1000, t[NR]/1000
  }'
