#!/usr/bin/env bash
# The scaffold as a user runs it: install the SDK into a temporary prefix, create a plugin project
# with the installed plexus-new-plugin for one language, build it against that prefix, run its
# test (on the SQLite test host), and load the plugin in the real host. Prints the timings.
#   run.sh BUILD_DIR LANG
set -euo pipefail
build_dir=$1
lang=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t0=$(now)
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
t1=$(now)
cd "$work"
"$work/prefix/bin/plexus-new-plugin" acme_notes --lang "$lang"
for f in CMakeLists.txt schemas/AcmeNotesItemAdded.json test/acme_notes_test.cpp; do
  [[ -f acme_notes/$f ]] || { echo "FAIL: the scaffold made no $f"; exit 1; }
done
t2=$(now)
cmake -S acme_notes -B acme_notes/build -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >build.log 2>&1 &&
  cmake --build acme_notes/build >>build.log 2>&1 ||
  { cat build.log; echo "FAIL: the $lang project did not build as generated"; exit 1; }
t3=$(now)
ctest --test-dir acme_notes/build --output-on-failure >test.log 2>&1 ||
  { cat test.log; echo "FAIL: the $lang project's test failed as generated"; exit 1; }
grep -q '100% tests passed' test.log || { cat test.log; echo "FAIL: no test ran"; exit 1; }
t4=$(now)
cat >host.json <<JSON
{"service": "scaffold", "store": {"kind": "sqlite", "url": ":memory:"},
 "plugins": [{"library": "$work/acme_notes/build/plexus_acme_notes.so"}]}
JSON
"$work/prefix/bin/plexus-host" check --config host.json >check.log 2>&1 ||
  { cat check.log; echo "FAIL: the host refused the $lang plugin"; exit 1; }
echo "PASS: scaffold ($lang): install $(secs "$t0" "$t1") s, generate $(secs "$t1" "$t2") s," \
  "configure+build $(secs "$t2" "$t3") s, test $(secs "$t3" "$t4") s, loaded by plexus-host check"
