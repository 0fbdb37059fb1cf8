; clone_all, base(n) and min_size: target 1 clones everything, target 2
; clones only @loop and otherwise runs target 1's code. Inside @plain.kiln.1
; (run by targets 1 and 2) the callee differs per target, so it loads the
; slot; the original @plain only runs for target 0 and calls @loop directly.
; RUN-MV: CHECK generic;sandybridge,clone_all;haswell,base(1),min_size
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; CHECK: @loop.kiln.slot = hidden externally_initialized global ptr null
; CHECK: @kiln_mv_fptrs_0 = constant [3 x ptr] [ptr @loop, ptr @plain, ptr @addr]
; CHECK: @kiln_mv_fptrs_1 = constant [3 x ptr] [ptr @loop.kiln.1, ptr @plain.kiln.1, ptr @addr.kiln.1]
; CHECK: @kiln_mv_fptrs_2 = constant [3 x ptr] [ptr @loop.kiln.2, ptr @plain.kiln.1, ptr @addr.kiln.1]
; CHECK-LABEL: define i32 @plain(
; CHECK-NEXT: call i32 @loop(i32 3)
; CHECK-LABEL: define void @addr(
; CHECK-NEXT: store ptr @loop, ptr %p
; CHECK-LABEL: define i32 @loop.kiln.2(
; CHECK-SAME: #[[L2:[0-9]+]]
; CHECK-LABEL: define i32 @plain.kiln.1(
; CHECK-NEXT: %[[S:[0-9]+]] = load ptr, ptr @loop.kiln.slot
; CHECK-NEXT: call i32 %[[S]](i32 3)
; Address taken in code (not a call): same rule.
; CHECK-LABEL: define void @addr.kiln.1(
; CHECK-NEXT: %[[A:[0-9]+]] = load ptr, ptr @loop.kiln.slot
; CHECK-NEXT: store ptr %[[A]], ptr %p
; CHECK-DAG: attributes #[[L2]] = { minsize optsize "kiln.mv.origin"="loop" "kiln.mv.target"="2" "target-cpu"="haswell"
; CHECK: ; kiln-mv target 1 cpu=sandybridge clones=3 base=0
; CHECK: ; kiln-mv target 2 cpu=haswell clones=1 base=1
; CHECK: ; kiln-mv verify ok: 0 3 1

define i32 @loop(i32 %n) {
entry:
  br label %l
l:
  %i = phi i32 [ 0, %entry ], [ %i1, %l ]
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %l, label %e
e:
  ret i32 %i1
}

define i32 @plain() {
  %r = call i32 @loop(i32 3)
  ret i32 %r
}

define void @addr(ptr %p) {
  store ptr @loop, ptr %p
  ret void
}
