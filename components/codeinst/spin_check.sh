#!/usr/bin/env bash
# components/codeinst/spin_check.sh — runs spin on codeinst.pml as a Bazel
# test: generates the verifier (spin -a, preprocessing with the pinned
# clang), compiles pan.c with the same clang, runs an exhaustive safety
# search, and judges spin's report.
#
# usage: spin_check.sh SPIN CLANG MODEL expect-pass|expect-violation [-DNAME...]
#   expect-pass       no error, the search completed, nothing was truncated
#   expect-violation  spin found an assertion violation (a weakened variant)
# Writes only under $TEST_TMPDIR.
set -euo pipefail

spin=$(realpath "$1")
clang=$(realpath "$2")
model=$(realpath "$3")
expect=$4
shift 4
defines=("$@")

work="${TEST_TMPDIR:-$(mktemp -d)}/spin${defines[*]:+_${defines[*]//[^A-Za-z_]/}}"
rm -rf "$work"
mkdir -p "$work"
cp "$model" "$work/codeinst.pml"
cd "$work"

# spin runs the preprocessor as "<cmd> codeinst.pml > pan.pre"; -D flags are
# passed through to it, which is how the weakened variants are selected.
"$spin" "-P$clang -E -x c" "${defines[@]}" -a codeinst.pml

# SAFETY: assertions and invalid end states (a waiter stuck forever), no
# cycle search. No BITSTATE or hash compaction: every state is stored, so a
# completed search is exhaustive.
"$clang" -O2 -w -DSAFETY -DMEMLIM=2048 -o pan pan.c

# -m: depth bound far above the model's; -n: no unreached-code listing.
status=0
./pan -m100000 -n > pan.out 2>&1 || status=$?
cat pan.out

fail() { echo "FAIL: $*" >&2; exit 1; }

case "$expect" in
  expect-pass)
    grep -q "errors: 0" pan.out || fail "spin reported errors"
    ! grep -qi "search not completed" pan.out || fail "search not completed"
    ! grep -q "max search depth too small" pan.out || fail "depth bound reached"
    grep -q "assertion violations	+" pan.out || fail "assertions were not checked"
    grep -q "invalid end states	+" pan.out || fail "end states were not checked"
    echo "PASS: exhaustive search, no violation:"
    grep -E "^State-vector|states, stored$" pan.out
    ;;
  expect-violation)
    grep -q "assertion violated" pan.out || fail "weakened model ${defines[*]} passed; the check cannot fail"
    echo "PASS: weakened model ${defines[*]} violates the invariant, as it must:"
    grep "assertion violated" pan.out
    # Replay the counterexample for the log.
    "$spin" "-P$clang -E -x c" "${defines[@]}" -t -p codeinst.pml | tail -n 40 || true
    ;;
  *)
    fail "unknown expectation '$expect'"
    ;;
esac
