#!/bin/bash
# System + package images through the CLI (issue: runtime model):
#  1. base.c -> sys.so (system), pkg.c -> pkg.so built against it; both load
#     and the package's functions work, including a callback across images.
#  2. base_v2.c (base_add changed) -> sys2.so; running pkg.so on sys2.so
#     reports pkg_sum invalid (dependency base_add changed) and pkg_top
#     invalid (calls pkg_sum), installs pkg_other and pkg_leaf, and compiles
#     pkg_top on first use with the NEW behaviour; the trace lists the keys
#     compiled on first use.
#  3. An image built from that trace has exactly those roots; running it on
#     sys2.so compiles nothing and the trace gets nothing new.
#  4. A package whose CPU targets do not fit its base is refused.
set -euo pipefail
kiln="$(realpath "$1")" base="$(realpath "$2")" base2="$(realpath "$3")" pkg="$(realpath "$4")"
t="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL (package): $*" >&2; exit 1; }
cd "$t"

"$kiln" build "$base" -o sys.so
"$kiln" build "$base2" -o sys2.so
"$kiln" build --base sys.so "$pkg" -o pkg.so
"$kiln" inspect pkg.so | grep -qi package || fail "pkg.so is not a package image"

# 1. Everything valid.
[ "$("$kiln" run pkg.so pkg_top --base sys.so)" = "pkg_top 45" ] || fail "pkg_top on sys.so"
[ "$("$kiln" run pkg.so pkg_other --base sys.so)" = "pkg_other 21 30" ] || fail "pkg_other on sys.so"

# 2. The base changed under the package.
out="$("$kiln" run pkg.so pkg_top --base sys2.so --report --trace trace.txt 2> report.txt)"
[ "$out" = "pkg_top 1045" ] || fail "pkg_top on sys2.so printed '$out' (want the new behaviour, 1045)"
grep -q 'pkg_sum' report.txt || fail "report lacks pkg_sum: $(cat report.txt)"
grep -Eqi 'pkg_sum.*base_add.*changed|pkg_sum.*dep_changed.*base_add' report.txt ||
  fail "report does not say pkg_sum's dependency base_add changed: $(cat report.txt)"
grep -Eqi 'pkg_top.*(calls_invalid|calls).*pkg_sum' report.txt ||
  fail "report does not say pkg_top calls invalid pkg_sum: $(cat report.txt)"
if grep -Eqi 'pkg_other.*invalid|pkg_leaf.*invalid' report.txt; then
  fail "pkg_other/pkg_leaf reported invalid: $(cat report.txt)"
fi
[ "$("$kiln" run pkg.so pkg_other --base sys2.so)" = "pkg_other 21 30" ] || fail "pkg_other on sys2.so"
sort trace.txt > trace.sorted
printf 'pkg_sum\npkg_top\n' | diff -u - trace.sorted || fail "trace is not exactly pkg_sum, pkg_top"

# 3. The trace as the roots of the next package image.
"$kiln" build --base sys2.so --roots trace.txt "$pkg" -o pkg2.so
"$kiln" inspect --json pkg2.so > pkg2.json
grep -q '"pkg_top"' pkg2.json || fail "pkg2.so lacks pkg_top"
grep -q '"pkg_sum"' pkg2.json || fail "pkg2.so lacks pkg_sum"
if grep -q '"pkg_other"\|"pkg_leaf"' pkg2.json; then fail "pkg2.so has methods beyond the trace"; fi
[ "$("$kiln" run pkg2.so pkg_top --base sys2.so --trace trace2.txt)" = "pkg_top 1045" ] ||
  fail "pkg_top from pkg2.so"
if [ -s trace2.txt ]; then fail "second run traced new compiles: $(cat trace2.txt)"; fi

# 4. CPU targets that do not fit the base.
set +e
"$kiln" build --base sys.so --cpu-target 'generic;haswell' "$pkg" -o bad.so 2> err.txt
rc=$?
set -e
[ "$rc" = 1 ] || fail "target mismatch: exit $rc, want 1"
grep -qi 'target' err.txt || fail "target mismatch message: $(cat err.txt)"
[ ! -e bad.so ] || fail "bad.so was written"
echo PASS
