#!/bin/bash
# tools/kiln/demo_test.sh — `kiln demo` builds, loads and runs the built-in
# example and prints every section and the program's output.
# Usage: demo_test.sh KILN. Writes only under $TEST_TMPDIR.
set -u
KILN="$PWD/$1"
T="${TEST_TMPDIR:-$(mktemp -d)}/demo"
rm -rf "$T" && mkdir -p "$T" && cd "$T" || exit 1
unset KILN_CPU_TARGET_INDEX KILN_CPU_DISABLE
FAILS=0
"$KILN" demo --keep kept > out.txt 2> err.txt
rc=$?
cat out.txt err.txt
[ "$rc" = 0 ] || { echo "FAIL: kiln demo exit $rc"; FAILS=$((FAILS + 1)); }
for s in 'targets:' 'shards:' 'threads:' 'clones per target:' 'selected:' 'why:' 'timings:' \
    '  build' '  link' '  load' 'program output:' 'dot(x, y)' 'histogram' 'hash("kiln")'; do
  grep -qF -- "$s" out.txt || { echo "FAIL: no '$s' in the output"; FAILS=$((FAILS + 1)); }
done
grep -q 'dot(x, y)     = 914954.38' out.txt || { echo "FAIL: wrong dot"; FAILS=$((FAILS + 1)); }
grep -q 'hash("kiln")  = 285cc6eb04fca589' out.txt || { echo "FAIL: wrong hash"; FAILS=$((FAILS + 1)); }
[ -f kept/demo.so ] || { echo "FAIL: --keep did not keep the image"; FAILS=$((FAILS + 1)); }
# The same output with the generic target forced.
KILN_CPU_TARGET_INDEX=0 "$KILN" demo > generic.txt 2>&1 || { echo "FAIL: forced generic"; FAILS=$((FAILS + 1)); }
grep -q 'selected:  \[0\] generic' generic.txt || { echo "FAIL: KILN_CPU_TARGET_INDEX=0 ignored"; FAILS=$((FAILS + 1)); }
diff <(sed -n '/program output:/,$p' out.txt) <(sed -n '/program output:/,$p' generic.txt) ||
  { echo "FAIL: output differs between targets"; FAILS=$((FAILS + 1)); }
[ "$FAILS" = 0 ] && echo "all passed" || { echo "$FAILS FAILED"; exit 1; }
