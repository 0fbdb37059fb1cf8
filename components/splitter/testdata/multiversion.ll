; kiln's multiversion annotation: declarations made for other shards keep
; the definition's function attributes; named metadata is in every shard.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)

define i32 @kernel(i32 %n) #0 {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi i32 [ 0, %entry ], [ %acc1, %loop ]
  %acc1 = add i32 %acc, %i
  %i1 = add i32 %i, 1
  %done = icmp sge i32 %i1, %n
  br i1 %done, label %exit, label %loop
exit:
  ret i32 %acc1
}

define i32 @driver(i32 %n) #1 {
  %v = call i32 @kernel(i32 %n)
  ret i32 %v
}

define i32 @main() {
  %v = call i32 @driver(i32 10)
  %w = call i32 @kernel(i32 5)
  %s = add i32 %v, %w
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %s)
  ret i32 0
}

attributes #0 = { noinline "kiln.mv.clones"="6" "kiln.mv.reasons"="1" "kiln.mv.slot"="1" }
attributes #1 = { noinline "kiln.mv.clones"="0" }

!kiln.mv.targets = !{!0}
!0 = !{!"x86_64", !"generic;haswell;x86-64-v4"}
