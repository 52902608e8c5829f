#!/bin/sh
# Print, one per line, the Debian packages that ship the shared libraries the given ELF files
# link directly (their NEEDED entries). The image's runtime stage installs exactly these, so a
# new library dependency of the host or a plugin cannot be forgotten there.
set -eu
[ $# -gt 0 ] || { echo "usage: runtime-packages.sh ELF..." >&2; exit 2; }
packages=
for f in "$@"; do
  resolved=$(ldd "$f") || { echo "runtime-packages: $f: ldd failed" >&2; exit 1; }
  for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(printf '%s\n' "$resolved" | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }')
    if [ -z "$path" ] || [ "$path" = "not" ]; then
      echo "runtime-packages: $f: $lib not found" >&2
      exit 1
    fi
    real=$(readlink -f "$path")
    # usrmerge: dpkg may know the file under /lib or under /usr/lib.
    pkg=$(dpkg-query -S "$real" 2>/dev/null || dpkg-query -S "${real#/usr}" 2>/dev/null ||
      dpkg-query -S "$path" 2>/dev/null) ||
      { echo "runtime-packages: $f: no package ships $real" >&2; exit 1; }
    packages="$packages ${pkg%%[:,]*}"
  done
done
# shellcheck disable=SC2086 # split on purpose: one package name per line
printf '%s\n' $packages | sort -u
