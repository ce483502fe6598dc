#!/usr/bin/env bash
# Installs what eniwatch's lab, tests and demo need on a Debian machine (as root):
# iproute2 for network namespaces, Prometheus (server and promtool) for the
# metrics tests, and checks for a Rust toolchain.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ "${ENIWATCH_SETUP_PROMETHEUS:-1}" = 1 ]; then
  { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need_apt+=(prometheus)
fi
[ -e /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  for c in "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -x "$c" ] && export PATH="$(dirname "$c"):$PATH" && break
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain found; install Rust 1.85 or newer (https://rustup.rs) and run again" >&2
  exit 1
fi
