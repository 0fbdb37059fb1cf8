; Module inline asm defines a function; it must be emitted exactly once
; (shard 0), while callers in any shard see a declaration.
module asm ".text"
module asm ".globl asm_answer"
module asm "asm_answer:"
module asm "  movl $42, %eax"
module asm "  ret"

@.fmt = private unnamed_addr constant [4 x i8] c"%d\0A\00"
declare i32 @printf(ptr, ...)
declare i32 @asm_answer()

define i32 @via_asm() {
  %r = call i32 @asm_answer()
  ret i32 %r
}

define i32 @twice() {
  %a = call i32 @via_asm()
  %b = add i32 %a, %a
  ret i32 %b
}

define i32 @main() {
  %a = call i32 @via_asm()
  %b = call i32 @twice()
  %c = add i32 %a, %b
  call i32 (ptr, ...) @printf(ptr @.fmt, i32 %c)
  ret i32 0
}
