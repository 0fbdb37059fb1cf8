; Aliases of data and of an internal function: each alias lives with its
; aliasee; other shards get a declaration of the alias's type.
@.fmt = private unnamed_addr constant [7 x i8] c"%d %d\0A\00"
declare i32 @printf(ptr, ...)

@data = global i32 7
@data_alias = alias i32, ptr @data

define internal i32 @impl(i32 %x) #0 {
  %y = mul i32 %x, 3
  ret i32 %y
}
@pub = alias i32 (i32), ptr @impl

define i32 @user1() {
  %v = call i32 @pub(i32 1)
  ret i32 %v
}

define i32 @user2() {
  %d = load i32, ptr @data_alias
  %v = call i32 @pub(i32 %d)
  ret i32 %v
}

define i32 @main() {
  %a = call i32 @user1()
  %b = call i32 @user2()
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %a, i32 %b)
  ret i32 0
}

attributes #0 = { noinline "kiln.mv.clones"="2" }
