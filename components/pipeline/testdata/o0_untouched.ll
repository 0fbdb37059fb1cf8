; IR test at O0 (see filecheck_test.sh): the pipeline leaves the code as
; it came, allocas, calls and separate multiply/add included.
target triple = "x86_64-unknown-linux-gnu"

; CHECK-LABEL: define internal i32 @helper(
define internal i32 @helper(i32 %x) {
  %m = mul i32 %x, 3
  ret i32 %m
}

; CHECK-LABEL: define i32 @uses_helper(
; CHECK-NEXT: %slot = alloca i32, align 4
; CHECK-NEXT: store i32 %a, ptr %slot, align 4
; CHECK-NEXT: %v = load i32, ptr %slot, align 4
; CHECK-NEXT: %r = call i32 @helper(i32 %v)
define i32 @uses_helper(i32 %a) {
  %slot = alloca i32, align 4
  store i32 %a, ptr %slot, align 4
  %v = load i32, ptr %slot, align 4
  %r = call i32 @helper(i32 %v)
  ret i32 %r
}

; CHECK-LABEL: define double @mul_add(
; CHECK-NEXT: %p = fmul contract double %x, %y
; CHECK-NEXT: %s = fadd contract double %p, %z
define double @mul_add(double %x, double %y, double %z) {
  %p = fmul contract double %x, %y
  %s = fadd contract double %p, %z
  ret double %s
}
