/*
 * components/pipeline/pipeline.c — the staged optimizer behind pipeline.h.
 *
 * Each stage is a row of a constant table: a list of pass-text fragments,
 * each tagged with the optimization levels (and vectorization setting) it
 * belongs to. A run joins the fragments that apply into new-pass-manager
 * pipeline text and hands it to LLVMRunPasses, one call per stage, timing
 * the call and counting instructions on both sides. The pass choice follows
 * LLVM 22's own -O2/-O3 pipelines, regrouped into the seven stages of the
 * JIT design text; what differs from `opt -O2` is the grouping (LLVM runs
 * loop and scalar passes inside the inliner's call-graph walk, kiln runs
 * them as stages of their own after it), not the passes.
 *
 * Two transforms are kiln's own C code over the LLVM C API, because no
 * textual pass does them: FMA formation in the cleanup stage, and marking
 * functions for the sanitizers the caller asked for.
 */
#include "components/pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llvm-c/Analysis.h"
#include "llvm-c/Core.h"
#include "llvm-c/Error.h"
#include "llvm-c/Transforms/PassBuilder.h"
#include "third_party/abseil_c/abseil_c.h"

/* ---- The stage table ---------------------------------------------------- */

/* When a fragment applies, besides its level range. */
enum fragment_when {
  WHEN_ALWAYS = 0,
  WHEN_VECTORIZE_ON = 1,  /* only with vectorization on */
  WHEN_VECTORIZE_OFF = 2  /* only with vectorization off */
};

typedef struct fragment {
  unsigned char min_level; /* applies at min_level..max_level */
  unsigned char max_level;
  unsigned char when;
  const char *text; /* a pass, or "name(" / ")" opening and closing a nest */
} fragment_t;

typedef struct stage_def {
  const char *name;
  unsigned min_level; /* below this the stage has no passes of its own */
  const fragment_t *fragments;
  size_t fragment_count;
} stage_def_t;

/* One spelling for the instcombine every stage uses: a single iteration, as
 * LLVM's default pipelines run it, without the fixpoint self-check that
 * would report a fatal error when more iterations could still change IR. */
#define IC "instcombine<max-iterations=1;no-verify-fixpoint>"

/* F(lo, hi, text): a fragment at levels lo..hi for any vectorization. */
#define F(lo, hi, text) {lo, hi, WHEN_ALWAYS, text}
#define FV(lo, hi, when, text) {lo, hi, when, text}

/* 1. Early simplification: cheap canonicalization before inlining, so the
 * inliner's cost model sees small, SSA-form callees (SROA makes SSA out of
 * clang's allocas; DCE first because frontends emit unused values that make
 * SimplifyCFG's job harder), plus the interprocedural constant propagation
 * and global cleanup that shrink what the later stages touch. */
static const fragment_t kEarlySimplification[] = {
    F(1, 3, "annotation2metadata"),
    F(1, 3, "forceattrs"),
    F(1, 3, "inferattrs"),
    F(1, 3, "function<eager-inv>("),
    F(1, 3, "lower-expect"),
    F(1, 3, "dce"),
    F(1, 3, "simplifycfg"),
    F(1, 3, "sroa<modify-cfg>"),
    F(1, 3, "early-cse<>"),
    F(3, 3, "callsite-splitting"),
    F(1, 3, ")"),
    F(1, 3, "ipsccp"),
    F(1, 3, "called-value-propagation"),
    F(1, 3, "globalopt"),
    F(1, 3, "function<eager-inv>("),
    F(1, 3, "mem2reg"),
    F(1, 3, IC),
    F(2, 3, "simplifycfg<switch-range-to-icmp>"),
    F(1, 3, ")"),
    /* always_inline is a promise to the source; honour it before the
     * heuristic inliner so its costs see the inlined bodies. */
    F(1, 3, "always-inline"),
};

/* 2. Early optimization: the inliner walks the call graph bottom-up and
 * simplifies each function right after inlining into it (EarlyCSE,
 * InstCombine, jump threading, value propagation), so callers see
 * simplified callees; then arguments and globals that inlining made dead
 * are removed before the loop stage spends time on them. */
static const fragment_t kEarlyOptimization[] = {
    F(1, 3, "require<globals-aa>"),
    F(1, 3, "function(invalidate<aa>)"),
    F(1, 3, "require<profile-summary>"),
    F(1, 3, "cgscc(devirt<4>("),
    F(1, 3, "inline"),
    F(1, 3, "function-attrs<skip-non-recursive-function-attrs>"),
    F(3, 3, "argpromotion"),
    F(1, 3, "function<eager-inv;no-rerun>("),
    F(1, 3, "sroa<modify-cfg>"),
    F(1, 3, "early-cse<memssa>"),
    F(2, 3, "speculative-execution<only-if-divergent-target>"),
    F(2, 3, "jump-threading"),
    F(2, 3, "correlated-propagation"),
    F(2, 3, "simplifycfg<switch-range-to-icmp>"),
    F(1, 3, IC),
    F(2, 3, "aggressive-instcombine"),
    F(1, 3, "libcalls-shrinkwrap"),
    F(2, 3, "tailcallelim"),
    F(2, 3, "simplifycfg<switch-range-to-icmp>"),
    F(1, 3, "reassociate"),
    F(2, 3, "constraint-elimination"),
    F(1, 3, ")"),
    F(1, 3, "function-attrs"),
    F(1, 3, "))"),
    F(1, 3, "deadargelim"),
    F(1, 3, "globalopt"),
    F(1, 3, "globaldce"),
};

/* 3. Loop optimization: put loops in canonical rotated form, hoist
 * invariants (first without speculation, then with), unswitch, then
 * recognize idioms (memset/memcpy), simplify induction variables, delete
 * dead loops and fully unroll small constant-trip loops. IRCE last removes
 * range checks from the loop bodies that remain. */
static const fragment_t kLoopOptimization[] = {
    F(1, 3, "function<eager-inv>("),
    F(1, 3, "loop-mssa("),
    F(1, 3, "loop-instsimplify"),
    F(1, 3, "loop-simplifycfg"),
    F(1, 3, "licm<no-allowspeculation>"),
    F(1, 3, "loop-rotate<header-duplication;no-prepare-for-lto>"),
    F(1, 3, "licm<allowspeculation>"),
    F(1, 2, "simple-loop-unswitch<no-nontrivial;trivial>"),
    F(3, 3, "simple-loop-unswitch<nontrivial;trivial>"),
    F(1, 3, ")"),
    F(2, 3, "simplifycfg<switch-range-to-icmp>"),
    F(1, 3, IC),
    F(1, 3, "loop("),
    F(1, 3, "loop-idiom"),
    F(1, 3, "indvars"),
    F(1, 3, "loop-deletion"),
    F(1, 3, "loop-unroll-full"),
    F(1, 3, ")"),
    F(2, 3, "irce"),
    F(1, 3, ")"),
};

/* 4. Scalar optimization: redundancy elimination over whole functions now
 * that loops are in shape (GVN, SCCP, BDCE, DSE, MemCpyOpt), the second
 * bounds-check round (constraint elimination on the simplified code), one
 * more LICM and an aggressive SimplifyCFG that hoists/sinks common code.
 * Function attributes are inferred again from the simplified bodies. */
static const fragment_t kScalarOptimization[] = {
    F(1, 3, "function<eager-inv>("),
    F(1, 3, "sroa<modify-cfg>"),
    F(2, 3, "vector-combine"),
    F(2, 3, "mldst-motion<no-split-footer-bb>"),
    F(2, 3, "gvn<>"),
    F(1, 1, "memcpyopt"),
    F(1, 3, "sccp"),
    F(1, 3, "bdce"),
    F(1, 3, IC),
    F(2, 3, "jump-threading"),
    F(2, 3, "correlated-propagation"),
    F(2, 3, "constraint-elimination"),
    F(1, 3, "adce"),
    F(2, 3, "memcpyopt"),
    F(2, 3, "dse"),
    F(2, 3, "move-auto-init"),
    F(2, 3, "loop-mssa(licm<allowspeculation>)"),
    F(1, 3, "simplifycfg<switch-range-to-icmp;switch-to-arithmetic;hoist-common-insts;"
            "sink-common-insts>"),
    F(1, 3, IC),
    F(1, 3, ")"),
    F(1, 3, "cgscc(function-attrs)"),
    F(1, 3, "rpo-function-attrs"),
    /* available_externally bodies were only there for inlining. */
    F(1, 3, "elim-avail-extern"),
};

/* 5. Vectorization: loop vectorizer (with the loop distribution and TLI
 * vector-library mappings it uses), SLP vectorizer, then runtime/partial
 * unrolling and the cleanup that vectorized code needs. Off means only
 * loops the source forces with a pragma are vectorized. */
static const fragment_t kVectorization[] = {
    F(2, 3, "function<eager-inv>("),
    F(2, 3, "drop-unnecessary-assumes"),
    F(2, 3, "float2int"),
    F(2, 3, "lower-constant-intrinsics"),
    F(2, 3, "loop(loop-rotate<header-duplication;no-prepare-for-lto>,loop-deletion)"),
    F(2, 3, "loop-distribute"),
    F(2, 3, "inject-tli-mappings"),
    FV(2, 3, WHEN_VECTORIZE_ON, "loop-vectorize<no-interleave-forced-only;no-vectorize-forced-only>"),
    FV(2, 3, WHEN_VECTORIZE_OFF, "loop-vectorize<interleave-forced-only;vectorize-forced-only>"),
    F(2, 3, "drop-unnecessary-assumes"),
    F(2, 3, "infer-alignment"),
    F(2, 3, "loop-load-elim"),
    F(2, 3, IC),
    F(2, 3, "simplifycfg<forward-switch-cond;switch-range-to-icmp;switch-to-arithmetic;"
            "switch-to-lookup;no-keep-loops;hoist-common-insts;sink-common-insts>"),
    FV(2, 3, WHEN_VECTORIZE_ON, "slp-vectorizer"),
    F(2, 3, "vector-combine"),
    F(2, 3, IC),
    F(2, 2, "loop-unroll<O2>"),
    F(3, 3, "loop-unroll<O3>"),
    F(2, 3, "transform-warning"),
    F(2, 3, "sroa<preserve-cfg>"),
    F(2, 3, "infer-alignment"),
    F(2, 3, IC),
    F(2, 3, "loop-mssa(licm<allowspeculation>)"),
    F(2, 3, "alignment-from-assumptions"),
    F(2, 3, "loop-sink"),
    F(2, 3, "instsimplify"),
    F(2, 3, ")"),
};

/* 6. Intrinsic lowering: the caller's hook runs first (in code); these
 * passes then fold what the lowering exposed. */
static const fragment_t kIntrinsicLowering[] = {
    F(1, 3, "function("),
    F(1, 3, IC),
    F(1, 3, "simplifycfg<switch-range-to-icmp>"),
    F(1, 3, ")"),
};

/* 7. Cleanup: last-chance peepholes before codegen. DivRemPairs lets the
 * backend compute a quotient and remainder with one division; the late
 * SimplifyCFG may speculate and form selects now that no loop pass needs
 * canonical loops. FMA formation runs before these (in code); sanitizer
 * passes are appended by compose_stage when asked. */
static const fragment_t kCleanup[] = {
    F(1, 3, "function<eager-inv>("),
    F(2, 3, "div-rem-pairs"),
    F(1, 3, "tailcallelim"),
    F(2, 3, "simplifycfg<switch-range-to-icmp;switch-to-arithmetic;"
            "hoist-loads-stores-with-cond-faulting;speculate-unpredictables>"),
    F(1, 3, ")"),
    F(1, 3, "globaldce"),
    F(1, 3, "constmerge"),
    F(1, 3, "rel-lookup-table-converter"),
    F(1, 3, "function(annotation-remarks)"),
};

#undef F
#undef FV
#undef IC

#define ROW(name, level, table) {name, level, table, sizeof(table) / sizeof(table[0])}

/* Indexed by kiln_pipeline_stage_t. */
static const stage_def_t kStages[KILN_PIPELINE_STAGE_COUNT] = {
    ROW("early-simplification", 1, kEarlySimplification),
    ROW("early-optimization", 1, kEarlyOptimization),
    ROW("loop-optimization", 1, kLoopOptimization),
    ROW("scalar-optimization", 1, kScalarOptimization),
    ROW("vectorization", 2, kVectorization),
    ROW("intrinsic-lowering", 1, kIntrinsicLowering),
    ROW("cleanup", 1, kCleanup),
};

#undef ROW

/* Sanitizers: the function attribute that asks for instrumentation, and
 * the passes that instrument. Memory sanitizer's early-cse cleans up the
 * shadow computations it inserts (as clang does above O0). */
typedef struct sanitizer_def {
  unsigned bit;
  const char *attribute;
  const char *passes;
  const char *passes_optimized; /* replaces `passes` at O1+ */
} sanitizer_def_t;

static const sanitizer_def_t kSanitizers[] = {
    {KILN_PIPELINE_SANITIZE_ADDRESS, "sanitize_address", "asan", "asan"},
    {KILN_PIPELINE_SANITIZE_THREAD, "sanitize_thread", "tsan-module,function(tsan)",
     "tsan-module,function(tsan)"},
    {KILN_PIPELINE_SANITIZE_MEMORY, "sanitize_memory", "msan", "msan,function(early-cse<>)"},
};

#define SANITIZER_COUNT (sizeof(kSanitizers) / sizeof(kSanitizers[0]))
#define SANITIZER_ALL \
  (KILN_PIPELINE_SANITIZE_ADDRESS | KILN_PIPELINE_SANITIZE_THREAD | KILN_PIPELINE_SANITIZE_MEMORY)

/* Triples the memory sanitizer's pass supports; on others LLVM reports a
 * fatal error instead of returning one, so kiln checks first. */
static const char *const kMsanOperatingSystems[] = {"linux", "freebsd", "netbsd"};

/* ---- Options ------------------------------------------------------------ */

struct kiln_pipeline_options {
  unsigned opt_level;
  bool stage_enabled[KILN_PIPELINE_STAGE_COUNT];
  bool vectorize;
  bool verify_each;
  unsigned sanitizers;
  LLVMTargetMachineRef target_machine; /* borrowed */
  kiln_pipeline_lower_fn lower_fn;
  void *lower_user_data; /* borrowed */
  char *extra_passes[KILN_PIPELINE_STAGE_COUNT]; /* owned; NULL = none */
};

static bool stage_valid(kiln_pipeline_stage_t stage) {
  return (unsigned)stage < KILN_PIPELINE_STAGE_COUNT;
}

const char *kiln_pipeline_stage_name(kiln_pipeline_stage_t stage) {
  return stage_valid(stage) ? kStages[stage].name : NULL;
}

kiln_error_t *kiln_pipeline_stage_from_name(const char *name, kiln_pipeline_stage_t *stage_out) {
  if (stage_out != NULL) *stage_out = KILN_PIPELINE_STAGE_COUNT;
  if (name == NULL || stage_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_pipeline_stage_from_name: NULL argument");
  }
  for (unsigned i = 0; i < KILN_PIPELINE_STAGE_COUNT; i++) {
    if (strcmp(name, kStages[i].name) == 0) {
      *stage_out = (kiln_pipeline_stage_t)i;
      return NULL;
    }
  }
  return kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': unknown pipeline stage", name);
}

kiln_error_t *kiln_pipeline_options_new(kiln_pipeline_options_t **options_out) {
  if (options_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_pipeline_options_new: NULL options_out");
  }
  *options_out = NULL;
  kiln_pipeline_options_t *o = calloc(1, sizeof(*o));
  if (o == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "pipeline options: out of memory");
  o->opt_level = 2;
  for (unsigned i = 0; i < KILN_PIPELINE_STAGE_COUNT; i++) o->stage_enabled[i] = true;
  o->vectorize = true;
  *options_out = o;
  return NULL;
}

void kiln_pipeline_options_free(kiln_pipeline_options_t *options) {
  if (options == NULL) return;
  for (unsigned i = 0; i < KILN_PIPELINE_STAGE_COUNT; i++) free(options->extra_passes[i]);
  free(options);
}

kiln_error_t *kiln_pipeline_options_set_opt_level(kiln_pipeline_options_t *options,
                                                  unsigned level) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_pipeline_options_set_opt_level: NULL options");
  }
  if (level > 3) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "optimization level %u: out of range (0-3)", level);
  }
  options->opt_level = level;
  return NULL;
}

kiln_error_t *kiln_pipeline_options_set_stage_enabled(kiln_pipeline_options_t *options,
                                                      kiln_pipeline_stage_t stage, bool enabled) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_pipeline_options_set_stage_enabled: NULL options");
  }
  if (!stage_valid(stage)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "stage %d: not a pipeline stage", (int)stage);
  }
  options->stage_enabled[stage] = enabled;
  return NULL;
}

void kiln_pipeline_options_set_vectorize(kiln_pipeline_options_t *options, bool enabled) {
  if (options != NULL) options->vectorize = enabled;
}

kiln_error_t *kiln_pipeline_options_set_sanitizers(kiln_pipeline_options_t *options,
                                                   unsigned sanitizers) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_pipeline_options_set_sanitizers: NULL options");
  }
  if ((sanitizers & ~(unsigned)SANITIZER_ALL) != 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "sanitizer set 0x%x: unknown bits 0x%x",
                          sanitizers, sanitizers & ~(unsigned)SANITIZER_ALL);
  }
  /* The runtimes cannot be combined: each owns the shadow memory layout. */
  if ((sanitizers & KILN_PIPELINE_SANITIZE_THREAD) != 0 &&
      (sanitizers & (KILN_PIPELINE_SANITIZE_ADDRESS | KILN_PIPELINE_SANITIZE_MEMORY)) != 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "sanitizer set 0x%x: thread cannot be combined with address or memory",
                          sanitizers);
  }
  if ((sanitizers & KILN_PIPELINE_SANITIZE_ADDRESS) != 0 &&
      (sanitizers & KILN_PIPELINE_SANITIZE_MEMORY) != 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "sanitizer set 0x%x: address cannot be combined with memory", sanitizers);
  }
  options->sanitizers = sanitizers;
  return NULL;
}

void kiln_pipeline_options_set_verify_each(kiln_pipeline_options_t *options, bool enabled) {
  if (options != NULL) options->verify_each = enabled;
}

void kiln_pipeline_options_set_target_machine(kiln_pipeline_options_t *options,
                                              LLVMTargetMachineRef target_machine) {
  if (options != NULL) options->target_machine = target_machine;
}

void kiln_pipeline_options_set_intrinsic_lowering(kiln_pipeline_options_t *options,
                                                  kiln_pipeline_lower_fn fn, void *user_data) {
  if (options == NULL) return;
  options->lower_fn = fn;
  options->lower_user_data = fn != NULL ? user_data : NULL;
}

kiln_error_t *kiln_pipeline_options_set_extra_passes(kiln_pipeline_options_t *options,
                                                     kiln_pipeline_stage_t stage,
                                                     const char *passes) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_pipeline_options_set_extra_passes: NULL options");
  }
  if (!stage_valid(stage)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "stage %d: not a pipeline stage", (int)stage);
  }
  char *copy = NULL;
  if (passes != NULL && passes[0] != '\0') {
    size_t len = strlen(passes);
    copy = malloc(len + 1);
    if (copy == NULL) {
      return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "extra passes for stage '%s': out of memory",
                            kStages[stage].name);
    }
    memcpy(copy, passes, len + 1);
  }
  free(options->extra_passes[stage]);
  options->extra_passes[stage] = copy;
  return NULL;
}

void kiln_pipeline_string_free(char *s) { free(s); }

/* ---- Composing pipeline text -------------------------------------------- */

/* A growable string; `failed` records an allocation failure so callers
 * check once at the end. */
typedef struct text {
  char *data;
  size_t len;
  size_t cap;
  bool failed;
} text_t;

static void text_append(text_t *t, const char *s) {
  size_t n = strlen(s);
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap == 0 ? 256 : t->cap;
    while (cap < t->len + n + 1) cap *= 2;
    char *data = realloc(t->data, cap);
    if (data == NULL) {
      t->failed = true;
      return;
    }
    t->data = data;
    t->cap = cap;
  }
  memcpy(t->data + t->len, s, n + 1);
  t->len += n;
}

/* Appends one pipeline element, with the comma the syntax needs: none at
 * the start, right after an opening "(", or before a closing ")". */
static void text_append_element(text_t *t, const char *element) {
  bool after_open = t->len == 0 || t->data[t->len - 1] == '(';
  if (!after_open && element[0] != ')') text_append(t, ",");
  text_append(t, element);
}

static bool fragment_applies(const fragment_t *f, const kiln_pipeline_options_t *o) {
  if (o->opt_level < f->min_level || o->opt_level > f->max_level) return false;
  if (f->when == WHEN_VECTORIZE_ON) return o->vectorize;
  if (f->when == WHEN_VECTORIZE_OFF) return !o->vectorize;
  return true;
}

/* The text LLVMRunPasses gets for `stage` (the hook and FMA formation run
 * in code, around it). Returns false when memory ran out. */
static bool compose_stage(const kiln_pipeline_options_t *o, kiln_pipeline_stage_t stage,
                          text_t *out) {
  const stage_def_t *def = &kStages[stage];
  /* Folding after the hook only makes sense when there is a hook. */
  bool own_passes = stage != KILN_PIPELINE_STAGE_INTRINSIC_LOWERING || o->lower_fn != NULL;
  if (own_passes && o->opt_level >= def->min_level) {
    for (size_t i = 0; i < def->fragment_count; i++) {
      if (fragment_applies(&def->fragments[i], o)) text_append_element(out, def->fragments[i].text);
    }
  }
  if (stage == KILN_PIPELINE_STAGE_CLEANUP) {
    for (size_t i = 0; i < SANITIZER_COUNT; i++) {
      if ((o->sanitizers & kSanitizers[i].bit) == 0) continue;
      text_append_element(out, o->opt_level > 0 ? kSanitizers[i].passes_optimized
                                                : kSanitizers[i].passes);
    }
  }
  if (o->extra_passes[stage] != NULL) text_append_element(out, o->extra_passes[stage]);
  if (out->len == 0) text_append(out, ""); /* a valid empty string, not NULL */
  return !out->failed;
}

kiln_error_t *kiln_pipeline_stage_passes(const kiln_pipeline_options_t *options,
                                         kiln_pipeline_stage_t stage, char **passes_out) {
  if (passes_out != NULL) *passes_out = NULL;
  if (options == NULL || passes_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_pipeline_stage_passes: NULL argument");
  }
  if (!stage_valid(stage)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "stage %d: not a pipeline stage", (int)stage);
  }
  text_t t = {0};
  if (!compose_stage(options, stage, &t)) {
    free(t.data);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "stage '%s': out of memory", kStages[stage].name);
  }
  *passes_out = t.data;
  return NULL;
}

/* ---- Module helpers ----------------------------------------------------- */

static uint64_t count_instructions(LLVMModuleRef m) {
  uint64_t n = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f != NULL; f = LLVMGetNextFunction(f)) {
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b != NULL; b = LLVMGetNextBasicBlock(b)) {
      for (LLVMValueRef i = LLVMGetFirstInstruction(b); i != NULL; i = LLVMGetNextInstruction(i)) {
        n++;
      }
    }
  }
  return n;
}

/* The module's identifier, for messages ("<unnamed module>" if empty).
 * Borrowed from the module. */
static const char *module_name(LLVMModuleRef m) {
  size_t len = 0;
  const char *id = LLVMGetModuleIdentifier(m, &len);
  return (id == NULL || len == 0) ? "<unnamed module>" : id;
}

static bool has_fn_attribute(LLVMValueRef f, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  return kind != 0 && LLVMGetEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, kind) != NULL;
}

/* Sanitizer passes instrument only functions carrying their attribute; a
 * caller asking kiln to sanitize means every function, except those the
 * frontend explicitly excluded. */
static void mark_for_sanitizers(LLVMModuleRef m, unsigned sanitizers) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  for (size_t s = 0; s < SANITIZER_COUNT; s++) {
    if ((sanitizers & kSanitizers[s].bit) == 0) continue;
    const char *name = kSanitizers[s].attribute;
    LLVMAttributeRef attr =
        LLVMCreateEnumAttribute(ctx, LLVMGetEnumAttributeKindForName(name, strlen(name)), 0);
    for (LLVMValueRef f = LLVMGetFirstFunction(m); f != NULL; f = LLVMGetNextFunction(f)) {
      if (LLVMIsDeclaration(f) || has_fn_attribute(f, "disable_sanitizer_instrumentation")) {
        continue;
      }
      LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, attr);
    }
  }
}

static kiln_error_t *check_sanitizer_triple(LLVMModuleRef m, unsigned sanitizers) {
  if ((sanitizers & KILN_PIPELINE_SANITIZE_MEMORY) == 0) return NULL;
  const char *triple = LLVMGetTarget(m);
  for (size_t i = 0; i < sizeof(kMsanOperatingSystems) / sizeof(kMsanOperatingSystems[0]); i++) {
    if (triple != NULL && strstr(triple, kMsanOperatingSystems[i]) != NULL) return NULL;
  }
  return kiln_error_new(KILN_ERR_UNSUPPORTED,
                        "module '%s': memory sanitizer does not support target triple '%s'",
                        module_name(m), triple != NULL ? triple : "");
}

/* Whether `v` is an instruction of `opcode` that may be contracted. */
static bool is_contractable(LLVMValueRef v, LLVMOpcode opcode) {
  return LLVMIsAInstruction(v) != NULL && LLVMGetInstructionOpcode(v) == opcode &&
         LLVMCanValueUseFastMathFlags(v) &&
         (LLVMGetFastMathFlags(v) & LLVMFastMathAllowContract) != 0;
}

/* FMA formation: `fadd contract (fmul contract a, b), c`, where the product
 * has no other use, becomes `llvm.fmuladd(a, b, c)`. The flags already let
 * the backend fuse, but spelling it as fmuladd keeps the fusion through any
 * later IR transform and on backends that only fuse the intrinsic.
 * Returns the number of fused pairs. */
static uint64_t form_fmuladd(LLVMModuleRef m) {
  static const char kName[] = "llvm.fmuladd";
  unsigned id = LLVMLookupIntrinsicID(kName, sizeof(kName) - 1);
  if (id == 0) return 0;
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMBuilderRef builder = LLVMCreateBuilderInContext(ctx);
  uint64_t fused = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f != NULL; f = LLVMGetNextFunction(f)) {
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b != NULL; b = LLVMGetNextBasicBlock(b)) {
      LLVMValueRef next = NULL;
      for (LLVMValueRef add = LLVMGetFirstInstruction(b); add != NULL; add = next) {
        next = LLVMGetNextInstruction(add);
        if (!is_contractable(add, LLVMFAdd)) continue;
        for (unsigned k = 0; k < 2; k++) {
          LLVMValueRef mul = LLVMGetOperand(add, k);
          if (!is_contractable(mul, LLVMFMul) || LLVMGetInstructionParent(mul) != b) continue;
          LLVMUseRef use = LLVMGetFirstUse(mul);
          if (use == NULL || LLVMGetNextUse(use) != NULL) continue;
          LLVMTypeRef type = LLVMTypeOf(add);
          LLVMValueRef decl = LLVMGetIntrinsicDeclaration(m, id, &type, 1);
          LLVMTypeRef fn_type = LLVMIntrinsicGetType(ctx, id, &type, 1);
          LLVMValueRef args[3] = {LLVMGetOperand(mul, 0), LLVMGetOperand(mul, 1),
                                  LLVMGetOperand(add, 1 - k)};
          LLVMPositionBuilderBefore(builder, add);
          LLVMValueRef call = LLVMBuildCall2(builder, fn_type, decl, args, 3, "");
          LLVMSetFastMathFlags(call, LLVMGetFastMathFlags(add) & LLVMGetFastMathFlags(mul));
          LLVMReplaceAllUsesWith(add, call);
          LLVMInstructionEraseFromParent(add);
          LLVMInstructionEraseFromParent(mul);
          fused++;
          break;
        }
      }
    }
  }
  LLVMDisposeBuilder(builder);
  return fused;
}

/* Runs `passes` on the module; LLVM's error becomes a kiln error naming the
 * module and stage. */
static kiln_error_t *run_passes(LLVMModuleRef m, const kiln_pipeline_options_t *o,
                                const char *stage_name, const char *passes) {
  LLVMPassBuilderOptionsRef pbo = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetVerifyEach(pbo, o->verify_each);
  LLVMPassBuilderOptionsSetLoopVectorization(pbo, o->vectorize);
  LLVMPassBuilderOptionsSetSLPVectorization(pbo, o->vectorize);
  LLVMPassBuilderOptionsSetLoopInterleaving(pbo, o->vectorize);
  LLVMPassBuilderOptionsSetLoopUnrolling(pbo, o->opt_level >= 2);
  LLVMErrorRef llvm_err = LLVMRunPasses(m, passes, o->target_machine, pbo);
  LLVMDisposePassBuilderOptions(pbo);
  if (llvm_err == NULL) return NULL;
  char *msg = LLVMGetErrorMessage(llvm_err);
  kiln_error_t *err = kiln_error_new(KILN_ERR_LLVM, "module '%s': stage '%s': %s", module_name(m),
                                     stage_name, msg != NULL ? msg : "unknown LLVM error");
  LLVMDisposeErrorMessage(msg);
  return err;
}

static kiln_error_t *verify(LLVMModuleRef m, const char *when) {
  char *msg = NULL;
  LLVMBool broken = LLVMVerifyModule(m, LLVMReturnStatusAction, &msg);
  kiln_error_t *err = NULL;
  if (broken) {
    err = kiln_error_new(KILN_ERR_LLVM, "module '%s': %s: %s", module_name(m), when,
                         msg != NULL ? msg : "does not verify");
  }
  LLVMDisposeMessage(msg);
  return err;
}

/* ---- Running ------------------------------------------------------------ */

typedef struct stage_result {
  bool ran;
  int64_t wall_ns;
  uint64_t before;
  uint64_t after;
} stage_result_t;

struct kiln_pipeline_report {
  stage_result_t stages[KILN_PIPELINE_STAGE_COUNT];
  int64_t total_wall_ns;
};

/* Stage 6: the hook, then a check that it left valid IR, then the folding
 * passes. */
static kiln_error_t *run_intrinsic_lowering(const kiln_pipeline_options_t *o, LLVMModuleRef m,
                                            const char *passes) {
  const char *stage_name = kStages[KILN_PIPELINE_STAGE_INTRINSIC_LOWERING].name;
  if (o->lower_fn != NULL) {
    kiln_error_t *err = o->lower_fn(o->lower_user_data, m);
    if (err != NULL) return kiln_error_prefix(err, "module '%s': stage '%s'", module_name(m), stage_name);
    err = verify(m, "invalid after the intrinsic-lowering hook");
    if (err != NULL) return err;
  }
  return passes[0] != '\0' ? run_passes(m, o, stage_name, passes) : NULL;
}

kiln_error_t *kiln_pipeline_run(const kiln_pipeline_options_t *options, LLVMModuleRef module,
                                kiln_pipeline_report_t **report_out) {
  if (report_out != NULL) *report_out = NULL;
  if (options == NULL || module == NULL || report_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_pipeline_run: NULL argument");
  }
  int64_t start = kiln_absl_monotonic_ns();
  /* Passes assume valid IR and may crash on anything else: check first. */
  kiln_error_t *err = verify(module, "invalid input module");
  if (err == NULL) err = check_sanitizer_triple(module, options->sanitizers);
  if (err != NULL) return err;

  kiln_pipeline_report_t *report = calloc(1, sizeof(*report));
  if (report == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "pipeline report: out of memory");
  if (options->sanitizers != 0) mark_for_sanitizers(module, options->sanitizers);

  uint64_t count = count_instructions(module);
  for (unsigned s = 0; s < KILN_PIPELINE_STAGE_COUNT && err == NULL; s++) {
    kiln_pipeline_stage_t stage = (kiln_pipeline_stage_t)s;
    stage_result_t *r = &report->stages[s];
    r->before = r->after = count;
    if (!options->stage_enabled[s]) continue;

    text_t passes = {0};
    if (!compose_stage(options, stage, &passes)) {
      free(passes.data);
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "stage '%s': out of memory", kStages[s].name);
      break;
    }
    bool has_work = passes.data[0] != '\0' ||
                    (stage == KILN_PIPELINE_STAGE_INTRINSIC_LOWERING && options->lower_fn != NULL);
    if (has_work) {
      int64_t t0 = kiln_absl_monotonic_ns();
      if (stage == KILN_PIPELINE_STAGE_INTRINSIC_LOWERING) {
        err = run_intrinsic_lowering(options, module, passes.data);
      } else {
        if (stage == KILN_PIPELINE_STAGE_CLEANUP && options->opt_level > 0) (void)form_fmuladd(module);
        err = run_passes(module, options, kStages[s].name, passes.data);
      }
      r->ran = true;
      r->wall_ns = kiln_absl_monotonic_ns() - t0;
      count = count_instructions(module);
      r->after = count;
    }
    free(passes.data);
  }
  if (err != NULL) {
    free(report);
    return err;
  }
  report->total_wall_ns = kiln_absl_monotonic_ns() - start;
  *report_out = report;
  return NULL;
}

void kiln_pipeline_report_free(kiln_pipeline_report_t *report) { free(report); }

bool kiln_pipeline_report_stage_ran(const kiln_pipeline_report_t *report,
                                    kiln_pipeline_stage_t stage) {
  return report != NULL && stage_valid(stage) && report->stages[stage].ran;
}

int64_t kiln_pipeline_report_stage_wall_ns(const kiln_pipeline_report_t *report,
                                           kiln_pipeline_stage_t stage) {
  return (report != NULL && stage_valid(stage)) ? report->stages[stage].wall_ns : 0;
}

uint64_t kiln_pipeline_report_instructions_before(const kiln_pipeline_report_t *report,
                                                  kiln_pipeline_stage_t stage) {
  return (report != NULL && stage_valid(stage)) ? report->stages[stage].before : 0;
}

uint64_t kiln_pipeline_report_instructions_after(const kiln_pipeline_report_t *report,
                                                 kiln_pipeline_stage_t stage) {
  return (report != NULL && stage_valid(stage)) ? report->stages[stage].after : 0;
}

int64_t kiln_pipeline_report_total_wall_ns(const kiln_pipeline_report_t *report) {
  return report != NULL ? report->total_wall_ns : 0;
}

kiln_error_t *kiln_pipeline_report_format(const kiln_pipeline_report_t *report, char **text_out) {
  if (text_out != NULL) *text_out = NULL;
  if (report == NULL || text_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_pipeline_report_format: NULL argument");
  }
  text_t t = {0};
  char line[160];
  for (unsigned s = 0; s < KILN_PIPELINE_STAGE_COUNT; s++) {
    const stage_result_t *r = &report->stages[s];
    if (r->ran) {
      snprintf(line, sizeof(line), "%-22s ran %9.3f ms %8llu -> %llu instructions\n",
               kStages[s].name, (double)r->wall_ns / 1e6, (unsigned long long)r->before,
               (unsigned long long)r->after);
    } else {
      snprintf(line, sizeof(line), "%-22s skipped %llu instructions\n", kStages[s].name,
               (unsigned long long)r->before);
    }
    text_append(&t, line);
  }
  snprintf(line, sizeof(line), "%-22s     %9.3f ms\n", "total", (double)report->total_wall_ns / 1e6);
  text_append(&t, line);
  if (t.failed) {
    free(t.data);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "pipeline report: out of memory");
  }
  *text_out = t.data;
  return NULL;
}
