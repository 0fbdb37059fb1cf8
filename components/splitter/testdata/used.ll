; llvm.used / llvm.compiler.used: each shard lists only what it defines.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)

@keep_me = internal global i32 3
@keep_too = global i32 4
@llvm.used = appending global [2 x ptr] [ptr @keep_me, ptr @keep_too], section "llvm.metadata"

define internal void @helper() {
  ret void
}
@llvm.compiler.used = appending global [1 x ptr] [ptr @helper], section "llvm.metadata"

define i32 @work(i32 %x) {
  %y = mul i32 %x, %x
  ret i32 %y
}

define i32 @main() {
  %v = call i32 @work(i32 6)
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %v)
  ret i32 0
}
