/*
 * components/pipeline/pipeline.h — kiln's staged optimizer: the seven stages
 * of the JIT design text (early simplification, early optimization, loop
 * optimization, scalar optimization, vectorization, intrinsic lowering,
 * cleanup) run one after another on an LLVM module through LLVM 22's new pass
 * manager, with a report of each stage's wall time and instruction counts.
 *
 * The emitter calls this once per shard, on the worker thread that owns the
 * shard's LLVMContext, before codegen. The component composes a pass
 * pipeline text per stage from a constant table and runs it with the LLVM C
 * API (LLVMRunPasses); nothing here uses LLVM's C++ API.
 *
 * Usage:
 *
 *   kiln_pipeline_options_t *opts = NULL;
 *   kiln_error_t *err = kiln_pipeline_options_new(&opts);
 *   if (err == NULL) err = kiln_pipeline_options_set_opt_level(opts, 2);
 *   kiln_pipeline_options_set_target_machine(opts, tm);   // borrowed
 *   kiln_pipeline_report_t *report = NULL;
 *   if (err == NULL) err = kiln_pipeline_run(opts, module, &report);
 *   ...
 *   kiln_pipeline_report_free(report);
 *   kiln_pipeline_options_free(opts);
 *
 * LLVM handles: this is an LLVM-C component, so its header takes the LLVM C
 * API's opaque handles (LLVMModuleRef, LLVMTargetMachineRef) from
 * llvm-c/Types.h and llvm-c/TargetMachine.h. These are C types; no C++ type
 * appears here.
 */
#ifndef KILN_PIPELINE_H
#define KILN_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "llvm-c/TargetMachine.h"
#include "llvm-c/Types.h"

KILN_BEGIN_DECLS

/* ---- Stages ------------------------------------------------------------ */

/* The stages, in the order they run. The numbers index the report. */
typedef enum kiln_pipeline_stage {
  /* SimplifyCFG, DCE, SROA, expect/annotation lowering, IPSCCP, GlobalOpt. */
  KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION = 0,
  /* The inliner walk over the call graph with EarlyCSE, InstCombine,
   * jump threading, value propagation; then dead argument/global removal. */
  KILN_PIPELINE_STAGE_EARLY_OPTIMIZATION = 1,
  /* LoopRotate, LICM, unswitching, IndVars, idioms, full unroll, IRCE. */
  KILN_PIPELINE_STAGE_LOOP_OPTIMIZATION = 2,
  /* GVN, SCCP, BDCE, DSE, MemCpyOpt, constraint elimination (the second
   * bounds-check round), late SimplifyCFG. */
  KILN_PIPELINE_STAGE_SCALAR_OPTIMIZATION = 3,
  /* Loop and SLP vectorizers, runtime unrolling and their cleanup; O2+. */
  KILN_PIPELINE_STAGE_VECTORIZATION = 4,
  /* The caller's hook (kiln_pipeline_options_set_intrinsic_lowering). */
  KILN_PIPELINE_STAGE_INTRINSIC_LOWERING = 5,
  /* Div/rem pairs, FMA formation, last peepholes, global cleanup,
   * sanitizer instrumentation when asked. */
  KILN_PIPELINE_STAGE_CLEANUP = 6,
  KILN_PIPELINE_STAGE_COUNT = 7
} kiln_pipeline_stage_t;

/* A short stable name for a stage ("early-simplification", ...), used in
 * reports and error messages; NULL for a number that is not a stage.
 * Ownership: static storage. Thread-safety: any thread. */
KILN_API const char *kiln_pipeline_stage_name(kiln_pipeline_stage_t stage);

/* The stage called `name` (as kiln_pipeline_stage_name spells it).
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL; KILN_ERR_NOT_FOUND for an
 * unknown name (*stage_out is then KILN_PIPELINE_STAGE_COUNT).
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_stage_from_name(const char *name,
                                                                   kiln_pipeline_stage_t *stage_out);

/* Sanitizers the cleanup stage can instrument for; a bit set. */
typedef enum kiln_pipeline_sanitizer {
  KILN_PIPELINE_SANITIZE_ADDRESS = 1u << 0,
  KILN_PIPELINE_SANITIZE_THREAD = 1u << 1,
  KILN_PIPELINE_SANITIZE_MEMORY = 1u << 2
} kiln_pipeline_sanitizer_t;

/* The intrinsic-lowering hook: rewrites the caller's own intrinsics (calls to
 * functions the caller's frontend invented) into ordinary IR, before codegen.
 * It runs on the thread that called kiln_pipeline_run, with the module being
 * optimized; it may change the module in any valid way. Returns NULL on
 * success or an error, which kiln_pipeline_run passes on (prefixed with the
 * module and stage). The module must verify after the hook; kiln checks. */
typedef kiln_error_t *(*kiln_pipeline_lower_fn)(void *user_data, LLVMModuleRef module);

/* ---- Options ------------------------------------------------------------ */

/* Opaque options. Defaults: O2, every stage on, vectorization on, no
 * sanitizers, no verify-each, no target machine, no hook, no extra passes.
 * Thread-safety: a setter must not run concurrently with anything else on the
 * same options; kiln_pipeline_run only reads them, so several runs may share
 * one options object when they use no target machine (see below). */
typedef struct kiln_pipeline_options kiln_pipeline_options_t;

/* Creates options with the defaults above.
 * Ownership: *options_out is owned by the caller (kiln_pipeline_options_free);
 * NULL on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL; KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_options_new(kiln_pipeline_options_t **options_out);

/* Releases options and the strings they copied. Accepts NULL. */
KILN_API void kiln_pipeline_options_free(kiln_pipeline_options_t *options);

/* Optimization level 0-3, as clang's -O0..-O3. O0 runs no stage except the
 * intrinsic-lowering hook, sanitizer instrumentation and extra passes the
 * caller added: the module is otherwise left alone. O1 runs a lighter
 * version of stages 1-4 and 7; vectorization needs O2 or more.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL or a level above 3 (options
 * unchanged). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_options_set_opt_level(
    kiln_pipeline_options_t *options, unsigned level);

/* Turns one stage on or off (all are on by default). A stage that is off
 * does not run, its extra passes included, and is reported as not run.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL or a number that is not a
 * stage. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_options_set_stage_enabled(
    kiln_pipeline_options_t *options, kiln_pipeline_stage_t stage, bool enabled);

/* Vectorization on (default) or off. Off keeps the vectorization stage's
 * unrolling and cleanup but vectorizes only loops the source forces with a
 * pragma, and skips the SLP vectorizer (as clang's -fno-vectorize
 * -fno-slp-vectorize). Accepts NULL (no effect). */
KILN_API void kiln_pipeline_options_set_vectorize(kiln_pipeline_options_t *options, bool enabled);

/* Sanitizer instrumentation in the cleanup stage: `sanitizers` is a bit set
 * of kiln_pipeline_sanitizer_t, replacing the previous set (0 = none). When a
 * sanitizer is on, every function definition without the
 * `disable_sanitizer_instrumentation` attribute gets the sanitize_* attribute
 * before stage 1, so the optimizer keeps to what the sanitizer allows, and
 * is then instrumented. Memory sanitizer needs a Linux/BSD triple.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, unknown bits, or thread
 * together with address or memory (options unchanged). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_options_set_sanitizers(
    kiln_pipeline_options_t *options, unsigned sanitizers);

/* Runs LLVM's verifier after every pass (slow; for debugging). Note: LLVM
 * aborts the process when a pass breaks the module under verify-each; that
 * is LLVM's behaviour and cannot be turned into an error through the C API.
 * Accepts NULL (no effect). */
KILN_API void kiln_pipeline_options_set_verify_each(kiln_pipeline_options_t *options, bool enabled);

/* The target machine whose cost model (TTI) the passes use; vectorizers and
 * unrolling need one to be useful. NULL (default) means a generic cost model
 * with no vector registers.
 * Ownership: borrowed; it must outlive every run using these options.
 * Thread-safety: the target machine must not be used by another thread (a
 * concurrent run or codegen) while a run uses it: give each worker its own.
 * Accepts NULL options (no effect). */
KILN_API void kiln_pipeline_options_set_target_machine(kiln_pipeline_options_t *options,
                                                       LLVMTargetMachineRef target_machine);

/* Registers the intrinsic-lowering hook (stage 6) and its user data,
 * replacing any previous one; `fn` NULL removes it. Without a hook stage 6
 * is reported as not run. At O1 and above a short InstCombine/SimplifyCFG
 * pass follows the hook, to fold what the lowering exposed.
 * Ownership: `user_data` is borrowed and passed to `fn` unchanged.
 * Accepts NULL options (no effect). */
KILN_API void kiln_pipeline_options_set_intrinsic_lowering(kiln_pipeline_options_t *options,
                                                           kiln_pipeline_lower_fn fn,
                                                           void *user_data);

/* Extra passes to run at the end of `stage`, as new-pass-manager pipeline
 * text ("function(instcombine),globaldce"), replacing earlier extra passes
 * of that stage; NULL or "" removes them. The text is not checked here: an
 * unknown pass name makes kiln_pipeline_run fail with LLVM's message.
 * Ownership: `passes` is copied.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL options or a bad stage;
 * KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_options_set_extra_passes(
    kiln_pipeline_options_t *options, kiln_pipeline_stage_t stage, const char *passes);

/* The pipeline text `stage` would run with these options (extra passes
 * included; "" when the stage runs no LLVM passes), for logs, docs and
 * reproducing a stage with `opt -passes=...`.
 * Ownership: *passes_out is owned by the caller, released with
 * kiln_pipeline_string_free(); NULL on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL arguments or a bad stage;
 * KILN_ERR_OUT_OF_MEMORY. Thread-safety: reads the options only. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_stage_passes(
    const kiln_pipeline_options_t *options, kiln_pipeline_stage_t stage, char **passes_out);

/* Releases a string this component returned. Accepts NULL. */
KILN_API void kiln_pipeline_string_free(char *s);

/* ---- Running ------------------------------------------------------------ */

/* Opaque report of one run: per stage whether it ran, its wall time and the
 * module's instruction count before and after it. Immutable once returned,
 * so any number of threads may read it. */
typedef struct kiln_pipeline_report kiln_pipeline_report_t;

/* Optimizes `module` in place: verifies it, then runs the enabled stages in
 * order, each as one LLVMRunPasses call (plus the hook for stage 6).
 *
 * Ownership: `module` stays the caller's. *report_out is owned by the caller
 * (kiln_pipeline_report_free); NULL on failure.
 * Errors (messages name the module by its identifier, and the stage):
 *   KILN_ERR_INVALID_ARGUMENT for NULL options or module;
 *   KILN_ERR_LLVM when the module does not verify (nothing ran; the
 *     verifier's message is included), when LLVM rejects a stage's pipeline
 *     text (e.g. an unknown pass in extra passes; LLVM's message is
 *     included), or when the module does not verify after the hook;
 *   KILN_ERR_UNSUPPORTED when a sanitizer does not support the module's
 *     target triple;
 *   the hook's own error, prefixed.
 *   After a failure in a stage the module holds the earlier stages' work
 *   and must be treated as partially optimized.
 * Thread-safety: one run per module — and per LLVMContext — at a time, on
 * any thread; runs on modules of different contexts may proceed in parallel
 * on different threads (each with its own target machine, if any). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_run(const kiln_pipeline_options_t *options,
                                                       LLVMModuleRef module,
                                                       kiln_pipeline_report_t **report_out);

/* Releases a report. Accepts NULL. */
KILN_API void kiln_pipeline_report_free(kiln_pipeline_report_t *report);

/* Whether `stage` ran in this run (false for disabled stages, for stages with
 * nothing to run at this level, and for numbers that are not stages). */
KILN_API bool kiln_pipeline_report_stage_ran(const kiln_pipeline_report_t *report,
                                             kiln_pipeline_stage_t stage);

/* Wall time of `stage` in nanoseconds (0 if it did not run). */
KILN_API int64_t kiln_pipeline_report_stage_wall_ns(const kiln_pipeline_report_t *report,
                                                    kiln_pipeline_stage_t stage);

/* Instructions in the module's function bodies before and after `stage`
 * (equal when it did not run; 0 for numbers that are not stages). */
KILN_API uint64_t kiln_pipeline_report_instructions_before(const kiln_pipeline_report_t *report,
                                                           kiln_pipeline_stage_t stage);
KILN_API uint64_t kiln_pipeline_report_instructions_after(const kiln_pipeline_report_t *report,
                                                          kiln_pipeline_stage_t stage);

/* Wall time of the whole run, verification included, in nanoseconds. */
KILN_API int64_t kiln_pipeline_report_total_wall_ns(const kiln_pipeline_report_t *report);

/* The report as text, one line per stage:
 *   "<stage> ran <ms> ms <before> -> <after> instructions" or
 *   "<stage> skipped <count> instructions".
 * Ownership: *text_out is owned by the caller (kiln_pipeline_string_free);
 * NULL on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL arguments; KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_pipeline_report_format(
    const kiln_pipeline_report_t *report, char **text_out);

KILN_END_DECLS

#endif /* KILN_PIPELINE_H */
