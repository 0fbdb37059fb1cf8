/*
 * components/runtime/runtime.h — kiln's runtime state: a method table of
 * entries {key, code instance, fingerprint}, filled by installing system and
 * package images, validated dependency by dependency, with compile on first
 * use of what an image could not provide, a trace of those methods for the
 * next build, and reports of what happened and why.
 *
 * The runtime takes an image as the pieces the loader produces: the
 * validated metadata view (components/image_format), the function table of
 * the selected CPU target (address of function i) and the global table
 * (address of global i). It never opens files or dlopens anything itself, and
 * it links no LLVM: compiling is a hook (kiln_runtime_compile_fn) that
 * components/jit provides. C11 (atomics) plus POSIX threads, so a runtime can
 * vendor it together with the loader.
 *
 * Publication: each table entry points at an immutable "version" that embeds
 * a kiln_codeinst_t. Installing or replacing a method publishes a new version
 * through codeinst, then swaps the entry's pointer with a release store. A
 * reader sees the old or the new version, never a mix, and old versions stay
 * valid until kiln_runtime_free() (code is never unmapped). Lookups of
 * installed methods take no lock. docs/runtime.md has the model.
 *
 * Conventions are kiln's (components/base/base.h): fallible calls return an
 * owned kiln_error_t *, NULL on success, and set every *_out even on failure.
 */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "components/image_format/image_format.h"

KILN_BEGIN_DECLS

/* Globals whose name starts with this prefix are import slots: pointer-sized
 * writable globals through which a package image calls a method of another
 * image. "kiln.import.f" holds the code of method "f"; the runtime fills it
 * when it installs the image, before any of the image's code is called. */
#define KILN_RUNTIME_IMPORT_PREFIX "kiln.import."

typedef struct kiln_runtime kiln_runtime_t;
typedef struct kiln_runtime_options kiln_runtime_options_t;
typedef struct kiln_runtime_report kiln_runtime_report_t;

/* ---- Options ------------------------------------------------------------ */

/* Compiles `bitcode` (LLVM bitcode defining function `symbol`, the code of
 * method `key`) and sets *code_out to the address of the compiled function.
 * Returns NULL on success, or an owned error (and *code_out NULL).
 * The runtime calls it without holding any lock, at most once at a time per
 * method, possibly from several threads at once for different methods.
 * kiln_jit_compile_hook (components/jit) is one. */
typedef kiln_error_t *(*kiln_runtime_compile_fn)(void *user, const char *key, const char *symbol,
                                                 const void *bitcode, size_t size,
                                                 void **code_out);

/* Creates default options: no trace file, no compile hook.
 * Ownership: the caller frees *options_out with kiln_runtime_options_free.
 * Errors: KILN_ERR_INVALID_ARGUMENT (NULL), KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_options_new(
    kiln_runtime_options_t **options_out);
KILN_API void kiln_runtime_options_free(kiln_runtime_options_t *options);

/* Trace file: the runtime appends the key of every method it compiles on
 * first use, one per line, the first time it is called (each key at most
 * once per runtime). The builder reads the file as a list of roots
 * (`kiln build --roots trace.txt`). NULL (the default) disables tracing.
 * The path is copied; the file is opened by kiln_runtime_new. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_options_set_trace_file(
    kiln_runtime_options_t *options, const char *path);

/* Compile hook for compile on first use; NULL disables compiling. `user` is
 * passed back to `fn` and must outlive the runtime. */
KILN_API void kiln_runtime_options_set_compile(kiln_runtime_options_t *options,
                                               kiln_runtime_compile_fn fn, void *user);

/* ---- Runtime ------------------------------------------------------------ */

/* Creates an empty runtime. `options` may be NULL (defaults); it is copied.
 * Ownership: *runtime_out is freed with kiln_runtime_free.
 * Errors: KILN_ERR_IO when the trace file cannot be opened for appending
 * (path named); KILN_ERR_OUT_OF_MEMORY; KILN_ERR_INVALID_ARGUMENT. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_new(const kiln_runtime_options_t *options,
                                                      kiln_runtime_t **runtime_out);

/* Frees the runtime, every version it published and closes the trace file.
 * Code pointers obtained from it must not be used afterwards (the code itself
 * belongs to the images and the JIT, which the caller keeps or frees).
 * Thread-safety: no other call on `runtime` may be running. */
KILN_API void kiln_runtime_free(kiln_runtime_t *runtime);

/* Installs a system image: every method it carries, trusted as built
 * (dependencies are not checked). `function_table[i]` is the address of
 * function i for the selected CPU target (kiln_image_format_function_count
 * entries, in the image's index order, which format 5 numbers shard by
 * shard, not by name); `global_table[i]` the address of global i (may be
 * NULL when the image has no import slots). `view` must have its directory
 * (kiln_image_format_open, or the loader's kiln_loader_image_format).
 * Import slots are filled as for a package. A
 * key already in the table is replaced (readers see old or new code). `name`
 * names the image in reports and messages.
 * Ownership: *report_out (may be NULL if not wanted) is owned by the caller
 * (kiln_runtime_report_free). The runtime copies what it keeps: `view` and
 * the tables may be released afterwards; the code they point at may not.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL arguments, a package view, a
 * view without its directory, a NULL function address of a method, or
 * import slots without a global table;
 * nothing is installed then. KILN_ERR_OUT_OF_MEMORY.
 * Thread-safety: any thread; installs are serialized with each other, and
 * lookups run concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_install_system(
    kiln_runtime_t *runtime, const kiln_image_format_t *view, void *const *function_table,
    void *const *global_table, const char *name, kiln_runtime_report_t **report_out);

/* Installs a package image. Each method's dependencies (methods outside the
 * image, with the fingerprints they had at build time) are checked against
 * the current table: a method with a missing dependency (DEP_MISSING) or one
 * whose fingerprint differs (DEP_CHANGED) is invalid, and so is every method
 * of the image that calls an invalid one, transitively (CALLS_INVALID). Valid
 * methods are installed; invalid ones are recorded with the reason and not
 * installed, and their bitcode (if the image carries it) is kept for compile
 * on first use. Import slots are filled with the current code of their key
 * (NULL when the key is absent, recorded in the report). Arguments, errors
 * and thread-safety as kiln_runtime_install_system (a system view is
 * rejected). Invalid methods are not an error: they are in the report. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_install_package(
    kiln_runtime_t *runtime, const kiln_image_format_t *view, void *const *function_table,
    void *const *global_table, const char *name, kiln_runtime_report_t **report_out);

/* Installs or replaces one method: `code` (not NULL) with `fingerprint`.
 * Concurrent lookups return the old or the new code, never anything else.
 * Errors: KILN_ERR_INVALID_ARGUMENT (NULL runtime, key or code, empty key);
 * KILN_ERR_OUT_OF_MEMORY. Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_install_method(kiln_runtime_t *runtime,
                                                                 const char *key, void *code,
                                                                 uint64_t fingerprint);

/* Registers bitcode for `key`: LLVM bitcode that defines function `symbol`
 * (NULL: same as key) with the given fingerprint. If `key` has no installed
 * code, the next lookup compiles it. Replaces earlier bitcode of the key and
 * clears a recorded compile failure. The bytes are copied.
 * Errors: KILN_ERR_INVALID_ARGUMENT (NULL/empty key, NULL bitcode or size 0);
 * KILN_ERR_OUT_OF_MEMORY. Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_provide_bitcode(
    kiln_runtime_t *runtime, const char *key, const char *symbol, const void *bitcode,
    size_t size, uint64_t fingerprint);

/* The code to call for `key`. Fast path (installed method): lock-free, a
 * hash probe and a codeinst read. Otherwise, if bitcode is known for the key
 * (an invalidated package method that carries bitcode, or
 * kiln_runtime_provide_bitcode), compiles it with the compile hook, once:
 * concurrent first callers wait for the one compile and all get its result.
 * The in-image callees of an invalidated method are compiled first, so the
 * JIT can resolve them. The first compile of a key is traced and recorded
 * as compiled on first use.
 * Errors: KILN_ERR_NOT_FOUND when the key has no code and no bitcode (the
 * message gives the invalidation reason if there is one);
 * KILN_ERR_UNSUPPORTED when bitcode is known but no compile hook is set;
 * the hook's error, prefixed with the key (and returned again to later
 * callers until new bitcode is provided); KILN_ERR_INVALID_ARGUMENT for a
 * recursive compile of the same key on one thread. *code_out is NULL then.
 * Thread-safety: any thread, concurrently with everything but free. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_lookup(kiln_runtime_t *runtime,
                                                         const char *key, void **code_out);

/* The currently installed code and its fingerprint, without compiling or
 * tracing. Errors: KILN_ERR_NOT_FOUND when nothing is installed for `key`
 * (outputs NULL/0); KILN_ERR_INVALID_ARGUMENT. Thread-safety: any thread,
 * lock-free. Either output may be NULL. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_find(const kiln_runtime_t *runtime,
                                                       const char *key, void **code_out,
                                                       uint64_t *fingerprint_out);

/* The fingerprint of the code installed for `key` (kiln_runtime_find). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_fingerprint(const kiln_runtime_t *runtime,
                                                              const char *key,
                                                              uint64_t *fingerprint_out);

/* Symbol resolver for JIT'd code (signature of kiln_jit_resolver_fn; pass
 * the runtime as `user`): "kiln.import.<key>" resolves to the address of a
 * cell that always holds the current code of <key> (so JIT'd code can load
 * through it like an image's import slot); any other name resolves to the
 * installed code of the method with that key. NULL when nothing is
 * installed. Never compiles. Thread-safety: any thread, lock-free. */
KILN_API void *kiln_runtime_resolve(void *runtime, const char *name);

/* ---- Reports ------------------------------------------------------------ */

/* Why a package method was not installed. */
typedef enum kiln_runtime_reason {
  KILN_RUNTIME_DEP_MISSING = 1,   /* dep_key is not in the table */
  KILN_RUNTIME_DEP_CHANGED = 2,   /* dep_key's fingerprint is not the expected one */
  KILN_RUNTIME_CALLS_INVALID = 3  /* calls `callee`, an invalid method of the image */
} kiln_runtime_reason_t;

/* A method that was installed (from an image, by install_method, or compiled
 * on first use: see kiln_runtime_compiled_t for the latter). */
typedef struct kiln_runtime_installed {
  const char *image;             /* image name; "" for kiln_runtime_install_method */
  const char *key;
  uint64_t fingerprint;
  bool replaced;                 /* the key had code before */
  uint64_t previous_fingerprint; /* that code's fingerprint when replaced, else 0 */
} kiln_runtime_installed_t;

/* A package method that was not installed, and why. For CALLS_INVALID,
 * `callee` is the invalid in-image method through which invalidation reached
 * it (following callee links ends at a DEP_* method), and dep_key /
 * expected / found repeat that root cause. */
typedef struct kiln_runtime_invalidated {
  const char *image;
  const char *key;
  uint64_t fingerprint;          /* the method's own fingerprint */
  kiln_runtime_reason_t reason;
  kiln_runtime_reason_t root_reason; /* DEP_MISSING or DEP_CHANGED: the root cause */
  const char *dep_key;           /* the dependency at the root of it */
  uint64_t expected;             /* its fingerprint at build time */
  uint64_t found;                /* its fingerprint now; 0 when missing */
  const char *callee;            /* CALLS_INVALID only, else NULL */
  bool has_bitcode;              /* can be compiled on first use */
} kiln_runtime_invalidated_t;

/* An import slot of an image and what it was filled with. */
typedef struct kiln_runtime_import {
  const char *image;
  const char *key;      /* the method the slot calls */
  size_t global;        /* its index in the image's global table */
  bool filled;          /* false: key absent, slot set to NULL */
  uint64_t fingerprint; /* fingerprint of the code filled in; 0 if not */
} kiln_runtime_import_t;

/* A method compiled on first use. */
typedef struct kiln_runtime_compiled {
  const char *key;
  const char *origin;   /* image whose bitcode it was, or "provided" */
  uint64_t fingerprint; /* of the bitcode's code */
  uint64_t compile_ns;  /* wall time of the compile hook */
} kiln_runtime_compiled_t;

/* A snapshot of everything the runtime did so far, in order: installs,
 * invalidations, import slots, compiles. (Install calls return a report of
 * their own image only.)
 * Ownership: *report_out is owned by the caller. Errors:
 * KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. Thread-safety: any. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_report(kiln_runtime_t *runtime,
                                                         kiln_runtime_report_t **report_out);
KILN_API void kiln_runtime_report_free(kiln_runtime_report_t *report);

/* Accessors: counts, and the i-th record (NULL when out of range). Records
 * and their strings are borrowed from the report. Thread-safety: a report is
 * immutable. Records appear in install order, and within one image in
 * method-key order (import records: slot-name, so key, order, whatever the
 * global indices). */
KILN_API size_t kiln_runtime_report_installed_count(const kiln_runtime_report_t *report);
KILN_API const kiln_runtime_installed_t *kiln_runtime_report_installed(
    const kiln_runtime_report_t *report, size_t i);
KILN_API size_t kiln_runtime_report_invalidated_count(const kiln_runtime_report_t *report);
KILN_API const kiln_runtime_invalidated_t *kiln_runtime_report_invalidated(
    const kiln_runtime_report_t *report, size_t i);
KILN_API size_t kiln_runtime_report_import_count(const kiln_runtime_report_t *report);
KILN_API const kiln_runtime_import_t *kiln_runtime_report_import(
    const kiln_runtime_report_t *report, size_t i);
KILN_API size_t kiln_runtime_report_compiled_count(const kiln_runtime_report_t *report);
KILN_API const kiln_runtime_compiled_t *kiln_runtime_report_compiled(
    const kiln_runtime_report_t *report, size_t i);

/* The invalidation record of `key` in the report, or NULL. */
KILN_API const kiln_runtime_invalidated_t *kiln_runtime_report_find_invalidated(
    const kiln_runtime_report_t *report, const char *key);

/* Human-readable report, one line per record plus a summary line, e.g.
 *   installed   pkg g fingerprint 0x...
 *   invalidated pkg p: dependency f changed (expected 0x..., found 0x...)
 *   invalidated pkg q: calls invalid p (dependency f changed ...)
 *   import      pkg f: filled (fingerprint 0x...)
 *   compiled    p on first use from pkg (fingerprint 0x..., 1.234 ms)
 * Ownership: *text_out is owned by the caller (free()).
 * Errors: KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_report_format(
    const kiln_runtime_report_t *report, char **text_out);

/* "dep-missing", "dep-changed", "calls-invalid"; "unknown" otherwise.
 * Ownership: static storage. */
KILN_API const char *kiln_runtime_reason_name(kiln_runtime_reason_t reason);

/* ---- Build-time check of CPU targets ----------------------------------- */

/* Checks that a package built against `base` fits the base's CPU targets:
 * the same number of targets, and target i has the same CPU name and the
 * same resolved feature set (order of features ignored) as base target i.
 * `targets` is the package's resolved target list (as the builder encodes
 * it). Errors: KILN_ERR_INCOMPATIBLE with one line per mismatch in the
 * message (e.g. "target 1: cpu haswell in base, skylake in package";
 * "target 1 (haswell): features differ: base has +avx2, package lacks it");
 * the builder refuses or warns with it. KILN_ERR_INVALID_ARGUMENT for NULL.
 * Thread-safety: pure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_check_targets(
    const kiln_image_format_t *base, const kiln_image_format_target_t *targets, size_t count);

/* kiln_runtime_check_targets with the package image's own targets, and also
 * its base checksum against the base image's checksum. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_runtime_check_package_targets(
    const kiln_image_format_t *base, const kiln_image_format_t *package);

KILN_END_DECLS

#endif /* KILN_RUNTIME_H */
