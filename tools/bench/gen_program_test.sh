#!/bin/bash
# Checks tools/bench/gen_program and measure: equal arguments give equal
# programs, different seeds differ, the program compiles warning-free with
# clang-22 and prints the same checksum at -O0 and -O2, bad arguments are
# refused, and measure reports a child's status and peak RSS.
set -euo pipefail
gen="$1" measure="$2" clang="$3"
t="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gen" -n 300 -s 7 -o "$t/a.c"
"$gen" -n 300 -s 7 > "$t/b.c"
cmp "$t/a.c" "$t/b.c" || fail "same arguments, different programs"
"$gen" -n 300 -s 8 -o "$t/c.c"
if cmp -s "$t/a.c" "$t/c.c"; then fail "different seeds, same program"; fi
[ "$(grep -c '^int64_t f[0-9]*(int64_t s) {$' "$t/a.c")" = 300 ] || fail "expected 300 definitions"

"$clang" -std=c11 -Wall -Wextra -Werror -O0 -o "$t/p0" "$t/a.c"
"$clang" -std=c11 -Wall -Wextra -Werror -O2 -o "$t/p2" "$t/a.c"
o0="$("$t/p0")" o2="$("$t/p2")"
[[ "$o0" == checksum* ]] || fail "unexpected output: $o0"
[ "$o0" = "$o2" ] || fail "-O0 and -O2 disagree: $o0 vs $o2"

"$gen" -n 300 --lib -o "$t/lib.c"
if grep -q 'int main' "$t/lib.c"; then fail "--lib still has main"; fi
grep -q 'kiln_bench_entry' "$t/lib.c" || fail "--lib lacks the entry point"

if "$gen" -n 5 >/dev/null 2>"$t/err"; then fail "-n 5 accepted"; fi
grep -q 'out of range' "$t/err" || fail "no range message: $(cat "$t/err")"
if "$gen" -n x >/dev/null 2>"$t/err"; then fail "-n x accepted"; fi
grep -q 'not a number' "$t/err" || fail "no number message: $(cat "$t/err")"

"$measure" -o "$t/m" -- "$t/p0" >/dev/null
grep -Eq '^wall_s=[0-9.]+ user_s=[0-9.]+ sys_s=[0-9.]+ maxrss_kb=[0-9]+ status=0$' "$t/m" ||
  fail "measure line: $(cat "$t/m")"
set +e
"$measure" -o "$t/m" -- sh -c 'exit 3'
rc=$?
set -e
[ "$rc" = 3 ] || fail "measure exit status $rc, want 3"
grep -q 'status=3' "$t/m" || fail "measure status: $(cat "$t/m")"
echo PASS
