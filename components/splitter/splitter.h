/*
 * components/splitter/splitter.h — deterministic partitioning of one LLVM
 * module into K shards that compile independently and link back into the
 * same program.
 *
 * Each defined function weighs (instructions + basic blocks) times a
 * per-function multiplier (1 + the number of CPU clones it will get); every
 * other definition weighs 1. Definitions that must stay together form groups
 * (a function and the internal variables it shares, comdat members, an alias
 * or ifunc and what it points at, a variable and the internal symbols its
 * initializer references). Groups go heaviest first to the lightest shard,
 * ties broken by name, so the result depends only on the module and the
 * options: never on addresses, hash order or thread count.
 *
 * Internal symbols referenced from another shard are promoted in the input
 * module itself (external linkage, hidden visibility, name "<name>.kiln.split",
 * see docs/splitter.md), so the caller sees the final names. Each shard is a
 * copy of the module in which definitions of other shards are declarations
 * (keeping their attributes, e.g. kiln.mv.*), verified and written to bitcode
 * once.
 *
 * Conventions are kiln's (components/base/base.h): fallible calls return an
 * owned kiln_error_t *, NULL on success, and set every *_out even on failure.
 * LLVMModuleRef/LLVMValueRef are the only LLVM types here (C handle types).
 */
#ifndef KILN_SPLITTER_H
#define KILN_SPLITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "llvm-c/Types.h" /* LLVMModuleRef, LLVMValueRef */

KILN_BEGIN_DECLS

/* Defaults of the automatic shard count:
 * K = clamp(ceil(total_weight / shard_weight), 1, min(max_shards, groups)). */
#define KILN_SPLITTER_DEFAULT_SHARD_WEIGHT 25000u
#define KILN_SPLITTER_DEFAULT_MAX_SHARDS 32u
/* A function is copied as available_externally into other shards only when
 * it is alwaysinline and its instructions + blocks are at most this. */
#define KILN_SPLITTER_INLINE_COPY_MAX_WEIGHT 64u

/* ---- Options ------------------------------------------------------------ */

/* Options for kiln_splitter_split. Ownership: kiln_splitter_options_free
 * (accepts NULL). Thread-safety: not shared while being set; const use from
 * many threads is safe. */
typedef struct kiln_splitter_options kiln_splitter_options_t;

/* Defaults: automatic shard count (shard weight
 * KILN_SPLITTER_DEFAULT_SHARD_WEIGHT, at most KILN_SPLITTER_DEFAULT_MAX_SHARDS),
 * multiplier 1, inline copies on.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL, KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_splitter_options_new(kiln_splitter_options_t **out);
KILN_API void kiln_splitter_options_free(kiln_splitter_options_t *options);

/* Exactly `n` shards (some may then be empty); 0 = automatic (default). */
KILN_API void kiln_splitter_options_set_shard_count(kiln_splitter_options_t *options, unsigned n);

/* Automatic count: aim for this weight per shard (0 restores the default). */
KILN_API void kiln_splitter_options_set_shard_weight(kiln_splitter_options_t *options,
                                                     uint64_t w);

/* Automatic count: at most `n` shards (0 restores the default). Does not
 * bound an explicit kiln_splitter_options_set_shard_count. */
KILN_API void kiln_splitter_options_set_max_shards(kiln_splitter_options_t *options, unsigned n);

/* Weight multiplier per defined function, e.g. 1 + number of CPU clones;
 * called once per defined function of the input module, in module order,
 * on the calling thread. NULL = 1; a result of 0 counts as 1. */
typedef unsigned (*kiln_splitter_multiplier_fn)(LLVMValueRef function, void *user);
KILN_API void kiln_splitter_options_set_multiplier(kiln_splitter_options_t *options,
                                                   kiln_splitter_multiplier_fn fn, void *user);

/* Whether small alwaysinline functions referenced from another shard are
 * also copied there as available_externally, so they can still be inlined
 * (default true). */
KILN_API void kiln_splitter_options_set_copy_inline(kiln_splitter_options_t *options, bool on);

/* Whether a function stays in one shard with the internal variables it
 * uses, and a variable with the internal symbols its initializer names
 * (default false). Off, such symbols are promoted like internal functions
 * when another shard uses them (hidden visibility, unique name), so a
 * static variable shared by most functions does not pull them all into
 * one shard; on, the optimizer keeps seeing them as internal, at the cost
 * of balance. docs/splitter.md shows the difference on a real program. */
KILN_API void kiln_splitter_options_set_group_internal_variables(kiln_splitter_options_t *options,
                                                                 bool on);

/* ---- Splitting ---------------------------------------------------------- */

/* The shards of one split. Ownership: kiln_splitter_shards_free (accepts
 * NULL). Thread-safety: immutable; const access from many threads is safe. */
typedef struct kiln_splitter_shards kiln_splitter_shards_t;

/* Splits `module` (unchanged except that internal symbols referenced across
 * shards are promoted in place: hidden visibility + deterministic unique
 * name, so the caller sees the final names). Each shard is serialized to
 * bitcode exactly once. `options` may be NULL (defaults).
 * Ownership: *shards_out is owned by the caller; the module stays the
 * caller's.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL module or output, or a module
 * that fails the LLVM verifier (message included); KILN_ERR_INTERNAL when a
 * shard fails the verifier (a splitter bug; message names the shard);
 * KILN_ERR_OUT_OF_MEMORY. *shards_out is NULL on failure; promotions made
 * before the failure stay in the module.
 * Thread-safety: the module's context must not be used concurrently. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_splitter_split(LLVMModuleRef module,
                                                         const kiln_splitter_options_t *options,
                                                         kiln_splitter_shards_t **shards_out);

KILN_API void kiln_splitter_shards_free(kiln_splitter_shards_t *shards);

/* Number of shards (>= 1; 0 for NULL). */
KILN_API size_t kiln_splitter_shards_count(const kiln_splitter_shards_t *shards);

/* The shard's bitcode, borrowed until kiln_splitter_shards_free. NULL/0 when
 * out of range. */
KILN_API void kiln_splitter_shards_bitcode(const kiln_splitter_shards_t *shards, size_t shard,
                                           const void **data_out, size_t *size_out);

/* Weight of the definitions assigned to the shard (0 when out of range). */
KILN_API uint64_t kiln_splitter_shards_weight(const kiln_splitter_shards_t *shards, size_t shard);

/* Sum of all shard weights (0 for NULL). */
KILN_API uint64_t kiln_splitter_shards_total_weight(const kiln_splitter_shards_t *shards);

/* Which shard defines function/global `name` (after promotion). Local
 * constants copied into several shards report the lowest such shard.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL; KILN_ERR_NOT_FOUND otherwise.
 * *shard_out is 0 on failure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_splitter_shards_find(
    const kiln_splitter_shards_t *shards, const char *name, size_t *shard_out);

/* Defined functions per shard (not available_externally copies), in module
 * order: count + name(i), borrowed; 0/NULL when out of range. */
KILN_API size_t kiln_splitter_shards_function_count(const kiln_splitter_shards_t *shards,
                                                    size_t shard);
KILN_API const char *kiln_splitter_shards_function_name(const kiln_splitter_shards_t *shards,
                                                        size_t shard, size_t i);

KILN_END_DECLS

#endif /* KILN_SPLITTER_H */
