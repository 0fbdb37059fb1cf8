; llvm.global_ctors/dtors: each shard lists only the constructors it defines.
@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
@.bye = private unnamed_addr constant [6 x i8] c"fini\0A\00"
declare i32 @printf(ptr, ...)

@llvm.global_ctors = appending global [2 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init_a, ptr null }, { i32, ptr, ptr } { i32 101, ptr @init_b, ptr null }]
@llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @fini, ptr null }]

@state = global i32 0

define internal void @init_a() {
  %s = load i32, ptr @state
  %m = mul i32 %s, 10
  %a = add i32 %m, 1
  store i32 %a, ptr @state
  ret void
}

define internal void @init_b() {
  %s = load i32, ptr @state
  %m = mul i32 %s, 10
  %a = add i32 %m, 2
  store i32 %a, ptr @state
  ret void
}

define internal void @fini() {
  call i32 (ptr, ...) @printf(ptr @.bye)
  ret void
}

define i32 @main() {
  %s = load i32, ptr @state
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %s)
  ret i32 0
}
