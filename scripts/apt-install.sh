# Sourced by the set-up scripts: apt_install WHO PACKAGE... installs the
# packages with apt-get (as root), quietly; nothing when none is given.
apt_install() {
  local who=$1
  shift
  (($#)) || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$who: need root to install: $*" >&2
    exit 1
  fi
  echo "$who: installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
