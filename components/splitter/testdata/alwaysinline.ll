; A small alwaysinline function called from several shards is copied into
; them as available_externally (option copy_inline), so it can be inlined.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)

define internal i32 @tiny(i32 %x) alwaysinline {
  %y = add i32 %x, 7
  ret i32 %y
}

define i32 @a(i32 %x) {
  %v = call i32 @tiny(i32 %x)
  ret i32 %v
}

define i32 @b(i32 %x) {
  %v = call i32 @tiny(i32 %x)
  %w = mul i32 %v, 2
  ret i32 %w
}

define i32 @main() {
  %v = call i32 @a(i32 1)
  %w = call i32 @b(i32 2)
  %s = add i32 %v, %w
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %s)
  ret i32 0
}
