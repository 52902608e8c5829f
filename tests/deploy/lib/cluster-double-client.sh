#!/usr/bin/env bash
# kubectl for the replays: forwards the call to the cluster double running as a server
# (lib/cluster-double.js --serve) on 127.0.0.1:$KUBECTL_DOUBLE_PORT, so each call costs a TCP
# round trip instead of starting node. Protocol: lib/cluster-double.js, startServer.
set -u
export LC_ALL=C  # lengths in bytes
exec 3<>"/dev/tcp/127.0.0.1/${KUBECTL_DOUBLE_PORT:?}" || exit 99
input=
for a in "$@"; do
  if [[ $a == - ]]; then
    input=$(cat && printf x)
    input=${input%x}
  fi
done
forward=()
for v in KUBECTL_DOUBLE_STATE KUBECTL_DOUBLE_BROKEN PLEXUS_JS_YAML KUBECTL_REAL; do
  [[ -n ${!v:-} ]] && forward+=("$v=${!v}")
done
{
  printf '%d\n' "$#"
  (($#)) && printf '%s\n' "$@"
  printf '%d\n' "${#forward[@]}"
  ((${#forward[@]})) && printf '%s\n' "${forward[@]}"
  printf '%d\n%s' "${#input}" "$input"
} >&3
read -r status <&3
read -r n <&3
head -c "$n" <&3
read -r n <&3
head -c "$n" <&3 >&2
exit "$status"
