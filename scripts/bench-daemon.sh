#!/usr/bin/env bash
# Benchmark of `eniwatch run` on a large lab node (15 ENIs, 250 pods):
#  - detection: time from a drift appearing in the kernel (a pod's 512 rule
#    deleted) to its Warning event being recorded by the API emulator, with
#    the grace period at 0 (p50/p99 over N injections; the emulator records
#    every 10 ms, which bounds the measurement error);
#  - resident memory after start, and after pod add/delete churn through the
#    API and the kernel;
#  - CPU time per idle minute (sum of the threads' schedstat run time);
#  - requests per hour to IMDS, the API server and ipamd in steady state.
#  - resident memory after each batch of churn, to tell growth (RSS rising
#    batch after batch) from allocator fragmentation (a step, then flat).
# Usage: sudo scripts/bench-daemon.sh [injections] [churn rounds of 100 pods] [idle seconds] [batches]
# The lab tools (not shipped) are built with LAB_PROFILE (default release;
# `debug` skips the long release build of the lab's EC2 seeding).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
injections=${1:-50}
rounds=${2:-100}
idle=${3:-60}
batches=${4:-5}
# The agent as shipped (no lab code), and the lab tools.
cargo build --locked --quiet --release -p eniwatch
cp target/release/eniwatch target/release/eniwatch-agent
lab_profile=${LAB_PROFILE:-release}
if [ "$lab_profile" = release ]; then
  cargo build --locked --quiet --release -p eniwatch-lab
else
  cargo build --locked --quiet -p eniwatch-lab
fi
bin=target/release
lab_bin=target/$lab_profile
name=ewbd
dir=/tmp/eniwatch-lab/$name
scenario=$(mktemp --suffix=.yaml)
"$lab_bin/eniwatch-lab" generate --enis 15 --ips-per-eni 26 --pods 250 > "$scenario"
"$lab_bin/eniwatch-lab" up "$scenario" --name "$name" > /dev/null &
lab=$!
cleanup() { kill "${daemon:-0}" 2>/dev/null || true; kill -INT $lab 2>/dev/null; wait $lab 2>/dev/null || true; rm -f "$scenario"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -e "$dir/ready" ] && break; sleep 0.1; done
node=ip-10-0-1-10.bench.internal
ip netns exec "$name" "$bin/eniwatch-agent" run --listen 127.0.0.1:9742 --node-name "$node" \
  --kubeconfig "$dir/kubeconfig" --eni-config-label-def topology.kubernetes.io/zone \
  --grace-period 0 --debounce 20ms --log-format json 2> /tmp/eniwatch-bench-daemon.log &
daemon=$!
fetch() { ip netns exec "$name" "$lab_bin/eniwatch-lab" fetch "http://127.0.0.1:9742$1" 2>/dev/null; }
for _ in $(seq 200); do fetch /readyz > /dev/null && break; sleep 0.1; done
sleep 2
rss() { awk '/VmRSS/ {print $2}' "/proc/$daemon/status"; }
cpu_ns() { cat /proc/$daemon/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
events() { { grep -o '"reason":"PodRuleMissing"' "$dir/recorded.json" 2>/dev/null || true; } | wc -l; }
counter() { { grep -o "\"$1\":[0-9]*" "$dir/recorded.json" || true; } | head -1 | cut -d: -f2; }
echo "rss_after_start_kib $(rss)"

# Detection latency.
ips=($(grep -oE 'ip: 100\.64\.[0-9]+\.[0-9]+' "$scenario" | cut -d' ' -f2))
lat=()
for i in $(seq "$injections"); do
  pod_ip=${ips[$((i * 3 % ${#ips[@]}))]}
  rules=$(ip -n "$name" rule list priority 512)
  [[ "$rules" == *"to $pod_ip "* ]] || continue
  before=$(events)
  start=$(date +%s%N)
  ip -n "$name" rule del to "$pod_ip/32" priority 512
  while [ "$(events)" -le "$before" ]; do
    [ $(( $(date +%s%N) - start )) -gt 10000000000 ] && { echo "injection $i: no event within 10 s" >&2; break; }
  done
  lat+=($(( ($(date +%s%N) - start) / 1000 )))
  ip -n "$name" rule add to "$pod_ip/32" lookup main priority 512
  sleep 0.3
done
printf '%s\n' "${lat[@]}" | sort -n | awk '{t[NR]=$1} END {
  printf "detection_ms n=%d p50=%.1f p99=%.1f max=%.1f\n", NR, t[int(NR*0.5)]/1000, t[int(NR*0.99)]/1000, t[NR]/1000 }'

# Steady state: idle CPU and request rates.
sleep 5
# ipamd's requests, as the agent counts them (the emulator does not).
ipamd() { fetch /metrics | awk '/^eniwatch_requests_total\{.*target="ipamd"/ {s += $2} END {printf "%.0f\n", s}'; }
imds0=$(counter requests)
kube0=$(counter kube_requests)
ipamd0=$(ipamd)
cpu0=$(cpu_ns)
sleep "$idle"
cpu1=$(cpu_ns)
imds1=$(counter requests)
kube1=$(counter kube_requests)
ipamd1=$(ipamd)
awk -v c=$((cpu1 - cpu0)) -v s="$idle" 'BEGIN { printf "idle_cpu_ms_per_minute %.2f\n", c / 1e6 * 60 / s }'
awk -v i=$((imds1 - imds0)) -v k=$((kube1 - kube0)) -v p=$((ipamd1 - ipamd0)) -v s="$idle" \
  'BEGIN { printf "requests_per_hour imds=%.0f kubernetes=%.0f ipamd=%.0f (the agent makes no EC2 call)\n", i * 3600 / s, k * 3600 / s, p * 3600 / s }'

# Churn: rounds of 100 pods added (API and kernel) then deleted, in batches,
# with the resident memory after each.
per_batch=$(( (rounds + batches - 1) / batches ))
done_rounds=0
while [ "$done_rounds" -lt "$rounds" ]; do
  n=$(( rounds - done_rounds < per_batch ? rounds - done_rounds : per_batch ))
  "$lab_bin/eniwatch-lab" churn "$scenario" --name "$name" --rounds "$n" --pods 100
  done_rounds=$((done_rounds + n))
  sleep 3
  echo "rss_after_churn_kib $(rss) ($((done_rounds * 100)) pod add/delete cycles)"
done
