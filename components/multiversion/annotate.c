/*
 * components/multiversion/annotate.c — the whole-module decision: which
 * function is cloned for which target and which functions need a
 * relocation slot, written into the module as function attributes and
 * named metadata so every shard (and every later process) reads the same
 * answer back.
 *
 * Stages: scan each function once (why it would profit from a clone and
 * which functions it references), choose the clone set per target (seed
 * from the heuristics, then grow it to a fixpoint by the caller and chain
 * rules), decide slots with the owner rule, then record. Everything is
 * indexed by module order; pointers are only looked up, never iterated.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/multiversion/internal.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

/* What the scan learns about one defined function. */
typedef struct mv_func {
  LLVMValueRef fn;
  unsigned reasons;      /* heuristic KILN_MULTIVERSION_REASON_* bits */
  bool vector_signature; /* vectors in its parameters or return */
  size_t *refs;          /* defined functions it references (indices) */
  size_t nrefs, caprefs;
  size_t *callers; /* defined functions referencing it */
  size_t ncallers, capcallers;
} mv_func_t;

static bool push(size_t **arr, size_t *n, size_t *cap, size_t v) {
  for (size_t i = 0; i < *n; i++)
    if ((*arr)[i] == v) return true;
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 4;
    size_t *a = realloc(*arr, c * sizeof(size_t));
    if (a == NULL) return false;
    *arr = a;
    *cap = c;
  }
  (*arr)[(*n)++] = v;
  return true;
}

static bool is_vector(LLVMTypeRef t) {
  LLVMTypeKind k = LLVMGetTypeKind(t);
  return k == LLVMVectorTypeKind || k == LLVMScalableVectorTypeKind;
}

/* A cycle in the CFG (a loop, reducible or not), by iterative DFS: an edge
 * to a block still on the stack closes a cycle. */
static bool has_cycle(LLVMValueRef fn) {
  unsigned n = LLVMCountBasicBlocks(fn);
  if (n == 0) return false;
  LLVMBasicBlockRef *blocks = malloc(n * sizeof(*blocks));
  unsigned char *state = calloc(n, 1); /* 0 new, 1 on stack, 2 done */
  size_t *stack = malloc(n * sizeof(size_t));
  unsigned *next = calloc(n, sizeof(unsigned));
  mv_ptrmap_t index = {0};
  bool cycle = false;
  if (blocks == NULL || state == NULL || stack == NULL || next == NULL) goto out;
  LLVMGetBasicBlocks(fn, blocks);
  for (unsigned i = 0; i < n; i++) mv_ptrmap_add(&index, blocks[i], i);
  mv_ptrmap_seal(&index);
  size_t sp = 0;
  stack[sp++] = 0;
  state[0] = 1;
  while (sp > 0 && !cycle) {
    size_t b = stack[sp - 1];
    LLVMValueRef term = LLVMGetBasicBlockTerminator(blocks[b]);
    unsigned nsucc = term != NULL ? LLVMGetNumSuccessors(term) : 0;
    if (next[b] < nsucc) {
      size_t s = 0;
      if (!mv_ptrmap_find(&index, LLVMGetSuccessor(term, next[b]++), &s)) continue;
      if (state[s] == 1) {
        cycle = true;
      } else if (state[s] == 0) {
        state[s] = 1;
        stack[sp++] = s;
      }
    } else {
      state[b] = 2;
      sp--;
    }
  }
out:
  mv_ptrmap_release(&index);
  free(blocks);
  free(state);
  free(stack);
  free(next);
  return cycle;
}

static bool is_fma_call(LLVMValueRef inst) {
  if (LLVMIsACallInst(inst) == NULL) return false;
  LLVMValueRef callee = LLVMGetCalledValue(inst);
  if (callee == NULL || LLVMIsAFunction(callee) == NULL) return false;
  size_t len = 0;
  const char *name = LLVMGetValueName2(callee, &len);
  return strncmp(name, "llvm.fma.", 9) == 0 || strncmp(name, "llvm.fmuladd.", 13) == 0;
}

/* One pass over a function: its heuristic reasons and its references. */
static bool scan(mv_func_t *funcs, size_t i, const mv_ptrmap_t *index) {
  mv_func_t *f = &funcs[i];
  LLVMTypeRef fty = LLVMGlobalGetValueType(f->fn);
  if (is_vector(LLVMGetReturnType(fty))) f->vector_signature = true;
  unsigned np = LLVMCountParamTypes(fty);
  if (np > 0) {
    LLVMTypeRef *params = malloc(np * sizeof(*params));
    if (params == NULL) return false;
    LLVMGetParamTypes(fty, params);
    for (unsigned p = 0; p < np; p++)
      if (is_vector(params[p])) f->vector_signature = true;
    free(params);
  }
  if (f->vector_signature) f->reasons |= KILN_MULTIVERSION_REASON_VECTOR;
  if (has_cycle(f->fn)) f->reasons |= KILN_MULTIVERSION_REASON_LOOP;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f->fn); bb; bb = LLVMGetNextBasicBlock(bb)) {
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
      if (is_vector(LLVMTypeOf(in))) f->reasons |= KILN_MULTIVERSION_REASON_VECTOR;
      if (LLVMCanValueUseFastMathFlags(in) && LLVMGetFastMathFlags(in) != LLVMFastMathNone)
        f->reasons |= KILN_MULTIVERSION_REASON_MATH;
      if (is_fma_call(in)) f->reasons |= KILN_MULTIVERSION_REASON_MATH;
      int nops = LLVMGetNumOperands(in);
      for (int o = 0; o < nops; o++) {
        LLVMValueRef op = LLVMGetOperand(in, (unsigned)o);
        if (op == NULL) continue;
        if (is_vector(LLVMTypeOf(op))) f->reasons |= KILN_MULTIVERSION_REASON_VECTOR;
        size_t j = 0;
        if (LLVMIsAFunction(op) != NULL && mv_ptrmap_find(index, op, &j)) {
          if (!push(&f->refs, &f->nrefs, &f->caprefs, j)) return false;
          if (!push(&funcs[j].callers, &funcs[j].ncallers, &funcs[j].capcallers, i)) return false;
        }
      }
    }
  }
  return true;
}

/* The widest vector registers a resolved feature set gives. LLVM's tuning
 * features are not in kiln's tables and are skipped. Where the architecture
 * has no table every target gives 0, so targets compare equal and only
 * clone_all applies. */
static unsigned vector_bits(kiln_target_arch_t arch, const char *features) {
  kiln_target_features_t set;
  kiln_error_t *err = kiln_target_features_parse(arch, features != NULL ? features : "",
                                                 KILN_TARGET_FEATURES_IGNORE_UNKNOWN, &set);
  if (err != NULL) {
    kiln_error_free(err);
    return 0;
  }
  return kiln_target_features_vector_bits(arch, &set);
}

static const unsigned kHeuristics =
    KILN_MULTIVERSION_REASON_LOOP | KILN_MULTIVERSION_REASON_VECTOR | KILN_MULTIVERSION_REASON_MATH;

/* The clone set of target k (in[i]), reasons accumulated into reasons[i]. */
static void choose(const mv_targets_t *t, size_t k, bool clone_all, const mv_func_t *funcs,
                   size_t n, bool *in, unsigned *reasons) {
  for (size_t i = 0; i < n; i++) {
    in[i] = clone_all || (funcs[i].reasons & kHeuristics) != 0;
    if (clone_all) reasons[i] |= KILN_MULTIVERSION_REASON_ALL;
    else if (in[i]) reasons[i] |= funcs[i].reasons & kHeuristics;
  }
  (void)t;
  (void)k;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n; i++) {
      if (in[i]) continue;
      const mv_func_t *f = &funcs[i];
      bool calls_cloned = false, calls_cloned_vector = false, called_by_cloned = false;
      for (size_t r = 0; r < f->nrefs; r++) {
        if (!in[f->refs[r]]) continue;
        calls_cloned = true;
        if (funcs[f->refs[r]].vector_signature) calls_cloned_vector = true;
      }
      for (size_t c = 0; c < f->ncallers; c++)
        if (in[f->callers[c]]) called_by_cloned = true;
      /* Correctness: a vector argument's registers depend on the target,
       * so caller and callee must be compiled for the same one. */
      if (calls_cloned_vector) {
        in[i] = true;
        reasons[i] |= KILN_MULTIVERSION_REASON_CALLER;
        changed = true;
      } else if (calls_cloned && called_by_cloned) {
        /* Between two clones: cloning it saves two slot loads. */
        in[i] = true;
        reasons[i] |= KILN_MULTIVERSION_REASON_CHAIN;
        changed = true;
      }
    }
  }
}

static void free_funcs(mv_func_t *funcs, size_t n) {
  if (funcs == NULL) return;
  for (size_t i = 0; i < n; i++) {
    free(funcs[i].refs);
    free(funcs[i].callers);
  }
  free(funcs);
}

kiln_error_t *kiln_multiversion_annotate(LLVMModuleRef module, const char *targets) {
  if (module == NULL || targets == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_annotate: NULL module or target string");
  }
  if (mv_has_named_md(module, MV_MD_TARGETS)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_annotate: module is already annotated");
  }
  mv_targets_t t;
  kiln_error_t *err = mv_targets_parse(module, targets, &t);
  if (err != NULL) return err;

  /* Stage 1: the defined functions, in module order. */
  size_t n = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(module); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f)) n++;
  if (n == 0) {
    mv_targets_release(&t);
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_annotate: module '%s' defines no functions",
                          LLVMGetModuleIdentifier(module, &(size_t){0}));
  }
  mv_func_t *funcs = calloc(n, sizeof(*funcs));
  uint64_t *mask = calloc(n, sizeof(uint64_t));
  unsigned *reasons = calloc(n, sizeof(unsigned));
  bool *in = calloc(n, sizeof(bool));
  bool *slot = calloc(n, sizeof(bool));
  char *triple = mv_module_triple(module);
  mv_ptrmap_t index = {0};
  if (funcs == NULL || mask == NULL || reasons == NULL || in == NULL || slot == NULL) {
    err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_multiversion_annotate: out of memory");
    goto out;
  }
  n = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(module); f; f = LLVMGetNextFunction(f)) {
    if (LLVMIsDeclaration(f)) continue;
    funcs[n].fn = f;
    mv_ptrmap_add(&index, f, n);
    n++;
  }
  mv_ptrmap_seal(&index);

  /* Stage 2: scan once: reasons and references. */
  bool any_vector_signature = false;
  for (size_t i = 0; i < n; i++) {
    if (!scan(funcs, i, &index)) {
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_multiversion_annotate: out of memory");
      goto out;
    }
    any_vector_signature |= funcs[i].vector_signature;
  }

  /* Stage 3: clone sets per target k > 0. Vector widths need the resolved
   * feature sets (only when the module passes vectors between functions). */
  unsigned bits[KILN_MULTIVERSION_MAX_TARGETS] = {0};
  for (size_t k = 0; k < t.count; k++) {
    char *cpu = NULL, *features = NULL;
    err = mv_resolve(&t, triple, k, &cpu, &features);
    if (err != NULL) goto out;
    bits[k] = vector_bits(t.arch, features);
    kiln_llvm_string_free(cpu);
    kiln_llvm_string_free(features);
  }
  for (size_t k = 1; k < t.count; k++) {
    bool clone_all = (t.flags[k] & KILN_TARGET_CLONE_ALL) != 0;
    if (!clone_all && (t.flags[k] & KILN_TARGET_NO_CLONE_ALL) == 0 && any_vector_signature &&
        bits[k] > bits[t.base[k]]) {
      clone_all = true; /* the heuristic's clone-all: the vector ABI changes */
    }
    choose(&t, k, clone_all, funcs, n, in, reasons);
    for (size_t i = 0; i < n; i++)
      if (in[i]) mask[i] |= UINT64_C(1) << k;
  }

  /* Stage 4: slots. Version o of function i runs for the targets whose
   * owner is o; if a callee's owner differs among those targets, the call
   * cannot be direct and goes through the callee's slot. */
  for (size_t i = 0; i < n; i++) {
    for (size_t o = 0; o < t.count; o++) {
      if (o != 0 && ((mask[i] >> o) & 1u) == 0) continue;
      for (size_t r = 0; r < funcs[i].nrefs; r++) {
        size_t j = funcs[i].refs[r];
        if (mask[j] == 0 || slot[j]) continue;
        size_t first = SIZE_MAX;
        for (size_t tt = 0; tt < t.count; tt++) {
          if (mv_owner(&t, mask[i], tt) != o) continue;
          size_t owner = mv_owner(&t, mask[j], tt);
          if (first == SIZE_MAX) first = owner;
          else if (owner != first) slot[j] = true;
        }
      }
    }
  }

  /* Stage 5: record. */
  for (size_t i = 0; i < n; i++) {
    char hex[32];
    if (mask[i] != 0) {
      snprintf(hex, sizeof(hex), "%" PRIx64, mask[i]);
      mv_attr_set(funcs[i].fn, MV_ATTR_CLONES, hex);
      snprintf(hex, sizeof(hex), "%x", reasons[i]);
      mv_attr_set(funcs[i].fn, MV_ATTR_REASONS, hex);
    }
    if (slot[i]) mv_attr_set(funcs[i].fn, MV_ATTR_SLOT, "1");
  }
  {
    size_t need = kiln_target_list_print(t.list, NULL, 0);
    char *canon = malloc(need + 1);
    char arch[32];
    size_t an = strcspn(triple, "-");
    if (an >= sizeof(arch)) an = sizeof(arch) - 1;
    memcpy(arch, triple, an);
    arch[an] = '\0';
    if (canon == NULL) {
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_multiversion_annotate: out of memory");
      goto out;
    }
    kiln_target_list_print(t.list, canon, need + 1);
    LLVMContextRef ctx = LLVMGetModuleContext(module);
    LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(ctx, arch, strlen(arch)),
                              LLVMMDStringInContext2(ctx, canon, strlen(canon))};
    LLVMAddNamedMetadataOperand(module, MV_MD_TARGETS,
                                LLVMMetadataAsValue(ctx, LLVMMDNodeInContext2(ctx, ops, 2)));
    free(canon);
  }

out:
  mv_ptrmap_release(&index);
  LLVMDisposeMessage(triple);
  free_funcs(funcs, n);
  free(mask);
  free(reasons);
  free(in);
  free(slot);
  mv_targets_release(&t);
  return err;
}

kiln_error_t *kiln_multiversion_function_info(LLVMModuleRef module, const char *name,
                                              kiln_multiversion_function_info_t *info_out) {
  if (info_out != NULL) memset(info_out, 0, sizeof(*info_out));
  if (module == NULL || name == NULL || info_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_function_info: NULL argument");
  }
  if (!mv_has_named_md(module, MV_MD_TARGETS)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_function_info: module is not annotated");
  }
  LLVMValueRef fn = LLVMGetNamedFunction(module, name);
  if (fn == NULL) {
    return kiln_error_new(KILN_ERR_NOT_FOUND, "kiln_multiversion_function_info: no function '%s'",
                          name);
  }
  info_out->clones = mv_attr_hex(fn, MV_ATTR_CLONES);
  info_out->reasons = (unsigned)mv_attr_hex(fn, MV_ATTR_REASONS);
  info_out->needs_slot = mv_attr_hex(fn, MV_ATTR_SLOT) != 0;
  return NULL;
}

kiln_error_t *kiln_multiversion_module_targets(LLVMModuleRef module, char **targets_out) {
  if (targets_out != NULL) *targets_out = NULL;
  if (module == NULL || targets_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_module_targets: NULL argument");
  }
  mv_targets_t t;
  kiln_error_t *err = mv_targets_read(module, &t);
  if (err != NULL) return err;
  size_t need = kiln_target_list_print(t.list, NULL, 0);
  char *out = malloc(need + 1);
  if (out == NULL) {
    mv_targets_release(&t);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "multiversion: out of memory");
  }
  kiln_target_list_print(t.list, out, need + 1);
  mv_targets_release(&t);
  *targets_out = out;
  return NULL;
}
