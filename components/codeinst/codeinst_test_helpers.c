/*
 * components/codeinst/codeinst_test_helpers.c — see codeinst_test_helpers.h.
 * Each helper is one step of the writer in codeinst.c, with the same memory
 * order, so a test can stop a publication between steps.
 */
#include "components/codeinst/codeinst_test_helpers.h"

#include <stdalign.h>
#include <stdatomic.h>

int codeinst_test_claim(kiln_codeinst_t *ci, kiln_codeinst_fn_t specptr) {
  kiln_codeinst_fn_t expected = NULL;
  return atomic_compare_exchange_strong_explicit(&ci->kiln_private_specptr_, &expected, specptr,
                                                 memory_order_acq_rel, memory_order_acquire);
}

void codeinst_test_store_invoke(kiln_codeinst_t *ci, kiln_codeinst_fn_t invoke, unsigned specsig) {
  atomic_store_explicit(&ci->kiln_private_flags_, (uint8_t)(specsig & KILN_CODEINST_SPECSIG),
                        memory_order_relaxed);
  atomic_store_explicit(&ci->kiln_private_invoke_, invoke, memory_order_release);
}

void codeinst_test_announce(kiln_codeinst_t *ci, unsigned specsig) {
  atomic_store_explicit(&ci->kiln_private_flags_,
                        (uint8_t)(KILN_CODEINST_INVOKE_MATCHES | (specsig & KILN_CODEINST_SPECSIG)),
                        memory_order_release);
}

int codeinst_test_read_compiled(const kiln_codeinst_t *ci, kiln_codeinst_view_t *view_out) {
  return kiln_codeinst_read_compiled(ci, view_out);
}

size_t codeinst_test_c_sizeof(void) { return sizeof(kiln_codeinst_t); }
size_t codeinst_test_c_alignof(void) { return alignof(kiln_codeinst_t); }
