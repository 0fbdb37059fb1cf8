/*
 * components/jit/jit.h — compile on first use: LLVM bitcode in, the address
 * of a native function out, through LLVM's ORC LLJIT (C API). It is the
 * compile hook of components/runtime (kiln_jit_compile_hook), kept in its own
 * library so that the runtime and the loader stay free of LLVM.
 *
 * Each compile parses the bitcode into its own LLVMContext and module, so
 * compiles share no IR. The requested function is renamed to a unique
 * internal name (so the same symbol may be compiled again, e.g. a new
 * version), and the module's other definitions are made internal (so two
 * methods' bitcode may carry the same helpers). References the module leaves
 * undefined are resolved, in this order, by the resolver (the runtime's
 * current code for a method key, or the cell behind "kiln.import.<key>") and
 * by the symbols of the process (libc and the like).
 *
 * Code lives as long as the jit: free it only after nothing can call it.
 * Conventions are kiln's (components/base/base.h). The header shows no LLVM
 * type.
 */
#ifndef KILN_JIT_H
#define KILN_JIT_H

#include <stddef.h>

#include "components/base/base.h"

KILN_BEGIN_DECLS

typedef struct kiln_jit kiln_jit_t;

/* Resolves a symbol the JIT'd code references (unmangled name) to an
 * address, or NULL when unknown (the process is tried next).
 * kiln_runtime_resolve (components/runtime) is one, with the runtime as
 * `user`. Called from the compiling thread, while kiln_jit_compile runs. */
typedef void *(*kiln_jit_resolver_fn)(void *user, const char *name);

/* Creates an LLJIT for the host (CPU and features detected by LLVM).
 * Ownership: *jit_out is freed with kiln_jit_free.
 * Errors: KILN_ERR_LLVM (host detection or LLJIT creation failed, LLVM's
 * message included); KILN_ERR_INVALID_ARGUMENT; KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_jit_new(kiln_jit_t **jit_out);

/* Frees the JIT and all code it compiled. Thread-safety: no other call on
 * `jit` may be running, and its code must not be called afterwards. */
KILN_API void kiln_jit_free(kiln_jit_t *jit);

/* Sets the resolver (NULL: process symbols only). `user` must outlive the
 * jit. Thread-safety: any thread; compiles started later use it. */
KILN_API void kiln_jit_set_resolver(kiln_jit_t *jit, kiln_jit_resolver_fn fn, void *user);

/* Compiles `bitcode[0..size)`, which must define function `symbol`, and
 * sets *addr_out to its address.
 * Errors (each names `symbol`): KILN_ERR_PARSE when the bytes are not LLVM
 * bitcode (LLVM's diagnostic included); KILN_ERR_NOT_FOUND when the module
 * does not define `symbol`; KILN_ERR_LLVM when LLVM fails to compile or
 * link it, e.g. an unresolved reference ("Symbols not found: [ base_f ]");
 * KILN_ERR_INVALID_ARGUMENT. *addr_out is NULL on failure.
 * Thread-safety: any thread; compiles are serialized inside the jit. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_jit_compile(kiln_jit_t *jit, const void *bitcode,
                                                      size_t size, const char *symbol,
                                                      void **addr_out);

/* The runtime's compile hook (kiln_runtime_compile_fn) with the jit as
 * `user`: kiln_runtime_options_set_compile(opts, kiln_jit_compile_hook, jit).
 * Compiles `symbol` from the bitcode; `key` names the method in errors. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_jit_compile_hook(void *user, const char *key,
                                                           const char *symbol,
                                                           const void *bitcode, size_t size,
                                                           void **code_out);

KILN_END_DECLS

#endif /* KILN_JIT_H */
