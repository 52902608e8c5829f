#!/usr/bin/env bash
# SDK consumer test: install the SDK into a temporary prefix, build an out-of-tree plugin with
# find_package(plexus_sdk 1), load it in the real host (check, then serve and call its route).
# Also proves the package refuses a different major version.
set -euo pipefail
build_dir=$1
src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
host_pid=
cleanup() {
  [[ -n $host_pid ]] && kill "$host_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$src_dir/plugin" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
so=$work/build/plexus_acme_greeter.so
[[ -f $so ]] || { echo "FAIL: $so was not built"; exit 1; }

# A C plugin asks for the C component only and builds where nlohmann_json is absent (issue 16,
# defect 7: find_package(plexus_sdk) pulled nlohmann_json into a C-only plugin).
cmake -S "$src_dir/c_plugin" -B "$work/cbuild" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON \
  -DPLEXUS_C_PLUGIN_SOURCE="$src_dir/../fixture_plugins/abi_1_1.c" >"$work/c.log" 2>&1 ||
  { cat "$work/c.log"; echo "FAIL: the C-only plugin project did not configure"; exit 1; }
cmake --build "$work/cbuild" >>"$work/c.log" 2>&1 ||
  { cat "$work/c.log"; echo "FAIL: the C-only plugin did not build"; exit 1; }
[[ -f $work/cbuild/plexus_acme_c.so ]] || { echo "FAIL: plexus_acme_c.so was not built"; exit 1; }

if cmake -S "$src_dir/plugin" -B "$work/build2" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DPLEXUS_SDK_MAJOR=2 >"$work/major2.log" 2>&1; then
  echo "FAIL: find_package(plexus_sdk 2) accepted SDK 1.x"
  exit 1
fi

cat >"$work/host.json" <<JSON
{"service": "sdk-consumer", "http": {"host": "127.0.0.1", "port": 0},
 "plugins": [{"library": "$so", "config": {"greeting": "howdy"}}]}
JSON
host=$build_dir/bin/plexus-host
"$host" check --config "$work/host.json"

"$host" --config "$work/host.json" >"$work/host.log" 2>&1 &
host_pid=$!
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$work/host.log")
  [[ -n $port ]] && break
  kill -0 "$host_pid" 2>/dev/null || { cat "$work/host.log"; echo "FAIL: host exited"; exit 1; }
  sleep 0.05
done
[[ -n $port ]] || { cat "$work/host.log"; echo "FAIL: host did not listen"; exit 1; }
answer=$(curl -sS "http://127.0.0.1:$port/acme/greet/ada")
[[ $answer == '{"greeting":"howdy, ada"}' ]] || { echo "FAIL: unexpected answer: $answer"; exit 1; }
kill -TERM "$host_pid"
wait "$host_pid"
host_pid=
echo "PASS: out-of-tree plugin built against the installed SDK answered: $answer"
