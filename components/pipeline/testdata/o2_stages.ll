; IR test of the whole pipeline at O2 (see filecheck_test.sh): clang -O0
; style input comes out in SSA form with the helper inlined and removed,
; the loop vectorized for the function's CPU, the contractable
; multiply-add fused, and llvm.expect gone.
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; CHECK-NOT: define internal i32 @helper
define internal i32 @helper(i32 %x) {
  %m = mul i32 %x, 3
  ret i32 %m
}

; CHECK-LABEL: define {{.*}}i32 @uses_helper(
; CHECK-NOT: alloca
; CHECK-NOT: call i32 @helper
; CHECK-NOT: llvm.expect
; CHECK: ret i32
define i32 @uses_helper(i32 %a) #0 {
  %slot = alloca i32, align 4
  store i32 %a, ptr %slot, align 4
  %v = load i32, ptr %slot, align 4
  %c = icmp sgt i32 %v, 0
  %cx = zext i1 %c to i64
  %e = call i64 @llvm.expect.i64(i64 %cx, i64 1)
  %t = icmp ne i64 %e, 0
  br i1 %t, label %pos, label %neg
pos:
  %r = call i32 @helper(i32 %v)
  ret i32 %r
neg:
  ret i32 0
}

; CHECK-LABEL: define {{.*}}void @add_arrays(
; CHECK: fadd <{{[0-9]+}} x float>
define void @add_arrays(ptr noalias %a, ptr noalias %b, ptr noalias %c) #0 {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %pb = getelementptr inbounds float, ptr %b, i64 %i
  %pc = getelementptr inbounds float, ptr %c, i64 %i
  %vb = load float, ptr %pb, align 4
  %vc = load float, ptr %pc, align 4
  %s = fadd float %vb, %vc
  %pa = getelementptr inbounds float, ptr %a, i64 %i
  store float %s, ptr %pa, align 4
  %i.next = add nuw nsw i64 %i, 1
  %done = icmp eq i64 %i.next, 1024
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; CHECK-LABEL: define {{.*}}double @mul_add(
; CHECK: call contract double @llvm.fmuladd.f64(double %x, double %y, double %z)
define double @mul_add(double %x, double %y, double %z) #0 {
  %p = fmul contract double %x, %y
  %s = fadd contract double %p, %z
  ret double %s
}

declare i64 @llvm.expect.i64(i64, i64)

attributes #0 = { nounwind "target-cpu"="x86-64-v3" }
