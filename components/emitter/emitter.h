/*
 * components/emitter/emitter.h — the image build's back half: from one
 * linked LLVM module to a deterministic static archive of per-shard objects
 * plus the image's metadata object (its root), optimized and compiled on
 * worker threads, each with its own LLVMContext.
 *
 * Data flow (docs/emitter.md has the details):
 *
 *   inputs (.bc/.ll) -> link -> [roots] -> kiln_multiversion_annotate (whole
 *   module) -> image tables -> kiln_splitter_split  ==> PLAN
 *   per shard, fresh LLVMContext, worker thread: parse shard bitcode ->
 *   kiln_multiversion_clone -> per-shard table globals -> kiln_pipeline_run
 *   -> codegen                                       ==> SHARD results
 *   slot lists -> kiln_image_format_encode -> root IR -> metadata object ->
 *   archive (shard-0.o ... shard-<n-1>.o, kiln-metadata.o)  ==> RESULT
 *
 * Three steps with files in and out (so a build system can run each shard as
 * its own action) and one call that does all of them on a thread pool:
 *
 *   kiln_emitter_plan      + kiln_emitter_plan_write / _read   (plan dir)
 *   kiln_emitter_emit_shard + kiln_emitter_shard_write / _read (.o + .slots)
 *   kiln_emitter_finish                                        (archive)
 *   kiln_emitter_build / kiln_emitter_build_files              (all of it)
 *
 * Determinism: the archive's bytes depend only on the inputs, the options
 * that change code (recorded in the image header) and the toolchain; not on
 * the thread count, timing, paths or the order shards finish in. The shard
 * count comes from the module's weight (or the option), never from threads.
 *
 * Conventions are kiln's (components/base/base.h): fallible calls return an
 * owned kiln_error_t *, NULL on success, and set every *_out even on failure.
 * LLVMModuleRef/LLVMContextRef are the only LLVM types here (C handles).
 */
#ifndef KILN_EMITTER_H
#define KILN_EMITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "components/target/target.h" /* kiln_target_env_fn */
#include "llvm-c/Types.h"             /* LLVMModuleRef, LLVMContextRef */

KILN_BEGIN_DECLS

/* ---- Names of files and members ---------------------------------------- */

/* The plan file inside a plan directory (kiln_emitter_plan_write). */
#define KILN_EMITTER_PLAN_FILE "kiln-plan.bin"
/* Archive member holding the image root. */
#define KILN_EMITTER_METADATA_MEMBER "kiln-metadata.o"
/* Optional archive member with build information (record_build_info). */
#define KILN_EMITTER_BUILD_INFO_MEMBER "kiln-build.txt"
/* Environment variable that sets the worker thread count. */
#define KILN_EMITTER_ENV_THREADS "KILN_IMAGE_THREADS"

/* Outputs (kiln_emitter_options_set_outputs), a bit set. */
#define KILN_EMITTER_OUTPUT_OBJ 0x01u      /* <prefix>shard-<i>.o per shard */
#define KILN_EMITTER_OUTPUT_ASM 0x02u      /* <prefix>shard-<i>.s */
#define KILN_EMITTER_OUTPUT_BC 0x04u       /* <prefix>shard-<i>.bc, optimized */
#define KILN_EMITTER_OUTPUT_UNOPT_BC 0x08u /* <prefix>shard-<i>.unopt.bc, cloned, not optimized */
#define KILN_EMITTER_OUTPUT_ARCHIVE 0x10u  /* the archive (memory and/or archive path) */
#define KILN_EMITTER_OUTPUT_ALL 0x1fu

/* Image kinds (the values of kiln_image_format_kind_t). */
#define KILN_EMITTER_IMAGE_SYSTEM 0u
#define KILN_EMITTER_IMAGE_PACKAGE 1u

/* ---- Callbacks ----------------------------------------------------------- */

/* Dependency resolver for package images: returns true and the fingerprint
 * the runtime (or base image) has for method `key` when it knows it; false
 * otherwise. Called from the thread that runs kiln_emitter_plan. */
typedef bool (*kiln_emitter_dep_fn)(const char *key, uint64_t *fingerprint_out, void *user);

/* Progress: called on the coordinating thread (the one that called
 * kiln_emitter_build) once per finished shard, in completion order:
 * `shard` just finished, `done` of `total` are finished. */
typedef void (*kiln_emitter_progress_fn)(void *user, size_t shard, size_t done, size_t total);

/* ---- Options --------------------------------------------------------------- */

/* Options. Defaults: target "generic", O2, vectorize on, shard count auto,
 * threads auto, no memory budget, environment = the process's
 * (kiln_target_env_process), outputs ARCHIVE, no prefix, no archive path,
 * system image named "", base checksum 0, no resolver, no roots (keep
 * everything), no progress, no time trace, no build info.
 * Ownership: kiln_emitter_options_free (accepts NULL); strings are copied.
 * Thread-safety: not shared while being set; const use from many threads
 * is safe. */
typedef struct kiln_emitter_options kiln_emitter_options_t;

/* Errors: KILN_ERR_INVALID_ARGUMENT for NULL, KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_new(kiln_emitter_options_t **options_out);
KILN_API void kiln_emitter_options_free(kiln_emitter_options_t *options);

/* CPU target string (components/target grammar). Checked when planning
 * (unknown CPU or feature names fail there, naming the string).
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL or "". */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_target(
    kiln_emitter_options_t *options, const char *targets);
/* Optimization level 0-3. Errors: KILN_ERR_INVALID_ARGUMENT above 3. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_opt_level(
    kiln_emitter_options_t *options, unsigned level);
/* Loop and SLP vectorizers on (default) or off. */
KILN_API void kiln_emitter_options_set_vectorize(kiln_emitter_options_t *options, bool enabled);
/* Number of shards; 0 (default) lets the splitter derive it from weight. */
KILN_API void kiln_emitter_options_set_shard_count(kiln_emitter_options_t *options, size_t n);
/* Worker threads; 0 (default): KILN_IMAGE_THREADS when set, else half the
 * online cores (at least 1). A non-zero value here is overridden by
 * KILN_IMAGE_THREADS too. Then lowered to fit the memory budget and capped
 * at the shard count. */
KILN_API void kiln_emitter_options_set_threads(kiln_emitter_options_t *options, unsigned threads);
/* Memory budget in bytes for the shard workers together (0: none). The
 * thread count is lowered so threads x the estimated peak of the largest
 * shard fits (at least one thread always runs). */
KILN_API void kiln_emitter_options_set_memory_budget(kiln_emitter_options_t *options,
                                                     uint64_t bytes);
/* Environment reader (KILN_IMAGE_THREADS); NULL: no environment at all. */
KILN_API void kiln_emitter_options_set_env(kiln_emitter_options_t *options, kiln_target_env_fn env,
                                           void *env_ctx);
/* Outputs, a bit set of KILN_EMITTER_OUTPUT_*. OBJ/ASM/BC/UNOPT_BC files
 * are written by kiln_emitter_build under the output prefix.
 * Errors: KILN_ERR_INVALID_ARGUMENT for unknown bits. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_outputs(
    kiln_emitter_options_t *options, unsigned outputs);
/* Prefix for per-shard files: "<prefix>shard-<i>.o" etc. ("out/" for a
 * directory, which must exist). NULL or "" means the current directory. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_output_prefix(
    kiln_emitter_options_t *options, const char *prefix);
/* Where the archive is written (atomically: temp file + rename); NULL: in
 * memory only. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_archive_path(
    kiln_emitter_options_t *options, const char *path);
/* KILN_EMITTER_IMAGE_SYSTEM or _PACKAGE. Errors: INVALID_ARGUMENT otherwise. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_image_kind(
    kiln_emitter_options_t *options, unsigned kind);
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_image_name(
    kiln_emitter_options_t *options, const char *name);
/* Package images: the checksum of the base image built against. */
KILN_API void kiln_emitter_options_set_base_checksum(kiln_emitter_options_t *options,
                                                     uint64_t checksum);
/* Dependency resolver (NULL: none, so methods have no deps). `user` borrowed.
 * For a PACKAGE image it also decides the import slots: every function
 * declaration of the module whose name the resolver knows (a method of the
 * base) is called through a hidden, writable, null-initialized pointer
 * global "kiln.import.<name>" (KILN_RUNTIME_IMPORT_PREFIX of
 * components/runtime) that the image's global table lists and the runtime
 * fills at install; the declaration itself disappears, so the linked image
 * has no undefined reference to the base. docs/emitter.md, "Import slots". */
KILN_API void kiln_emitter_options_set_dep_resolver(kiln_emitter_options_t *options,
                                                    kiln_emitter_dep_fn fn, void *user);
/* Per-method bitcode for compile on first use: each method carries a
 * standalone bitcode module (its definition, copies of the internal
 * functions and globals it reaches, everything else declared), taken from
 * the module before annotation and before the import-slot rewrite, so it
 * references its dependencies by key. Default: on for package images, off
 * for system images (a system image is trusted, never invalidated). This
 * setter overrides the default for both kinds. */
KILN_API void kiln_emitter_options_set_embed_bitcode(kiln_emitter_options_t *options,
                                                     bool enabled);
/* Adds a root: when any root is given, planning keeps only the roots and
 * what they reach (functions and globals) and drops the rest. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_add_root(
    kiln_emitter_options_t *options, const char *name);
KILN_API void kiln_emitter_options_set_progress(kiln_emitter_options_t *options,
                                                kiln_emitter_progress_fn fn, void *user);
/* kiln_emitter_build writes a Chrome trace here at the end (NULL: none). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_options_set_time_trace_path(
    kiln_emitter_options_t *options, const char *path);
/* Adds the member KILN_EMITTER_BUILD_INFO_MEMBER ("threads=..", "shards=..",
 * "functions=..") to the archive. Off by default: with it, the archive is
 * no longer byte-identical across thread counts. */
KILN_API void kiln_emitter_options_set_record_build_info(kiln_emitter_options_t *options,
                                                         bool enabled);

/* ---- Step 1: plan ------------------------------------------------------------ */

/* The plan: the annotated module split into shard bitcode, and the image
 * description except the slot lists. Ownership: kiln_emitter_plan_free
 * (accepts NULL). Thread-safety: immutable; const use from many threads
 * (e.g. concurrent kiln_emitter_emit_shard) is safe. */
typedef struct kiln_emitter_plan kiln_emitter_plan_t;

/* Plans `module`: sets its triple (host's when empty) and data layout,
 * applies the roots, annotates it for the options' targets, computes the
 * image's targets, function/global tables, methods, and splits it. The
 * module is changed in place (annotation, dropped unreachable code,
 * promoted internals, import slots) and stays the caller's.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL; KILN_ERR_NOT_FOUND for a root
 * that names no defined function or global; KILN_ERR_UNSUPPORTED (package
 * images) when a dependency method is referenced from a constant initializer
 * of a global, which cannot load an import slot (the message names the
 * method and the global); the target string's errors prefixed with the
 * string; splitter errors. *plan_out NULL on failure.
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_plan(const kiln_emitter_options_t *options,
                                                       LLVMModuleRef module,
                                                       kiln_emitter_plan_t **plan_out);
KILN_API void kiln_emitter_plan_free(kiln_emitter_plan_t *plan);

/* Writes `dir`/KILN_EMITTER_PLAN_FILE and `dir`/shard-<i>.bc (dir must
 * exist). Each file is written atomically. Errors: KILN_ERR_IO naming the
 * file. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_plan_write(const kiln_emitter_plan_t *plan,
                                                             const char *dir);
/* Reads a plan from a directory (or its plan file) written by
 * kiln_emitter_plan_write. Only the plan file is read: each shard's bitcode
 * stays in its file beside it (shard-<i>.bc, path and size recorded) until
 * kiln_emitter_emit_shard needs it, so emitting one shard needs only that
 * shard's file and kiln_emitter_finish none.
 * Errors: KILN_ERR_NOT_FOUND / KILN_ERR_IO naming the file;
 * KILN_ERR_FORMAT for a damaged plan file. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_plan_read(const char *path,
                                                            kiln_emitter_plan_t **plan_out);

/* Reporting. Out-of-range indices give 0/NULL. */
KILN_API size_t kiln_emitter_plan_shard_count(const kiln_emitter_plan_t *plan);
KILN_API uint64_t kiln_emitter_plan_shard_weight(const kiln_emitter_plan_t *plan, size_t s);
/* File name of shard s's bitcode inside the plan directory ("shard-3.bc").
 * Ownership: borrowed from the plan. */
KILN_API const char *kiln_emitter_plan_shard_file(const kiln_emitter_plan_t *plan, size_t s);
KILN_API size_t kiln_emitter_plan_shard_function_count(const kiln_emitter_plan_t *plan, size_t s);
/* Estimated peak memory (bytes) of emitting shard s (see docs/emitter.md). */
KILN_API uint64_t kiln_emitter_plan_shard_memory_estimate(const kiln_emitter_plan_t *plan,
                                                          size_t s);
/* The image function table's size, global table's size, method count. */
KILN_API size_t kiln_emitter_plan_function_count(const kiln_emitter_plan_t *plan);
KILN_API size_t kiln_emitter_plan_global_count(const kiln_emitter_plan_t *plan);
KILN_API size_t kiln_emitter_plan_method_count(const kiln_emitter_plan_t *plan);
KILN_API size_t kiln_emitter_plan_target_count(const kiln_emitter_plan_t *plan);
/* Defined functions cloned for target k (0 for k = 0). */
KILN_API size_t kiln_emitter_plan_clone_count(const kiln_emitter_plan_t *plan, size_t k);
/* Function i of the image table. The table is numbered shard by shard
 * (shard 0's functions first, then shard 1's, ...; in strcmp order within a
 * shard), not in name order. Borrowed. */
KILN_API const char *kiln_emitter_plan_function_name(const kiln_emitter_plan_t *plan, size_t i);

/* ---- Step 2: one shard ------------------------------------------------------- */

/* A compiled shard: object bytes, its slot list, optional asm/bitcode and
 * timings. Ownership: kiln_emitter_shard_free (accepts NULL).
 * Thread-safety: immutable once returned. */
typedef struct kiln_emitter_shard kiln_emitter_shard_t;

/* Compiles shard `shard` of `plan` in a fresh LLVMContext on the calling
 * thread: read the shard's file when the plan came from
 * kiln_emitter_plan_read (KILN_ERR_NOT_FOUND/IO naming it, KILN_ERR_FORMAT
 * when its size is not the recorded one), parse, clone per target, table globals, staged pipeline (opt
 * level and vectorize come from the PLAN, so every shard agrees), codegen.
 * From `options` it reads only the outputs mask (whether asm and bitcode
 * are kept in the result); options may be NULL.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL or a shard out of range;
 * multiversion, pipeline and LLVM errors prefixed with "shard <s>".
 * Thread-safety: any thread; calls for different shards may run in
 * parallel on one plan. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_emit_shard(const kiln_emitter_options_t *options,
                                                             const kiln_emitter_plan_t *plan,
                                                             size_t shard,
                                                             kiln_emitter_shard_t **shard_out);
KILN_API void kiln_emitter_shard_free(kiln_emitter_shard_t *shard);

KILN_API size_t kiln_emitter_shard_index(const kiln_emitter_shard_t *shard);
/* The object file bytes (borrowed). */
KILN_API const void *kiln_emitter_shard_object(const kiln_emitter_shard_t *shard, size_t *size_out);
/* Assembly, optimized bitcode, unoptimized bitcode (NULL/0 when not kept). */
KILN_API const void *kiln_emitter_shard_asm(const kiln_emitter_shard_t *shard, size_t *size_out);
KILN_API const void *kiln_emitter_shard_bitcode(const kiln_emitter_shard_t *shard,
                                                size_t *size_out);
KILN_API const void *kiln_emitter_shard_unopt_bitcode(const kiln_emitter_shard_t *shard,
                                                      size_t *size_out);
/* The shard's relocation slots: image function index per slot. */
KILN_API size_t kiln_emitter_shard_slot_count(const kiln_emitter_shard_t *shard);
KILN_API uint32_t kiln_emitter_shard_slot_function(const kiln_emitter_shard_t *shard, size_t j);
/* Wall and thread-CPU time of the emit, in nanoseconds. */
KILN_API int64_t kiln_emitter_shard_wall_ns(const kiln_emitter_shard_t *shard);
KILN_API int64_t kiln_emitter_shard_cpu_ns(const kiln_emitter_shard_t *shard);

/* Writes "<prefix>.o" and "<prefix>.slots" (and .s/.bc/.unopt.bc when the
 * shard holds them), each atomically. Errors: KILN_ERR_IO naming the file. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_shard_write(const kiln_emitter_shard_t *shard,
                                                              const char *prefix);
/* Reads "<prefix>.o" and "<prefix>.slots". Errors: KILN_ERR_NOT_FOUND/IO
 * naming the file, KILN_ERR_FORMAT for a damaged slot file. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_shard_read(const char *prefix,
                                                             kiln_emitter_shard_t **shard_out);

/* ---- Step 3: finish, and the whole build ------------------------------------ */

/* The build's result: archive, metadata blob, counts, timings.
 * Ownership: kiln_emitter_result_free (accepts NULL). Thread-safety:
 * immutable once returned. */
typedef struct kiln_emitter_result kiln_emitter_result_t;

/* Fills the shards' slot lists into the plan's description, encodes the
 * blob, compiles the metadata object and builds the archive (members
 * shard-0.o ... shard-<n-1>.o, kiln-metadata.o[, kiln-build.txt]) in
 * memory and, with an archive path, on disk (atomically; a failure leaves
 * a previous file intact). `shards` holds one result per plan shard, in
 * any order.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, a missing or repeated shard;
 * image format, LLVM and IO errors prefixed. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_finish(const kiln_emitter_options_t *options,
                                                         const kiln_emitter_plan_t *plan,
                                                         kiln_emitter_shard_t *const *shards,
                                                         size_t n,
                                                         kiln_emitter_result_t **result_out);

/* Plan + every shard on a worker pool (results gathered by shard index) +
 * finish; writes per-shard outputs and the time trace when asked.
 * Errors: those of the steps; the first failing shard (lowest index) wins.
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_build(const kiln_emitter_options_t *options,
                                                        LLVMModuleRef module,
                                                        kiln_emitter_result_t **result_out);

/* Parses each input (.bc or .ll, by content) into `context` and links them
 * in order into one module (LLVMLinkModules2).
 * Ownership: *module_out belongs to the caller (LLVMDisposeModule).
 * Errors: KILN_ERR_NOT_FOUND for a missing file; KILN_ERR_PARSE with LLVM's
 * message (which names the line) prefixed with the path; KILN_ERR_LINK
 * naming the file that does not link. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_link_inputs(LLVMContextRef context,
                                                              const char *const *inputs, size_t n,
                                                              LLVMModuleRef *module_out);

/* kiln_emitter_link_inputs in a private context, then kiln_emitter_build. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_build_files(const kiln_emitter_options_t *options,
                                                              const char *const *inputs, size_t n,
                                                              kiln_emitter_result_t **result_out);

KILN_API void kiln_emitter_result_free(kiln_emitter_result_t *result);

/* The archive's bytes (NULL/0 without the ARCHIVE output). Borrowed. */
KILN_API const void *kiln_emitter_result_archive(const kiln_emitter_result_t *result,
                                                 size_t *size_out);
/* The archive path written, or NULL. Borrowed. */
KILN_API const char *kiln_emitter_result_archive_path(const kiln_emitter_result_t *result);
/* The image metadata blob (for inspection; kiln_image_format_open). */
KILN_API const void *kiln_emitter_result_blob(const kiln_emitter_result_t *result,
                                              size_t *size_out);
KILN_API size_t kiln_emitter_result_shard_count(const kiln_emitter_result_t *result);
/* Worker threads used (0 when the steps were run separately). */
KILN_API unsigned kiln_emitter_result_threads_used(const kiln_emitter_result_t *result);
KILN_API size_t kiln_emitter_result_function_count(const kiln_emitter_result_t *result);
KILN_API size_t kiln_emitter_result_target_count(const kiln_emitter_result_t *result);
KILN_API size_t kiln_emitter_result_clone_count(const kiln_emitter_result_t *result, size_t k);

/* Phases ("link", "roots", "annotate", "tables", "split", "emit",
 * "metadata", "archive" — those that ran, in order): wall time, process
 * CPU time (CLOCK_PROCESS_CPUTIME_ID) and peak RSS after the phase (bytes,
 * getrusage). */
KILN_API size_t kiln_emitter_result_phase_count(const kiln_emitter_result_t *result);
KILN_API const char *kiln_emitter_result_phase_name(const kiln_emitter_result_t *result, size_t i);
KILN_API int64_t kiln_emitter_result_phase_wall_ns(const kiln_emitter_result_t *result, size_t i);
KILN_API int64_t kiln_emitter_result_phase_cpu_ns(const kiln_emitter_result_t *result, size_t i);
KILN_API uint64_t kiln_emitter_result_phase_peak_rss(const kiln_emitter_result_t *result,
                                                     size_t i);
/* Per shard: wall ns, thread CPU ns (CLOCK_THREAD_CPUTIME_ID) and the
 * worker (1-based; 0 when it ran outside kiln_emitter_build). */
KILN_API int64_t kiln_emitter_result_shard_wall_ns(const kiln_emitter_result_t *result, size_t s);
KILN_API int64_t kiln_emitter_result_shard_cpu_ns(const kiln_emitter_result_t *result, size_t s);
KILN_API unsigned kiln_emitter_result_shard_worker(const kiln_emitter_result_t *result, size_t s);

/* Writes the timings as Chrome trace JSON ({"traceEvents":[...]}, complete
 * "X" events in microseconds; phases on tid 0, shards on their worker's
 * tid), atomically. Errors: KILN_ERR_IO naming the path. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_emitter_result_write_time_trace(
    const kiln_emitter_result_t *result, const char *path);

KILN_END_DECLS

#endif /* KILN_EMITTER_H */
