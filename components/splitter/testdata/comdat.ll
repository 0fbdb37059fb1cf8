; Comdat members stay together; a linkonce_odr definition called from another
; shard becomes weak_odr in its shard so it is not dropped there.
$pair = comdat any
$other = comdat any

@.fmt = private unnamed_addr constant [7 x i8] c"%d %d\0A\00"
declare i32 @printf(ptr, ...)

@pair_data = linkonce_odr global i32 5, comdat($pair)

define linkonce_odr i32 @pair(i32 %x) comdat {
  %d = load i32, ptr @pair_data
  %r = add i32 %d, %x
  ret i32 %r
}

define linkonce_odr i32 @other() comdat {
  ret i32 9
}

define i32 @main() {
  %a = call i32 @pair(i32 1)
  %b = call i32 @other()
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %a, i32 %b)
  ret i32 0
}
