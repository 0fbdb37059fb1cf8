#!/usr/bin/env bash
# tools/build_defs/kiln_cache_check.sh — shows that kiln_image builds are
# fully cacheable: builds //tools/build_defs:rule_example (compile, split,
# per-shard emit and link actions, and kiln itself) with a fresh
# --disk_cache (after `bazel clean`, so every action runs and is stored),
# wipes Bazel's outputs with `bazel clean` again, builds again, and
# requires that every action of the second build came from the disk cache
# (Bazel's "N processes: ... cache hit ..." line with no locally run
# process). It also checks the image bytes are the same both times.
#
# Run from the workspace root: tools/build_defs/kiln_cache_check.sh
# (.ci/run runs it last, since it cleans the output tree). Prints PASS or
# FAIL as its last line and exits 0 or 1.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cache=$(mktemp -d "${TMPDIR:-/tmp}/kiln-disk-cache.XXXXXX")
log=$(mktemp "${TMPDIR:-/tmp}/kiln-cache-log.XXXXXX")
target=//tools/build_defs:rule_example
image=bazel-bin/tools/build_defs/rule_example.so
fail() { echo "kiln cache check: $*"; echo FAIL; exit 1; }

# Clean first: outputs already up to date would run no action, and so put
# nothing into the fresh cache.
tools/bazelw clean || fail "bazel clean failed"
tools/bazelw build --disk_cache="$cache" "$target" || fail "first build failed"
first=$(mktemp)
cp "$image" "$first" || fail "no image after the first build"
tools/bazelw clean || fail "bazel clean failed"
tools/bazelw build --disk_cache="$cache" "$target" 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "second build failed"
cmp -s "$first" "$image" || fail "the image changed between the builds"

# e.g. "INFO: 158 processes: 63 remote cache hit, 95 internal." (Bazel 4
# reports hits of --disk_cache as "remote cache hit"; newer ones say "disk").
line=$(grep -E 'INFO: [0-9]+ processes?:' "$log" | tail -1)
[ -n "$line" ] || fail "no process summary in Bazel's output"
echo "kiln cache check: second build: ${line#INFO: }"
grep -Eq '(disk|remote) cache hit' <<<"$line" || fail "nothing came from the disk cache"
# Anything that is neither internal nor a cache hit ran for real.
rest=$(sed -E 's/^INFO: [0-9]+ processes?: //; s/\.$//' <<<"$line" | tr ',' '\n' |
  grep -vE 'internal|(disk|remote) cache hit|^ *$' || true)
[ -z "$rest" ] || fail "actions ran instead of coming from the cache: $rest"
rm -rf "$cache" "$log" "$first"
echo PASS
