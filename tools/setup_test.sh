#!/usr/bin/env bash
# tools/setup_test.sh — checks tools/setup's decisions without touching the
# machine: dpkg-query, apt-get, apt-cache and llvm-config are stubs on PATH
# that read and write a fake package database under $TEST_TMPDIR.
#
# Cases: everything installed -> no apt work at all; some missing -> one
# `apt-get update` and an install of exactly the missing ones; a package the
# sources lack -> exit 1 naming it; wrong LLVM version -> exit 1 saying so.
set -uo pipefail
setup=$1
root=${TEST_TMPDIR:-$(mktemp -d)}/setup_test
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

all_packages=$(sed -n '/^PACKAGES=(/,/^)/p' "$setup" | grep -oE '^  [a-z0-9.+-]+' | tr -d ' ')
[[ $(wc -w <<<"$all_packages") -ge 14 ]] || fail "could not read PACKAGES from $setup"

# make_world INSTALLED AVAILABLE LLVM_VERSION: a fresh fake machine.
make_world() {
  rm -rf "$root" && mkdir -p "$root/bin"
  printf '%s\n' $1 >"$root/installed"
  printf '%s\n' $2 >"$root/available"
  : >"$root/apt.log"
  cat >"$root/bin/dpkg-query" <<STUB
#!/usr/bin/env bash
pkg=\${@: -1}; fmt=\${2#-f=}
grep -qx "\$pkg" "$root/installed" || exit 1
fmt=\${fmt//'\${Status}'/install ok installed}
fmt=\${fmt//'\${Package}'/\$pkg}
fmt=\${fmt//'\${Version}'/1.0-test}
printf "\$fmt"
STUB
  cat >"$root/bin/apt-get" <<STUB
#!/usr/bin/env bash
echo "apt-get \$*" >>"$root/apt.log"
if [[ \$1 == install ]]; then
  for p in "\$@"; do
    [[ \$p == -* || \$p == install ]] && continue
    grep -qx "\$p" "$root/available" && echo "\$p" >>"$root/installed"
  done
fi
exit 0
STUB
  cat >"$root/bin/apt-cache" <<STUB
#!/usr/bin/env bash
grep -qx "\$2" "$root/available"
STUB
  printf '#!/bin/sh\necho %s\n' "$3" >"$root/bin/llvm-config"
  chmod +x "$root/bin/"*
}

run_setup() {
  PATH="$root/bin:$PATH" KILN_LLVM_CONFIG="$root/bin/llvm-config" "$setup" >"$root/out" 2>&1
}

# 1. Everything present: no apt work, versions printed, exit 0.
make_world "$all_packages" "$all_packages" 22.1.8
run_setup || fail "all present: exit $? ($(cat "$root/out"))"
[[ ! -s "$root/apt.log" ]] || fail "all present: apt was called: $(cat "$root/apt.log")"
grep -q "kiln setup: llvm-22-dev 1.0-test" "$root/out" || fail "all present: versions not printed"

# 2. Two missing: one update, one install of exactly those two.
present=$(grep -vxE 'spin|clang-22' <<<"$all_packages")
make_world "$present" "$all_packages" 22.1.8
run_setup || fail "two missing: exit $? ($(cat "$root/out"))"
[[ $(grep -c '^apt-get update' "$root/apt.log") == 1 ]] || fail "two missing: update count: $(cat "$root/apt.log")"
install_line=$(grep '^apt-get install' "$root/apt.log")
[[ $install_line == *" clang-22 spin" ]] || fail "two missing: installed '$install_line'"
# ... and a second run then does no apt work.
: >"$root/apt.log"
run_setup || fail "second run: exit $?"
[[ ! -s "$root/apt.log" ]] || fail "second run: apt was called: $(cat "$root/apt.log")"

# 3. A package the sources do not have: exit 1, named in the message.
make_world "$present" "$(grep -vx spin <<<"$all_packages")" 22.1.8
if run_setup; then fail "unavailable package: exit 0"; fi
grep -q "package 'spin' is not available" "$root/out" || fail "unavailable package: message: $(cat "$root/out")"

# 4. The wrong LLVM: exit 1 naming the version found and the fix.
make_world "$all_packages" "$all_packages" 21.1.0
if run_setup; then fail "wrong LLVM: exit 0"; fi
grep -q "need LLVM 22.1.x.*found '21.1.0'" "$root/out" || fail "wrong LLVM: message: $(cat "$root/out")"

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "tools/setup: all checks passed"
