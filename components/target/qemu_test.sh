#!/usr/bin/env bash
# components/target/qemu_test.sh — host detection and selection under
# emulated CPUs: cpu_probe (linked with the target library) runs under
# qemu-x86_64 -cpu Nehalem (no AVX2: picks generic) and -cpu Haswell (AVX2,
# FMA, BMI2: picks haswell), and with KILN_CPU_DISABLE masking AVX2 away.
# qemu-user 7.2 emulates no AVX-512, so Haswell is the widest model here.
# Usage: qemu_test.sh <qemu-x86_64> <cpu_probe>
set -euo pipefail
qemu=$1
probe=$2
failures=0

run() { # cpu-model [env...]
  local model=$1
  shift
  env "$@" "$qemu" -cpu "$model" "$probe" 2>"$TEST_TMPDIR/stderr"
}

expect() { # description, output, grep-pattern, [absent]
  if [[ ${4:-} == absent ]]; then
    if grep -Eq -- "$3" <<<"$2"; then
      echo "FAIL: $1: '$3' should be absent"; failures=$((failures + 1))
    else
      echo "ok: $1"
    fi
  elif grep -Eq -- "$3" <<<"$2"; then
    echo "ok: $1"
  else
    echo "FAIL: $1: '$3' not found"; failures=$((failures + 1))
  fi
}

out=$(run Nehalem)
echo "--- qemu -cpu Nehalem"; echo "$out"
expect "Nehalem is named nehalem" "$out" '^cpu: nehalem$'
expect "Nehalem has sse4.2" "$out" '[+]sse4\.2(,|$)'
expect "Nehalem has no avx2" "$out" '[+]avx2(,|$)' absent
expect "Nehalem has no avx" "$out" '[+]avx(,|$)' absent
expect "Nehalem selects generic" "$out" '^selected: 0 \(generic\)$'

out=$(run Haswell)
echo "--- qemu -cpu Haswell"; echo "$out"
expect "Haswell is named haswell" "$out" '^cpu: haswell$'
for f in avx2 fma bmi2 avx movbe; do
  expect "Haswell has $f" "$out" "[+]$f(,|\$)"
done
expect "Haswell has 256-bit vectors" "$out" '^vector_bits: 256$'
expect "Haswell selects haswell" "$out" '^selected: 1 \(haswell\)$'

out=$(run Haswell KILN_CPU_DISABLE=avx2)
echo "--- qemu -cpu Haswell, KILN_CPU_DISABLE=avx2"; echo "$out"
expect "masked avx2 is gone" "$out" '[+]avx2(,|$)' absent
expect "masked Haswell selects generic" "$out" '^selected: 0 \(generic\)$'

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all qemu checks passed"
