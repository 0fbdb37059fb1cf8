/*
 * components/multiversion/multiversion.h — CPU multiversioning of a module:
 * which functions get a copy per CPU target, the copies themselves, the
 * relocation slots that let one image serve every target, the tables the
 * loader uses, and a verifier.
 *
 * Three steps, in this order (docs/multiversioning.md has the details):
 *
 *   1. kiln_multiversion_annotate() on the WHOLE module, before it is split:
 *      decides per function and per target whether the function is cloned,
 *      and which functions need a relocation slot, and records the decision
 *      in the module (function attributes "kiln.mv.clones"/"kiln.mv.slot",
 *      named metadata !kiln.mv.targets). The decision survives bitcode, so
 *      every shard and every process reads back the same answer
 *      (kiln_multiversion_function_info).
 *   2. kiln_multiversion_clone() per module or shard: creates `name.kiln.k`
 *      for each target k the annotation names, with that target's
 *      target-cpu/target-features (and optsize/minsize), wires calls inside
 *      clones to the same target's versions, routes calls that depend on the
 *      selected target through slots (`name.kiln.slot`), and returns the
 *      tables (kiln_multiversion_tables_t); it can also emit them as globals.
 *   3. kiln_multiversion_verify(): checks that no code calls another
 *      target's version directly and that target-dependent calls use slots.
 *
 * Target 0 is the default: the original functions are its code. Target k>0
 * uses its clone of a function when there is one, else base(k)'s version.
 * At load time the loader picks a target t and writes, for every slot, the
 * address of the slot's function as implemented for t.
 *
 * Conventions are kiln's (components/base/base.h): fallible calls return an
 * owned kiln_error_t *, NULL on success, and set every *_out even on failure.
 * LLVMModuleRef is the only LLVM type here (a C handle type).
 */
#ifndef KILN_MULTIVERSION_H
#define KILN_MULTIVERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "llvm-c/Types.h" /* LLVMModuleRef */

KILN_BEGIN_DECLS

/* At most this many targets in one target string (clone sets are 64-bit
 * masks, bit k meaning "cloned for target k"). */
#define KILN_MULTIVERSION_MAX_TARGETS 64

/* Why a function is cloned (kiln_multiversion_function_info_t.reasons). */
#define KILN_MULTIVERSION_REASON_LOOP 0x01u   /* has a CFG cycle */
#define KILN_MULTIVERSION_REASON_VECTOR 0x02u /* vector types or instructions */
#define KILN_MULTIVERSION_REASON_MATH 0x04u   /* fast-math flags, fma/fmuladd */
#define KILN_MULTIVERSION_REASON_CALLER 0x08u /* calls a clone through a vector ABI */
#define KILN_MULTIVERSION_REASON_CHAIN 0x10u  /* between cloned caller and callee */
#define KILN_MULTIVERSION_REASON_ALL 0x20u    /* clone_all or heuristic clone-all */

/* ---- Annotation -------------------------------------------------------- */

/* Decides, over the whole of `module`, which defined functions are cloned
 * for each target after the first in `targets` (a target string of
 * components/target, e.g. "generic;haswell;x86-64-v4"), and which need a
 * relocation slot; records it in the module. The architecture comes from the
 * module's triple (the host's when it has none). Heuristics: loops, vector
 * types/instructions, fast-math flags, fma/fmuladd; clone_all clones every
 * function; a target with wider vector registers than its base clones every
 * function when the module passes vectors between functions, unless it says
 * -clone_all; callers of a cloned function with vectors in its signature are
 * cloned too (the vector calling convention follows the target).
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, a module without defined
 * functions, or a module already annotated; errors of
 * kiln_target_list_parse for a bad string (prefixed); KILN_ERR_UNSUPPORTED
 * for more than KILN_MULTIVERSION_MAX_TARGETS targets; KILN_ERR_NOT_FOUND
 * when LLVM cannot resolve a target. The module is unchanged on failure.
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_annotate(LLVMModuleRef module,
                                                                const char *targets);

/* The decision recorded for one function, read back from the module. */
typedef struct kiln_multiversion_function_info {
  uint64_t clones;  /* bit k: cloned for target k (bit 0 is never set) */
  unsigned reasons; /* KILN_MULTIVERSION_REASON_* bits */
  bool needs_slot;  /* target-dependent callers reach it through a slot */
} kiln_multiversion_function_info_t;

/* Reads the annotation of function `name` in `module` (which may have been
 * written to bitcode and read back in another context or process).
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL or a module that is not
 * annotated; KILN_ERR_NOT_FOUND when there is no such function.
 * *info_out is zeroed on failure. Thread-safety: read-only on the module. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_function_info(
    LLVMModuleRef module, const char *name, kiln_multiversion_function_info_t *info_out);

/* The canonical target string the module was annotated with.
 * Ownership: *targets_out is owned by the caller (free()).
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL or a module not annotated.
 * Thread-safety: read-only on the module. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_module_targets(LLVMModuleRef module,
                                                                      char **targets_out);

/* ---- Cloning ----------------------------------------------------------- */

/* Options for kiln_multiversion_clone. Ownership: released with
 * kiln_multiversion_options_free (accepts NULL). Thread-safety: not shared
 * while being set; const use from many threads is safe. */
typedef struct kiln_multiversion_options kiln_multiversion_options_t;

/* Defaults: tables emitted as globals, no suffix.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_options_new(
    kiln_multiversion_options_t **options_out);
KILN_API void kiln_multiversion_options_free(kiln_multiversion_options_t *options);

/* Whether kiln_multiversion_clone emits the tables as globals:
 * `kiln_mv_fptrs_<k><suffix>` ([n x ptr], target k's version of function i),
 * `kiln_mv_slot_addrs<suffix>` ([s x ptr], where slot j lives) and
 * `kiln_mv_slot_fids<suffix>` ([s x i32], slot j's function index). */
KILN_API void kiln_multiversion_options_set_emit_tables(kiln_multiversion_options_t *options,
                                                        bool emit);

/* A suffix for the table globals' names (e.g. "_3" for shard 3), so shards
 * linked together do not collide. Copied; NULL means "". */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_options_set_suffix(
    kiln_multiversion_options_t *options, const char *suffix);

/* The tables of one multiversioned module, plain data for the loader and
 * for the image metadata. Ownership: kiln_multiversion_tables_free (accepts
 * NULL). Thread-safety: immutable; const access from many threads is safe. */
typedef struct kiln_multiversion_tables kiln_multiversion_tables_t;

/* Clones the functions of an annotated `module` as the annotation says and
 * wires calls, slots and data references (see the file comment). The
 * module's own functions become target 0's code and get its target-cpu and
 * target-features. `options` may be NULL (defaults). Iterates in module
 * order only, so the result is the same on every run.
 * Ownership: *tables_out is owned by the caller.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, a module not annotated or
 * already cloned; KILN_ERR_NOT_FOUND when LLVM cannot resolve a target;
 * KILN_ERR_FORMAT when the annotation is inconsistent with the module (a
 * target-dependent use of a function without a slot). *tables_out is NULL
 * on failure; the module may then be partly rewritten (discard it).
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_clone(
    LLVMModuleRef module, const kiln_multiversion_options_t *options,
    kiln_multiversion_tables_t **tables_out);

KILN_API void kiln_multiversion_tables_free(kiln_multiversion_tables_t *tables);

/* Number of targets (0 for NULL). */
KILN_API size_t kiln_multiversion_tables_target_count(const kiln_multiversion_tables_t *tables);

/* Target k: the CPU name LLVM resolved (e.g. "znver4" for native), its
 * complete feature set as "+f1,+f2,..." from kiln_llvm_cpu_resolve (what is
 * stored in the image for the loader to match), its KILN_TARGET_* flags and
 * its base index. Strings are borrowed; NULL/0 when out of range. */
KILN_API const char *kiln_multiversion_tables_target_cpu(const kiln_multiversion_tables_t *tables,
                                                         size_t k);
KILN_API const char *kiln_multiversion_tables_target_features(
    const kiln_multiversion_tables_t *tables, size_t k);
KILN_API unsigned kiln_multiversion_tables_target_flags(const kiln_multiversion_tables_t *tables,
                                                        size_t k);
KILN_API size_t kiln_multiversion_tables_target_base(const kiln_multiversion_tables_t *tables,
                                                     size_t k);
/* Number of functions cloned for target k (0 for target 0). */
KILN_API size_t kiln_multiversion_tables_clone_count(const kiln_multiversion_tables_t *tables,
                                                     size_t k);

/* The function table: the module's multiversioned functions (cloned for at
 * least one target) in module order. Names borrowed; NULL when out of range. */
KILN_API size_t kiln_multiversion_tables_function_count(const kiln_multiversion_tables_t *tables);
KILN_API const char *kiln_multiversion_tables_function_name(
    const kiln_multiversion_tables_t *tables, size_t i);
/* The symbol implementing function i for target k: its own clone
 * ("f.kiln.2"), its base target's, or the original ("f"). */
KILN_API const char *kiln_multiversion_tables_function_symbol(
    const kiln_multiversion_tables_t *tables, size_t k, size_t i);

/* The slot table, in module order: a slot is a pointer-sized word the
 * loader fills with the address of the slot's function for the selected
 * target. A GLOBAL slot is the global `symbol` itself (offset 0); a DATA
 * slot is the word at byte `offset` inside data global `symbol` that held
 * the function's address in its initializer (now null). */
typedef enum kiln_multiversion_slot_kind {
  KILN_MULTIVERSION_SLOT_GLOBAL = 0,
  KILN_MULTIVERSION_SLOT_DATA = 1
} kiln_multiversion_slot_kind_t;

typedef struct kiln_multiversion_slot {
  size_t function;                    /* index into the function table */
  kiln_multiversion_slot_kind_t kind;
  const char *symbol;                 /* borrowed from the tables */
  uint64_t offset;                    /* bytes into `symbol` */
} kiln_multiversion_slot_t;

KILN_API size_t kiln_multiversion_tables_slot_count(const kiln_multiversion_tables_t *tables);
/* Slot j, or NULL when out of range. Borrowed. */
KILN_API const kiln_multiversion_slot_t *kiln_multiversion_tables_slot(
    const kiln_multiversion_tables_t *tables, size_t j);

/* ---- Verification ------------------------------------------------------ */

/* Checks a multiversioned module: every clone the annotation asks for
 * exists and is tagged with its target; no version of a function references
 * another function's version that a target running it would not use (so a
 * clone of target k never calls a function of another target directly, and
 * non-cloned code never calls a cloned function directly when the callee
 * depends on the target: it loads a slot); no data initializer holds the
 * address of a cloned function. Writes the number of clones per target to
 * clone_counts_out[0..min(capacity, targets)) (index 0: 0) and the target
 * count to *target_count_out; both may be NULL/0.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL module or a module not
 * multiversioned; KILN_ERR_FORMAT with the first violations (function,
 * target, the wrong reference and what was expected) and their count.
 * Thread-safety: read-only on the module. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_multiversion_verify(LLVMModuleRef module,
                                                              size_t *clone_counts_out,
                                                              size_t capacity,
                                                              size_t *target_count_out);

KILN_END_DECLS

#endif /* KILN_MULTIVERSION_H */
