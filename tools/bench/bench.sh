#!/usr/bin/env bash
# tools/bench/bench.sh — kiln's performance figures, each measured side by
# side in one run on this machine (docs/performance.md records the latest):
#
#  1. emission: a generated C program (tools/bench/gen_program, 2,400
#     functions) and kiln's own C sources, as unoptimized bitcode; wall time
#     and peak RSS of
#       opt -O2 + llc -O2 (single-threaded, object only),
#       ld.lld --lto-partitions=2 (full LTO of the same bitcode, .so),
#       kiln build at 1 and 2 threads (one target, generic: the same work;
#       the .so is linked too), and kiln build with 3 targets at 2 threads;
#  2. load: an image of a 10,000-function program with 3 targets,
#     kiln_loader_open vs plain dlopen of the same file (load_bench);
#  3. clones: a vector kernel in an image with generic;haswell;x86-64-v4,
#     the host's best target vs the generic one.
#
# Run: tools/bazelw run -c opt //tools/bench -- [--quick]
#   --quick  smaller inputs (600 functions) for a fast check of the script.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runfiles="${RUNFILES_DIR:-$0.runfiles}"
rf() { echo "$runfiles/kiln/$1"; }
kiln="$(rf tools/kiln/kiln)"
gen="$(rf tools/bench/gen_program)"
measure="$(rf tools/bench/measure)"
load_bench="$(rf tools/bench/load_bench)"
llvm=/usr/lib/llvm-22/bin
root="${BUILD_WORKSPACE_DIRECTORY:-$(cd "$here/../.." && pwd)}"
n=2400 nload=10000
if [ "${1:-}" = "--quick" ]; then n=600 nload=2000; fi
work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

# run NAME CMD...: measures CMD, appends "NAME wall rss" to results.
run() {
  local name="$1"
  shift
  "$measure" -o "m.$name" -- "$@" > /dev/null
  local wall rss
  wall="$(sed -E 's/.*wall_s=([0-9.]+).*/\1/' "m.$name")"
  rss="$(sed -E 's/.*maxrss_kb=([0-9]+).*/\1/' "m.$name")"
  printf '%s %s %s\n' "$name" "$wall" "$rss" >> results
}
get() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' results; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "kiln bench: $(nproc) cores, $("$kiln" --version | head -1), LLVM $("$llvm/opt" --version | grep -o 'version [0-9.]*')"

# ---- inputs -------------------------------------------------------------
"$gen" -n "$n" -o prog.c
"$llvm/clang" -O2 -Xclang -disable-llvm-passes -fPIC -emit-llvm -c prog.c -o prog.bc
srcs=()
for f in "$root"/components/*/*.c; do
  case "$f" in *_driver.c | *cpu_probe.c | *test* | *benchmark* | *fuzz*) continue ;; esac
  srcs+=("$f")
done
i=0
for f in "${srcs[@]}"; do
  "$llvm/clang" -std=c11 -O2 -Xclang -disable-llvm-passes -fPIC -emit-llvm -c \
    -I"$root" -I/usr/lib/llvm-22/include -I/usr/include/cpu_features "$f" -o "kiln_src.$i.bc"
  i=$((i + 1))
done
"$llvm/llvm-link" kiln_src.*.bc -o kiln_src.bc
echo "inputs: prog.bc ($n generated functions), kiln_src.bc (${#srcs[@]} files of components/)"

# ---- 1. emission ----------------------------------------------------------
for input in prog kiln_src; do
  run "$input.opt" "$llvm/opt" -O2 "$input.bc" -o "$input.opt.bc"
  run "$input.llc" "$llvm/llc" -O2 -relocation-model=pic -filetype=obj "$input.opt.bc" -o "$input.o"
  run "$input.lto" "$llvm/ld.lld" -shared --lto-O2 --lto-partitions=2 --thinlto-jobs=2 \
    "$input.bc" -o "$input.lto.so"
  # Same --name so the 1- and 2-thread images can be compared byte for byte.
  run "$input.kiln1" "$kiln" build --name "$input" --cpu-target generic --threads 1 \
    "$input.bc" -o "$input.k1.so"
  run "$input.kiln2" "$kiln" build --name "$input" --cpu-target generic --threads 2 \
    "$input.bc" -o "$input.k2.so"
  run "$input.kiln2x3" "$kiln" build --cpu-target 'generic;haswell;x86-64-v4' --threads 2 \
    "$input.bc" -o "$input.k3.so"
  cmp -s "$input.k1.so" "$input.k2.so" || { echo "ERROR: 1- and 2-thread images differ"; exit 1; }
done
echo
echo "1. emission (wall seconds, peak RSS MB; kiln includes linking the .so)"
printf '%-10s %10s %10s %10s %10s %10s %10s\n' input "opt+llc" "lto(2)" "kiln 1t" "kiln 2t" "kiln 2t×3" shards
for input in prog kiln_src; do
  ol="$(awk -v a="$(get "$input.opt" 2)" -v b="$(get "$input.llc" 2)" 'BEGIN { printf "%.2f", a + b }')"
  shards="$("$kiln" inspect "$input.k1.so" | awk '/^shards/ { print $2; exit }')"
  printf '%-10s %10s %10s %10s %10s %10s %10s\n' "$input" "$ol" "$(get "$input.lto" 2)" \
    "$(get "$input.kiln1" 2)" "$(get "$input.kiln2" 2)" "$(get "$input.kiln2x3" 2)" "${shards:-?}"
  printf '%-10s %10s %10s %10s %10s %10s\n' "  RSS MB" \
    "$(( $(get "$input.opt" 3) > $(get "$input.llc" 3) ? $(get "$input.opt" 3) / 1024 : $(get "$input.llc" 3) / 1024 ))" \
    "$(( $(get "$input.lto" 3) / 1024 ))" "$(( $(get "$input.kiln1" 3) / 1024 ))" \
    "$(( $(get "$input.kiln2" 3) / 1024 ))" "$(( $(get "$input.kiln2x3" 3) / 1024 ))"
  echo "  ratios: kiln 2t / (opt+llc) = $(ratio "$(get "$input.kiln2" 2)" "$ol")  (goal <= 0.60)" \
    " | kiln 2t / lto(2) = $(ratio "$(get "$input.kiln2" 2)" "$(get "$input.lto" 2)")  (goal < 1)" \
    " | RSS 2t / 1t = $(ratio "$(get "$input.kiln2" 3)" "$(get "$input.kiln1" 3)")  (goal <= 2)"
done

# ---- 2. load ----------------------------------------------------------------
"$gen" -n "$nload" -s 5 --lib -o load.c
"$kiln" build --cpu-target 'generic;haswell;x86-64-v4' --threads 2 load.c -o load.so
echo
echo "2. load of a $nload-function image with 3 targets ($(stat -c %s load.so) bytes)"
"$load_bench" "$work/load.so" 300 | sed 's/^/   /'

# ---- 3. clones ----------------------------------------------------------------
cp "$root/tools/bench/clone_kernel.c" .
"$kiln" build --cpu-target 'generic;haswell;x86-64-v4' --cflag -ffp-contract=off clone_kernel.c -o clone.so
best="$("$kiln" run clone.so clone_main)"
generic="$(KILN_CPU_TARGET_INDEX=0 "$kiln" run clone.so clone_main)"
picked="$("$kiln" inspect clone.so | grep -m1 -i 'selected\|would pick' || true)"
bn="$(awk '{ print $2 }' <<<"$best")" gn="$(awk '{ print $2 }' <<<"$generic")"
echo
echo "3. clones: vector kernel, ns per pass (${picked:-the host pick})"
echo "   best target $bn ns, generic $gn ns, speedup $(ratio "$gn" "$bn")x"
[ "$(cut -d' ' -f3- <<<"$best")" = "$(cut -d' ' -f3- <<<"$generic")" ] ||
  echo "   ERROR: results differ between targets"
