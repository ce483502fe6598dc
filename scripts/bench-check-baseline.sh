#!/usr/bin/env bash
# What an operator does by hand to check a node's custom networking, run
# inside the node (its network namespace), reading what `eniwatch check`
# reads, one tool call at a time:
#   - IMDSv2: one token, then the 8 instance fields and, for each ENI (MAC),
#     the 10 fields eniwatch reads (device-number ... ipv4-prefix);
#   - the kernel: `ip -j` links, addresses, routes of every table, rules;
#   - the Kubernetes API (the kubeconfig's server URL): the node, the pods on
#     it (field selector), the ENIConfigs;
#   - ipamd's introspection API: ENIs, ENIConfigs, environment;
#   - a short comparison (jq): every non-host-network pod IP is an address
#     of an ENI in the ENIConfig's subnet and has a `from` rule.
# Prints the pods that fail the comparison, nothing when all pass.
# Usage: bench-check-baseline.sh KUBECONFIG NODE [LABEL_DEF] [IMDS] [IPAMD]
set -euo pipefail
kubeconfig=$1
node=$2
label_def=${3:-k8s.amazonaws.com/eniConfig}
imds=${4:-http://169.254.169.254}
ipamd=${5:-http://127.0.0.1:61679}
server=$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -n 1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

token=$(curl -sf -X PUT "$imds/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
md() { curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/$1" || true; }
for f in instance-id instance-type mac local-ipv4 placement/availability-zone \
  placement/availability-zone-id placement/region; do
  md "$f" > "$out/$(echo "$f" | tr / _)"
done
for mac in $(md network/interfaces/macs/); do
  mac=${mac%/}
  for f in device-number network-card interface-id subnet-id subnet-ipv4-cidr-block vpc-id \
    vpc-ipv4-cidr-blocks security-group-ids local-ipv4s ipv4-prefix; do
    md "network/interfaces/macs/$mac/$f" > "$out/eni-$mac-$f"
  done
done

ip -j link show > "$out/links.json"
ip -j addr show > "$out/addrs.json"
ip -j route show table all > "$out/routes.json"
ip -j rule show > "$out/rules.json"

curl -sf "$server/api/v1/nodes/$node" > "$out/node.json"
curl -sf "$server/api/v1/pods?fieldSelector=spec.nodeName%3D$node&limit=500" > "$out/pods.json"
curl -sf "$server/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs" > "$out/eniconfigs.json"
for p in /v1/enis /v1/eni-configs /v1/ipamd-env-settings; do
  curl -sf "$ipamd$p" > "$out/ipamd-$(basename "$p").json" || true
done

# The ENIConfig the node's label names, its subnet, the addresses of the ENIs
# in that subnet; then the pods whose IP is not among them or has no rule.
cfg=$(jq -r --arg l "$label_def" '.metadata.labels[$l] // empty' "$out/node.json")
subnet=$(jq -r --arg c "$cfg" '.items[] | select(.metadata.name == $c) | .spec.subnet' \
  "$out/eniconfigs.json")
for f in "$out"/eni-*-subnet-id; do
  [ "$(cat "$f")" = "$subnet" ] && cat "${f%subnet-id}local-ipv4s" && echo
done | jq -R 'select(length > 0)' | jq -s . > "$out/eni-ips.json"
jq -r --slurpfile ips "$out/eni-ips.json" --slurpfile rules "$out/rules.json" '
  ($ips[0] | map({(.): true}) | add // {}) as $have
  | ($rules[0] | map(.src // empty) | map({(.): true}) | add // {}) as $ruled
  | .items[] | select(.spec.hostNetwork != true) | .status.podIP // empty
  | select(($have[.] | not) or ($ruled[.] | not))
' "$out/pods.json"
