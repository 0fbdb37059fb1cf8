; A module with one small definition: asking for more shards than groups
; leaves some shards empty, and they must still verify and link.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)

define i32 @main() {
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 5)
  ret i32 0
}
