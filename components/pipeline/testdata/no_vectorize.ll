; IR test at O2 with vectorization off (see filecheck_test.sh): the loop
; is optimized but stays scalar; with vectorization on (o2_stages.ll) the
; same loop uses vector types.
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; CHECK-LABEL: define {{.*}}void @add_arrays(
; CHECK-NOT: <{{[0-9]+}} x float>
; CHECK: fadd float
; CHECK-NOT: <{{[0-9]+}} x float>
; CHECK: ret void
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

attributes #0 = { nounwind "target-cpu"="x86-64-v3" }
