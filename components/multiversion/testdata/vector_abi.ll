; Vectors passed between functions: haswell's vector registers are wider
; than generic's, so the heuristic clones every function (reason 0x20),
; unless the target says -clone_all; then only the functions that touch
; vectors (reason 0x02; a caller of a vector function always does, and the
; caller rule, 0x08, would clone it anyway).
; RUN-MV: ALL generic;haswell --annotate-only
; RUN-MV: NOALL generic;haswell,-clone_all --annotate-only
; RUN-MV: WIRED generic;haswell,-clone_all
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; ALL-DAG: define <8 x float> @vf(<8 x float> %x) #[[A:[0-9]+]]
; ALL-DAG: define float @user(ptr %p) #[[A]]
; ALL-DAG: define i32 @other(i32 %x) #[[A]]
; ALL-DAG: attributes #[[A]] = { "kiln.mv.clones"="2" "kiln.mv.reasons"="20" }

; NOALL-DAG: define <8 x float> @vf(<8 x float> %x) #[[A:[0-9]+]]
; NOALL-DAG: define float @user(ptr %p) #[[A]]
; NOALL-DAG: define i32 @other(i32 %x) {
; NOALL-DAG: attributes #[[A]] = { "kiln.mv.clones"="2" "kiln.mv.reasons"="2" }

; WIRED-LABEL: define float @user.kiln.1(
; WIRED: call <8 x float> @vf.kiln.1(
; WIRED: ; kiln-mv verify ok: 0 2

define <8 x float> @vf(<8 x float> %x) {
  %y = fadd <8 x float> %x, %x
  ret <8 x float> %y
}

define float @user(ptr %p) {
  %v = load <8 x float>, ptr %p
  %r = call <8 x float> @vf(<8 x float> %v)
  %e = extractelement <8 x float> %r, i32 0
  ret float %e
}

define i32 @other(i32 %x) {
  ret i32 %x
}
