; A function that takes a blockaddress of another function must share its
; shard: a declaration has no blocks to point at.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)

define i32 @jumper(ptr %target) {
entry:
  indirectbr ptr %target, [label %one, label %two]
one:
  ret i32 1
two:
  ret i32 2
}

@targets = internal constant [2 x ptr] [ptr blockaddress(@jumper, %one), ptr blockaddress(@jumper, %two)]

define i32 @pick_two() {
  %p = getelementptr [2 x ptr], ptr @targets, i64 0, i64 1
  %t = load ptr, ptr %p
  %r = call i32 @jumper(ptr %t)
  ret i32 %r
}

define i32 @main() {
  %v = call i32 @pick_two()
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %v)
  ret i32 0
}
