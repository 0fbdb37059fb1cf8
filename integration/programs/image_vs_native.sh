#!/bin/bash
# Builds one C program (entry point `int kiln_main(void)`) natively with
# clang-22 and into a kiln image with targets generic;haswell;x86-64-v4, runs
# both, and requires equal output: once with the target this host picks and
# once with the generic target forced (KILN_CPU_TARGET_INDEX=0).
# Floating-point contraction is off on both sides, so an FMA-capable target
# computes the same bits as the generic one.
# Usage: image_vs_native.sh KILN CLANG PROGRAM.c [EXTRA INPUT...]
set -euo pipefail
kiln="$1" clang="$2" prog="$3"
shift 3
t="${TEST_TMPDIR:-$(mktemp -d)}"
name="$(basename "$prog" .c)"
fail() { echo "FAIL ($name): $*" >&2; exit 1; }
targets="${KILN_TEST_TARGETS:-generic;haswell;x86-64-v4}"

printf 'int kiln_main(void);\nint main(void) { return kiln_main(); }\n' > "$t/driver.c"
"$clang" -std=gnu11 -O2 -ffp-contract=off -o "$t/native" "$prog" "$@" "$t/driver.c" -lpthread
"$t/native" > "$t/native.out"

"$kiln" build --cpu-target "$targets" --cflag -std=gnu11 --cflag -ffp-contract=off \
  "$prog" "$@" -o "$t/$name.so"
"$kiln" run "$t/$name.so" kiln_main > "$t/image.out" || fail "kiln run exited $?"
diff -u "$t/native.out" "$t/image.out" || fail "image output differs from native (host's target)"

KILN_CPU_TARGET_INDEX=0 "$kiln" run "$t/$name.so" kiln_main > "$t/generic.out" ||
  fail "kiln run (generic) exited $?"
diff -u "$t/native.out" "$t/generic.out" || fail "image output differs from native (generic)"
echo "PASS $name: $(wc -l < "$t/native.out") lines equal"
