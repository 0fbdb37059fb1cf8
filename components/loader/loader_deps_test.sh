#!/usr/bin/env bash
# components/loader/loader_deps_test.sh — the loader must stay vendorable by
# any runtime: no LLVM, no C++ runtime. Checks two things:
#   1. the Bazel dependency closure of //components/loader:loader (genquery)
#      has no LLVM/LLD/abseil/GoogleTest/benchmark target and no C++ source;
#   2. loader_probe, a C program linking only the loader (with --as-needed),
#      needs only glibc libraries, and every symbol it imports is glibc's: no
#      C++ (mangled _Z*, __cxa_*, __gxx_*), no unwinder, no LLVM.
# Usage: loader_deps_test.sh <genquery output> <loader_probe> <llvm-nm> <llvm-readelf>
set -euo pipefail
deps=$1 probe=$2 nm=$3 readelf=$4
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

echo "--- dependency closure of //components/loader:loader"
# @bazel_tools (the toolchain's own helpers, e.g. the Windows def_parser) is
# not linked into the loader.
grep -v '^@bazel_tools//' "$deps" >"$TEST_TMPDIR/deps" || true
deps=$TEST_TMPDIR/deps
cat "$deps"
if grep -Eiq 'llvm|lld|abseil|absl|googletest|gtest|benchmark' "$deps"; then
  fail "forbidden dependency: $(grep -Ei 'llvm|lld|abseil|absl|googletest|gtest|benchmark' "$deps" | tr '\n' ' ')"
fi
if grep -Eq '\.(cc|cpp|cxx|C)$' "$deps"; then
  fail "C++ source in the closure: $(grep -E '\.(cc|cpp|cxx|C)$' "$deps" | tr '\n' ' ')"
fi

echo "--- NEEDED of loader_probe"
needed=$("$readelf" -d "$probe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$needed"
while read -r lib; do
  [[ -z $lib ]] && continue
  case $lib in
    libc.so.6 | libdl.so.2 | libm.so.6 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
    *) fail "loader_probe needs $lib" ;;
  esac
done <<<"$needed"

echo "--- imported symbols of loader_probe"
undefined=$("$nm" -D --undefined-only "$probe" | awk '{print $NF}')
echo "$undefined" | tr '\n' ' '; echo
bad=$(grep -E '^(_Z|__cxa_(throw|begin|end|allocate|guard|pure|atexit)|__gxx_|_Unwind_|LLVM|lld)' <<<"$undefined" || true)
[[ -n $bad ]] && fail "C++/LLVM symbols imported: $bad"
while read -r sym; do
  [[ -z $sym ]] && continue
  case $sym in
    *@GLIBC_*) ;;
    _ITM_deregisterTMCloneTable | _ITM_registerTMCloneTable | __gmon_start__) ;;
    *) fail "symbol not from glibc: $sym" ;;
  esac
done <<<"$undefined"

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "loader depends on libc and libdl only"
