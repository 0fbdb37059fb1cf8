#!/bin/sh
# Runs the multiversion driver on a .ll file and checks its output with
# FileCheck. Each file names its runs in lines of the form
#   ; RUN-MV: <prefix> <target string> [driver flags...]
# and checks each run's output with --check-prefix=<prefix>.
set -eu
driver="$1"
filecheck="$2"
input="$3"
runs=$(grep '^; RUN-MV:' "$input" | sed 's/^; RUN-MV: *//')
[ -n "$runs" ] || { echo "no RUN-MV lines in $input" >&2; exit 1; }
echo "$runs" | while read -r prefix targets flags; do
  echo "== $input: $prefix '$targets' $flags"
  # shellcheck disable=SC2086
  "$driver" "$input" "$targets" $flags > "$TEST_TMPDIR/out.ll"
  "$filecheck" --check-prefix="$prefix" "$input" < "$TEST_TMPDIR/out.ll"
done
