#!/bin/sh
# components/pipeline/filecheck_test.sh — one IR test: runs pipeline_driver
# with the given flags on a .ll file and checks the printed IR against the
# file's own CHECK lines with FileCheck.
#   filecheck_test.sh DRIVER FILECHECK INPUT.ll [DRIVER-FLAGS...]
set -eu
driver=$1 filecheck=$2 input=$3
shift 3
"$driver" "$@" -S "$input" | "$filecheck" "$input"
