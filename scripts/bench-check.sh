#!/usr/bin/env bash
# Benchmark: wall time of one `eniwatch check` on a large lab node (15 ENIs,
# 250 pods), process start to exit, including all IMDS, netlink, API and
# ipamd reads, side by side with scripts/bench-check-baseline.sh (the same
# reads by hand: curl, ip -j, jq), and the ratio of their medians.
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
baseline_out=$(mktemp)
trap 'kill -INT $lab 2>/dev/null; wait $lab 2>/dev/null; rm -f "$scenario" "$baseline_out"' EXIT
kubeconfig=/tmp/eniwatch-lab/$name/kubeconfig
for _ in $(seq 100); do [ -e "/tmp/eniwatch-lab/$name/ready" ] && break; sleep 0.1; done
node=ip-10-0-1-10.bench.internal
# EC2 off: the lab node has no EC2 emulator, and the operator's loop checks
# the node, not the account. ipamd is on (the lab's emulator answers).
run() {
  ip netns exec "$name" "$bin/eniwatch" check --node-name "$node" --kubeconfig "$kubeconfig" \
    --eni-config-label-def topology.kubernetes.io/zone --no-ec2 --output json > /dev/null
}
baseline() {
  ip netns exec "$name" scripts/bench-check-baseline.sh "$kubeconfig" "$node" \
    topology.kubernetes.io/zone > "$baseline_out"
}
run || { echo "bench: the check did not pass on the generated node" >&2; exit 1; }
if ! baseline || [ -s "$baseline_out" ]; then
  echo "bench: the baseline did not pass on the generated node" >&2
  exit 1
fi
# Side by side: each round runs one check, then one baseline, so both see
# the same load on the machine.
check_us=()
baseline_us=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N); run; end=$(date +%s%N)
  check_us+=($(( (end - start) / 1000 )))
  start=$(date +%s%N); baseline; end=$(date +%s%N)
  baseline_us+=($(( (end - start) / 1000 )))
done
# min p50 p95 max, in microseconds.
stats() {
  printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 }
    END { print t[1], t[int((NR + 1) / 2)], t[int(NR * 0.95 + 0.5)], t[NR] }'
}
read -r c_min c_p50 c_p95 c_max < <(stats "${check_us[@]}")
read -r b_min b_p50 b_p95 b_max < <(stats "${baseline_us[@]}")
echo "15 ENIs / 250 pods, $profile build, $runs rounds side by side (ms):"
awk -v a="$c_min $c_p50 $c_p95 $c_max" -v b="$b_min $b_p50 $b_p95 $b_max" 'BEGIN {
  split(a, c); split(b, s)
  printf "  eniwatch check --no-ec2  min %7.1f  p50 %7.1f  p95 %7.1f  max %7.1f\n", c[1]/1000, c[2]/1000, c[3]/1000, c[4]/1000
  printf "  baseline (curl, ip, jq)  min %7.1f  p50 %7.1f  p95 %7.1f  max %7.1f\n", s[1]/1000, s[2]/1000, s[3]/1000, s[4]/1000
  printf "  ratio of medians: %.1fx (min: %.1fx)\n", s[2]/c[2], s[1]/c[1]
}'
