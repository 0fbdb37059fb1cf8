#!/usr/bin/env bash
# components/loader/loader_fuzz_test.sh — runs loader_fuzzer for a bounded
# time from the seed corpus (a real small image built by make_test_image,
# plus variants). libFuzzer exits non-zero on a crash, a sanitizer report or
# a leak, which fails the test. New inputs go to $TEST_TMPDIR only.
# Usage: loader_fuzz_test.sh <loader_fuzzer> <seed corpus dir> [seconds]
set -euo pipefail
fuzzer=$1
seeds=$2
seconds=${3:-20}
work="$TEST_TMPDIR/corpus"
mkdir -p "$work"
cp "$seeds"/* "$work"/
"$fuzzer" -max_total_time="$seconds" -detect_leaks=1 -max_len=16384 -timeout=10 \
  -artifact_prefix="$TEST_TMPDIR/" "$work" 2>&1 | tail -n 25
status=${PIPESTATUS[0]}
echo "loader_fuzzer exit status: $status"
exit "$status"
