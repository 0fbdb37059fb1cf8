#!/bin/bash
# tools/kiln/cli_test.sh — end-to-end tests of the kiln command line:
# help and usage errors, build -> run, inspect (text and JSON), byte
# reproducibility (twice, other directory and name, split/emit-shard/link),
# --emit outputs, --time-trace, and one-line errors that leave a previous
# image intact. Usage: cli_test.sh KILN CLANG. Writes only under $TEST_TMPDIR.
set -u
KILN="$PWD/$1"
export KILN_CLANG="$PWD/$2"
T="${TEST_TMPDIR:-$(mktemp -d)}/cli"
rm -rf "$T" && mkdir -p "$T" && cd "$T" || exit 1
unset KILN_CPU_TARGET KILN_IMAGE_THREADS KILN_CPU_TARGET_INDEX KILN_CPU_DISABLE
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# expect_rc RC NAME CMD... : runs CMD, stdout/stderr to out/err files.
expect_rc() {
  local want=$1 name=$2; shift 2
  "$@" > out.txt 2> err.txt
  local rc=$?
  if [ "$rc" != "$want" ]; then
    fail "$name: exit $rc, want $want"; sed 's/^/    /' err.txt | head -5
    return 1
  fi
  return 0
}
# expect_error NAME WORD CMD... : exit 1, exactly one stderr line naming WORD.
expect_error() {
  local name=$1 word=$2; shift 2
  expect_rc 1 "$name" "$@" || return
  local lines; lines=$(wc -l < err.txt)
  if [ "$lines" != 1 ]; then fail "$name: $lines stderr lines"; cat err.txt; return; fi
  if ! grep -q '^kiln: ' err.txt; then fail "$name: no 'kiln: ' prefix: $(cat err.txt)"; return; fi
  if ! grep -qF -- "$word" err.txt; then fail "$name: does not name '$word': $(cat err.txt)"; return; fi
  pass "$name: $(cat err.txt)"
}

# ---- help, version, usage errors --------------------------------------------
expect_rc 0 version "$KILN" --version && grep -q '^kiln [0-9]' out.txt && pass version
expect_rc 0 help "$KILN" help && grep -q 'commands:' out.txt && pass help
for cmd in build split emit-shard link inspect run demo help; do
  expect_rc 0 "help $cmd" "$KILN" help $cmd && grep -q "usage: kiln $cmd" out.txt && pass "help $cmd"
  if [ "$cmd" != help ]; then
    expect_rc 0 "$cmd --help" "$KILN" $cmd --help && grep -q "usage: kiln $cmd" out.txt &&
      pass "$cmd --help"
  fi
done
usage() {
  local name=$1; shift
  expect_rc 2 "usage $name" "$KILN" "$@" || return
  if [ "$(wc -l < err.txt)" = 1 ] && grep -q "see 'kiln help" err.txt; then
    pass "usage $name: $(cat err.txt)"
  else
    fail "usage $name: $(cat err.txt)"
  fi
}
usage "unknown command" frobnicate
usage "unknown option" build --bogus x.c -o x.so
usage "missing -o" build x.c
usage "no inputs" build -o x.so
usage "missing argument" build x.c -o
usage "bad -O" build x.c -o x.so -O9
usage "bad --emit" build x.c -o x.so --emit obj,pdf
usage "bad --kind" build x.c -o x.so --kind kernel
usage "bad --linker" build x.c -o x.so --linker gold
usage "bad --memory-budget" build x.c -o x.so --memory-budget 12Q
usage "bad --threads" build x.c -o x.so --threads zero
usage "inspect no image" inspect
usage "inspect bad option" inspect x.so --yaml
usage "run no symbol" run x.so
usage "emit-shard args" emit-shard plan
usage "link args" link plan
usage "help unknown" help frobnicate

# ---- build and run ----------------------------------------------------------
mkdir -p src other out
cat > src/prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
static const char *greeting = "hello";
int square(int x) { return x * x; }
float scale(float *v, int n, float a) {
  float s = 0;
  for (int i = 0; i < n; i++) { v[i] *= a; s += v[i]; }
  return s;
}
int prog_main(int argc, char **argv) {
  int s = 0;
  for (int i = 1; i < argc; i++) s += square(atoi(argv[i]));
  float v[64];
  for (int i = 0; i < 64; i++) v[i] = (float)i;
  printf("%s from %s: sum of squares %d, scaled %.1f\n", greeting, argv[0], s, scale(v, 64, 0.5f));
  return 42;
}
C
cp src/prog.c other/prog.c
TARGETS="generic;haswell"
expect_rc 0 build "$KILN" build src/prog.c -o out/prog.so --cpu-target "$TARGETS" --shards 2 &&
  pass "build"
expect_rc 42 run "$KILN" run out/prog.so prog_main 1 2 3 &&
  grep -qx 'hello from prog_main: sum of squares 14, scaled 1008.0' out.txt && pass "run: $(cat out.txt)" ||
  fail "run output: $(cat out.txt)"
expect_rc 0 "build -v" "$KILN" build src/prog.c -o out/v.so --cpu-target "$TARGETS" -v &&
  grep -q 'shards:' out.txt && grep -q 'threads:' out.txt && grep -q 'target 1: ' out.txt &&
  grep -q 'emit' out.txt && pass "build -v summary" || fail "build -v summary: $(cat out.txt)"
expect_rc 0 "build -q" "$KILN" build src/prog.c -o out/q.so -q && [ ! -s err.txt ] && pass "build -q silent"

# ---- inspect ---------------------------------------------------------------
expect_rc 0 inspect "$KILN" inspect out/prog.so
BEFORE=$FAILS
for key in 'targets:' 'haswell' 'clones' 'shards:' 'functions:' 'methods:' 'prog_main' \
    'producer:' 'triple:' 'kind:' 'checksum:' 'options:' 'selected:' 'why:'; do
  grep -qF -- "$key" out.txt || fail "inspect text lacks '$key'"
done
[ "$FAILS" = "$BEFORE" ] && pass "inspect text"
cp out.txt inspect.txt
expect_rc 0 "inspect --json" "$KILN" inspect out/prog.so --json
if command -v python3 > /dev/null; then
  python3 - out.txt inspect.txt <<'PY' && pass "inspect --json valid" || fail "inspect --json invalid"
import json, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
assert j["kind"] == "system" and len(j["targets"]) == 2 and len(j["shards"]) == 2
assert j["targets"][1]["cpu"] == "haswell" and "+avx2" in j["targets"][1]["features"]
assert any(m["key"] == "prog_main" for m in j["methods"])
assert "reason" in j["host"] and j["function_count"] >= 3
# Format 5: the shards number the functions and globals in order, so each
# shard's are a range starting where the previous shard's end; text mode
# shows the same ranges.
nf = ng = 0
for s in j["shards"]:
    assert s["first_function"] == nf and s["first_global"] == ng, s
    line = "  [%d] %d functions" % (s["index"], s["functions"])
    if s["functions"]:
        line += " (%d..%d)" % (nf, nf + s["functions"] - 1)
    line += ", %d slots, %d globals" % (s["slots"], s["globals"])
    if s["globals"]:
        line += " (%d..%d)" % (ng, ng + s["globals"] - 1)
    assert line + "\n" in text, line
    nf += s["functions"]
    ng += s["globals"]
assert nf == j["function_count"] and ng == j["global_count"], (nf, ng)
PY
else
  grep -q '"targets"' out.txt && grep -q '"methods"' out.txt && pass "inspect --json keys"
fi

# ---- reproducibility ----------------------------------------------------------
expect_rc 0 "build again" "$KILN" build src/prog.c -o out/prog2.so --name prog \
  --cpu-target "$TARGETS" --shards 2
cmp -s out/prog.so out/prog2.so && pass "build twice: identical" || fail "build twice differs"
# another directory, absolute paths, another output name (same --name), threads
(cd other && KILN_IMAGE_THREADS=1 "$KILN" build "$T/other/prog.c" -o "$T/other/elsewhere.so" \
  --name prog --cpu-target "$TARGETS" --shards 2) 2> err.txt || fail "build elsewhere: $(cat err.txt)"
cmp -s out/prog.so other/elsewhere.so && pass "other directory/name: identical" ||
  fail "other directory/name differs"
# from bitcode (clang run by hand) and from textual IR
"$KILN_CLANG" -O2 -Xclang -disable-llvm-passes -fPIC -emit-llvm -c src/prog.c -o prog.bc
"$KILN_CLANG" -O2 -Xclang -disable-llvm-passes -fPIC -emit-llvm -S src/prog.c -o prog.ll
expect_rc 0 "build .bc" "$KILN" build prog.bc -o out/bc.so --name prog --cpu-target "$TARGETS" --shards 2
cmp -s out/prog.so out/bc.so && pass ".bc input: identical" || fail ".bc input differs"
expect_rc 0 "build .ll" "$KILN" build prog.ll -o out/ll.so --cpu-target "$TARGETS" --shards 2 &&
  expect_rc 42 "run .ll image" "$KILN" run out/ll.so prog_main && pass "build .ll, run"

# ---- split / emit-shard / link ------------------------------------------------
expect_rc 0 split "$KILN" split src/prog.c -o plan --name prog --cpu-target "$TARGETS" --shards 2 &&
  [ -f plan/kiln-plan.bin ] && [ -f plan/shard-0.bc ] && [ -f plan/shard-1.bc ] && pass split
expect_rc 0 "emit-shard 1" "$KILN" emit-shard plan 1 -o shards/s1 --emit asm,bc,unopt-bc &&
  for f in s1.o s1.slots s1.s s1.bc s1.unopt.bc; do [ -f shards/$f ] || fail "emit-shard: no $f"; done
expect_rc 0 "emit-shard 0" "$KILN" emit-shard plan 0 -o shards/s0
expect_error "emit-shard out of range" "plan" "$KILN" emit-shard plan 7 -o shards/s7
expect_rc 0 link "$KILN" link plan shards/s1 shards/s0 -o out/linked.so --emit archive \
  --emit-dir archives && [ -f archives/linked.a ] && pass "link"
cmp -s out/prog.so out/linked.so && pass "split/emit-shard/link: identical to build" ||
  fail "split/emit-shard/link differs from build"

# ---- --emit, --time-trace ------------------------------------------------------
expect_rc 0 "build --emit" "$KILN" build src/prog.c -o out/e.so --shards 2 \
  --emit obj,asm,bc,unopt-bc,archive --emit-dir emitted --time-trace trace.json
for f in shard-0.o shard-1.o shard-0.s shard-0.bc shard-0.unopt.bc e.a; do
  [ -f emitted/$f ] || fail "--emit: no emitted/$f"
done
[ -f emitted/e.a ] && pass "--emit outputs: $(ls emitted | tr '\n' ' ')"
if command -v python3 > /dev/null; then
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["traceEvents"]' trace.json &&
    pass "--time-trace valid JSON" || fail "--time-trace invalid"
else
  grep -q traceEvents trace.json && pass "--time-trace"
fi
expect_rc 0 "--emit archive default dir" "$KILN" build src/prog.c -o out/d.so --emit archive &&
  [ -f out/d.a ] && pass "--emit archive beside -o"

# ---- roots ------------------------------------------------------------------------
printf '# trace\n\nprog_main\n' > roots.txt
expect_rc 0 "--roots" "$KILN" build src/prog.c -o out/roots.so --roots roots.txt &&
  expect_rc 42 "run rooted" "$KILN" run out/roots.so prog_main && pass "--roots"

# ---- errors: one line naming the input, previous image intact ------------------------
cp out/prog.so out/keep.so
cp out/prog.so out/victim.so
printf 'define i32 @f() {\n  ret i32 0\n}\n\ndefine i32 @g( {\n' > bad.ll
expect_error "malformed .ll" "bad.ll:" "$KILN" build bad.ll -o out/victim.so
grep -q 'bad.ll:[0-9]*:' err.txt || fail "malformed .ll: no line number"
printf 'int f(void) { return undeclared_thing; }\n' > bad.c
expect_error "bad .c" "bad.c" "$KILN" build bad.c -o out/victim.so
expect_error "unknown cpu" "nosuchcpu" "$KILN" build src/prog.c -o out/victim.so --cpu-target 'generic;nosuchcpu'
expect_error "unknown feature" "notafeature" "$KILN" build src/prog.c -o out/victim.so --cpu-target 'haswell,+notafeature'
expect_error "empty target" "generic;;" "$KILN" build src/prog.c -o out/victim.so --cpu-target 'generic;;'
expect_error "missing input" "nosuch.c" "$KILN" build nosuch.c -o out/victim.so
expect_error "missing .bc" "nosuch.bc" "$KILN" build nosuch.bc -o out/victim.so
touch afile
expect_error "unwritable output dir" "afile/x.so" "$KILN" build src/prog.c -o afile/x.so
expect_error "link failure" "victim.so" "$KILN" build src/prog.c -o out/victim.so -l kiln_no_such_library
expect_error "missing root" "no_such_root" "$KILN" build src/prog.c -o out/victim.so --root no_such_root
cmp -s out/victim.so out/keep.so && pass "failed builds left the previous image intact" ||
  fail "a failed build changed the previous image"
ls out | grep -q 'kiln-' && fail "temporary files left in out/: $(ls out)"

# corrupt metadata: flip bytes inside the blob (found by its magic)
cp out/prog.so corrupt.so
OFF=$(grep -abo KILNIMG corrupt.so | head -1 | cut -d: -f1)
if [ -n "$OFF" ]; then
  printf '\xff\xff\xff\xff' | dd of=corrupt.so bs=1 seek=$((OFF + 200)) conv=notrunc 2> /dev/null
  expect_error "inspect corrupt" "corrupt.so" "$KILN" inspect corrupt.so
  expect_error "run corrupt" "corrupt.so" "$KILN" run corrupt.so prog_main
else
  fail "no KILNIMG magic in the image"
fi
expect_error "inspect missing" "nosuch.so" "$KILN" inspect nosuch.so
expect_error "inspect not an image" "src/prog.c" "$KILN" inspect src/prog.c
expect_error "run unknown symbol" "no_such_fn" "$KILN" run out/prog.so no_such_fn

# ---- package against a base --------------------------------------------------------
cat > base.c <<'C'
int base_f(int x) { return x + 1; }
int base_g(int x) { return x * 2; }
C
sed 's/x + 1/x + 100/' base.c > base2.c
cat > pkg.c <<'C'
#include <stdio.h>
int base_f(int); int base_g(int);
int p(int x) { return base_f(x) + base_g(x); }
int pkg_main(int argc, char **argv) { printf("p(1) = %d\n", p(1)); return 0; }
C
expect_rc 0 "build base" "$KILN" build base.c -o base.so --cpu-target "$TARGETS"
expect_rc 0 "build base2" "$KILN" build base2.c -o base2.so --cpu-target "$TARGETS" --name base
expect_rc 0 "build package" "$KILN" build pkg.c -o pkg.so --base base.so --cpu-target "$TARGETS"
expect_rc 0 "run package" "$KILN" run pkg.so pkg_main --base base.so &&
  grep -qx 'p(1) = 4' out.txt && pass "package on its base: $(cat out.txt)"
rm -f trace.txt
expect_rc 0 "run package, changed base" "$KILN" run pkg.so pkg_main --base base2.so --report --trace trace.txt &&
  grep -qx 'p(1) = 103' out.txt && grep -q 'invalidated pkg p' err.txt && grep -q 'compiled' err.txt &&
  grep -qx p trace.txt && pass "changed base: compiled on first use: $(cat out.txt)" ||
  fail "changed base: $(cat out.txt) $(cat err.txt)"
expect_error "target mismatch" "base.so" "$KILN" build pkg.c -o pkg2.so --base base.so --cpu-target generic
expect_rc 0 "target mismatch allowed" "$KILN" build pkg.c -o pkg2.so --base base.so --cpu-target generic \
  --allow-target-mismatch && grep -q 'warning' err.txt && pass "--allow-target-mismatch warns"

echo
if [ "$FAILS" != 0 ]; then echo "$FAILS FAILED"; exit 1; fi
echo "all passed"
