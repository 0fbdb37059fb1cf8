#!/bin/bash
# components/pipeline/pipeline_benchmark.sh — kiln's pipeline at O2 against
# `opt -O2` on the same unoptimized bitcode of real C (testdata/kernels.c,
# compiled by clang-22 here), measured side by side in one run:
#   (a) compile time: pipeline_driver -O2 vs opt -O2, alternating, median of
#       COMPILE_REPS runs each (whole processes: parse, optimize, write);
#   (b) run time: both outputs go through the same llc -O2 and are linked
#       with the same natively built driver; ROUNDS alternating runs, the
#       minimum per kernel is kept, and kernels are summed.
# Prints both ratios (kiln / opt; below 1 means kiln is faster).
#   tools/bazelw run -c opt //components/pipeline:pipeline_benchmark
# Environment: ROUNDS (default 7), COMPILE_REPS (default 15), MARCH
# (default native).
set -euo pipefail
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
driver=$(abspath "$1") clang=$(abspath "$2") opt=$(abspath "$3") llc=$(abspath "$4")
kernels=$(abspath "$5") main=$(abspath "$6")
rounds=${ROUNDS:-7} compile_reps=${COMPILE_REPS:-15} march=${MARCH:-native}

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln_pipeline_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
inc="-I$(dirname "$kernels")"

now() { date +%s%N; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

"$clang" -O0 -Xclang -disable-O0-optnone -march="$march" $inc -emit-llvm -c "$kernels" -o kernels.bc
"$clang" -O2 $inc -c "$main" -o main.o

echo "== compile time: pipeline_driver -O2 vs opt -O2 ($compile_reps runs each, alternating)"
: > kiln_times; : > opt_times
for ((i = 0; i < compile_reps; i++)); do
  t0=$(now); "$driver" -O2 kernels.bc -o kiln.bc; t1=$(now)
  "$opt" -O2 kernels.bc -o opt.bc; t2=$(now)
  echo $(((t1 - t0) / 1000)) >> kiln_times
  echo $(((t2 - t1) / 1000)) >> opt_times
done
kiln_c=$(median < kiln_times) opt_c=$(median < opt_times)
"$driver" -O2 --report kernels.bc -o kiln.bc 2> report.txt
sed 's/^/  /' report.txt
printf 'compile kiln_o2_us=%s opt_o2_us=%s ratio=%.3f\n' "$kiln_c" "$opt_c" \
  "$(echo "$kiln_c $opt_c" | awk '{print $1/$2}')"

for v in kiln opt; do
  "$llc" -O2 -relocation-model=pic -filetype=obj $v.bc -o $v.o
  "$clang" $v.o main.o -o $v
done
if ! diff <(./kiln check) <(./opt check) > /dev/null; then
  echo "checksums differ between kiln and opt builds" >&2
  exit 1
fi

echo "== run time: $rounds alternating rounds, min per kernel (ns)"
: > runs
for ((r = 0; r < rounds; r++)); do
  for v in kiln opt; do ./$v time | sed "s/^/$v /" >> runs; done
done
awk '
  { key = $1 " " $2; if (!(key in best) || $3 < best[key]) best[key] = $3; names[$2] = 1 }
  END {
    printf "  %-14s %12s %12s %7s\n", "kernel", "kiln_ns", "opt_ns", "ratio"
    n = 0
    for (k in names) order[++n] = k
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (order[j] < order[i]) { t = order[i]; order[i] = order[j]; order[j] = t }
    for (i = 1; i <= n; i++) {
      k = order[i]; a = best["kiln " k]; b = best["opt " k]; sa += a; sb += b
      printf "  %-14s %12d %12d %7.3f\n", k, a, b, a / b
    }
    printf "runtime kiln_o2_ns=%d opt_o2_ns=%d ratio=%.3f\n", sa, sb, sa / sb
  }' runs
