; An ifunc stays with its (internal) resolver; callers elsewhere see a
; function declaration.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)

define internal i32 @impl_a() {
  ret i32 11
}

define internal ptr @resolver() {
  ret ptr @impl_a
}

@chosen = ifunc i32 (), ptr @resolver

define i32 @caller() {
  %v = call i32 @chosen()
  %w = add i32 %v, 1
  ret i32 %w
}

define i32 @main() {
  %v = call i32 @chosen()
  %w = call i32 @caller()
  %s = add i32 %v, %w
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %s)
  ret i32 0
}
