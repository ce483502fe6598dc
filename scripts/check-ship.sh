#!/usr/bin/env bash
# Checks what ships beside the binary, without a cluster or a container daemon:
#
#   Dockerfile   hadolint; the build agrees with Cargo.toml; the binaries need
#                no shared library that distroless/cc lacks
#   deploy/      every kustomization renders; every object validates against
#                the Kubernetes schemas; the DaemonSet's and eniwatch-cluster
#                Deployment's security settings, RBAC, IRSA and monitoring
#                objects are what they must be; the IAM policy allows exactly
#                eniwatch-cluster's five Describe calls, and the EC2 crate
#                makes no other
#   alerts       promtool check rules, and promtool test rules: every alert
#                fires on its synthetic series and stays quiet otherwise
#   dashboard    every PromQL expression parses (as a recording rule)
#   systemd/     systemd-analyze verify prints nothing; systemd-analyze
#                security rates the unit's exposure 1.2 or lower (it is 1.0)
#
# Each tool is first shown a known-bad input that it must reject, so that a
# tool that checks nothing cannot pass the check.
#
# Tools: scripts/setup-ship.sh installs them. Exit 0 when everything passes,
# 1 when a check fails, 77 when a tool or the binary is missing (tests/ship.rs
# skips on 77 outside CI and fails in CI).
#
# The binary (for the library and systemd checks): $ENIWATCH_BIN, else
# target/release/eniwatch or target/debug/eniwatch. eniwatch-cluster's
# ($ENIWATCH_CLUSTER_BIN, else beside it) has its libraries checked too when
# it is built; a line says so when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${ENIWATCH_SHIP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/eniwatch/ship-venv}
PATH="$venv/bin:$PATH"
python="$venv/bin/python"

# A tool counts as present only when it runs: a leftover shim or a broken
# wrapper on PATH is as missing as no file at all.
missing=()
for tool in kubectl hadolint promtool systemd-analyze ldd; do
  case $tool in
    kubectl) probe=(kubectl version --client) ;;
    *) probe=("$tool" --version) ;;
  esac
  "${probe[@]}" >/dev/null 2>&1 || missing+=("$tool")
done
"$python" -c 'import kubernetes_validate, yaml' >/dev/null 2>&1 || missing+=(kubernetes-validate)
if ((${#missing[@]})); then
  echo "check-ship: these tools are missing or do not run: ${missing[*]} (run scripts/setup-ship.sh)" >&2
  exit 77
fi
if ! kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v5'; then
  echo "check-ship: $(command -v kubectl) has no kustomize v5 (run scripts/setup-ship.sh)" >&2
  exit 77
fi
bin=${ENIWATCH_BIN:-}
if [ -z "$bin" ]; then
  for b in target/release/eniwatch target/debug/eniwatch; do
    [ -x "$b" ] && bin=$b && break
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "check-ship: no eniwatch binary (cargo build, or set ENIWATCH_BIN)" >&2
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
log=$tmp/step.log

# step NAME COMMAND...: runs one check, shows its output on failure.
step() {
  local name=$1
  shift
  if "$@" >"$log" 2>&1; then
    echo "ok    $name"
  else
    echo "FAIL  $name"
    sed 's/^/      /' "$log"
    failed+=("$name")
  fi
}

# rejects NAME COMMAND...: the tool must fail on a known-bad input.
rejects() {
  local name=$1
  shift
  if "$@" >"$log" 2>&1; then
    echo "FAIL  self-test: $name accepted a known-bad input"
    failed+=("self-test: $name")
  fi
}

# --- self-tests: each tool rejects a known-bad input -------------------------
printf 'FROM debian\nRUN apt-get install curl\n' >"$tmp/Dockerfile.bad"
rejects hadolint hadolint --failure-threshold style "$tmp/Dockerfile.bad"
printf 'groups:\n- name: bad\n  rules:\n  - record: bad\n    expr: sum(rate(x[5m])\n' >"$tmp/bad.rules.yaml"
rejects "promtool check rules" promtool check rules "$tmp/bad.rules.yaml"
mkdir -p "$tmp/bad-kustomization"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n' \
  >"$tmp/bad-kustomization/kustomization.yaml"
rejects "kubectl kustomize" kubectl kustomize "$tmp/bad-kustomization"
# (kubernetes-validate's own self-test: check_manifests.py fails on unknown
# fields; systemd-analyze's: see systemd_verify below.)

# --- Dockerfile ---------------------------------------------------------------
step "hadolint Dockerfile" hadolint --failure-threshold style Dockerfile

# Every shared library the binary needs must be in distroless/cc (glibc and
# libgcc_s; no OpenSSL: TLS is rustls).
libraries() {
  local allowed='^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|/lib(64)?/ld-linux-[a-z0-9_-]+\.so\.[0-9]+)$'
  local libs
  libs=$(ldd "$bin" | awk '{print $1}')
  echo "$libs"
  ! grep -Ev "$allowed" <<<"$libs"
}
step "shared libraries of $bin are in distroless/cc" libraries
cluster_bin=${ENIWATCH_CLUSTER_BIN:-$(dirname "$bin")/eniwatch-cluster}
if [ -x "$cluster_bin" ]; then
  step "shared libraries of $cluster_bin are in distroless/cc" env bin="$cluster_bin" bash -c "$(declare -f libraries); libraries"
else
  echo "note  $cluster_bin not built: its libraries are not checked (cargo build -p eniwatch-cluster)"
fi

# --- deploy/: render, validate, assert ----------------------------------------
rendered=()
render() {
  local dir=$1 out=$2
  kubectl kustomize "deploy/$dir" >"$out"
}
for dir in deploy/base deploy/node-rbac deploy/overlays/*/; do
  name=${dir#deploy/}
  name=${name%/}
  out="$tmp/$(tr / _ <<<"$name").yaml"
  step "kubectl kustomize deploy/$name" render "$name" "$out"
  rendered+=(--rendered "$name=$out")
done
step "manifests, IAM policy, Dockerfile (scripts/check_manifests.py)" \
  "$python" scripts/check_manifests.py "${rendered[@]}" --k8s-versions 1.31,latest \
  --iam-policy deploy/iam/cluster-policy.json --ec2-source ec2/src --dockerfile Dockerfile

# kubernetes-validate must reject an unknown field (strict mode).
validate_strict() {
  # Without the bad field in place the self-test would prove nothing: "accept".
  grep -q hostNetwrok "$1" || return 0
  "$python" -c 'import sys, yaml, kubernetes_validate.utils as kv
for obj in yaml.safe_load_all(open(sys.argv[1])):
    if obj:
        kv.validate(obj, "1.31", strict=True)' "$1"
}
sed 's/^\(      hostNetwork: true\)$/\1\n      hostNetwrok: true/' "$tmp/base.yaml" >"$tmp/bad-daemonset.yaml"
rejects "kubernetes-validate (strict)" validate_strict "$tmp/bad-daemonset.yaml"

# --- alerts and dashboard -------------------------------------------------------
mon=$tmp/monitoring
# The tests name their rules file relative to themselves.
promtool_test() { (cd "$1" && promtool test rules alerts-test.yaml); }
step "alerts and dashboard (scripts/check_monitoring.py)" \
  "$python" scripts/check_monitoring.py --rendered "$tmp/overlays_prometheus-operator.yaml" --out "$mon"
if [ -f "$mon/eniwatch.rules.yaml" ]; then
  step "promtool check rules (alerts)" promtool check rules "$mon/eniwatch.rules.yaml"
  step "promtool test rules (alerts-test.yaml)" promtool_test "$mon"
  step "promtool check rules (dashboard expressions)" promtool check rules "$mon/dashboard.rules.yaml"
fi

# --- systemd ---------------------------------------------------------------------
# systemd-analyze verify checks the unit against a root that holds systemd's
# own units, the unit and the binary at its ExecStart path (it reports a
# missing executable). It reports most problems (unknown keys, bad values) as
# warnings with exit code 0, so any output at all fails the check.
root=$tmp/root
mkdir -p "$root/etc/systemd/system" "$root/usr/local/bin" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
# A hard link where possible: a debug binary is hundreds of megabytes.
ln "$bin" "$root/usr/local/bin/eniwatch" 2>/dev/null || cp "$bin" "$root/usr/local/bin/eniwatch"
systemd_verify() {
  local unit=$1 out
  cp "$unit" "$root/etc/systemd/system/eniwatch.service"
  out=$(systemd-analyze verify --root="$root" eniwatch.service 2>&1) || {
    echo "$out"
    return 1
  }
  [ -z "$out" ] || {
    echo "$out"
    return 1
  }
}
# (If MemoryMax=128M changes, the sed below changes nothing, the unit verifies
# clean, and the self-test fails: keep them in step.)
sed 's/^MemoryMax=128M$/MemoryMax=128Q/' systemd/eniwatch.service >"$tmp/bad.service"
rejects "systemd-analyze verify" systemd_verify "$tmp/bad.service"
step "systemd-analyze verify systemd/eniwatch.service" systemd_verify systemd/eniwatch.service
step "systemd-analyze security: exposure <= 1.2 (the unit rates 1.0)" \
  systemd-analyze security --offline=yes --root="$root" --threshold=12 eniwatch.service

if ((${#failed[@]})); then
  echo "check-ship: ${#failed[@]} failed: ${failed[*]}" >&2
  exit 1
fi
echo "check-ship: all passed"
