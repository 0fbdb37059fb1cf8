#!/usr/bin/env bash
# components/image_format/image_format_fuzz_test.sh — runs image_format_fuzzer
# for a bounded time from the seed corpus in fuzz_corpus/ (encoded images).
# libFuzzer exits non-zero on a crash, an abort from a broken accessor
# property, a sanitizer report or a leak, and that fails the test. New inputs
# go to $TEST_TMPDIR, never into the repo.
# Usage: image_format_fuzz_test.sh <image_format_fuzzer> <seed corpus dir> [seconds]
set -euo pipefail
fuzzer=$1
seeds=$2
seconds=${3:-20}
work="$TEST_TMPDIR/corpus"
mkdir -p "$work"
cp "$seeds"/* "$work"/
"$fuzzer" -max_total_time="$seconds" -detect_leaks=1 -max_len=8192 -timeout=10 \
  -artifact_prefix="$TEST_TMPDIR/" "$work" 2>&1 | tail -n 25
status=${PIPESTATUS[0]}
echo "image_format_fuzzer exit status: $status"
exit "$status"
