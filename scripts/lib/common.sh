# shellcheck shell=bash
# Helpers every script in scripts/ uses, sourced (never run) right after `set -euo pipefail`:
#
#   # shellcheck source=SCRIPTDIR/lib/common.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Messages are tagged with the script's name ("[setup] ..."); a script whose messages need more
# (bench's elapsed time) defines its own say() after sourcing this file.

PLEXUS_SCRIPT=${PLEXUS_SCRIPT:-$(basename "$0")}

say() { printf '[%s] %s\n' "$PLEXUS_SCRIPT" "$*"; }

die() {
  printf '[%s] error: %s\n' "$PLEXUS_SCRIPT" "$*" >&2
  exit 1
}

# True when the Debian package is installed.
installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == 'install ok installed' ]]
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}
