#!/bin/bash
# Rust into a kiln image: rustc --emit=llvm-bc, then `kiln build` with a C
# caller, `kiln run`, and a comparison with a native build of the same
# bitcode. rustc comes from $KILN_RUSTC, PATH, or ~/.cargo/bin (where the
# machines of this project have rustc 1.95, built on LLVM 22).
set -euo pipefail
kiln="$1" clang="$2" rs="$3" cmain="$4"
t="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL (rust): $*" >&2; exit 1; }

rustc="${KILN_RUSTC:-}"
for c in "$(command -v rustc || true)" "${HOME:-/root}/.cargo/bin/rustc" /root/.cargo/bin/rustc; do
  if [ -z "$rustc" ] && [ -n "$c" ] && [ -x "$c" ]; then rustc="$c"; fi
done
[ -n "$rustc" ] || fail "no rustc found (set KILN_RUSTC)"
"$rustc" --version --verbose | grep -q 'LLVM version: 22' ||
  fail "$rustc is not built on LLVM 22: $("$rustc" --version --verbose | grep LLVM)"

"$rustc" --edition 2021 --crate-type=lib --emit=llvm-bc -C panic=abort -C opt-level=0 \
  -C overflow-checks=off -C debug-assertions=off -o "$t/kernels.bc" "$rs"

printf 'int kiln_main(void);\nint main(void) { return kiln_main(); }\n' > "$t/driver.c"
"$clang" -O2 -ffp-contract=off -Wno-override-module -o "$t/native" "$cmain" "$t/kernels.bc" "$t/driver.c"
"$t/native" > "$t/native.out"

"$kiln" build --cpu-target 'generic;haswell;x86-64-v4' --cflag -ffp-contract=off \
  "$t/kernels.bc" "$cmain" -o "$t/rust.so"
"$kiln" run "$t/rust.so" kiln_main > "$t/image.out" || fail "kiln run exited $?"
diff -u "$t/native.out" "$t/image.out" || fail "image output differs from native"
"$kiln" inspect "$t/rust.so" | grep -q rs_collatz_total || fail "inspect does not list rs_collatz_total"
echo "PASS rust: $(wc -l < "$t/native.out") lines equal"
