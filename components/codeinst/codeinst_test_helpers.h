/*
 * components/codeinst/codeinst_test_helpers.h — test-only C helpers for
 * codeinst_test.cc. C++ sees kiln_codeinst_t as plain storage, so states that
 * only exist halfway through a publication (specptr claimed, invoke or the
 * announcement not yet stored) are staged here, in C, by running the
 * writer's steps one at a time; the same file exposes the C-only inline fast
 * path to the C++ tests.
 */
#ifndef KILN_CODEINST_TEST_HELPERS_H
#define KILN_CODEINST_TEST_HELPERS_H

#include "components/codeinst/codeinst.h"

KILN_BEGIN_DECLS

/* Writer step 1 alone: claims specptr (CAS from NULL). Returns 1 if claimed. */
int codeinst_test_claim(kiln_codeinst_t *ci, kiln_codeinst_fn_t specptr);

/* Writer steps 2 and 3: the low flag bit and invoke, without the
 * announcement. */
void codeinst_test_store_invoke(kiln_codeinst_t *ci, kiln_codeinst_fn_t invoke, unsigned specsig);

/* Writer step 4: the announcement (INVOKE_MATCHES | specsig, release). */
void codeinst_test_announce(kiln_codeinst_t *ci, unsigned specsig);

/* kiln_codeinst_read_compiled() (inline, C only), callable from C++. */
int codeinst_test_read_compiled(const kiln_codeinst_t *ci, kiln_codeinst_view_t *view_out);

/* sizeof and alignof kiln_codeinst_t as C sees them. */
size_t codeinst_test_c_sizeof(void);
size_t codeinst_test_c_alignof(void);

KILN_END_DECLS

#endif /* KILN_CODEINST_TEST_HELPERS_H */
