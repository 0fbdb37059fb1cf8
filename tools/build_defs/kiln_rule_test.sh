#!/bin/bash
# Checks the kiln_image rule: the image it built (tools/build_defs:rule_example)
# loads and runs, has the targets and shards the rule asked for, and is
# byte-identical to `kiln build` of the same sources with the same options.
set -euo pipefail
kiln="$(realpath "$1")" image="$(realpath "$2")" kernels="$(realpath "$3")" main="$(realpath "$4")"
t="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

out="$("$kiln" run "$image" rule_main)"
[ "$out" = "rule sum 570.00" ] || fail "rule image printed '$out'"

"$kiln" inspect "$image" > "$t/inspect.txt"
grep -q 'haswell' "$t/inspect.txt" || fail "inspect lacks haswell: $(cat "$t/inspect.txt")"
grep -q 'x86-64-v4' "$t/inspect.txt" || fail "inspect lacks x86-64-v4"

# The same build through the CLI, from another directory and output name
# stem equal to the rule's (the stem is recorded as the image name).
mkdir -p "$t/cli"
cp "$kernels" "$main" "$(dirname "$kernels")/rule_example.h" "$t/cli/"
(cd "$t/cli" && "$kiln" build --cpu-target 'generic;haswell;x86-64-v4' --shards 2 -O2 \
   rule_kernels.c rule_main.c -o "$t/cli/rule_example.so")
cmp "$image" "$t/cli/rule_example.so" || fail "rule and CLI images differ"
echo PASS
