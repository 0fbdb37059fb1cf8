/*
 * components/target/target.h — CPU targets for kiln images: target strings,
 * feature sets, host CPU detection and target selection that explains itself.
 *
 * The builder parses a target string ("generic;haswell,-rdrnd,clone_all"),
 * resolves each target to its full feature set (with LLVM, through
 * third_party/llvm_c_ext) and stores name + features + flags in the image.
 * The loader detects the host CPU and asks kiln_target_select() which stored
 * target to run, or why none can run, before any image code is mapped.
 *
 * Pure C11, libc plus Google cpu_features: the loader links this, so it must
 * not pull in LLVM or a C++ runtime. Feature and CPU names are LLVM 22's.
 * docs/cpu-targets.md describes the grammar, selection rules and variables.
 *
 * Conventions (components/base/base.h): fallible calls return an owned
 * kiln_error_t *, NULL on success, and set every *_out even on failure.
 * Functions that format text take (buf, size) and return the full length
 * like snprintf, so callers can size a buffer with a first call.
 */
#ifndef KILN_TARGET_H
#define KILN_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"

KILN_BEGIN_DECLS

/* ---- Architectures ------------------------------------------------------ */

/* Architectures whose feature and CPU names kiln knows. For
 * KILN_TARGET_ARCH_UNKNOWN target strings are parsed but names not checked. */
typedef enum kiln_target_arch {
  KILN_TARGET_ARCH_UNKNOWN = 0,
  KILN_TARGET_ARCH_X86_64 = 1,
  KILN_TARGET_ARCH_AARCH64 = 2
} kiln_target_arch_t;

/* The architecture this library was compiled for (the host's).
 * Thread-safety: any thread. */
KILN_API kiln_target_arch_t kiln_target_arch_host(void);

/* "x86_64", "aarch64" or "unknown". Ownership: static storage. */
KILN_API const char *kiln_target_arch_name(kiln_target_arch_t arch);

/* The architecture of a name or target triple: "x86_64", "x86-64", "amd64",
 * "aarch64", "arm64", or a triple starting with one of them followed by '-'
 * ("x86_64-unknown-linux-gnu").
 * Errors: KILN_ERR_NOT_FOUND for anything else (*arch_out = UNKNOWN),
 * KILN_ERR_INVALID_ARGUMENT for NULL. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_arch_from_name(const char *name,
                                                                kiln_target_arch_t *arch_out);

/* ---- Feature sets ----------------------------------------------------- */

/* Number of 64-bit words in a feature set. */
#define KILN_TARGET_FEATURE_WORDS 4

/* A set of features of one architecture: bit i is feature i of that
 * architecture's table (kiln_target_feature_name). A plain value so the
 * loader can build sets on the stack without allocating. Bit numbers are
 * internal to one kiln version: images store feature *names* (see
 * kiln_target_features_print), never these bits. */
typedef struct kiln_target_features {
  uint64_t words[KILN_TARGET_FEATURE_WORDS];
} kiln_target_features_t;

/* How many features the table of `arch` has (0 for UNKNOWN). */
KILN_API size_t kiln_target_feature_count(kiln_target_arch_t arch);

/* LLVM's name of feature `index` of `arch`; NULL when out of range.
 * Ownership: static storage. */
KILN_API const char *kiln_target_feature_name(kiln_target_arch_t arch, size_t index);

/* The index of feature `name` ("avx2"; a leading '+' is accepted).
 * Errors: KILN_ERR_NOT_FOUND naming the feature and the nearest known name
 * (*index_out = SIZE_MAX); KILN_ERR_INVALID_ARGUMENT for NULL or UNKNOWN
 * arch. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_feature_index(kiln_target_arch_t arch,
                                                               const char *name,
                                                               size_t *index_out);

/* Whether `set` contains feature `index`. False for NULL or out of range. */
KILN_API bool kiln_target_features_has(const kiln_target_features_t *set, size_t index);

/* Number of features in `set`. */
KILN_API size_t kiln_target_features_popcount(const kiln_target_features_t *set);

/* Options for kiln_target_features_parse. */
#define KILN_TARGET_FEATURES_IGNORE_UNKNOWN 1u /* skip names not in the table */

/* Parses a comma-separated feature list ("+avx2,+fma" or "avx2,fma"; LLVM's
 * own "+f1,-f2" form is accepted and "-f" entries are skipped, since a full
 * feature set lists what is present) into *set_out, closed under
 * implication (avx2 adds avx, sse4.2, ...). With
 * KILN_TARGET_FEATURES_IGNORE_UNKNOWN, names not in kiln's table (LLVM's
 * tuning features such as "slow-3ops-lea") are skipped: the builder uses this
 * to keep the ISA part of what LLVM resolved.
 * Errors: KILN_ERR_NOT_FOUND for an unknown name (with the nearest name),
 * KILN_ERR_PARSE for an empty entry; *set_out is then empty.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_features_parse(kiln_target_arch_t arch,
                                                                const char *list, unsigned options,
                                                                kiln_target_features_t *set_out);

/* Writes `set` as "+f1,+f2,..." in table order (the canonical form images
 * store). Returns the length the full text needs, excluding the NUL, like
 * snprintf; writes at most `size` bytes including the NUL. */
KILN_API size_t kiln_target_features_print(kiln_target_arch_t arch,
                                          const kiln_target_features_t *set, char *buf,
                                          size_t size);

/* Writes the features in `needed` that `have` lacks, as "f1, f2" (or "" when
 * none); returns the full length like snprintf. */
KILN_API size_t kiln_target_features_missing(kiln_target_arch_t arch,
                                            const kiln_target_features_t *needed,
                                            const kiln_target_features_t *have, char *buf,
                                            size_t size);

/* The widest vector register `set` gives, in bits: x86-64 512 with avx512f,
 * 256 with avx, 128 with sse; AArch64 128 with neon (SVE is counted as its
 * 128-bit minimum); 0 otherwise. */
KILN_API unsigned kiln_target_features_vector_bits(kiln_target_arch_t arch,
                                                  const kiln_target_features_t *set);

/* The features kiln's table gives CPU `cpu` (LLVM's name, e.g. "haswell";
 * aliases such as "core-avx2" are accepted), closed under implication. The
 * table is checked against LLVM 22 by target_llvm_test; the builder should
 * still prefer LLVM's resolution, this is for tools and the loader.
 * Errors: KILN_ERR_NOT_FOUND with the nearest known name; *set_out empty. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_cpu_features(kiln_target_arch_t arch,
                                                              const char *cpu,
                                                              kiln_target_features_t *set_out);

/* ---- Target strings ------------------------------------------------------ */

/* Flags of one target. */
#define KILN_TARGET_CLONE_ALL 0x1u    /* clone_all: clone every function */
#define KILN_TARGET_NO_CLONE_ALL 0x2u /* -clone_all: never clone everything */
#define KILN_TARGET_OPT_SIZE 0x4u     /* opt_size: optimize for size (-Os) */
#define KILN_TARGET_MIN_SIZE 0x8u     /* min_size: minimize size (-Oz) */

/* A parsed target string: an ordered list of targets, each a CPU name,
 * explicit features (in the order written), flags and a base index.
 * Ownership: released with kiln_target_list_free(). Thread-safety:
 * immutable after parsing; const access from many threads is safe. */
typedef struct kiln_target_list kiln_target_list_t;

/* Parses a target string: targets separated by ';', each a CPU name then
 * ','-separated entries: "feat" or "+feat" enables, "-feat" disables,
 * special flags clone_all, -clone_all, base(n), opt_size, min_size.
 * Unknown CPU and feature names are errors for X86_64 and AARCH64 (with the
 * nearest known name); "native" and "generic" are always valid CPU names.
 * Errors: KILN_ERR_PARSE for grammar and consistency errors,
 * KILN_ERR_NOT_FOUND for unknown names, KILN_ERR_INVALID_ARGUMENT for NULL;
 * each message names the target index and the token
 * ("target 1 ('haswell,base(3)'): 'base(3)': ..."). *list_out is NULL.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_list_parse(kiln_target_arch_t arch,
                                                            const char *text,
                                                            kiln_target_list_t **list_out);

/* Releases a list. Accepts NULL. */
KILN_API void kiln_target_list_free(kiln_target_list_t *list);

/* Number of targets (0 for NULL). */
KILN_API size_t kiln_target_list_count(const kiln_target_list_t *list);

/* The CPU name of target i, aliases replaced by LLVM's canonical name
 * ("corei7" -> "nehalem"); NULL when out of range. Ownership: borrowed. */
KILN_API const char *kiln_target_list_cpu(const kiln_target_list_t *list, size_t i);

/* The KILN_TARGET_* flags of target i (0 when out of range). */
KILN_API unsigned kiln_target_list_flags(const kiln_target_list_t *list, size_t i);

/* The base target index of target i: what base(n) said, else 0. */
KILN_API size_t kiln_target_list_base(const kiln_target_list_t *list, size_t i);

/* Number of explicit features of target i. */
KILN_API size_t kiln_target_list_feature_count(const kiln_target_list_t *list, size_t i);

/* Explicit feature j of target i as "+name" or "-name"; NULL when out of
 * range. Ownership: borrowed. */
KILN_API const char *kiln_target_list_feature(const kiln_target_list_t *list, size_t i,
                                             size_t j);

/* Writes target i's explicit features in LLVM's syntax ("+avx2,-rdrnd"), for
 * kiln_llvm_cpu_resolve. Returns the full length like snprintf. */
KILN_API size_t kiln_target_list_llvm_features(const kiln_target_list_t *list, size_t i,
                                              char *buf, size_t size);

/* Writes the canonical form: per target the CPU name, features in the order
 * written without '+', then clone_all or -clone_all, opt_size or min_size,
 * and base(n) when n > 0. Parsing the output gives an equal list, and
 * canonical input prints back unchanged. Returns the full length like
 * snprintf. */
KILN_API size_t kiln_target_list_print(const kiln_target_list_t *list, char *buf, size_t size);

/* ---- Environment --------------------------------------------------------- */

/* Reads an environment variable: returns its value or NULL when unset. kiln
 * reads the environment only through such a function, passed explicitly, so
 * tests and embedders can inject values. */
typedef const char *(*kiln_target_env_fn)(void *ctx, const char *name);

/* A kiln_target_env_fn over the process environment (getenv). */
KILN_API const char *kiln_target_env_process(void *ctx, const char *name);

/* Features to mask out of the detected host, e.g. "avx512f,avx2". Features
 * that depend on a masked one (avx512bw on avx512f, fma on avx, ...) are
 * masked too. For testing, and for machines that misreport features. */
#define KILN_TARGET_ENV_CPU_DISABLE "KILN_CPU_DISABLE"

/* Forces kiln_target_select to pick this image target index (decimal); the
 * target must still be runnable on the host. */
#define KILN_TARGET_ENV_CPU_TARGET_INDEX "KILN_CPU_TARGET_INDEX"

/* ---- Host ----------------------------------------------------------------- */

/* A host CPU: architecture, LLVM-style CPU name and feature set.
 * Ownership: released with kiln_target_host_free(). Thread-safety:
 * immutable; const access from many threads is safe. */
typedef struct kiln_target_host kiln_target_host_t;

/* Detects the CPU this process runs on: features from cpu_features where it
 * knows them and CPUID/xgetbv (x86-64) or HWCAP/HWCAP2 (AArch64) otherwise,
 * with OS-enabled register state checked; a CPU name in LLVM's spelling (the
 * model's name, or the largest known CPU whose features the host has). Then
 * masks KILN_CPU_DISABLE, read through `env` (NULL: no environment at all;
 * pass kiln_target_env_process for the real one).
 * Errors: KILN_ERR_INVALID_ARGUMENT when KILN_CPU_DISABLE names an unknown
 * feature (nearest name suggested); KILN_ERR_UNSUPPORTED on architectures
 * kiln cannot detect; *host_out is NULL then.
 * Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_host_detect(kiln_target_env_fn env,
                                                             void *env_ctx,
                                                             kiln_target_host_t **host_out);

/* A synthetic host (for tests, `kiln inspect`, cross checks): `cpu` and the
 * feature list (kiln_target_features_parse syntax, closed under
 * implication). Errors as kiln_target_features_parse, plus
 * KILN_ERR_INVALID_ARGUMENT for NULL or UNKNOWN arch. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_host_new(kiln_target_arch_t arch,
                                                          const char *cpu,
                                                          const char *features,
                                                          kiln_target_host_t **host_out);

/* Releases a host. Accepts NULL. */
KILN_API void kiln_target_host_free(kiln_target_host_t *host);

/* The host's architecture. */
KILN_API kiln_target_arch_t kiln_target_host_arch(const kiln_target_host_t *host);

/* The host's CPU name in LLVM's spelling ("haswell", "znver4", "generic").
 * Ownership: borrowed from the host. */
KILN_API const char *kiln_target_host_cpu(const kiln_target_host_t *host);

/* The host's usable features (after masking). Ownership: borrowed. */
KILN_API const kiln_target_features_t *kiln_target_host_features(const kiln_target_host_t *host);

/* The features KILN_CPU_DISABLE masked (including dependents); empty when
 * none. Ownership: borrowed. */
KILN_API const kiln_target_features_t *kiln_target_host_masked(const kiln_target_host_t *host);

/* ---- Selection ------------------------------------------------------------ */

/* One target stored in an image: what kiln_target_select compares. */
typedef struct kiln_target_spec {
  const char *cpu;      /* CPU name the target was built for */
  const char *features; /* its full feature set, "+f1,+f2" (names) */
  unsigned flags;       /* KILN_TARGET_* flags, informational here */
} kiln_target_spec_t;

/* Options for kiln_target_select. Ownership: kiln_target_select_options_free.
 * Thread-safety: not shared while being set; const use from many threads is
 * safe. */
typedef struct kiln_target_select_options kiln_target_select_options_t;

/* Creates options with the defaults: no forced index, no environment.
 * Errors: KILN_ERR_OUT_OF_MEMORY, KILN_ERR_INVALID_ARGUMENT for NULL. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_select_options_new(
    kiln_target_select_options_t **options_out);

/* Releases options. Accepts NULL. */
KILN_API void kiln_target_select_options_free(kiln_target_select_options_t *options);

/* Picks target `index` instead of the best one (it must still run on the
 * host). SIZE_MAX clears it. Overrides KILN_CPU_TARGET_INDEX. */
KILN_API void kiln_target_select_options_set_force_index(kiln_target_select_options_t *options,
                                                         size_t index);

/* Reads KILN_CPU_TARGET_INDEX through `env` (NULL: not at all). */
KILN_API void kiln_target_select_options_set_env(kiln_target_select_options_t *options,
                                                 kiln_target_env_fn env, void *env_ctx);

/* The outcome of a successful selection. Ownership:
 * kiln_target_selection_free. Thread-safety: immutable. */
typedef struct kiln_target_selection kiln_target_selection_t;

/* Chooses the image target to run on `host`, in order:
 *   1. drop targets needing a feature the host lacks (or a name kiln does
 *      not know, which cannot be checked); features only ring 0 can use
 *      (x86-64 invpcid, pconfig, wbnoinvd, hreset) are not required;
 *   2. if a remaining target's CPU name equals the host's, keep only those;
 *   3. prefer larger vector registers, then more features, then the later
 *      target.
 * A forced index (options) replaces 2-3 but not 1.
 * Errors: KILN_ERR_INCOMPATIBLE when nothing runs: the message has one line
 * per image target saying which features the host lacks; also when the
 * forced index does not run or is out of range. KILN_ERR_INVALID_ARGUMENT
 * for NULL, zero targets or an unparsable KILN_CPU_TARGET_INDEX.
 * *selection_out is NULL on failure. Thread-safety: any thread. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_target_select(
    const kiln_target_host_t *host, const kiln_target_spec_t *targets, size_t count,
    const kiln_target_select_options_t *options, kiln_target_selection_t **selection_out);

/* Releases a selection. Accepts NULL. */
KILN_API void kiln_target_selection_free(kiln_target_selection_t *selection);

/* The chosen image target index (SIZE_MAX for NULL). */
KILN_API size_t kiln_target_selection_index(const kiln_target_selection_t *selection);

/* One line saying which target was chosen and by which rule, e.g.
 * "target 2 (haswell): exact CPU name match with the host". Ownership:
 * borrowed from the selection. */
KILN_API const char *kiln_target_selection_reason(const kiln_target_selection_t *selection);

/* One line per image target: chosen, runnable but passed over (and why), or
 * which features the host lacks. Ownership: borrowed. */
KILN_API const char *kiln_target_selection_report(const kiln_target_selection_t *selection);

KILN_END_DECLS

#endif /* KILN_TARGET_H */
