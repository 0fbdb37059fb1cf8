; Thread-locals: an internal one stays with both of its users; declarations
; of an external one stay thread_local in the other shards.
@.fmt = private unnamed_addr constant [7 x i8] c"%d %d\0A\00"
declare i32 @printf(ptr, ...)

@counter = internal thread_local global i32 0
@shared_tls = thread_local global i32 10

define void @bump() {
  %c = load i32, ptr @counter
  %c1 = add i32 %c, 1
  store i32 %c1, ptr @counter
  ret void
}

define i32 @get() {
  %c = load i32, ptr @counter
  ret i32 %c
}

define void @bump_shared() {
  %c = load i32, ptr @shared_tls
  %c1 = add i32 %c, 5
  store i32 %c1, ptr @shared_tls
  ret void
}

define i32 @main() {
  call void @bump()
  call void @bump()
  call void @bump_shared()
  %g = call i32 @get()
  %s = load i32, ptr @shared_tls
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %g, i32 %s)
  ret i32 0
}
