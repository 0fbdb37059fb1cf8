/*
 * third_party/llvm_c_ext/llvm_c_ext.h — the C face of kiln's one C++ adapter
 * over LLVM, for what the LLVM C API does not offer. Components include this
 * header and never see an LLVM or C++ type; the implementation files (one per
 * topic: cpu.cc, ...) are the only place kiln uses LLVM's C++ API.
 *
 * Conventions are kiln's (components/base/base.h): fallible calls return an
 * owned kiln_error_t *, NULL on success, and set every *_out even on failure.
 * Strings this library returns are released with kiln_llvm_string_free().
 *
 * Topics, each in its own section below:
 *   - Memory
 *   - CPU targets (cpu.cc): expand a CPU name plus explicit features into the
 *     full feature set LLVM 22 enables; the host CPU as LLVM sees it.
 *   - Function cloning (clone.cc): copy a function's body into a new
 *     function of the same module (llvm::CloneFunctionInto).
 */
#ifndef KILN_LLVM_C_EXT_H
#define KILN_LLVM_C_EXT_H

#include "components/base/base.h"
#include "llvm-c/TargetMachine.h" /* LLVMTargetMachineRef: a C handle type */
#include "llvm-c/Types.h"         /* LLVMValueRef: a C handle type, no C++ */

KILN_BEGIN_DECLS

/* ---- Memory ------------------------------------------------------------ */

/* Releases a string returned by this library. Accepts NULL. */
KILN_API void kiln_llvm_string_free(char *s);

/* ---- CPU targets (cpu.cc) ---------------------------------------------- */

/* Expands `cpu` with the explicit `features` (LLVM syntax: "+avx2,-rdrnd";
 * NULL or "" for none) into every feature LLVM 22 enables for `triple`
 * (e.g. "x86_64-unknown-linux-gnu"), following LLVM's implications, as a
 * comma-separated list "+f1,+f2,..." sorted by name. The list includes LLVM's
 * tuning features (e.g. "+slow-3ops-lea"); callers that want ISA features
 * only filter by their own feature table.
 *
 * `cpu` "native" means the host CPU as LLVM sees it: its name (written to
 * *cpu_out) plus the features LLVM detects on the host, then `features`.
 * Otherwise *cpu_out is a copy of `cpu`. "generic" is accepted for every
 * target.
 *
 * Ownership: *cpu_out and *features_out are owned by the caller, released
 * with kiln_llvm_string_free(); both are NULL on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL arguments; KILN_ERR_NOT_FOUND
 * when LLVM has no target for `triple`, does not know `cpu`, or does not
 * know a feature name (the message names it).
 * Thread-safety: any thread; targets are registered once, internally. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_cpu_resolve(const char *triple, const char *cpu,
                                                           const char *features, char **cpu_out,
                                                           char **features_out);

/* The host CPU as LLVM sees it: *name_out is LLVM's name for it (e.g.
 * "znver4"), *features_out the features LLVM's host detection reports, as
 * "+f" for present and "-f" for absent ones, sorted by name. Detection only,
 * no expansion (see kiln_llvm_cpu_resolve with "native" for that).
 * Ownership: both outputs owned by the caller (kiln_llvm_string_free), NULL
 * on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL outputs; KILN_ERR_UNSUPPORTED
 * when LLVM cannot detect anything on this host.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_host_cpu(char **name_out, char **features_out);

/* ---- Function cloning (clone.cc) -------------------------------------- */

/* Creates `name` in `fn`'s module with `fn`'s type, linkage, visibility and
 * attributes, and copies `fn`'s body into it (a declaration stays a
 * declaration). References to other globals in the copy are unchanged: the
 * caller rewires them. Debug-info subprograms are duplicated, not shared.
 * A comdat is not carried over.
 * Ownership: the clone belongs to the module; *clone_out borrows it.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL arguments, a value that is not
 * a function in a module, or a `name` already used by a global in the
 * module. *clone_out is NULL on failure.
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_function_clone(LLVMValueRef fn, const char *name,
                                                              LLVMValueRef *clone_out);

/* ---- Archives (archive.cc) -------------------------------------------- */

/* One member of a static archive: its file name (no '/') and its bytes.
 * Borrowed: the writer copies nothing it keeps. */
typedef struct kiln_llvm_archive_member {
  const char *name;
  const void *data;
  size_t size;
} kiln_llvm_archive_member_t;

/* Writes a GNU-format archive with a symbol table (of the members that are
 * object or bitcode files), deterministic (zero timestamps, uid/gid 0, mode
 * 0644 in every member header), members in the given order, to `path`
 * atomically: a temporary file beside it, then rename. On failure `path` is
 * untouched and no temporary file remains.
 * Errors: KILN_ERR_INVALID_ARGUMENT for a NULL/empty path, NULL members with
 * count > 0, or a member without a name or with '/' in it; KILN_ERR_FORMAT
 * when a member looks like an object but its symbols cannot be read (the
 * message names it); KILN_ERR_IO when the file cannot be written (the
 * message names `path`).
 * Thread-safety: any thread; concurrent writes to the same path race for the
 * rename (one of them wins whole). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_archive_write(
    const char *path, const kiln_llvm_archive_member_t *members, size_t count);

/* kiln_llvm_archive_write() into memory: the same bytes.
 * Ownership: *data_out is owned by the caller and released with free();
 * *data_out is NULL and *size_out 0 on failure.
 * Errors: as kiln_llvm_archive_write (no IO), plus KILN_ERR_INVALID_ARGUMENT
 * for NULL outputs and KILN_ERR_OUT_OF_MEMORY.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_archive_write_memory(
    const kiln_llvm_archive_member_t *members, size_t count, void **data_out, size_t *size_out);

/* ---- Module surgery (module_surgery.cc), for the splitter ------------- */

/* Turns function definition `fn` into a declaration (llvm::Function::
 * deleteBody): the body, personality, prefix/prologue data, metadata and
 * comdat go; type, attributes, calling convention and visibility stay; the
 * linkage becomes external. A declaration is left as it is.
 * Errors: KILN_ERR_INVALID_ARGUMENT when `fn` is NULL or not a function.
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_function_delete_body(LLVMValueRef fn);

/* Erases global value `global` (function, variable, alias or ifunc) from its
 * module when nothing uses it, after dropping constant expressions that use
 * it but are themselves unused. *erased_out is 1 when it was erased, else 0.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL output or a value that is not a
 * global in a module (*erased_out 0).
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_global_erase_if_unused(LLVMValueRef global,
                                                                      int *erased_out);

/* ---- Target machines (target_machine.cc) ------------------------------ */

/* Makes `tm` emit static constructors and destructors into .init_array and
 * .fini_array (llvm::TargetOptions::UseInitArray), as clang does on ELF.
 * The LLVM C API creates target machines with the legacy .ctors/.dtors
 * sections, which the dynamic linker does not run for a shared object that
 * is linked without crtbegin.o, as kiln's images are. Read by codegen, so it
 * applies to every later emit with `tm`.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL.
 * Thread-safety: not while `tm` is emitting on another thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_llvm_target_machine_use_init_array(
    LLVMTargetMachineRef tm);

KILN_END_DECLS

#endif /* KILN_LLVM_C_EXT_H */
