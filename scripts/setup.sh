#!/usr/bin/env bash
# Installs what eniwatch's lab, tests and demo need on a Debian machine (as root):
# iproute2 for network namespaces, Prometheus (server and promtool) for the
# metrics tests, moto's EC2 emulator in a Python venv for the EC2 tests, and
# checks for a Rust toolchain.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ "${ENIWATCH_SETUP_PROMETHEUS:-1}" = 1 ]; then
  { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need_apt+=(prometheus)
fi
[ -e /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install setup ${need_apt[@]+"${need_apt[@]}"}

if ! command -v cargo >/dev/null 2>&1; then
  for c in "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -x "$c" ] && export PATH="$(dirname "$c"):$PATH" && break
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain found; install Rust 1.85 or newer (https://rustup.rs) and run again" >&2
  exit 1
fi

# moto's server (the EC2 emulator the tests run on loopback), in its own venv,
# kept between runs; ENIWATCH_MOTO_SERVER tells the tests where it is.
if [ "${ENIWATCH_SETUP_MOTO:-1}" = 1 ]; then
  moto_venv=${ENIWATCH_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/eniwatch/moto-venv}
  if [ ! -x "$moto_venv/bin/moto_server" ]; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      apt_install setup python3-venv
    fi
    echo "setup: installing moto[server] into $moto_venv"
    python3 -m venv "$moto_venv"
    "$moto_venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5,<6'
  fi
  export ENIWATCH_MOTO_SERVER="$moto_venv/bin/moto_server"
fi
