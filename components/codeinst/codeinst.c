/*
 * components/codeinst/codeinst.c — the publication protocol behind
 * codeinst.h: one writer path (claim specptr, store flags and invoke,
 * announce completion), one reader path (read specptr and invoke, wait for
 * the announcement when a specptr is claimed, re-read invoke), and the
 * bounded spin-then-yield wait both share.
 *
 * Every shared access is a C11 atomic with an explicit memory order; the
 * comment at each says why that order is needed. docs/codeinst.md has the
 * whole argument, and codeinst.pml is the model spin checks.
 */
/* clock_gettime(CLOCK_MONOTONIC) for the bounded wait: a wall clock
 * (C11 timespec_get) could jump and end a wait early or never. */
#define _POSIX_C_SOURCE 200809L

#include "components/codeinst/codeinst.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

/* ---- Layout checks ------------------------------------------------------
 * C++ callers embed kiln_codeinst_t as plain fields (see the header); that
 * is only sound if the atomic fields are lock-free and have exactly the
 * plain types' size and alignment, which these checks pin down at build
 * time rather than trusting the ABI. */
struct codeinst_plain_layout {
  kiln_codeinst_fn_t specptr;
  kiln_codeinst_fn_t invoke;
  uint8_t flags;
};

_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "pointer atomics must be lock-free");
_Static_assert(ATOMIC_CHAR_LOCK_FREE == 2, "byte atomics must be lock-free");
_Static_assert(sizeof(_Atomic(kiln_codeinst_fn_t)) == sizeof(kiln_codeinst_fn_t),
               "atomic code pointers must be plain-sized");
_Static_assert(sizeof(kiln_codeinst_t) == sizeof(struct codeinst_plain_layout),
               "C and C++ views of kiln_codeinst_t differ in size");
_Static_assert(alignof(kiln_codeinst_t) == alignof(struct codeinst_plain_layout),
               "C and C++ views of kiln_codeinst_t differ in alignment");
_Static_assert(offsetof(kiln_codeinst_t, kiln_private_specptr_) ==
                   offsetof(struct codeinst_plain_layout, specptr),
               "specptr offset differs");
_Static_assert(offsetof(kiln_codeinst_t, kiln_private_invoke_) ==
                   offsetof(struct codeinst_plain_layout, invoke),
               "invoke offset differs");
_Static_assert(offsetof(kiln_codeinst_t, kiln_private_flags_) ==
                   offsetof(struct codeinst_plain_layout, flags),
               "flags offset differs");

/* ---- Waiting -------------------------------------------------------------- */

/* A hint that this core is spinning (lets the sibling hyperthread run and
 * avoids a memory-order mis-speculation flush on exit). Optional: without
 * it the loop is still correct. */
static void codeinst_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

static uint64_t codeinst_now_ns(void) {
  struct timespec ts;
  /* CLOCK_MONOTONIC cannot fail on the platforms kiln supports; if it did,
   * ts stays zero and the wait degrades to "time never passes", which only
   * matters for finite timeouts. */
  ts.tv_sec = 0;
  ts.tv_nsec = 0;
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until INVOKE_MATCHES is set, with the policy the header documents.
 * Returns the flags seen with the bit set, or 0 when the wait ran out.
 * Acquire: once the bit is seen, the publisher's invoke store (released
 * by the bit's store) is visible to this thread. */
static unsigned codeinst_wait_matches(const kiln_codeinst_t *ci, uint64_t timeout_ns) {
  for (int i = 0; i < KILN_CODEINST_SPIN_LIMIT; ++i) {
    unsigned flags = atomic_load_explicit(&ci->kiln_private_flags_, memory_order_acquire);
    if (flags & KILN_CODEINST_INVOKE_MATCHES) return flags;
    codeinst_cpu_relax();
  }
  /* The publisher is probably descheduled between its claim and its
   * announcement: give it the CPU instead of burning ours. */
  uint64_t start = codeinst_now_ns();
  for (;;) {
    unsigned flags = atomic_load_explicit(&ci->kiln_private_flags_, memory_order_acquire);
    if (flags & KILN_CODEINST_INVOKE_MATCHES) return flags;
    if (timeout_ns != KILN_CODEINST_WAIT_FOREVER && codeinst_now_ns() - start >= timeout_ns) {
      return 0;
    }
    thrd_yield();
  }
}

/* ---- Views ---------------------------------------------------------------- */

static kiln_codeinst_view_t codeinst_view(kiln_codeinst_state_t state, kiln_codeinst_fn_t invoke,
                                          kiln_codeinst_fn_t specptr, unsigned flags) {
  kiln_codeinst_view_t view;
  view.state = state;
  view.invoke = invoke;
  view.specptr = specptr;
  view.flags = flags;
  return view;
}

static kiln_codeinst_view_t codeinst_empty_view(void) {
  return codeinst_view(KILN_CODEINST_NOT_COMPILED, NULL, NULL, 0);
}

/* The reader of the protocol, without waiting. */
static kiln_codeinst_view_t codeinst_snapshot(const kiln_codeinst_t *ci) {
  /* specptr may be read in any order relative to invoke; acquire pairs with
   * the release of kiln_codeinst_update_specptr() and the claiming CAS, so
   * whatever the publisher prepared for that pointer is visible too. */
  kiln_codeinst_fn_t specptr =
      atomic_load_explicit(&ci->kiln_private_specptr_, memory_order_acquire);
  /* Acquire: pairs with the publisher's release store of invoke, so the
   * code and data invoke refers to are visible before it is called. */
  kiln_codeinst_fn_t invoke = atomic_load_explicit(&ci->kiln_private_invoke_, memory_order_acquire);
  if (invoke == NULL) {
    /* Not executable. A claimed specptr means a publisher is between its
     * claim and its invoke store: "being compiled", not "not compiled". */
    return codeinst_view(specptr != NULL ? KILN_CODEINST_PUBLISHING : KILN_CODEINST_NOT_COMPILED,
                         NULL, NULL, 0);
  }
  if (specptr == NULL) {
    /* invoke alone is a valid entry (possibly a specialized publisher's,
     * whose specptr this thread read too early: still callable). */
    return codeinst_view(KILN_CODEINST_UNSPECIALIZED, invoke, NULL, 0);
  }
  /* specptr is claimed: invoke may still be an older entry until the
   * publisher announces completion. Acquire pairs with that release. */
  unsigned flags = atomic_load_explicit(&ci->kiln_private_flags_, memory_order_acquire);
  if (!(flags & KILN_CODEINST_INVOKE_MATCHES)) {
    /* invoke (non-NULL) is an earlier entry or the new one: callable either
     * way, but not yet known to match specptr, so it is not paired with it. */
    return codeinst_view(KILN_CODEINST_PUBLISHING, invoke, NULL, 0);
  }
  /* Re-read invoke: the announcement orders the final invoke before it, and
   * nothing stores invoke after it (a claim fails once specptr is set, an
   * unspecialized publish fails once invoke is set). Relaxed suffices. */
  invoke = atomic_load_explicit(&ci->kiln_private_invoke_, memory_order_relaxed);
  return codeinst_view(KILN_CODEINST_COMPILED, invoke, specptr, flags);
}

/* The reader of the protocol, waiting out a publication in progress. */
static kiln_error_t *codeinst_read_waiting(const kiln_codeinst_t *ci, uint64_t timeout_ns,
                                           kiln_codeinst_view_t *view_out) {
  kiln_codeinst_view_t view = codeinst_snapshot(ci);
  /* PUBLISHING always has a claimed specptr, and the claim is never undone,
   * so after the announcement the next snapshot is COMPILED. */
  while (view.state == KILN_CODEINST_PUBLISHING) {
    if (codeinst_wait_matches(ci, timeout_ns) == 0) {
      *view_out = view;
      return kiln_error_new(KILN_ERR_TIMEOUT,
                            "code instance %p: publication by another thread did not complete "
                            "within %llu ns (after %d spins)",
                            (const void *)ci, (unsigned long long)timeout_ns,
                            KILN_CODEINST_SPIN_LIMIT);
    }
    view = codeinst_snapshot(ci);
  }
  *view_out = view;
  return NULL;
}

/* ---- Public API ----------------------------------------------------------- */

kiln_error_t *kiln_codeinst_init(kiln_codeinst_t *ci) {
  if (ci == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_codeinst_init: instance is NULL");
  }
  /* Not yet shared, so plain initialisation is enough. */
  atomic_init(&ci->kiln_private_specptr_, NULL);
  atomic_init(&ci->kiln_private_invoke_, NULL);
  atomic_init(&ci->kiln_private_flags_, 0);
  return NULL;
}

static kiln_error_t *codeinst_check_publish(const kiln_codeinst_t *ci,
                                            const kiln_codeinst_code_t *code,
                                            const kiln_codeinst_view_t *view_out,
                                            const kiln_codeinst_outcome_t *outcome_out) {
  if (ci == NULL || code == NULL || view_out == NULL || outcome_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_codeinst_publish: %s is NULL",
                          ci == NULL     ? "instance"
                          : code == NULL ? "code"
                          : view_out == NULL ? "view_out"
                                             : "outcome_out");
  }
  if (code->invoke == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "code instance %p: cannot publish a NULL invoke", (const void *)ci);
  }
  if (code->flags & ~(unsigned)KILN_CODEINST_SPECSIG) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "code instance %p: flags 0x%x have bits other than "
                          "KILN_CODEINST_SPECSIG (0x1); INVOKE_MATCHES (0x2) is set by "
                          "publication itself",
                          (const void *)ci, code->flags);
  }
  if ((code->flags & KILN_CODEINST_SPECSIG) && code->specptr == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "code instance %p: KILN_CODEINST_SPECSIG set but specptr is NULL",
                          (const void *)ci);
  }
  return NULL;
}

kiln_error_t *kiln_codeinst_publish(kiln_codeinst_t *ci, const kiln_codeinst_code_t *code,
                                    uint64_t timeout_ns, kiln_codeinst_view_t *view_out,
                                    kiln_codeinst_outcome_t *outcome_out) {
  if (view_out != NULL) *view_out = codeinst_empty_view();
  if (outcome_out != NULL) *outcome_out = KILN_CODEINST_KEPT_EXISTING;
  kiln_error_t *err = codeinst_check_publish(ci, code, view_out, outcome_out);
  if (err != NULL) return err;

  if (code->specptr != NULL) {
    kiln_codeinst_fn_t expected = NULL;
    /* Claim: only one publisher ever moves specptr off NULL. Release so a
     * reader acquiring specptr sees what the winner wrote before; acquire
     * (also on failure) so a loser sees the winner's state. */
    if (atomic_compare_exchange_strong_explicit(&ci->kiln_private_specptr_, &expected,
                                                code->specptr, memory_order_acq_rel,
                                                memory_order_acquire)) {
      unsigned low = code->flags & KILN_CODEINST_SPECSIG;
      /* Relaxed: nobody acts on the low bit until INVOKE_MATCHES, whose
       * release store below publishes it. */
      atomic_store_explicit(&ci->kiln_private_flags_, (uint8_t)low, memory_order_relaxed);
      /* Release: a reader that acquires this invoke also sees the code it
       * calls. This may overwrite an unspecialized invoke; that one stays
       * callable, and readers that pair invoke with specptr wait for the
       * announcement below before trusting invoke. */
      atomic_store_explicit(&ci->kiln_private_invoke_, code->invoke, memory_order_release);
      /* Release: the announcement. It must come after the invoke store, or a
       * reader could pair specptr with an old or NULL invoke (the weakened
       * model in codeinst.pml shows exactly that). */
      atomic_store_explicit(&ci->kiln_private_flags_,
                            (uint8_t)(KILN_CODEINST_INVOKE_MATCHES | low), memory_order_release);
      *view_out = codeinst_view(KILN_CODEINST_COMPILED, code->invoke, code->specptr,
                                KILN_CODEINST_INVOKE_MATCHES | low);
      *outcome_out = KILN_CODEINST_INSTALLED;
      return NULL;
    }
    /* Lost the race: wait for the winner and keep its code. */
    return codeinst_read_waiting(ci, timeout_ns, view_out);
  }

  /* Unspecialized: install invoke only into an instance that has nothing.
   * A claimed specptr means a specialized publisher is active; keep its
   * code rather than racing it. */
  if (atomic_load_explicit(&ci->kiln_private_specptr_, memory_order_acquire) == NULL) {
    kiln_codeinst_fn_t expected = NULL;
    /* Release so readers acquiring invoke see its code; acquire on failure
     * to read the invoke that won. A specialized publisher may still claim
     * specptr after this and overwrite invoke: allowed, see the header. */
    if (atomic_compare_exchange_strong_explicit(&ci->kiln_private_invoke_, &expected,
                                                code->invoke, memory_order_acq_rel,
                                                memory_order_acquire)) {
      *outcome_out = KILN_CODEINST_INSTALLED;
    }
  }
  return codeinst_read_waiting(ci, timeout_ns, view_out);
}

kiln_error_t *kiln_codeinst_try_read(const kiln_codeinst_t *ci, kiln_codeinst_view_t *view_out) {
  if (view_out != NULL) *view_out = codeinst_empty_view();
  if (ci == NULL || view_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_codeinst_try_read: %s is NULL",
                          ci == NULL ? "instance" : "view_out");
  }
  *view_out = codeinst_snapshot(ci);
  return NULL;
}

kiln_error_t *kiln_codeinst_read(const kiln_codeinst_t *ci, uint64_t timeout_ns,
                                 kiln_codeinst_view_t *view_out) {
  if (ci == NULL || view_out == NULL) {
    if (view_out != NULL) *view_out = codeinst_empty_view();
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_codeinst_read: %s is NULL",
                          ci == NULL ? "instance" : "view_out");
  }
  /* The common case once code is in: three loads, no waiting. */
  if (kiln_codeinst_read_compiled(ci, view_out)) return NULL;
  return codeinst_read_waiting(ci, timeout_ns, view_out);
}

kiln_error_t *kiln_codeinst_update_specptr(kiln_codeinst_t *ci, kiln_codeinst_fn_t specptr) {
  if (ci == NULL || specptr == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_codeinst_update_specptr: %s is NULL",
                          ci == NULL ? "instance" : "specptr");
  }
  /* Acquire: an updater must have seen the publication it replaces. */
  unsigned flags = atomic_load_explicit(&ci->kiln_private_flags_, memory_order_acquire);
  if (!(flags & KILN_CODEINST_INVOKE_MATCHES)) {
    kiln_codeinst_view_t view = codeinst_snapshot(ci);
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "code instance %p: cannot update specptr in state %s (only a "
                          "compiled instance has a specptr to replace)",
                          (const void *)ci, kiln_codeinst_state_name(view.state));
  }
  /* Release: a reader that acquires the new pointer sees whatever the
   * updater prepared for it. Readers holding the old pointer keep calling
   * it; the caller keeps that code mapped. */
  atomic_store_explicit(&ci->kiln_private_specptr_, specptr, memory_order_release);
  return NULL;
}

const char *kiln_codeinst_state_name(kiln_codeinst_state_t state) {
  switch (state) {
    case KILN_CODEINST_NOT_COMPILED:
      return "not-compiled";
    case KILN_CODEINST_UNSPECIALIZED:
      return "unspecialized";
    case KILN_CODEINST_PUBLISHING:
      return "publishing";
    case KILN_CODEINST_COMPILED:
      return "compiled";
  }
  return "unknown";
}
