/*
 * components/emitter/plan.c — step 1, on the caller's module: roots,
 * methods (fingerprints, calls, deps), whole-module multiversion
 * annotation, the image's targets, the split, and the image tables
 * (functions and globals numbered shard by shard, in name order within a
 * shard, with a name index for lookups; per-shard ranges and overrides).
 * Everything that reaches the output is sorted by name, numbered from the
 * shard assignment or taken in module order; pointer sets here are only
 * ever probed, never walked.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/emitter/internal.h"
#include "components/multiversion/multiversion.h"
#include "components/splitter/splitter.h"
#include "llvm-c/Analysis.h"
#include "llvm-c/Comdat.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Transforms/PassBuilder.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

/* ---- A pointer set (probe only; never iterated) ------------------------- */

typedef struct ptrset {
  const void **slots;
  size_t cap, count;
} ptrset_t;

static size_t ptr_hash(const void *p, size_t cap) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (size_t)x & (cap - 1);
}

static bool ptrset_contains(const ptrset_t *s, const void *p) {
  if (s->cap == 0) return false;
  for (size_t i = ptr_hash(p, s->cap);; i = (i + 1) & (s->cap - 1)) {
    if (s->slots[i] == NULL) return false;
    if (s->slots[i] == p) return true;
  }
}

/* Inserts p; returns 1 when new, 0 when present, -1 out of memory. */
static int ptrset_insert(ptrset_t *s, const void *p) {
  if ((s->count + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    const void **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (s->slots[i] == NULL) continue;
      size_t j = ptr_hash(s->slots[i], cap);
      while (slots[j] != NULL) j = (j + 1) & (cap - 1);
      slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  size_t i = ptr_hash(p, s->cap);
  while (s->slots[i] != NULL) {
    if (s->slots[i] == p) return 0;
    i = (i + 1) & (s->cap - 1);
  }
  s->slots[i] = p;
  s->count++;
  return 1;
}

static void ptrset_free(ptrset_t *s) {
  free(s->slots);
  memset(s, 0, sizeof(*s));
}

/* A growable stack of values. */
typedef struct valstack {
  LLVMValueRef *items;
  size_t count, cap;
} valstack_t;

static bool valstack_push(valstack_t *st, LLVMValueRef v) {
  if (st->count == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 64;
    LLVMValueRef *items = realloc(st->items, cap * sizeof(*items));
    if (items == NULL) return false;
    st->items = items;
    st->cap = cap;
  }
  st->items[st->count++] = v;
  return true;
}

/* ---- Small helpers ------------------------------------------------------ */

static const char *value_name(LLVMValueRef v) {
  size_t len = 0;
  return LLVMGetValueName2(v, &len);
}

static bool is_local(LLVMValueRef gv) {
  LLVMLinkage l = LLVMGetLinkage(gv);
  return l == LLVMInternalLinkage || l == LLVMPrivateLinkage;
}

/* Defined here (available_externally bodies are not emitted). */
static bool is_defined(LLVMValueRef gv) {
  return !LLVMIsDeclaration(gv) && LLVMGetLinkage(gv) != LLVMAvailableExternallyLinkage;
}

/* Visible to the image's users: not local and default visibility. */
static bool is_exported(LLVMValueRef gv) {
  return !is_local(gv) && LLVMGetVisibility(gv) == LLVMDefaultVisibility;
}

/* A package image's import slot "kiln.import.<key>" (rewrite_imports). */
static bool is_import_slot(LLVMValueRef gv) {
  return LLVMIsAGlobalVariable(gv) != NULL && !is_local(gv) &&
         strncmp(value_name(gv), EM_IMPORT_PREFIX, strlen(EM_IMPORT_PREFIX)) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

bool em_plan_function_index(const kiln_emitter_plan_t *plan, const char *name, uint32_t *out) {
  size_t lo = 0, hi = plan->function_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint32_t i = plan->function_by_name[mid];
    int c = strcmp(plan->functions[i], name);
    if (c == 0) {
      *out = i;
      return true;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

/* ---- Roots ---------------------------------------------------------------- */

/* Adds `op` to the walk unless it is NULL, already seen or, with
 * locals_only, a non-local global value. False when out of memory. */
static bool walk_add(ptrset_t *seen, valstack_t *st, LLVMValueRef op, bool locals_only) {
  if (op == NULL || (locals_only && LLVMIsAGlobalValue(op) != NULL && !is_local(op))) return true;
  int r = ptrset_insert(seen, op);
  return r >= 0 && (r == 0 || valstack_push(st, op));
}

/* Adds the constant operands of `u` (an instruction or a constant). */
static bool walk_add_constant_operands(ptrset_t *seen, valstack_t *st, LLVMValueRef u,
                                       bool locals_only) {
  int n = LLVMGetNumOperands(u);
  for (int i = 0; i < n; i++) {
    LLVMValueRef op = LLVMGetOperand(u, (unsigned)i);
    if (op == NULL || LLVMIsAConstant(op) == NULL) continue;
    if (!walk_add(seen, st, op, locals_only)) return false;
  }
  return true;
}

/* Marks in `seen` `root` and everything reachable from it through operands
 * (instructions' constant operands, personalities, initializers, aliasees,
 * constant expressions). With locals_only, non-local global values end the
 * walk: they are neither marked nor followed. */
static kiln_error_t *walk_operands(ptrset_t *seen, valstack_t *st, LLVMValueRef root,
                                   bool locals_only) {
  if (ptrset_insert(seen, root) < 0 || !valstack_push(st, root)) return em_oom();
  while (st->count > 0) {
    LLVMValueRef v = st->items[--st->count];
    LLVMValueRef next = NULL;
    if (LLVMIsAFunction(v) != NULL) {
      for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(v); bb; bb = LLVMGetNextBasicBlock(bb))
        for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
          if (!walk_add_constant_operands(seen, st, in, locals_only)) return em_oom();
      if (LLVMHasPersonalityFn(v)) next = LLVMGetPersonalityFn(v);
    } else if (LLVMIsAGlobalVariable(v) != NULL) {
      next = LLVMGetInitializer(v);
    } else if (LLVMIsAGlobalAlias(v) != NULL) {
      next = LLVMAliasGetAliasee(v);
    } else if (LLVMIsAConstant(v) != NULL && LLVMIsAGlobalValue(v) == NULL) {
      if (!walk_add_constant_operands(seen, st, v, locals_only)) return em_oom();
    }
    if (!walk_add(seen, st, next, locals_only)) return em_oom();
  }
  return NULL;
}

/* Keeps the roots and what they reach: the rest becomes internal and
 * GlobalDCE drops it. Appending globals (llvm.used, llvm.global_ctors) are
 * roots too, so what they keep alive stays correct. */
static kiln_error_t *apply_roots(const kiln_emitter_options_t *o, LLVMModuleRef m) {
  ptrset_t seen = {0};
  valstack_t st = {0};
  kiln_error_t *err = NULL;
  for (size_t r = 0; err == NULL && r < o->root_count; r++) {
    LLVMValueRef v = LLVMGetNamedFunction(m, o->roots[r]);
    if (v == NULL) v = LLVMGetNamedGlobal(m, o->roots[r]);
    if (v == NULL || !is_defined(v)) {
      err = kiln_error_new(KILN_ERR_NOT_FOUND, "root '%s': no such %s in the module", o->roots[r],
                           v == NULL ? "function or global" : "definition");
      break;
    }
    err = walk_operands(&seen, &st, v, false);
  }
  for (LLVMValueRef g = LLVMGetFirstGlobal(m); err == NULL && g; g = LLVMGetNextGlobal(g))
    if (LLVMGetLinkage(g) == LLVMAppendingLinkage) err = walk_operands(&seen, &st, g, false);
  if (err == NULL) {
    for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
      if (LLVMIsDeclaration(f) || ptrset_contains(&seen, f)) continue;
      LLVMSetLinkage(f, LLVMInternalLinkage);
      LLVMSetVisibility(f, LLVMDefaultVisibility);
      LLVMSetComdat(f, NULL);
    }
    for (LLVMValueRef g = LLVMGetFirstGlobal(m); g; g = LLVMGetNextGlobal(g)) {
      if (LLVMIsDeclaration(g) || LLVMGetLinkage(g) == LLVMAppendingLinkage ||
          ptrset_contains(&seen, g))
        continue;
      LLVMSetLinkage(g, LLVMInternalLinkage);
      LLVMSetVisibility(g, LLVMDefaultVisibility);
      LLVMSetComdat(g, NULL);
    }
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef lerr = LLVMRunPasses(m, "globaldce", NULL, po);
    LLVMDisposePassBuilderOptions(po);
    if (lerr != NULL) {
      char *msg = LLVMGetErrorMessage(lerr);
      err = kiln_error_new(KILN_ERR_LLVM, "roots: globaldce: %s", msg);
      LLVMDisposeErrorMessage(msg);
    }
  }
  free(st.items);
  ptrset_free(&seen);
  return err;
}

/* ---- Methods --------------------------------------------------------------- */

static bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '$' || c == '-';
}

/* Rewrites printed IR into a form that does not depend on the rest of the
 * module or on the context:
 *   - "#<digits>" attribute-group references become "#", "!<digits>"
 *     metadata references "!" (the module numbers both);
 *   - named struct types lose the ".<digits>" suffixes LLVM adds when a
 *     context already has a type of that name ("%struct.point.3");
 *   - local global variables ("@.str.3": clang numbers them per file)
 *     become "@local"; their initializers are appended separately. */
static void canonicalize(LLVMModuleRef m, const char *in, em_buf_t *out) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  char tok[512];
  for (const char *r = in; *r;) {
    if ((*r == '#' || *r == '!') && r[1] >= '0' && r[1] <= '9') {
      em_buf_append(out, r, 1);
      for (r++; *r >= '0' && *r <= '9'; r++) {
      }
      continue;
    }
    if ((*r == '%' || *r == '@') && ident_char(r[1])) {
      size_t n = 1;
      while (ident_char(r[n])) n++;
      if (n - 1 < sizeof(tok)) {
        memcpy(tok, r + 1, n - 1);
        tok[n - 1] = '\0';
        if (*r == '%' && LLVMGetTypeByName2(ctx, tok) != NULL) {
          size_t len = n - 1;
          for (;;) { /* strip ".<digits>" suffixes */
            size_t d = len;
            while (d > 0 && tok[d - 1] >= '0' && tok[d - 1] <= '9') d--;
            if (d == len || d < 2 || tok[d - 1] != '.') break;
            len = d - 1;
          }
          em_buf_append(out, "%", 1);
          em_buf_append(out, tok, len);
          r += n;
          continue;
        }
        LLVMValueRef g = *r == '@' ? LLVMGetNamedGlobal(m, tok) : NULL;
        if (g != NULL && is_local(g)) {
          em_buf_puts(out, "@local");
          r += n;
          continue;
        }
      }
      em_buf_append(out, r, n);
      r += n;
      continue;
    }
    em_buf_append(out, r, 1);
    r++;
  }
}

/* ---- Fingerprints ------------------------------------------------------------
 *
 * A method's fingerprint hashes a canonical description of its code, built
 * by walking the function once: its type, linkage, calling convention and
 * attributes, then per instruction the opcode, result type, the flags that
 * change semantics (predicates, nsw/nuw/exact, fast-math, alignment,
 * volatility, allocated and GEP source types) and every operand — local
 * values by their position in the function, globals by name, local globals
 * ("@.str.3": clang numbers them per file) as "@local" plus their
 * initializer, other constants printed. Nothing here depends on the rest of
 * the module, so adding or changing an unrelated function leaves it alone,
 * and the cost is linear in the function (printing a whole function with
 * LLVM's AsmWriter walks the entire module each time: quadratic). */

/* Positions of a function's arguments, blocks and instructions. */
typedef struct posmap {
  const void **keys;
  uint32_t *vals;
  size_t cap;
} posmap_t;

static bool posmap_init(posmap_t *m, size_t n) {
  m->cap = 64;
  while (m->cap < 2 * n + 2) m->cap *= 2;
  m->keys = calloc(m->cap, sizeof(*m->keys));
  m->vals = calloc(m->cap, sizeof(*m->vals));
  return m->keys != NULL && m->vals != NULL;
}

static void posmap_put(posmap_t *m, const void *k, uint32_t v) {
  size_t i = ptr_hash(k, m->cap);
  while (m->keys[i] != NULL && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
  m->keys[i] = k;
  m->vals[i] = v;
}

static bool posmap_get(const posmap_t *m, const void *k, uint32_t *v) {
  for (size_t i = ptr_hash(k, m->cap); m->keys[i] != NULL; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == k) {
      *v = m->vals[i];
      return true;
    }
  }
  return false;
}

static void posmap_free(posmap_t *m) {
  free(m->keys);
  free(m->vals);
}

/* Appends LLVM's spelling of a type or constant, canonicalized. */
static void fp_print_type(LLVMModuleRef m, LLVMTypeRef t, em_buf_t *b) {
  char *text = LLVMPrintTypeToString(t);
  if (text != NULL) canonicalize(m, text, b);
  LLVMDisposeMessage(text);
  em_buf_append(b, ";", 1);
}

static void fp_attributes(LLVMModuleRef m, LLVMValueRef fn, em_buf_t *b) {
  unsigned nparams = LLVMCountParams(fn);
  for (long idx = -1; idx <= (long)nparams; idx++) {
    LLVMAttributeIndex ai = idx < 0 ? LLVMAttributeFunctionIndex : (LLVMAttributeIndex)idx;
    unsigned n = LLVMGetAttributeCountAtIndex(fn, ai);
    if (n == 0) continue;
    LLVMAttributeRef *attrs = malloc(n * sizeof(*attrs));
    if (attrs == NULL) continue;
    LLVMGetAttributesAtIndex(fn, ai, attrs);
    em_buf_printf(b, "attrs %ld:", idx);
    for (unsigned i = 0; i < n; i++) {
      if (LLVMIsStringAttribute(attrs[i])) {
        unsigned kl = 0, vl = 0;
        const char *k = LLVMGetStringAttributeKind(attrs[i], &kl);
        const char *v = LLVMGetStringAttributeValue(attrs[i], &vl);
        em_buf_append(b, k, kl);
        em_buf_append(b, "=", 1);
        em_buf_append(b, v, vl);
        em_buf_append(b, ",", 1);
      } else if (LLVMIsTypeAttribute(attrs[i])) {
        em_buf_printf(b, "%u:", LLVMGetEnumAttributeKind(attrs[i]));
        fp_print_type(m, LLVMGetTypeAttributeValue(attrs[i]), b);
      } else {
        em_buf_printf(b, "%u=%" PRIu64 ",", LLVMGetEnumAttributeKind(attrs[i]),
                      LLVMGetEnumAttributeValue(attrs[i]));
      }
    }
    free(attrs);
  }
}

static void fp_operand(LLVMModuleRef m, const posmap_t *pos, LLVMValueRef op, em_buf_t *b,
                       ptrset_t *seen) {
  uint32_t at = 0;
  if (op == NULL) {
    em_buf_puts(b, " null");
  } else if (LLVMValueIsBasicBlock(op)) {
    em_buf_printf(b, " b%u", posmap_get(pos, LLVMValueAsBasicBlock(op), &at) ? at : ~0u);
  } else if (LLVMIsAInstruction(op) != NULL || LLVMIsAArgument(op) != NULL) {
    em_buf_printf(b, " v%u", posmap_get(pos, op, &at) ? at : ~0u);
  } else if (LLVMIsAGlobalValue(op) != NULL) {
    if (is_local(op)) {
      em_buf_puts(b, " @local");
      /* The first use describes the local global (its initializer). */
      if (LLVMIsAGlobalVariable(op) != NULL && ptrset_insert(seen, op) == 1) {
        LLVMValueRef init = LLVMGetInitializer(op);
        char *text = init != NULL ? LLVMPrintValueToString(init) : NULL;
        em_buf_puts(b, "{");
        if (text != NULL) canonicalize(m, text, b);
        LLVMDisposeMessage(text);
        em_buf_puts(b, "}");
      }
    } else {
      size_t len = 0;
      const char *name = LLVMGetValueName2(op, &len);
      em_buf_puts(b, " @");
      em_buf_append(b, name, len);
    }
  } else if (LLVMIsAConstantInt(op) != NULL && LLVMGetIntTypeWidth(LLVMTypeOf(op)) <= 64) {
    em_buf_printf(b, " i%u:%llu", LLVMGetIntTypeWidth(LLVMTypeOf(op)),
                  LLVMConstIntGetZExtValue(op));
  } else {
    /* Other constants, inline asm, metadata: LLVM's spelling (printing a
     * constant does not walk the module). */
    char *text = LLVMPrintValueToString(op);
    em_buf_puts(b, " ");
    if (text != NULL) canonicalize(m, text, b);
    LLVMDisposeMessage(text);
  }
}

static void fp_instruction(LLVMModuleRef m, const posmap_t *pos, LLVMValueRef in, em_buf_t *b,
                           ptrset_t *seen) {
  LLVMOpcode op = LLVMGetInstructionOpcode(in);
  em_buf_printf(b, "\n%d ", (int)op);
  fp_print_type(m, LLVMTypeOf(in), b);
  switch (op) {
    case LLVMAdd:
    case LLVMSub:
    case LLVMMul:
    case LLVMShl:
      em_buf_printf(b, "w%d%d", LLVMGetNSW(in), LLVMGetNUW(in));
      break;
    case LLVMUDiv:
    case LLVMSDiv:
    case LLVMLShr:
    case LLVMAShr:
      em_buf_printf(b, "x%d", LLVMGetExact(in));
      break;
    case LLVMICmp:
      em_buf_printf(b, "p%d", (int)LLVMGetICmpPredicate(in));
      break;
    case LLVMFCmp:
      em_buf_printf(b, "p%d", (int)LLVMGetFCmpPredicate(in));
      break;
    case LLVMLoad:
    case LLVMStore:
      em_buf_printf(b, "a%u v%d o%d", LLVMGetAlignment(in), LLVMGetVolatile(in),
                    (int)LLVMGetOrdering(in));
      break;
    case LLVMAlloca:
      em_buf_printf(b, "a%u ", LLVMGetAlignment(in));
      fp_print_type(m, LLVMGetAllocatedType(in), b);
      break;
    case LLVMGetElementPtr:
      em_buf_printf(b, "g%d ", (int)LLVMGEPGetNoWrapFlags(in));
      fp_print_type(m, LLVMGetGEPSourceElementType(in), b);
      break;
    case LLVMCall:
      em_buf_printf(b, "c%u t%d ", LLVMGetInstructionCallConv(in), (int)LLVMGetTailCallKind(in));
      fp_print_type(m, LLVMGetCalledFunctionType(in), b);
      break;
    case LLVMPHI: {
      unsigned n = LLVMCountIncoming(in);
      for (unsigned i = 0; i < n; i++) {
        uint32_t at = 0;
        em_buf_printf(b, " from b%u",
                      posmap_get(pos, LLVMGetIncomingBlock(in, i), &at) ? at : ~0u);
      }
      break;
    }
    default:
      break;
  }
  if (LLVMCanValueUseFastMathFlags(in)) em_buf_printf(b, " f%u", LLVMGetFastMathFlags(in));
  int n = LLVMGetNumOperands(in);
  for (int i = 0; i < n; i++) fp_operand(m, pos, LLVMGetOperand(in, (unsigned)i), b, seen);
}

/* The fingerprint of a method (see the section comment). */
static uint64_t fingerprint(LLVMModuleRef m, LLVMValueRef fn) {
  size_t count = LLVMCountParams(fn);
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb)) {
    count++;
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
      count++;
  }
  posmap_t pos = {0};
  em_buf_t b = {0};
  ptrset_t seen = {0};
  if (!posmap_init(&pos, count)) {
    posmap_free(&pos);
    return 0; /* out of memory: a fingerprint that matches nothing real */
  }
  uint32_t next = 0;
  for (LLVMValueRef a = LLVMGetFirstParam(fn); a; a = LLVMGetNextParam(a)) posmap_put(&pos, a, next++);
  next = 0;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
    posmap_put(&pos, bb, next++);
  next = (uint32_t)LLVMCountParams(fn);
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
      posmap_put(&pos, in, next++);

  em_buf_printf(&b, "kiln-fingerprint-1 l%d c%u ", (int)LLVMGetLinkage(fn),
                LLVMGetFunctionCallConv(fn));
  fp_print_type(m, LLVMGlobalGetValueType(fn), &b);
  fp_attributes(m, fn, &b);
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb)) {
    em_buf_puts(&b, "\nblock");
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
      fp_instruction(m, &pos, in, &b, &seen);
  }
  uint64_t h = kiln_image_format_hash64(b.data != NULL ? b.data : "", b.size, 0);
  em_buf_free(&b);
  ptrset_free(&seen);
  posmap_free(&pos);
  return h;
}

typedef struct pre_method {
  char *key;
  uint64_t fingerprint;
  char **calls; /* method names, sorted, unique */
  size_t call_count;
  em_dep_t *deps; /* sorted by key */
  size_t dep_count;
  void *bitcode; /* per-method bitcode or NULL */
  size_t bitcode_size;
} pre_method_t;

static void pre_methods_free(pre_method_t *pm, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(pm[i].key);
    for (size_t c = 0; c < pm[i].call_count; c++) free(pm[i].calls[c]);
    free(pm[i].calls);
    for (size_t d = 0; d < pm[i].dep_count; d++) free(pm[i].deps[d].key);
    free(pm[i].deps);
    free(pm[i].bitcode);
  }
  free(pm);
}

static int cmp_dep(const void *a, const void *b) {
  return strcmp(((const em_dep_t *)a)->key, ((const em_dep_t *)b)->key);
}

static bool is_method(LLVMValueRef f) { return is_defined(f) && is_exported(f); }

/* Calls and deps of method `fn`: direct callees, through non-method
 * defined functions transitively. */
static kiln_error_t *method_edges(const kiln_emitter_options_t *o, LLVMValueRef fn,
                                  pre_method_t *pm) {
  ptrset_t seen = {0};
  valstack_t st = {0};
  char **calls = NULL;
  size_t ncalls = 0, ccap = 0;
  em_dep_t *deps = NULL;
  size_t ndeps = 0, dcap = 0;
  kiln_error_t *err = NULL;
  if (ptrset_insert(&seen, fn) < 0 || !valstack_push(&st, fn)) err = em_oom();
  while (err == NULL && st.count > 0) {
    LLVMValueRef v = st.items[--st.count];
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(v); err == NULL && bb;
         bb = LLVMGetNextBasicBlock(bb)) {
      for (LLVMValueRef in = LLVMGetFirstInstruction(bb); err == NULL && in;
           in = LLVMGetNextInstruction(in)) {
        if (LLVMIsACallInst(in) == NULL && LLVMIsAInvokeInst(in) == NULL &&
            LLVMIsACallBrInst(in) == NULL)
          continue;
        LLVMValueRef callee = LLVMGetCalledValue(in);
        if (callee == NULL || LLVMIsAFunction(callee) == NULL) continue;
        if (LLVMGetIntrinsicID(callee) != 0) continue;
        const char *name = value_name(callee);
        if (is_method(callee)) {
          /* A method: an edge (self included), not traversed further. */
          bool dup = false;
          for (size_t c = 0; c < ncalls && !dup; c++) dup = strcmp(calls[c], name) == 0;
          if (dup) continue;
          if (ncalls == ccap) {
            ccap = ccap ? ccap * 2 : 8;
            char **nc = realloc(calls, ccap * sizeof(*nc));
            if (nc == NULL) { err = em_oom(); break; }
            calls = nc;
          }
          if ((calls[ncalls] = em_strdup(name)) == NULL) { err = em_oom(); break; }
          ncalls++;
          continue;
        }
        int r = ptrset_insert(&seen, callee);
        if (r < 0) { err = em_oom(); break; }
        if (r == 0) continue;
        if (is_defined(callee)) {
          if (!valstack_push(&st, callee)) err = em_oom();
          continue;
        }
        uint64_t fp = 0;
        if (LLVMIsDeclaration(callee) && o->dep_fn != NULL && o->dep_fn(name, &fp, o->dep_user)) {
          if (ndeps == dcap) {
            dcap = dcap ? dcap * 2 : 8;
            em_dep_t *nd = realloc(deps, dcap * sizeof(*nd));
            if (nd == NULL) { err = em_oom(); break; }
            deps = nd;
          }
          if ((deps[ndeps].key = em_strdup(name)) == NULL) { err = em_oom(); break; }
          deps[ndeps++].fingerprint = fp;
        }
      }
    }
  }
  free(st.items);
  ptrset_free(&seen);
  if (ncalls > 1) qsort(calls, ncalls, sizeof(char *), cmp_str);
  if (ndeps > 1) qsort(deps, ndeps, sizeof(em_dep_t), cmp_dep);
  pm->calls = calls;
  pm->call_count = ncalls;
  pm->deps = deps;
  pm->dep_count = ndeps;
  return err;
}

static int cmp_pre_method(const void *a, const void *b) {
  return strcmp(((const pre_method_t *)a)->key, ((const pre_method_t *)b)->key);
}

static kiln_error_t *collect_methods(const kiln_emitter_options_t *o, LLVMModuleRef m,
                                     pre_method_t **out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  size_t n = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
    if (is_method(f)) n++;
  pre_method_t *pm = calloc(n ? n : 1, sizeof(*pm));
  if (pm == NULL) return em_oom();
  size_t i = 0;
  kiln_error_t *err = NULL;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); err == NULL && f; f = LLVMGetNextFunction(f)) {
    if (!is_method(f)) continue;
    pm[i].key = em_strdup(value_name(f));
    if (pm[i].key == NULL) err = em_oom();
    pm[i].fingerprint = fingerprint(m, f);
    if (err == NULL) err = method_edges(o, f, &pm[i]);
    i++;
  }
  if (err != NULL) {
    pre_methods_free(pm, i);
    return err;
  }
  qsort(pm, n, sizeof(*pm), cmp_pre_method);
  *out = pm;
  *n_out = n;
  return NULL;
}

/* ---- Per-method bitcode ----------------------------------------------------- */

/* A used non-local alias becomes a declaration of its value type (an alias
 * of a declaration is not valid IR). */
static kiln_error_t *alias_to_declaration(LLVMModuleRef c, LLVMValueRef a) {
  char *name = em_strdup(value_name(a));
  if (name == NULL) return em_oom();
  LLVMTypeRef vt = LLVMGlobalGetValueType(a);
  LLVMValueRef decl = LLVMGetTypeKind(vt) == LLVMFunctionTypeKind
                          ? LLVMAddFunction(c, "kiln.alias.tmp", vt)
                          : LLVMAddGlobal(c, vt, "kiln.alias.tmp");
  LLVMReplaceAllUsesWith(a, decl);
  int erased = 0;
  kiln_error_t *err = kiln_llvm_global_erase_if_unused(a, &erased);
  if (err == NULL && !erased)
    err = kiln_error_new(KILN_ERR_INTERNAL, "emitter: alias '%s' still used", name);
  if (err == NULL) LLVMSetValueName2(decl, name, strlen(name));
  free(name);
  return err;
}

/* Turns clone `c` of the module into method `key`'s standalone module. */
static kiln_error_t *strip_to_method(LLVMModuleRef c, const char *key) {
  LLVMValueRef fn = LLVMGetNamedFunction(c, key);
  if (fn == NULL)
    return kiln_error_new(KILN_ERR_INTERNAL, "emitter: method '%s' not in its module copy", key);
  ptrset_t needed = {0};
  valstack_t st = {0};
  /* What the method needs: itself and the local (internal or private)
   * functions, globals and aliases it reaches. Non-local globals end the
   * walk: they stay declarations, resolved when the bitcode is compiled. */
  kiln_error_t *err = walk_operands(&needed, &st, fn, true);
  free(st.items);
  /* Appending globals (llvm.used, llvm.global_ctors) go: the JIT must not
   * run the image's constructors again. */
  for (LLVMValueRef g = LLVMGetFirstGlobal(c); err == NULL && g;) {
    LLVMValueRef next = LLVMGetNextGlobal(g);
    if (LLVMGetLinkage(g) == LLVMAppendingLinkage) LLVMDeleteGlobal(g);
    g = next;
  }
  /* Everything not needed, and every non-local definition but the method,
   * becomes a declaration. */
  for (LLVMValueRef g = LLVMGetFirstGlobal(c); err == NULL && g; g = LLVMGetNextGlobal(g)) {
    LLVMSetComdat(g, NULL);
    if (ptrset_contains(&needed, g) || LLVMIsDeclaration(g)) continue;
    LLVMSetInitializer(g, NULL);
    LLVMSetLinkage(g, LLVMExternalLinkage);
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(c); err == NULL && f; f = LLVMGetNextFunction(f)) {
    LLVMSetComdat(f, NULL);
    if (f == fn || ptrset_contains(&needed, f) || LLVMIsDeclaration(f)) continue;
    err = kiln_llvm_function_delete_body(f);
  }
  LLVMSetLinkage(fn, LLVMExternalLinkage);
  for (LLVMValueRef a = LLVMGetFirstGlobalAlias(c); err == NULL && a;) {
    LLVMValueRef next = LLVMGetNextGlobalAlias(a);
    if (!ptrset_contains(&needed, a)) {
      int erased = 0;
      err = kiln_llvm_global_erase_if_unused(a, &erased);
      if (err == NULL && !erased) err = alias_to_declaration(c, a);
    }
    a = next;
  }
  /* Drop what nothing uses any more (twice: an erased declaration can free
   * a constant expression that held another). */
  for (int pass = 0; pass < 2 && err == NULL; pass++) {
    for (LLVMValueRef f = LLVMGetFirstFunction(c); err == NULL && f;) {
      LLVMValueRef next = LLVMGetNextFunction(f);
      int erased = 0;
      if (f != fn && LLVMIsDeclaration(f)) err = kiln_llvm_global_erase_if_unused(f, &erased);
      f = next;
    }
    for (LLVMValueRef g = LLVMGetFirstGlobal(c); err == NULL && g;) {
      LLVMValueRef next = LLVMGetNextGlobal(g);
      int erased = 0;
      if (LLVMIsDeclaration(g)) err = kiln_llvm_global_erase_if_unused(g, &erased);
      g = next;
    }
  }
  ptrset_free(&needed);
  return err;
}

static bool embed_bitcode(const kiln_emitter_options_t *o) {
  if (o->embed_bitcode >= 0) return o->embed_bitcode != 0;
  return o->kind == KILN_EMITTER_IMAGE_PACKAGE;
}

/* Per method (pm sorted by key): a copy of the whole module stripped to
 * the method, as bitcode. A module that does not verify after stripping
 * (an unusual alias or ifunc shape) leaves the method without bitcode. */
static kiln_error_t *method_bitcode(LLVMModuleRef m, pre_method_t *pm, size_t n) {
  kiln_error_t *err = NULL;
  for (size_t i = 0; err == NULL && i < n; i++) {
    LLVMModuleRef c = LLVMCloneModule(m);
    if (c == NULL) return em_oom();
    err = strip_to_method(c, pm[i].key);
    char *msg = NULL;
    if (err == NULL && LLVMVerifyModule(c, LLVMReturnStatusAction, &msg) == 0)
      err = em_bitcode(c, &pm[i].bitcode, &pm[i].bitcode_size);
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(c);
  }
  return err;
}

/* ---- Import slots (package images) ------------------------------------------ */

/* The global variable whose initializer holds constant `c` (for messages). */
static const char *constant_owner(LLVMValueRef c) {
  for (int depth = 0; c != NULL && depth < 16; depth++) {
    if (LLVMIsAGlobalValue(c) != NULL) return value_name(c);
    LLVMUseRef u = LLVMGetFirstUse(c);
    if (u == NULL) return NULL;
    c = LLVMGetUser(u);
    if (LLVMIsAInstruction(c) != NULL) {
      LLVMValueRef f = LLVMGetBasicBlockParent(LLVMGetInstructionParent(c));
      return f != NULL ? value_name(f) : NULL;
    }
  }
  return NULL;
}

/* Every use of `fn` must be an instruction operand (a constant expression
 * or initializer cannot load the slot). */
static kiln_error_t *check_import_uses(LLVMValueRef fn) {
  for (LLVMUseRef u = LLVMGetFirstUse(fn); u; u = LLVMGetNextUse(u)) {
    LLVMValueRef user = LLVMGetUser(u);
    if (LLVMIsAInstruction(user) != NULL) continue;
    const char *owner = LLVMIsAGlobalValue(user) != NULL ? value_name(user) : constant_owner(user);
    return kiln_error_new(KILN_ERR_UNSUPPORTED,
                          "package image: dependency method '%s' is referenced from the "
                          "initializer of '%s', a constant that cannot load its import slot "
                          "'%s%s'; reference it from code instead",
                          value_name(fn), owner != NULL ? owner : "?", EM_IMPORT_PREFIX,
                          value_name(fn));
  }
  return NULL;
}

/* Rewrites every use of declaration `fn` into a load of `slot` placed
 * before the using instruction (for a phi: at the end of the incoming
 * block), then erases `fn`. */
static void rewrite_import_uses(LLVMModuleRef m, LLVMValueRef fn, LLVMValueRef slot) {
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  for (LLVMUseRef u = LLVMGetFirstUse(fn); u != NULL; u = LLVMGetFirstUse(fn)) {
    LLVMValueRef in = LLVMGetUser(u);
    int n = LLVMGetNumOperands(in);
    if (LLVMIsAPHINode(in) != NULL) {
      for (unsigned i = 0; i < LLVMCountIncoming(in); i++) {
        if (LLVMGetIncomingValue(in, i) != fn) continue;
        LLVMBasicBlockRef bb = LLVMGetIncomingBlock(in, i);
        LLVMPositionBuilderBefore(b, LLVMGetBasicBlockTerminator(bb));
        LLVMSetOperand(in, i, LLVMBuildLoad2(b, ptr, slot, ""));
      }
      continue;
    }
    LLVMPositionBuilderBefore(b, in);
    LLVMValueRef load = LLVMBuildLoad2(b, ptr, slot, "");
    for (int i = 0; i < n; i++)
      if (LLVMGetOperand(in, (unsigned)i) == fn) LLVMSetOperand(in, (unsigned)i, load);
  }
  LLVMDisposeBuilder(b);
  LLVMDeleteFunction(fn);
}

/* Package images: each declaration the resolver knows is reached through
 * an import slot "kiln.import.<name>" (hidden, writable, null-initialized,
 * externally initialized, external linkage so it is in the global table).
 * Declarations are visited in module order; all uses are checked first,
 * so an unsupported use changes nothing. */
static kiln_error_t *rewrite_imports(const kiln_emitter_options_t *o, LLVMModuleRef m) {
  if (o->kind != KILN_EMITTER_IMAGE_PACKAGE || o->dep_fn == NULL) return NULL;
  size_t n = 0, cap = 0;
  LLVMValueRef *imports = NULL;
  kiln_error_t *err = NULL;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); err == NULL && f; f = LLVMGetNextFunction(f)) {
    if (!LLVMIsDeclaration(f) || LLVMGetIntrinsicID(f) != 0) continue;
    uint64_t fp = 0;
    if (!o->dep_fn(value_name(f), &fp, o->dep_user)) continue;
    err = check_import_uses(f);
    if (err != NULL) break;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      LLVMValueRef *ni = realloc(imports, cap * sizeof(*ni));
      if (ni == NULL) {
        err = em_oom();
        break;
      }
      imports = ni;
    }
    imports[n++] = f;
  }
  LLVMTypeRef ptr = LLVMPointerTypeInContext(LLVMGetModuleContext(m), 0);
  for (size_t i = 0; err == NULL && i < n; i++) {
    const char *name = value_name(imports[i]);
    char *slot_name = malloc(strlen(EM_IMPORT_PREFIX) + strlen(name) + 1);
    if (slot_name == NULL) {
      err = em_oom();
      break;
    }
    strcpy(slot_name, EM_IMPORT_PREFIX);
    strcat(slot_name, name);
    LLVMValueRef slot = LLVMGetNamedGlobal(m, slot_name);
    if (slot != NULL && (LLVMIsDeclaration(slot) || is_local(slot))) {
      err = kiln_error_new(KILN_ERR_UNSUPPORTED,
                           "package image: '%s' exists already and is not an import slot",
                           slot_name);
      free(slot_name);
      break;
    }
    if (slot == NULL) {
      slot = LLVMAddGlobal(m, ptr, slot_name);
      LLVMSetInitializer(slot, LLVMConstPointerNull(ptr));
      LLVMSetLinkage(slot, LLVMExternalLinkage);
      LLVMSetVisibility(slot, LLVMHiddenVisibility);
      LLVMSetExternallyInitialized(slot, 1);
    }
    free(slot_name);
    rewrite_import_uses(m, imports[i], slot);
  }
  free(imports);
  return err;
}

/* ---- Targets ---------------------------------------------------------------- */

/* The feature set an image records: what LLVM resolved for the CPU, kept
 * to the names components/target knows and printed in its canonical form
 * (kiln_target_features_print). LLVM's list also holds tuning features
 * ("+slow-3ops-lea", "+64bit-mode") that the loader's selection cannot check
 * and would reject. Unknown architectures keep LLVM's list. NULL: no memory. */
static char *canonical_features(const char *triple, const char *llvm_features) {
  kiln_target_arch_t arch = KILN_TARGET_ARCH_UNKNOWN;
  kiln_error_t *err = kiln_target_arch_from_name(triple, &arch);
  kiln_target_features_t set;
  if (err == NULL)
    err = kiln_target_features_parse(arch, llvm_features != NULL ? llvm_features : "",
                                     KILN_TARGET_FEATURES_IGNORE_UNKNOWN, &set);
  if (err != NULL) {
    kiln_error_free(err);
    return em_strdup(llvm_features != NULL ? llvm_features : "");
  }
  size_t need = kiln_target_features_print(arch, &set, NULL, 0);
  char *out = malloc(need + 1);
  if (out != NULL) kiln_target_features_print(arch, &set, out, need + 1);
  return out;
}

/* Resolves the annotated targets exactly as kiln_multiversion_clone will in
 * every shard, by annotating and cloning a one-function module of the same
 * triple in a private context. */
static kiln_error_t *resolve_targets(kiln_emitter_plan_t *p) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = LLVMModuleCreateWithNameInContext("kiln.emitter.targets", ctx);
  LLVMSetTarget(m, p->triple);
  LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0);
  LLVMValueRef f = LLVMAddFunction(m, "kiln.emitter.stub", fty);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, f, "entry"));
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  kiln_multiversion_tables_t *tables = NULL;
  kiln_multiversion_options_t *mo = NULL;
  kiln_error_t *err = kiln_multiversion_annotate(m, p->targets);
  if (err == NULL) err = kiln_multiversion_options_new(&mo);
  if (err == NULL) {
    kiln_multiversion_options_set_emit_tables(mo, false);
    err = kiln_multiversion_clone(m, mo, &tables);
  }
  size_t n = kiln_multiversion_tables_target_count(tables);
  if (err == NULL) {
    p->target_count = n;
    p->target_cpu = calloc(n, sizeof(char *));
    p->target_features = calloc(n, sizeof(char *));
    p->target_flags = calloc(n, sizeof(uint32_t));
    p->target_base = calloc(n, sizeof(uint32_t));
    p->clone_counts = calloc(n, sizeof(size_t));
    if (!p->target_cpu || !p->target_features || !p->target_flags || !p->target_base ||
        !p->clone_counts)
      err = em_oom();
  }
  for (size_t k = 0; err == NULL && k < n; k++) {
    p->target_cpu[k] = em_strdup(kiln_multiversion_tables_target_cpu(tables, k));
    p->target_features[k] = canonical_features(p->triple,
                                               kiln_multiversion_tables_target_features(tables, k));
    p->target_flags[k] = kiln_multiversion_tables_target_flags(tables, k);
    p->target_base[k] = (uint32_t)kiln_multiversion_tables_target_base(tables, k);
    if (p->target_cpu[k] == NULL || p->target_features[k] == NULL) err = em_oom();
  }
  kiln_multiversion_tables_free(tables);
  kiln_multiversion_options_free(mo);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  return err;
}

/* owner(f, t) of docs/multiversioning.md: which target's version t runs. */
static size_t owner(const kiln_emitter_plan_t *p, uint64_t mask, size_t t) {
  while (t != 0 && ((mask >> t) & 1u) == 0) t = p->target_base[t];
  return t;
}

/* ---- Splitting --------------------------------------------------------------- */

static uint64_t clone_mask(LLVMValueRef f) {
  unsigned len = 0;
  LLVMAttributeRef a =
      LLVMGetStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, "kiln.mv.clones", 14);
  if (a == NULL) return 0;
  const char *v = LLVMGetStringAttributeValue(a, &len);
  char buf[32];
  if (v == NULL || len == 0 || len >= sizeof(buf)) return 0;
  memcpy(buf, v, len);
  buf[len] = '\0';
  return strtoull(buf, NULL, 16);
}

static unsigned popcount64(uint64_t x) {
  unsigned n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

/* Weight multiplier: every clone is another copy to optimize and compile. */
static unsigned split_multiplier(LLVMValueRef function, void *user) {
  (void)user;
  return 1u + popcount64(clone_mask(function));
}

/* ---- The plan ------------------------------------------------------------------ */

void kiln_emitter_plan_free(kiln_emitter_plan_t *p) {
  if (p == NULL) return;
  free(p->producer);
  free(p->triple);
  free(p->data_layout);
  free(p->name);
  free(p->targets);
  for (size_t i = 0; i < p->option_count; i++) {
    free(p->option_keys[i]);
    free(p->option_values[i]);
  }
  free(p->option_keys);
  free(p->option_values);
  for (size_t k = 0; k < p->target_count; k++) {
    if (p->target_cpu) free(p->target_cpu[k]);
    if (p->target_features) free(p->target_features[k]);
  }
  free(p->target_cpu);
  free(p->target_features);
  free(p->target_flags);
  free(p->target_base);
  free(p->clone_counts);
  for (size_t i = 0; i < p->function_count; i++) free(p->functions[i]);
  free(p->functions);
  free(p->function_by_name);
  for (size_t i = 0; i < p->global_count; i++) free(p->globals[i]);
  free(p->globals);
  for (size_t s = 0; s < p->shard_count; s++) {
    em_shard_plan_t *sh = &p->shards[s];
    if (sh->overrides != NULL)
      for (size_t k = 0; k < p->target_count; k++) free(sh->overrides[k]);
    free(sh->overrides);
    free(sh->override_counts);
    free(sh->bitcode);
    free(sh->path);
  }
  free(p->shards);
  for (size_t i = 0; i < p->method_count; i++) {
    em_method_t *mt = &p->methods[i];
    free(mt->key);
    free(mt->calls);
    for (size_t d = 0; d < mt->dep_count; d++) free(mt->deps[d].key);
    free(mt->deps);
    free(mt->bitcode);
  }
  free(p->methods);
  em_phases_free(&p->phases);
  free(p);
}

/* The options that change generated code, recorded in the image header
 * (sorted by key). */
static kiln_error_t *record_options(kiln_emitter_plan_t *p) {
  unsigned major = 0, minor = 0, patch = 0;
  LLVMGetVersion(&major, &minor, &patch);
  char llvm[32], opt[8];
  snprintf(llvm, sizeof(llvm), "%u.%u.%u", major, minor, patch);
  snprintf(opt, sizeof(opt), "%u", p->opt_level);
  const char *kv[][2] = {
      {"kiln", KILN_VERSION_STRING}, {"llvm", llvm},
      {"opt_level", opt},            {"reloc", "pic"},
      {"targets", p->targets},       {"vectorize", p->vectorize ? "1" : "0"},
  };
  size_t n = sizeof(kv) / sizeof(kv[0]);
  p->option_keys = calloc(n, sizeof(char *));
  p->option_values = calloc(n, sizeof(char *));
  if (p->option_keys == NULL || p->option_values == NULL) return em_oom();
  p->option_count = n;
  for (size_t i = 0; i < n; i++) {
    p->option_keys[i] = em_strdup(kv[i][0]);
    p->option_values[i] = em_strdup(kv[i][1]);
    if (p->option_keys[i] == NULL || p->option_values[i] == NULL) return em_oom();
  }
  char producer[96];
  snprintf(producer, sizeof(producer), "kiln %s (LLVM %s)", KILN_VERSION_STRING, llvm);
  p->producer = em_strdup(producer);
  return p->producer == NULL ? em_oom() : NULL;
}

/* Owned copies of the names of the table's values (functions or globals),
 * sorted with strcmp; assign_shards then numbers them shard by shard. */
static kiln_error_t *collect_names(LLVMModuleRef m, bool functions, char ***out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  size_t n = 0, cap = 0;
  char **names = NULL;
  LLVMValueRef v = functions ? LLVMGetFirstFunction(m) : LLVMGetFirstGlobal(m);
  for (; v; v = functions ? LLVMGetNextFunction(v) : LLVMGetNextGlobal(v)) {
    if (!is_defined(v)) continue;
    bool keep;
    if (functions) {
      keep = is_exported(v) || clone_mask(v) != 0;
    } else {
      /* Import slots are hidden but listed: the runtime fills them. */
      keep = (is_exported(v) || is_import_slot(v)) &&
             LLVMGetLinkage(v) != LLVMAppendingLinkage && !LLVMIsThreadLocal(v);
    }
    if (!keep) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof(char *));
      if (nn == NULL) goto oom;
      names = nn;
    }
    if ((names[n] = em_strdup(value_name(v))) == NULL) goto oom;
    n++;
  }
  if (n > 1) qsort(names, n, sizeof(char *), cmp_str);
  *out = names;
  *n_out = n;
  return NULL;
oom:
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return em_oom();
}

/* Numbers a name-sorted table shard by shard: (*names)[i] belongs to shard
 * shard_of[i] < ns. Afterwards *names lists shard 0's names first, then
 * shard 1's, ..., each shard's in name order (a stable counting sort of the
 * sorted names by shard), so the numbering depends only on the names and
 * the shard assignment. first[s] (ns + 1 entries) is shard s's first index,
 * first[ns] the table size; (*by_name_out)[j], when by_name_out is not
 * NULL, the new index of the j-th name in strcmp order (owned by the
 * caller). The strings move into the new array; the old one is freed. */
static kiln_error_t *number_by_shard(char ***names, size_t n, const size_t *shard_of, size_t ns,
                                     size_t *first, uint32_t **by_name_out) {
  if (by_name_out != NULL) *by_name_out = NULL;
  char **numbered = malloc((n ? n : 1) * sizeof(char *));
  uint32_t *by_name = by_name_out != NULL ? malloc((n ? n : 1) * sizeof(uint32_t)) : NULL;
  size_t *next = calloc(ns + 1, sizeof(size_t));
  if (numbered == NULL || (by_name_out != NULL && by_name == NULL) || next == NULL) {
    free(numbered);
    free(by_name);
    free(next);
    return em_oom();
  }
  for (size_t i = 0; i < n; i++) next[shard_of[i] + 1]++;
  for (size_t s = 0; s < ns; s++) next[s + 1] += next[s];
  memcpy(first, next, (ns + 1) * sizeof(size_t));
  for (size_t i = 0; i < n; i++) {
    size_t at = next[shard_of[i]]++;
    numbered[at] = (*names)[i];
    if (by_name != NULL) by_name[i] = (uint32_t)at;
  }
  free(next);
  free(*names);
  *names = numbered;
  if (by_name_out != NULL) *by_name_out = by_name;
  return NULL;
}

/* The shard of each table entry, from the splitter. */
static kiln_error_t *find_shards(const kiln_splitter_shards_t *shards, size_t ns,
                                 char *const *names, size_t n, const char *what,
                                 size_t *shard_of) {
  for (size_t i = 0; i < n; i++) {
    kiln_error_t *err = kiln_splitter_shards_find(shards, names[i], &shard_of[i]);
    if (err != NULL) return kiln_error_prefix(err, "emitter: shard of a table entry");
    if (shard_of[i] >= ns)
      return kiln_error_new(KILN_ERR_INTERNAL, "emitter: %s '%s' is in shard %zu of %zu", what,
                            names[i], shard_of[i], ns);
  }
  return NULL;
}

/* The tables numbered shard by shard (number_by_shard), each shard's
 * ranges, and its overrides: for target k > 0, the positions in the
 * shard's range of the functions target k runs a clone of. */
static kiln_error_t *assign_shards(kiln_emitter_plan_t *p, LLVMModuleRef m,
                                   const kiln_splitter_shards_t *shards) {
  size_t ns = p->shard_count;
  size_t *fshard = calloc(p->function_count ? p->function_count : 1, sizeof(size_t));
  size_t *gshard = calloc(p->global_count ? p->global_count : 1, sizeof(size_t));
  size_t *ffirst = calloc(ns + 1, sizeof(size_t));
  size_t *gfirst = calloc(ns + 1, sizeof(size_t));
  kiln_error_t *err =
      (fshard == NULL || gshard == NULL || ffirst == NULL || gfirst == NULL) ? em_oom() : NULL;
  if (err == NULL)
    err = find_shards(shards, ns, p->functions, p->function_count, "function", fshard);
  if (err == NULL) err = find_shards(shards, ns, p->globals, p->global_count, "global", gshard);
  if (err == NULL)
    err = number_by_shard(&p->functions, p->function_count, fshard, ns, ffirst,
                          &p->function_by_name);
  if (err == NULL)
    err = number_by_shard(&p->globals, p->global_count, gshard, ns, gfirst, NULL);
  for (size_t s = 0; err == NULL && s < ns; s++) {
    em_shard_plan_t *sh = &p->shards[s];
    sh->first_function = ffirst[s];
    sh->function_count = ffirst[s + 1] - ffirst[s];
    sh->first_global = gfirst[s];
    sh->global_count = gfirst[s + 1] - gfirst[s];
    size_t nf = sh->function_count;
    sh->overrides = calloc(p->target_count, sizeof(uint32_t *));
    sh->override_counts = calloc(p->target_count, sizeof(size_t));
    uint64_t *masks = calloc(nf ? nf : 1, sizeof(uint64_t));
    if (!sh->overrides || !sh->override_counts || !masks) {
      free(masks);
      err = em_oom();
      break;
    }
    for (size_t j = 0; j < nf; j++)
      masks[j] = clone_mask(LLVMGetNamedFunction(m, p->functions[sh->first_function + j]));
    for (size_t k = 1; err == NULL && k < p->target_count; k++) {
      sh->overrides[k] = calloc(nf ? nf : 1, sizeof(uint32_t));
      if (sh->overrides[k] == NULL) {
        err = em_oom();
        break;
      }
      for (size_t j = 0; j < nf; j++)
        if (owner(p, masks[j], k) != 0) sh->overrides[k][sh->override_counts[k]++] = (uint32_t)j;
    }
    free(masks);
  }
  free(fshard);
  free(gshard);
  free(ffirst);
  free(gfirst);
  return err;
}

static int cmp_method_key(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const em_method_t *)elem)->key);
}

/* Methods in key order, each with its function's index (found through the
 * name index: keys and function indices no longer share an order), calls
 * as method indices (sorted, unique since the names were). */
static kiln_error_t *build_methods(kiln_emitter_plan_t *p, pre_method_t *pm, size_t n) {
  p->methods = calloc(n ? n : 1, sizeof(em_method_t));
  if (p->methods == NULL) return em_oom();
  p->method_count = n;
  for (size_t i = 0; i < n; i++) {
    em_method_t *mt = &p->methods[i];
    mt->key = pm[i].key;
    pm[i].key = NULL;
    if (!em_plan_function_index(p, mt->key, &mt->function))
      return kiln_error_new(KILN_ERR_INTERNAL, "emitter: method '%s' lost its function", mt->key);
    mt->flags = KILN_IMAGE_FORMAT_METHOD_SPECSIG;
    mt->fingerprint = pm[i].fingerprint;
    mt->deps = pm[i].deps;
    mt->dep_count = pm[i].dep_count;
    pm[i].deps = NULL;
    pm[i].dep_count = 0;
    mt->bitcode = pm[i].bitcode;
    mt->bitcode_size = pm[i].bitcode_size;
    pm[i].bitcode = NULL;
    pm[i].bitcode_size = 0;
  }
  for (size_t i = 0; i < n; i++) {
    em_method_t *mt = &p->methods[i];
    mt->calls = calloc(pm[i].call_count ? pm[i].call_count : 1, sizeof(uint32_t));
    if (mt->calls == NULL) return em_oom();
    for (size_t c = 0; c < pm[i].call_count; c++) {
      em_method_t *hit = bsearch(pm[i].calls[c], p->methods, n, sizeof(em_method_t),
                                 cmp_method_key);
      if (hit == NULL)
        return kiln_error_new(KILN_ERR_INTERNAL, "emitter: call target '%s' is not a method",
                              pm[i].calls[c]);
      mt->calls[mt->call_count++] = (uint32_t)(hit - p->methods);
    }
    qsort(mt->calls, mt->call_count, sizeof(uint32_t), cmp_u32);
  }
  return NULL;
}

/* The module's triple (host's when empty) and data layout (the target's
 * when empty), set before anything reads them. */
static kiln_error_t *prepare_module(LLVMModuleRef m, kiln_emitter_plan_t *p) {
  const char *triple = LLVMGetTarget(m);
  if (triple == NULL || triple[0] == '\0') {
    char *host = LLVMGetDefaultTargetTriple();
    LLVMSetTarget(m, host);
    LLVMDisposeMessage(host);
  }
  p->triple = em_strdup(LLVMGetTarget(m));
  if (p->triple == NULL) return em_oom();
  const char *dl = LLVMGetDataLayoutStr(m);
  if (dl == NULL || dl[0] == '\0') {
    LLVMTargetMachineRef tm = NULL;
    kiln_error_t *err = em_target_machine(p->triple, "generic", "", 0, &tm);
    if (err != NULL) return err;
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *s = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(m, s);
    LLVMDisposeMessage(s);
    LLVMDisposeTargetData(td);
    LLVMDisposeTargetMachine(tm);
  }
  p->data_layout = em_strdup(LLVMGetDataLayoutStr(m));
  return p->data_layout == NULL ? em_oom() : NULL;
}

static kiln_error_t *split_module(const kiln_emitter_options_t *o, LLVMModuleRef m,
                                  kiln_emitter_plan_t *p, kiln_splitter_shards_t **shards_out) {
  *shards_out = NULL;
  kiln_splitter_options_t *so = NULL;
  kiln_error_t *err = kiln_splitter_options_new(&so);
  if (err != NULL) return err;
  kiln_splitter_options_set_shard_count(so, (unsigned)o->shard_count);
  kiln_splitter_options_set_multiplier(so, split_multiplier, NULL);
  /* available_externally copies would carry clones and slot definitions
   * into several shards; every function must live in exactly one. */
  kiln_splitter_options_set_copy_inline(so, false);
  kiln_splitter_shards_t *shards = NULL;
  err = kiln_splitter_split(m, so, &shards);
  kiln_splitter_options_free(so);
  if (err != NULL) return kiln_error_prefix(err, "emitter: split");
  size_t n = kiln_splitter_shards_count(shards);
  p->shards = calloc(n ? n : 1, sizeof(em_shard_plan_t));
  if (p->shards == NULL) {
    kiln_splitter_shards_free(shards);
    return em_oom();
  }
  p->shard_count = n;
  for (size_t s = 0; s < n; s++) {
    em_shard_plan_t *sh = &p->shards[s];
    const void *data = NULL;
    size_t size = 0;
    kiln_splitter_shards_bitcode(shards, s, &data, &size);
    sh->bitcode = malloc(size ? size : 1);
    if (sh->bitcode == NULL) {
      kiln_splitter_shards_free(shards);
      return em_oom();
    }
    memcpy(sh->bitcode, data, size);
    sh->bitcode_size = size;
    sh->weight = kiln_splitter_shards_weight(shards, s);
    snprintf(sh->file, sizeof(sh->file), "shard-%zu.bc", s);
  }
  *shards_out = shards;
  return NULL;
}

kiln_error_t *kiln_emitter_plan(const kiln_emitter_options_t *o, LLVMModuleRef m,
                                kiln_emitter_plan_t **plan_out) {
  if (plan_out != NULL) *plan_out = NULL;
  if (o == NULL || m == NULL || plan_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_plan: NULL argument");
  kiln_emitter_plan_t *p = calloc(1, sizeof(*p));
  if (p == NULL) return em_oom();
  p->opt_level = o->opt_level;
  p->vectorize = o->vectorize;
  p->kind = o->kind;
  p->base_checksum = o->base_checksum;
  p->name = em_strdup(o->name != NULL ? o->name : "");
  kiln_error_t *err = p->name == NULL ? em_oom() : NULL;
  pre_method_t *pm = NULL;
  size_t npm = 0;
  kiln_splitter_shards_t *shards = NULL;
  em_phase_timer_t t;

  /* Triple and data layout first: annotation and splitting read them. */
  if (err == NULL) err = prepare_module(m, p);
  /* Roots: keep what the trace says is used, so nothing else is compiled. */
  if (err == NULL && o->root_count > 0) {
    em_phase_begin(&t);
    err = apply_roots(o, m);
    em_phase_end(&p->phases, "roots", &t);
  }
  /* Methods before annotation and split: fingerprints see the code as the
   * frontend wrote it, and names before promotion. */
  if (err == NULL) {
    em_phase_begin(&t);
    err = collect_methods(o, m, &pm, &npm);
    em_phase_end(&p->phases, "methods", &t);
  }
  /* Per-method bitcode from the module as linked (before the import
   * rewrite: it calls its dependencies by key, which the runtime's
   * resolver maps to their current code). */
  if (err == NULL && embed_bitcode(o)) {
    em_phase_begin(&t);
    err = method_bitcode(m, pm, npm);
    em_phase_end(&p->phases, "bitcode", &t);
  }
  /* Package images call their dependencies through import slots. */
  if (err == NULL && o->kind == KILN_EMITTER_IMAGE_PACKAGE && o->dep_fn != NULL) {
    em_phase_begin(&t);
    err = rewrite_imports(o, m);
    em_phase_end(&p->phases, "imports", &t);
  }
  /* Annotate the WHOLE module, so every shard decides clones and slots the
   * same way. */
  if (err == NULL) {
    em_phase_begin(&t);
    err = kiln_multiversion_annotate(m, o->targets);
    if (err != NULL) {
      err = kiln_error_prefix(err, "target string '%s'", o->targets);
    } else {
      err = kiln_multiversion_module_targets(m, &p->targets);
    }
    if (err == NULL) err = resolve_targets(p);
    em_phase_end(&p->phases, "annotate", &t);
  }
  if (err == NULL) err = record_options(p);
  /* Split by weight (clones included), never by threads. */
  if (err == NULL) {
    em_phase_begin(&t);
    err = split_module(o, m, p, &shards);
    em_phase_end(&p->phases, "split", &t);
  }
  /* The image tables, with the final (promoted) names. */
  if (err == NULL) {
    em_phase_begin(&t);
    err = collect_names(m, true, &p->functions, &p->function_count);
    if (err == NULL) err = collect_names(m, false, &p->globals, &p->global_count);
    if (err == NULL) err = assign_shards(p, m, shards);
    for (LLVMValueRef f = LLVMGetFirstFunction(m); err == NULL && f; f = LLVMGetNextFunction(f)) {
      if (!is_defined(f)) continue;
      uint64_t mask = clone_mask(f);
      for (size_t k = 1; k < p->target_count; k++) p->clone_counts[k] += (mask >> k) & 1u;
    }
    if (err == NULL) err = build_methods(p, pm, npm);
    em_phase_end(&p->phases, "tables", &t);
  }
  kiln_splitter_shards_free(shards);
  pre_methods_free(pm, npm);
  if (err != NULL) {
    kiln_emitter_plan_free(p);
    return err;
  }
  *plan_out = p;
  return NULL;
}

/* ---- Accessors ------------------------------------------------------------------ */

size_t kiln_emitter_plan_shard_count(const kiln_emitter_plan_t *p) {
  return p != NULL ? p->shard_count : 0;
}

uint64_t kiln_emitter_plan_shard_weight(const kiln_emitter_plan_t *p, size_t s) {
  return p != NULL && s < p->shard_count ? p->shards[s].weight : 0;
}

const char *kiln_emitter_plan_shard_file(const kiln_emitter_plan_t *p, size_t s) {
  return p != NULL && s < p->shard_count ? p->shards[s].file : NULL;
}

size_t kiln_emitter_plan_shard_function_count(const kiln_emitter_plan_t *p, size_t s) {
  return p != NULL && s < p->shard_count ? p->shards[s].function_count : 0;
}

/* A heuristic: a fixed cost (context, target machine, codegen tables) plus
 * an amount per unit of splitter weight (instructions + blocks, times the
 * number of versions) for IR, analyses and machine code. */
uint64_t kiln_emitter_plan_shard_memory_estimate(const kiln_emitter_plan_t *p, size_t s) {
  if (p == NULL || s >= p->shard_count) return 0;
  return (uint64_t)32 * 1024 * 1024 + p->shards[s].weight * 2048u +
         (uint64_t)p->shards[s].bitcode_size * 8u;
}

size_t kiln_emitter_plan_function_count(const kiln_emitter_plan_t *p) {
  return p != NULL ? p->function_count : 0;
}

size_t kiln_emitter_plan_global_count(const kiln_emitter_plan_t *p) {
  return p != NULL ? p->global_count : 0;
}

size_t kiln_emitter_plan_method_count(const kiln_emitter_plan_t *p) {
  return p != NULL ? p->method_count : 0;
}

size_t kiln_emitter_plan_target_count(const kiln_emitter_plan_t *p) {
  return p != NULL ? p->target_count : 0;
}

size_t kiln_emitter_plan_clone_count(const kiln_emitter_plan_t *p, size_t k) {
  return p != NULL && k < p->target_count ? p->clone_counts[k] : 0;
}

const char *kiln_emitter_plan_function_name(const kiln_emitter_plan_t *p, size_t i) {
  return p != NULL && i < p->function_count ? p->functions[i] : NULL;
}

/* ---- The description ---------------------------------------------------------- */

struct em_desc_storage {
  kiln_image_format_option_t *options;
  kiln_image_format_target_t *targets;
  kiln_image_format_shard_t *shards;
  kiln_image_format_method_t *methods;
  kiln_image_format_dep_t *deps;
};

void em_desc_free(em_desc_storage_t *st) {
  if (st == NULL) return;
  free(st->options);
  free(st->targets);
  free(st->shards);
  free(st->methods);
  free(st->deps);
  free(st);
}

kiln_error_t *em_plan_desc(const kiln_emitter_plan_t *p, const uint32_t *const *slots,
                           const size_t *slot_counts, kiln_image_format_desc_t *d,
                           em_desc_storage_t **storage_out) {
  memset(d, 0, sizeof(*d));
  *storage_out = NULL;
  em_desc_storage_t *st = calloc(1, sizeof(*st));
  if (st == NULL) return em_oom();
  size_t ndeps = 0;
  for (size_t i = 0; i < p->method_count; i++) ndeps += p->methods[i].dep_count;
  st->options = calloc(p->option_count ? p->option_count : 1, sizeof(*st->options));
  st->targets = calloc(p->target_count ? p->target_count : 1, sizeof(*st->targets));
  st->shards = calloc(p->shard_count ? p->shard_count : 1, sizeof(*st->shards));
  st->methods = calloc(p->method_count ? p->method_count : 1, sizeof(*st->methods));
  st->deps = calloc(ndeps ? ndeps : 1, sizeof(*st->deps));
  if (!st->options || !st->targets || !st->shards || !st->methods || !st->deps) {
    em_desc_free(st);
    return em_oom();
  }
  for (size_t i = 0; i < p->option_count; i++)
    st->options[i] = (kiln_image_format_option_t){p->option_keys[i], p->option_values[i]};
  for (size_t k = 0; k < p->target_count; k++)
    st->targets[k] = (kiln_image_format_target_t){p->target_cpu[k], p->target_features[k],
                                                  p->target_flags[k], p->target_base[k]};
  for (size_t s = 0; s < p->shard_count; s++) {
    const em_shard_plan_t *sh = &p->shards[s];
    /* Counts only: the tables are numbered shard by shard, so shard s owns
     * the functions (globals) after those of shards 0..s-1. */
    st->shards[s].function_count = sh->function_count;
    st->shards[s].overrides = (const uint32_t *const *)sh->overrides;
    st->shards[s].override_counts = sh->override_counts;
    st->shards[s].global_count = sh->global_count;
    if (slots != NULL && slot_counts != NULL) {
      st->shards[s].slot_functions = slots[s];
      st->shards[s].slot_count = slot_counts[s];
    }
  }
  size_t di = 0;
  for (size_t i = 0; i < p->method_count; i++) {
    const em_method_t *mt = &p->methods[i];
    kiln_image_format_method_t *dm = &st->methods[i];
    dm->key = mt->key;
    dm->function = mt->function;
    dm->flags = mt->flags;
    dm->fingerprint = mt->fingerprint;
    dm->calls = mt->calls;
    dm->call_count = mt->call_count;
    dm->deps = &st->deps[di];
    dm->dep_count = mt->dep_count;
    dm->bitcode = mt->bitcode;
    dm->bitcode_size = mt->bitcode_size;
    for (size_t j = 0; j < mt->dep_count; j++)
      st->deps[di++] = (kiln_image_format_dep_t){mt->deps[j].key, mt->deps[j].fingerprint};
  }
  d->producer = p->producer;
  d->triple = p->triple;
  d->name = p->name;
  d->kind = p->kind == KILN_EMITTER_IMAGE_PACKAGE ? KILN_IMAGE_FORMAT_KIND_PACKAGE
                                                  : KILN_IMAGE_FORMAT_KIND_SYSTEM;
  d->base_checksum = p->base_checksum;
  d->options = st->options;
  d->option_count = p->option_count;
  d->targets = st->targets;
  d->target_count = p->target_count;
  d->functions = (const char *const *)p->functions;
  d->function_count = p->function_count;
  d->globals = (const char *const *)p->globals;
  d->global_count = p->global_count;
  d->shards = st->shards;
  d->shard_count = p->shard_count;
  d->methods = st->methods;
  d->method_count = p->method_count;
  *storage_out = st;
  return NULL;
}
