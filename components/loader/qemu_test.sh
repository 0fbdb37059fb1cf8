#!/usr/bin/env bash
# components/loader/qemu_test.sh — CPU selection end to end under emulated
# CPUs: make_test_image builds a generic;haswell image of
# testdata/kernels.c (natively), then loader_probe (compiled for baseline
# x86-64) loads it under qemu-x86_64 -cpu Nehalem (no AVX2: target 0,
# generic code runs) and -cpu Haswell (target 1, haswell code runs). The
# kernels' results must be identical on both.
# Usage: qemu_test.sh <qemu-x86_64> <loader_probe> <make_test_image> <kernels.c>
set -euo pipefail
qemu=$1 probe=$2 make_image=$3 kernels=$4
failures=0
image="$TEST_TMPDIR/kernels.so"
"$make_image" "$image" "$kernels" "$TEST_TMPDIR/build"

expect() { # description, output, grep-pattern
  if grep -Eq -- "$3" <<<"$2"; then
    echo "ok: $1"
  else
    echo "FAIL: $1: '$3' not found"; failures=$((failures + 1))
  fi
}

nehalem=$("$qemu" -cpu Nehalem "$probe" "$image" 2>&1 || true)
echo "--- qemu -cpu Nehalem"; echo "$nehalem"
expect "Nehalem selects generic" "$nehalem" '^selected: 0 \(generic\)$'
expect "Nehalem runs generic code" "$nehalem" '^which_target: 0$'

haswell=$("$qemu" -cpu Haswell "$probe" "$image" 2>&1 || true)
echo "--- qemu -cpu Haswell"; echo "$haswell"
expect "Haswell selects haswell" "$haswell" '^selected: 1 \(haswell\)$'
expect "Haswell runs haswell code" "$haswell" '^which_target: 1$'

forced=$(KILN_CPU_TARGET_INDEX=0 "$qemu" -cpu Haswell "$probe" "$image" 2>&1 || true)
echo "--- qemu -cpu Haswell, KILN_CPU_TARGET_INDEX=0"; echo "$forced"
expect "forced index 0 on Haswell" "$forced" '^selected: 0 \(generic\)$'

forced=$(KILN_CPU_TARGET_INDEX=1 "$qemu" -cpu Nehalem "$probe" "$image" 2>&1 || true)
echo "--- qemu -cpu Nehalem, KILN_CPU_TARGET_INDEX=1"; echo "$forced"
expect "forcing haswell on Nehalem fails" "$forced" '^error: incompatible: .*avx2'

r1=$(grep '^result:' <<<"$nehalem" || true)
r2=$(grep '^result:' <<<"$haswell" || true)
if [[ -n $r1 && $r1 == "$r2" ]]; then
  echo "ok: same results on both ($r1)"
else
  echo "FAIL: results differ or missing: '$r1' vs '$r2'"; failures=$((failures + 1))
fi

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all qemu checks passed"
