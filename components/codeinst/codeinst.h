/*
 * components/codeinst/codeinst.h — lock-free publication of a method's code
 * pointers: the (invoke, specsigflags, specptr) triple a runtime keeps per
 * compiled method.
 *
 * Compiler threads publish code into a code instance while other threads read
 * it and call through it, without locks. The loader uses this to install the
 * code an image provides; a JIT uses it to install code it compiled. A reader
 * only ever sees one of four valid states (see kiln_codeinst_state_t), and a
 * pointer a reader once obtained stays callable forever: no field that became
 * non-NULL ever becomes NULL or invalid again. docs/codeinst.md describes the
 * protocol, each memory order and why it is needed, and how the protocol is
 * model-checked.
 *
 * The instance is a small struct the caller allocates (a runtime embeds one
 * per method-table entry, so no allocation or release function is involved).
 * Its fields are private: touch them only through these functions.
 *
 * This header is C11 and compiles as C++. The implementation uses C11
 * <stdatomic.h> only (no LLVM, no C++ runtime), so the loader can vendor it.
 */
#ifndef KILN_CODEINST_H
#define KILN_CODEINST_H

#include <stdint.h>

#include "components/base/base.h"

#ifndef __cplusplus
#ifdef __STDC_NO_ATOMICS__
#error "components/codeinst needs a C11 compiler with <stdatomic.h>"
#endif
#include <stdatomic.h>
/* C sees the real atomic fields (and can use the inline fast path below). */
#define KILN_CODEINST_ATOMIC_(type) _Atomic(type)
#else
/* C++ sees plain fields of the same size and alignment, only to embed the
 * struct; codeinst.c checks that both layouts agree. C++ code must not read
 * the fields: it calls kiln_codeinst_read(). */
#define KILN_CODEINST_ATOMIC_(type) type
#endif

KILN_BEGIN_DECLS

/* A code pointer. Both invoke and specptr are stored as this generic
 * function-pointer type; the runtime casts to the real signature before a
 * call (C and C++ allow a round trip through any function-pointer type). */
typedef void (*kiln_codeinst_fn_t)(void);

/* specsigflags bits. */
enum {
  /* specptr has the specialized signature. The only bit a publisher passes. */
  KILN_CODEINST_SPECSIG = 0x1u,
  /* Publication is complete and invoke agrees with specptr. Set by
   * kiln_codeinst_publish() only, never passed in. */
  KILN_CODEINST_INVOKE_MATCHES = 0x2u
};

/* What a read observed. Every state comes with a valid triple:
 *   NOT_COMPILED   (NULL,   0b00, NULL)      nothing to call yet
 *   UNSPECIALIZED  (invoke, 0b00, NULL)      call invoke
 *   PUBLISHING     (NULL or an older invoke, 0b00, NULL): another thread has
 *                  claimed specptr and is storing the rest; only
 *                  kiln_codeinst_try_read() reports it. A non-NULL invoke here
 *                  is an earlier unspecialized entry and still callable.
 *   COMPILED       (invoke, 0b10 or 0b11, specptr) */
typedef enum kiln_codeinst_state {
  KILN_CODEINST_NOT_COMPILED = 0,
  KILN_CODEINST_UNSPECIALIZED = 1,
  KILN_CODEINST_PUBLISHING = 2,
  KILN_CODEINST_COMPILED = 3
} kiln_codeinst_state_t;

/* One consistent snapshot of an instance: the state and its triple. */
typedef struct kiln_codeinst_view {
  kiln_codeinst_state_t state;
  kiln_codeinst_fn_t invoke;  /* generic entry point; NULL: nothing to call */
  kiln_codeinst_fn_t specptr; /* specialized entry point; NULL unless COMPILED */
  unsigned flags;             /* specsigflags: 0, 0b10 or 0b11 */
} kiln_codeinst_view_t;

/* What a publisher offers: invoke (required), specptr (NULL for an
 * unspecialized publication) and flags (0, or KILN_CODEINST_SPECSIG when
 * specptr has the specialized signature; that bit needs a specptr). */
typedef struct kiln_codeinst_code {
  kiln_codeinst_fn_t invoke;
  kiln_codeinst_fn_t specptr;
  unsigned flags;
} kiln_codeinst_code_t;

/* Whether kiln_codeinst_publish() installed the caller's code. */
typedef enum kiln_codeinst_outcome {
  /* The caller's code is installed. (An unspecialized invoke installed while
   * another thread publishes a specptr is then superseded by that thread's
   * invoke; it stays callable.) */
  KILN_CODEINST_INSTALLED = 0,
  /* Another publisher got there first; the view shows what is installed. */
  KILN_CODEINST_KEPT_EXISTING = 1
} kiln_codeinst_outcome_t;

/* Wait policy of kiln_codeinst_read() and kiln_codeinst_publish() while
 * another thread is mid-publication (a window of three stores, long only if
 * that thread is descheduled): check up to KILN_CODEINST_SPIN_LIMIT times
 * with a CPU pause hint between checks (a few microseconds at most), then
 * yield the thread between checks until timeout_ns nanoseconds (monotonic
 * clock) have passed since the first yield. The total wait is thus at most
 * the spin phase plus timeout_ns. KILN_CODEINST_WAIT_FOREVER never times
 * out; 0 gives up right after the spin phase. */
#define KILN_CODEINST_SPIN_LIMIT 64
#define KILN_CODEINST_WAIT_FOREVER UINT64_MAX

/* A code instance. Caller-allocated and embeddable; the fields are PRIVATE
 * (names and layout may change in any release). Initialise it with
 * kiln_codeinst_init() before sharing it; static storage that is
 * zero-initialised is also a valid NOT_COMPILED instance. Never copy an
 * instance another thread may be using. */
typedef struct kiln_codeinst {
  KILN_CODEINST_ATOMIC_(kiln_codeinst_fn_t) kiln_private_specptr_;
  KILN_CODEINST_ATOMIC_(kiln_codeinst_fn_t) kiln_private_invoke_;
  KILN_CODEINST_ATOMIC_(uint8_t) kiln_private_flags_;
} kiln_codeinst_t;

/* Puts `ci` in the NOT_COMPILED state (NULL, 0, NULL).
 * Errors: KILN_ERR_INVALID_ARGUMENT when ci is NULL.
 * Thread-safety: not concurrent with any other call on the same instance;
 * call it before other threads can see ci. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_codeinst_init(kiln_codeinst_t *ci);

/* Publishes code (the writer side of the protocol).
 * With code->specptr set: the first publisher to claim specptr wins and
 * stores its flags and invoke, then sets KILN_CODEINST_INVOKE_MATCHES; a
 * publisher that finds specptr already claimed waits (see the wait policy)
 * for the winner to finish and keeps the winner's code. With code->specptr
 * NULL: invoke is installed only if the instance has no invoke and no
 * specptr yet.
 * On success *view_out is the state after the call (COMPILED or
 * UNSPECIALIZED) and *outcome_out says whether the caller's code went in.
 * Errors: KILN_ERR_INVALID_ARGUMENT for a NULL ci, code, view_out or
 * outcome_out, a NULL invoke, flag bits other than KILN_CODEINST_SPECSIG, or
 * KILN_CODEINST_SPECSIG without a specptr (nothing is published then);
 * KILN_ERR_TIMEOUT when the wait for another publisher ran out (*view_out
 * then holds the last PUBLISHING snapshot).
 * Outputs are set even on failure: a NOT_COMPILED (all-zero) view and
 * KEPT_EXISTING for an invalid argument.
 * Ownership: the instance stores the pointers; the code they point to must
 * stay mapped for as long as the instance is reachable.
 * Thread-safety: any thread, concurrently with every call but init. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_codeinst_publish(kiln_codeinst_t *ci,
                                                            const kiln_codeinst_code_t *code,
                                                            uint64_t timeout_ns,
                                                            kiln_codeinst_view_t *view_out,
                                                            kiln_codeinst_outcome_t *outcome_out);

/* Reads a consistent snapshot without waiting. Tells NOT_COMPILED (nobody
 * has published) from PUBLISHING (another thread is storing its code right
 * now). Never reports a torn triple.
 * Errors: KILN_ERR_INVALID_ARGUMENT for a NULL ci or view_out (*view_out is
 * zeroed when it can be).
 * Thread-safety: any thread, concurrently with every call but init. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_codeinst_try_read(const kiln_codeinst_t *ci,
                                                             kiln_codeinst_view_t *view_out);

/* Reads a consistent snapshot (the reader side of the protocol), waiting out
 * a publication in progress with the wait policy above; the result is
 * NOT_COMPILED, UNSPECIALIZED or COMPILED.
 * Errors: KILN_ERR_INVALID_ARGUMENT for a NULL ci or view_out;
 * KILN_ERR_TIMEOUT when the wait ran out (*view_out then holds the last
 * PUBLISHING snapshot, whose invoke, if not NULL, is still callable).
 * Thread-safety: any thread, concurrently with every call but init. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_codeinst_read(const kiln_codeinst_t *ci,
                                                         uint64_t timeout_ns,
                                                         kiln_codeinst_view_t *view_out);

/* Replaces the published specptr with an equivalent one (same code, e.g. a
 * copy in a newly loaded image). Readers see the old or the new pointer; the
 * old one must stay callable (the caller keeps its code mapped). invoke and
 * flags do not change.
 * Errors: KILN_ERR_INVALID_ARGUMENT for a NULL ci or specptr, or when the
 * instance is not COMPILED (there is no specptr to be equivalent to).
 * Thread-safety: any thread, concurrently with every call but init. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_codeinst_update_specptr(kiln_codeinst_t *ci,
                                                                   kiln_codeinst_fn_t specptr);

/* A short stable name of a state ("not-compiled", "unspecialized",
 * "publishing", "compiled"), "unknown" otherwise, for logs and messages.
 * Ownership: static storage. Thread-safety: any thread. */
KILN_API const char *kiln_codeinst_state_name(kiln_codeinst_state_t state);

#ifndef __cplusplus
/* Branch-layout hint for the fast path below: keeps the published case on
 * the straight-line path. Only a hint; compilers without it lose nothing. */
#if defined(__GNUC__) || defined(__clang__)
#define KILN_CODEINST_LIKELY_(cond) __builtin_expect(!!(cond), 1)
#else
#define KILN_CODEINST_LIKELY_(cond) (cond)
#endif

/* The published-read fast path, inlined into C callers (a runtime's call
 * path): returns 1 and fills *view_out when the instance is COMPILED, else
 * returns 0 without touching *view_out, and the caller takes
 * kiln_codeinst_read(). Once INVOKE_MATCHES is seen (acquire, pairing with
 * the publisher's release), invoke and flags are final, and specptr can only
 * be swapped for an equivalent pointer, so three loads suffice.
 * Thread-safety: any thread, concurrently with every call but init. */
static inline int kiln_codeinst_read_compiled(const kiln_codeinst_t *ci,
                                              kiln_codeinst_view_t *view_out) {
  unsigned flags = atomic_load_explicit(&ci->kiln_private_flags_, memory_order_acquire);
  if (!KILN_CODEINST_LIKELY_(flags & KILN_CODEINST_INVOKE_MATCHES)) return 0;
  view_out->state = KILN_CODEINST_COMPILED;
  view_out->flags = flags;
  /* Relaxed: the acquire above already orders the final invoke store. */
  view_out->invoke = atomic_load_explicit(&ci->kiln_private_invoke_, memory_order_relaxed);
  /* Acquire: pairs with kiln_codeinst_update_specptr()'s release. */
  view_out->specptr = atomic_load_explicit(&ci->kiln_private_specptr_, memory_order_acquire);
  return 1;
}
#endif

KILN_END_DECLS

#endif /* KILN_CODEINST_H */
