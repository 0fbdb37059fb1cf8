; Internal symbols: an internal function called from two functions is
; promoted when they land in different shards (also an unnamed one); an
; internal variable stays with all its users; a string literal is copied.
@.fmt = private unnamed_addr constant [10 x i8] c"%d %d %d\0A\00"
declare i32 @printf(ptr, ...)

@hits = internal global i32 0
@0 = internal global i32 100

define internal i32 @square(i32 %x) {
  %y = mul i32 %x, %x
  ret i32 %y
}

define internal i32 @1(i32 %x) {
  %g = load i32, ptr @0
  %y = add i32 %x, %g
  ret i32 %y
}

define i32 @left(i32 %x) {
  %h = load i32, ptr @hits
  %h1 = add i32 %h, 1
  store i32 %h1, ptr @hits
  %s = call i32 @square(i32 %x)
  %t = call i32 @1(i32 %s)
  ret i32 %t
}

define i32 @right(i32 %x) {
  %h = load i32, ptr @hits
  %h1 = add i32 %h, 2
  store i32 %h1, ptr @hits
  %s = call i32 @square(i32 %x)
  %t = call i32 @1(i32 %s)
  %u = add i32 %t, 1
  ret i32 %u
}

define i32 @lonely(i32 %x) {
  %s = call i32 @square(i32 %x)
  %t = call i32 @1(i32 %s)
  ret i32 %t
}

define i32 @main() {
  %a = call i32 @left(i32 3)
  %b = call i32 @right(i32 4)
  %c = call i32 @lonely(i32 5)
  %h = load i32, ptr @hits
  %s = add i32 %a, %c
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %s, i32 %b, i32 %h)
  ret i32 0
}
