#!/bin/bash
# Bad input through the CLI: each case must exit 1 with exactly one line on
# stderr that names the input and the problem, and a failed build must leave
# the previously built image byte-for-byte intact.
set -uo pipefail
kiln="$1" src="$2"
t="${TEST_TMPDIR:-$(mktemp -d)}"
fails=0
fail() { echo "FAIL (bad input): $*" >&2; fails=$((fails + 1)); }

"$kiln" build "$src" -o "$t/good.so" || { echo "FAIL: the good build failed" >&2; exit 1; }
cp "$t/good.so" "$t/good.orig"

# expect NAME PATTERN CMD...: exit 1, one stderr line matching PATTERN, image intact.
expect() {
  local name="$1" pattern="$2"
  shift 2
  "$@" > "$t/out" 2> "$t/err"
  local rc=$?
  local lines
  lines="$(wc -l < "$t/err")"
  if [ "$rc" != 1 ]; then fail "$name: exit $rc, want 1 (stderr: $(cat "$t/err"))"; fi
  if [ "$lines" != 1 ]; then fail "$name: $lines stderr lines, want 1: $(cat "$t/err")"; fi
  if ! grep -Eq -- "$pattern" "$t/err"; then fail "$name: '$(cat "$t/err")' does not match /$pattern/"; fi
  if ! cmp -s "$t/good.so" "$t/good.orig"; then fail "$name: the previous image changed"; fi
  echo "ok $name: $(cat "$t/err")"
}

printf 'define i32 @f() {\n  ret i32 %%undefined_value\n}\n' > "$t/broken.ll"
expect "malformed IR" 'broken\.ll.*:2' "$kiln" build "$t/broken.ll" -o "$t/good.so"
printf 'this is not LLVM IR\n' > "$t/garbage.bc"
expect "garbage input" 'garbage\.bc' "$kiln" build "$t/garbage.bc" -o "$t/good.so"
expect "unknown CPU" 'notacpu' "$kiln" build --cpu-target 'generic;notacpu' "$src" -o "$t/good.so"
expect "unknown feature" 'notafeature' "$kiln" build --cpu-target 'haswell,+notafeature' "$src" -o "$t/good.so"
expect "empty target" 'generic;;' "$kiln" build --cpu-target 'generic;;' "$src" -o "$t/good.so"
expect "bad base index" 'base' "$kiln" build --cpu-target 'generic;haswell,base(7)' "$src" -o "$t/good.so"
expect "missing input" 'no_such_file\.c' "$kiln" build "$t/no_such_file.c" -o "$t/good.so"
mkdir -p "$t/ro"
expect "unwritable output" 'no_such_dir' "$kiln" build "$src" -o "$t/no_such_dir/x.so"

# A corrupt image: flip bytes in the metadata (found by its magic).
cp "$t/good.orig" "$t/corrupt.so"
off="$(grep -obUaP 'KILNIMG\x00' "$t/corrupt.so" | head -1 | cut -d: -f1)"
[ -n "$off" ] || { echo "FAIL: no metadata magic in the image" >&2; exit 1; }
printf '\xff\xff\xff\xff' | dd of="$t/corrupt.so" bs=1 seek=$((off + 200)) conv=notrunc 2>/dev/null
expect "corrupt image (inspect)" 'corrupt\.so.*checksum' "$kiln" inspect "$t/corrupt.so"
expect "corrupt image (run)" 'corrupt\.so.*checksum' "$kiln" run "$t/corrupt.so" kiln_main
head -c 100 "$t/good.orig" > "$t/truncated.so"
expect "truncated image" 'truncated\.so' "$kiln" run "$t/truncated.so" kiln_main
printf 'not an elf file at all\n' > "$t/text.so"
expect "not ELF" 'text\.so.*ELF' "$kiln" inspect "$t/text.so"
expect "missing image" 'nothing\.so' "$kiln" run "$t/nothing.so" kiln_main
expect "missing symbol" 'no_such_symbol' "$kiln" run "$t/good.so" no_such_symbol

[ "$fails" = 0 ] || { echo "$fails failures" >&2; exit 1; }
echo PASS
