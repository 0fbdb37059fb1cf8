/*
 * third_party/llvm_c_ext/lld.h — LLD's ELF linker run in this process, behind
 * a C function. A library of its own (//third_party/llvm_c_ext:lld), apart
 * from llvm_c_ext, so that only components/linker pulls in liblldELF.a.
 *
 * LLD as a library keeps global state between the start and the end of a
 * link (its CommonLinkerContext, error handler and option tables), so links
 * run one at a time in a process: the adapter serializes them with a
 * process-wide mutex. This is the one piece of mutable global state kiln
 * keeps, and it is LLD's, not kiln's. After each link lld::lldMain tears the
 * context down; if LLD reports that it cannot run again (it crashed or hit a
 * fatal error and unwound with longjmp), every later call fails fast.
 *
 * Conventions are kiln's (components/base/base.h).
 */
#ifndef KILN_LLVM_LLD_H
#define KILN_LLVM_LLD_H

#include <stddef.h>

#include "components/base/base.h"

KILN_BEGIN_DECLS

/* Runs `ld.lld` with the `nargs` arguments in `args` (the arguments after the
 * program name; the adapter supplies "ld.lld" as argv[0] so LLD picks its
 * GNU/ELF flavor) and waits for it. Nothing is printed: LLD's standard output
 * and standard error are captured, and returned in *diagnostics_out (warnings
 * on success, everything on failure), and on failure also in the error's
 * message.
 *
 * Ownership: *diagnostics_out is owned by the caller and released with
 * free(); it is set (possibly to "") whenever diagnostics_out is not NULL,
 * and NULL only when memory runs out. Pass NULL to ignore diagnostics.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL args with nargs > 0 or a NULL
 * argument; KILN_ERR_LINK when LLD fails (the message carries LLD's
 * diagnostics, which name the offending input); KILN_ERR_UNSUPPORTED when an
 * earlier call in this process left LLD unable to run again.
 * Thread-safety: any thread; calls are serialized process-wide (see above).
 * Do not call LLD's C++ entry points elsewhere in the same process. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_lld_link_elf(const char *const *args, size_t nargs,
                                                            char **diagnostics_out);

KILN_END_DECLS

#endif /* KILN_LLVM_LLD_H */
