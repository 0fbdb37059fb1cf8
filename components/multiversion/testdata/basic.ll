; Heuristics, clone naming, target attributes, slots and tables on a small
; module with three targets (base defaults to 0).
; RUN-MV: CHECK generic;haswell;x86-64-v4
; RUN-MV: ANN generic;haswell;x86-64-v4 --annotate-only
; Output order: globals, originals, clones, attributes, tables, verdict.
; The data reference to @kernel became a data slot; @table is writable.
; CHECK: @table = externally_initialized global [2 x ptr] [ptr @helper, ptr null]
; CHECK: @kernel.kiln.slot = hidden externally_initialized global ptr null
; CHECK: @kiln_mv_fptrs_0 = constant [7 x ptr] [ptr @kernel, ptr @fast, ptr @fused, ptr @vec, ptr @inner, ptr @mid, ptr @outer]
; CHECK: @kiln_mv_fptrs_1 = constant [7 x ptr] [ptr @kernel.kiln.1, ptr @fast.kiln.1,
; CHECK: @kiln_mv_fptrs_2 = constant [7 x ptr] [ptr @kernel.kiln.2,
; CHECK: @kiln_mv_slot_addrs = constant [2 x ptr] [ptr @kernel.kiln.slot, ptr getelementptr inbounds (i8, ptr @table, i64 8)]
; CHECK: @kiln_mv_slot_fids = constant [2 x i32] zeroinitializer
; @kernel (target 0 code) calls @helper, never cloned, directly.
; CHECK-LABEL: define i32 @kernel(ptr %p, i32 %n)
; CHECK-SAME: #[[K0:[0-9]+]]
; CHECK: call i32 @helper(
; @caller is not cloned and runs for every target: it loads the slot.
; CHECK-LABEL: define i32 @caller(
; CHECK: %[[S:[0-9]+]] = load ptr, ptr @kernel.kiln.slot, align 8, !invariant.load
; CHECK: call i32 %[[S]](
; CHECK-LABEL: define i32 @kernel.kiln.1(
; CHECK-SAME: #[[K1:[0-9]+]]
; CHECK: call i32 @helper(
; Clones call the same target's clones directly.
; CHECK-LABEL: define void @mid.kiln.1(ptr %p)
; CHECK: call void @inner.kiln.1(
; CHECK-LABEL: define void @outer.kiln.2(
; CHECK: call void @mid.kiln.2(
; CHECK-DAG: attributes #[[K0]] = { "kiln.mv.clones"="6" {{.*}}"kiln.mv.target"="0" "target-cpu"="generic"
; CHECK-DAG: attributes #[[K1]] = { "kiln.mv.origin"="kernel" "kiln.mv.target"="1" "target-cpu"="haswell" "target-features"="{{.*}}+avx2,
; CHECK: ; kiln-mv target 1 cpu=haswell clones=7 base=0
; CHECK: ; kiln-mv slot 1 function=0 data table+8
; CHECK: ; kiln-mv verify ok: 0 7 7
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@table = global [2 x ptr] [ptr @helper, ptr @kernel]

; ANN-DAG: define i32 @helper(i32 %x) {
; ANN-DAG: define {{.*}}@kernel{{.*}} #[[LOOP:[0-9]+]]
; ANN-DAG: attributes #[[LOOP]] = {{.*}}"kiln.mv.clones"="6" "kiln.mv.reasons"="1" "kiln.mv.slot"="1"
; ANN-DAG: !kiln.mv.targets = !{![[T:[0-9]+]]}
; ANN-DAG: ![[T]] = !{!"x86_64", !"generic;haswell;x86-64-v4"}

define i32 @helper(i32 %x) {
  %y = add i32 %x, 1
  ret i32 %y
}

; A loop: cloned for targets 1 and 2; its clones call @helper (never
; cloned) directly.
define i32 @kernel(ptr %p, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi i32 [ 0, %entry ], [ %acc1, %loop ]
  %q = getelementptr i32, ptr %p, i32 %i
  %v = load i32, ptr %q
  %acc1 = add i32 %acc, %v
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %loop, label %exit
exit:
  %r = call i32 @helper(i32 %acc1)
  ret i32 %r
}

; Not cloned: it runs for every target, so its call to @kernel must load
; the slot the loader fills.
define i32 @caller(ptr %p) {
  %r = call i32 @kernel(ptr %p, i32 4)
  ret i32 %r
}

; Fast-math and fmuladd: cloned (MATH).
; ANN-DAG: define {{.*}}@fast{{.*}} #[[MATH:[0-9]+]]
; ANN-DAG: attributes #[[MATH]] = {{.*}}"kiln.mv.clones"="6" "kiln.mv.reasons"="4"
define float @fast(float %a, float %b) {
  %s = fadd fast float %a, %b
  ret float %s
}
define double @fused(double %a, double %b, double %c) {
  %r = call double @llvm.fmuladd.f64(double %a, double %b, double %c)
  ret double %r
}
declare double @llvm.fmuladd.f64(double, double, double)

; Vector instructions: cloned (VECTOR).
define void @vec(ptr %p) {
  %v = load <4 x float>, ptr %p
  %w = fadd <4 x float> %v, %v
  store <4 x float> %w, ptr %p
  ret void
}

; Chain: @mid has no heuristic reason but sits between cloned @outer and
; cloned @inner, so it is cloned and the clones call each other directly.
define void @inner(ptr %p, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %i1, %loop ]
  %q = getelementptr i32, ptr %p, i32 %i
  store i32 0, ptr %q
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %loop, label %exit
exit:
  ret void
}
define void @mid(ptr %p) {
  call void @inner(ptr %p, i32 8)
  ret void
}
define void @outer(ptr %p, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %i1, %loop ]
  call void @mid(ptr %p)
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %loop, label %exit
exit:
  ret void
}
; ANN-DAG: define {{.*}}@mid{{.*}} #[[CHAIN:[0-9]+]]
; ANN-DAG: attributes #[[CHAIN]] = {{.*}}"kiln.mv.clones"="6" "kiln.mv.reasons"="10"

; The data reference to @kernel became a data slot; table is writable now.

