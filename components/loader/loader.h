/*
 * components/loader/loader.h — loads a kiln image: validates it from the file
 * before any of its code can run, picks the CPU target the host can execute,
 * dlopens it, and rebuilds one function table and one global table for that
 * target, filling the image's relocation slots.
 *
 * Order of work (docs/loader.md has the details and every error):
 *   1. read the ELF file with pread (no dlopen): ELF header, program
 *      headers, PT_DYNAMIC, the dynamic symbol table through its hash table;
 *      find KILN_IMAGE_FORMAT_ROOT_SYMBOL, map it to a file offset, read and
 *      validate the metadata's load part (image_format: header, load
 *      checksum, targets, options, shards and their lists; the whole
 *      metadata with kiln_loader_options_set_eager_directory), then the
 *      triple, producer version and required codegen options;
 *   2. detect the host CPU and select a target (components/target);
 *   3. dlopen(RTLD_NOW | RTLD_LOCAL), check the file is still the validated
 *      one, dlsym the root, compare the mapped header (with both checksums)
 *      with the validated one;
 *   4. rebuild the tables and fill the slots.
 * The metadata's directory (function and global names, methods) is not
 * needed to load: unless the options ask for it first, it is validated
 * (blob checksum and every check) the first time it is used, from the
 * mapped image: kiln_loader_image_verify, kiln_loader_image_format, a
 * *_find or a method_* call.
 * Steps 1-2 alone (whole metadata) are kiln_loader_inspect and
 * kiln_loader_validate_buffer.
 *
 * Pure C11 over libc and libdl (plus components target, image_format, base):
 * no LLVM and no C++ runtime, so any runtime can vendor it.
 *
 * Conventions (components/base/base.h): fallible calls return an owned
 * kiln_error_t *, NULL on success, and set every *_out even on failure.
 * Error messages start with the image path (or the buffer's name).
 */
#ifndef KILN_LOADER_H
#define KILN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "components/image_format/image_format.h"
#include "components/target/target.h"

KILN_BEGIN_DECLS

/* ---- Options -------------------------------------------------------------- */

/* How to load. Defaults: detect the host CPU, read KILN_CPU_DISABLE and
 * KILN_CPU_TARGET_INDEX from the process environment, expect a triple of the
 * host's architecture on Linux, require the producer's kiln major.minor to
 * equal this loader's, require no particular codegen options.
 * The host CPU is detected at the first load that uses an options object and
 * reused by every later load with it (detection executes many CPUID
 * instructions, each a trap under a hypervisor); kiln_loader_options_set_env
 * discards it. With NULL options every load detects afresh.
 * Ownership: kiln_loader_options_free. Thread-safety: set from one thread;
 * afterwards any number of loads may use it concurrently (const). */
typedef struct kiln_loader_options kiln_loader_options_t;

/* Errors: KILN_ERR_INVALID_ARGUMENT for NULL, KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_options_new(kiln_loader_options_t **options_out);

/* Releases options. Accepts NULL. */
KILN_API void kiln_loader_options_free(kiln_loader_options_t *options);

/* Where KILN_CPU_DISABLE and KILN_CPU_TARGET_INDEX come from (see
 * components/target). NULL: read no environment at all. */
KILN_API void kiln_loader_options_set_env(kiln_loader_options_t *options, kiln_target_env_fn env,
                                          void *env_ctx);

/* Use this host instead of detecting one (tests, `kiln inspect --host`).
 * Borrowed: it must outlive every load using these options. NULL restores
 * detection. KILN_CPU_DISABLE does not apply to a given host. */
KILN_API void kiln_loader_options_set_host(kiln_loader_options_t *options,
                                           const kiln_target_host_t *host);

/* Forces target `index` (it must still run on the host); SIZE_MAX clears.
 * Takes precedence over KILN_CPU_TARGET_INDEX. */
KILN_API void kiln_loader_options_set_force_target(kiln_loader_options_t *options, size_t index);

/* Requires the image's triple to equal `triple` exactly (copied). NULL
 * restores the default rule: the triple's architecture is the host's and it
 * names linux. Errors: KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_options_set_expected_triple(
    kiln_loader_options_t *options, const char *triple);

/* Requires codegen option `key` to be recorded in the image with exactly
 * `value` (both copied). Requiring the same key again replaces the value.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_options_require(kiln_loader_options_t *options,
                                                                 const char *key,
                                                                 const char *value);

/* Accept images whose producer is another kiln version (or not kiln). The
 * format version is still checked: it decides whether the bytes can be read. */
KILN_API void kiln_loader_options_accept_any_producer(kiln_loader_options_t *options, bool accept);

/* Validate the metadata's directory (names, methods) before dlopen too, so
 * that a corrupt directory fails kiln_loader_open before any image code
 * runs. Default false: kiln_loader_open validates before dlopen what
 * loading needs (the load part, under its own checksum) and the directory
 * is validated on first use. Eager costs reading and hashing the whole
 * metadata on every load (docs/loader.md, "Load time"). */
KILN_API void kiln_loader_options_set_eager_directory(kiln_loader_options_t *options, bool eager);

/* ---- Validation without loading (steps 1-2) ------------------------------- */

/* What validation found. Ownership: kiln_loader_info_free. Thread-safety:
 * immutable; concurrent reads are safe. */
typedef struct kiln_loader_info kiln_loader_info_t;

/* Validates the image at `path` and selects a target, without dlopen: no
 * image code runs. Succeeds even when no target fits the host (the info then
 * says why, see kiln_loader_info_selected); fails on everything else.
 * Ownership: *info_out owned by the caller; NULL on failure.
 * Errors: as kiln_loader_open, steps 1 (file, ELF, metadata, triple,
 * producer, options); KILN_ERR_INVALID_ARGUMENT for NULL path or output;
 * KILN_ERR_INVALID_ARGUMENT/UNSUPPORTED from host detection.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_inspect(const char *path,
                                                         const kiln_loader_options_t *options,
                                                         kiln_loader_info_t **info_out);

/* The same as kiln_loader_inspect over an ELF file held in memory,
 * data[0..size), named `name` in messages. Never reads outside the buffer.
 * This is the fuzzing entry point. `options` may be NULL (defaults).
 * Thread-safety: any thread; reads `data` only. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_validate_buffer(
    const void *data, size_t size, const char *name, const kiln_loader_options_t *options,
    kiln_loader_info_t **info_out);

/* Releases an info. Accepts NULL. */
KILN_API void kiln_loader_info_free(kiln_loader_info_t *info);

/* The validated metadata. Ownership: borrowed from the info. */
KILN_API const kiln_image_format_t *kiln_loader_info_format(const kiln_loader_info_t *info);

/* The selected target index, or SIZE_MAX when no target runs on the host. */
KILN_API size_t kiln_loader_info_selected(const kiln_loader_info_t *info);

/* One line: the selected target and why, or the "no compatible CPU target"
 * message listing per target what the host lacks. Ownership: borrowed. */
KILN_API const char *kiln_loader_info_reason(const kiln_loader_info_t *info);

/* One line per image target: chosen, passed over (why), or what the host
 * lacks. Ownership: borrowed. */
KILN_API const char *kiln_loader_info_report(const kiln_loader_info_t *info);

/* The host CPU name the selection used. Ownership: borrowed. */
KILN_API const char *kiln_loader_info_host_cpu(const kiln_loader_info_t *info);

/* ---- Loading (steps 1-4) ----------------------------------------------- */

/* A loaded image. Ownership: kiln_loader_close. Thread-safety: immutable
 * once opened; lookups from any number of threads are safe. Opening and
 * closing different images from different threads is safe (dlopen is). */
typedef struct kiln_loader_image kiln_loader_image_t;

/* Validates, selects, dlopens and builds the tables of the image at `path`.
 * On any failure after dlopen the image is dlclosed again; on a failure
 * before it, no image code has run (no constructor either). The metadata's
 * directory is validated on first use unless the options make it eager.
 * Ownership: *image_out owned by the caller (kiln_loader_close); NULL on
 * failure. `options` may be NULL (defaults).
 * Errors (each message starts with the path):
 *   KILN_ERR_NOT_FOUND   no such file;
 *   KILN_ERR_IO          not a regular file, unreadable, read failed;
 *   KILN_ERR_FORMAT      not an ELF file; not a 64-bit little-endian shared
 *                        object; malformed ELF (an offset or size outside the
 *                        file); not a kiln image (no dynamic symbol
 *                        kiln_image_root); image metadata truncated;
 *                        checksum mismatch; any structural metadata problem;
 *                        mapped metadata differs from the file; a table or
 *                        slot outside the image or in read-only memory;
 *   KILN_ERR_VERSION_MISMATCH  format version, or producer version;
 *   KILN_ERR_INCOMPATIBLE      wrong triple or ELF machine; required codegen
 *                        option missing or different; no compatible CPU
 *                        target (one line per target with what the host
 *                        lacks); forced target not runnable;
 *   KILN_ERR_LINK        dlopen failed (dlerror's text);
 *   KILN_ERR_NOT_FOUND   root symbol missing after dlopen;
 *   KILN_ERR_OUT_OF_MEMORY.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_open(const char *path,
                                                      const kiln_loader_options_t *options,
                                                      kiln_loader_image_t **image_out);

/* dlcloses the image and releases its tables. Accepts NULL. Every address
 * obtained from it is invalid afterwards (unless the same file is still
 * open through another handle: dlopen counts references). */
KILN_API void kiln_loader_close(kiln_loader_image_t *image);

/* The path given to kiln_loader_open. Ownership: borrowed. */
KILN_API const char *kiln_loader_image_path(const kiln_loader_image_t *image);

/* Validates the metadata's directory (names and methods) if that has not
 * been done yet: kiln_image_format_open of the mapped root, so the blob
 * checksum and every structural check. Once it succeeded it is not redone.
 * Errors (message starts with the path, then "image directory"): those of
 * kiln_image_format_open ("checksum mismatch", a structural problem);
 * KILN_ERR_INVALID_ARGUMENT for NULL. Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_image_verify(const kiln_loader_image_t *image);

/* The validated metadata with its directory (its bytes are the image's
 * mapped root), validating the directory first if needed; NULL when that
 * fails (kiln_loader_image_verify says why). */
KILN_API const kiln_image_format_t *kiln_loader_image_format(const kiln_loader_image_t *image);

/* The selected target: index, CPU name, and the one-line reason/report. */
KILN_API size_t kiln_loader_image_target(const kiln_loader_image_t *image);
KILN_API const char *kiln_loader_image_target_cpu(const kiln_loader_image_t *image);
KILN_API const char *kiln_loader_image_target_reason(const kiln_loader_image_t *image);
KILN_API const char *kiln_loader_image_target_report(const kiln_loader_image_t *image);

/* The function table (selected target's version of each function, indexed
 * like kiln_image_format_function_name) and the global table. Out of range:
 * 0 / NULL. */
KILN_API size_t kiln_loader_function_count(const kiln_loader_image_t *image);
KILN_API void *kiln_loader_function_address(const kiln_loader_image_t *image, size_t index);
/* The whole table, function_count entries. Ownership: borrowed. */
KILN_API void *const *kiln_loader_function_table(const kiln_loader_image_t *image);
/* Index of function `name`. Errors: KILN_ERR_NOT_FOUND naming it and the
 * image, KILN_ERR_INVALID_ARGUMENT for NULL, those of
 * kiln_loader_image_verify; *index_out SIZE_MAX then. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_function_find(const kiln_loader_image_t *image,
                                                               const char *name,
                                                               size_t *index_out);

KILN_API size_t kiln_loader_global_count(const kiln_loader_image_t *image);
KILN_API void *kiln_loader_global_address(const kiln_loader_image_t *image, size_t index);
/* As kiln_loader_function_find, for globals. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_global_find(const kiln_loader_image_t *image,
                                                             const char *name, size_t *index_out);

/* Methods (the runtime's view): key, function index, code address. These
 * validate the directory on first use; when it fails they give 0/NULL/
 * SIZE_MAX (kiln_loader_image_verify says why). */
KILN_API size_t kiln_loader_method_count(const kiln_loader_image_t *image);
KILN_API const char *kiln_loader_method_key(const kiln_loader_image_t *image, size_t m);
/* Function index of method m (SIZE_MAX when out of range). */
KILN_API size_t kiln_loader_method_function(const kiln_loader_image_t *image, size_t m);
/* The selected target's code address of method m (NULL when out of range). */
KILN_API void *kiln_loader_method_address(const kiln_loader_image_t *image, size_t m);
/* Method index of `key`. Errors as kiln_loader_function_find. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_loader_method_find(const kiln_loader_image_t *image,
                                                             const char *key, size_t *index_out);

KILN_END_DECLS

#endif /* KILN_LOADER_H */
