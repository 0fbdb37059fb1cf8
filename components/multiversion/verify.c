/*
 * components/multiversion/verify.c — the checks that multiversioning was
 * neither lost nor miswired. It trusts nothing clone.c computed: it reads
 * the annotation and the per-function target tags back from the module and
 * re-derives, for every reference, which version each target that runs the
 * referencing code expects.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/multiversion/internal.h"

enum { kShown = 6 };

typedef struct vctx {
  LLVMModuleRef module;
  mv_targets_t t;
  mv_buf_t msg;
  size_t violations;
} vctx_t;

static void violation(vctx_t *v, const char *fmt, ...) KILN_PRINTF(2, 3);
static void violation(vctx_t *v, const char *fmt, ...) {
  v->violations++;
  if (v->violations > kShown) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  mv_buf_printf(&v->msg, "\n  %s", line);
}

static const char *name_of(LLVMValueRef fn) { return LLVMGetValueName2(fn, &(size_t){0}); }

/* Which function and version `fn` is: its original, that original's clone
 * mask, and the target index of this version. */
static void identify(LLVMModuleRef m, LLVMValueRef fn, LLVMValueRef *orig, uint64_t *mask,
                     size_t *target) {
  *orig = fn;
  *target = 0;
  char *tv = mv_attr_get(fn, MV_ATTR_TARGET);
  if (tv != NULL) {
    *target = (size_t)strtoull(tv, NULL, 10);
    free(tv);
  }
  char *origin = mv_attr_get(fn, MV_ATTR_ORIGIN);
  if (origin != NULL) {
    LLVMValueRef o = LLVMGetNamedFunction(m, origin);
    if (o != NULL) *orig = o;
    free(origin);
  }
  *mask = mv_attr_hex(*orig, MV_ATTR_CLONES);
}

static void version_name(LLVMValueRef orig, size_t k, char *buf, size_t size) {
  if (k == 0) snprintf(buf, size, "%s", name_of(orig));
  else snprintf(buf, size, "%s" MV_CLONE_INFIX "%zu", name_of(orig), k);
}

static void check_refs(vctx_t *v, LLVMValueRef fn) {
  LLVMValueRef orig;
  uint64_t mask;
  size_t o;
  identify(v->module, fn, &orig, &mask, &o);
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb)) {
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
      int nops = LLVMGetNumOperands(in);
      for (int i = 0; i < nops; i++) {
        LLVMValueRef op = LLVMGetOperand(in, (unsigned)i);
        if (op == NULL || LLVMIsAFunction(op) == NULL) continue;
        LLVMValueRef gorig;
        uint64_t gmask;
        size_t gk;
        identify(v->module, op, &gorig, &gmask, &gk);
        if (gmask == 0 && gk == 0) continue;
        for (size_t t = 0; t < v->t.count; t++) {
          if (mv_owner(&v->t, mask, t) != o) continue; /* t does not run fn */
          size_t want = mv_owner(&v->t, gmask, t);
          if (want == gk) continue;
          char expected[512];
          version_name(gorig, want, expected, sizeof(expected));
          if (o == 0 && gk == 0) {
            violation(v,
                      "'%s' (target 0 code, also run by target %zu) refers to cloned '%s' "
                      "directly; target %zu uses '%s', so the reference must load '%s" MV_SLOT_SUFFIX
                      "'",
                      name_of(fn), t, name_of(op), t, expected, name_of(op));
          } else {
            violation(v, "'%s' (run by target %zu) refers directly to '%s' (target %zu); target %zu uses '%s'",
                      name_of(fn), t, name_of(op), gk, t, expected);
          }
          break;
        }
      }
    }
  }
}

/* Function addresses left in data would bypass the loader. */
static void check_data(vctx_t *v, LLVMValueRef gv, LLVMValueRef c) {
  if (LLVMIsAFunction(c) != NULL) {
    LLVMValueRef orig;
    uint64_t mask;
    size_t k;
    identify(v->module, c, &orig, &mask, &k);
    if (mask != 0 || k != 0)
      violation(v,
                "data '%s' holds the address of cloned '%s' in its initializer; it must be a "
                "data slot the loader fills",
                name_of(gv), name_of(c));
    return;
  }
  if (LLVMIsAConstantStruct(c) == NULL && LLVMIsAConstantArray(c) == NULL) return;
  int n = LLVMGetNumOperands(c);
  for (int i = 0; i < n; i++) check_data(v, gv, LLVMGetOperand(c, (unsigned)i));
}

kiln_error_t *kiln_multiversion_verify(LLVMModuleRef module, size_t *clone_counts_out,
                                       size_t capacity, size_t *target_count_out) {
  if (target_count_out != NULL) *target_count_out = 0;
  if (clone_counts_out != NULL)
    for (size_t k = 0; k < capacity; k++) clone_counts_out[k] = 0;
  if (module == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_multiversion_verify: NULL module");
  }
  if (!mv_has_named_md(module, MV_MD_CLONED)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_verify: module is not multiversioned (no !" MV_MD_CLONED
                          "); run kiln_multiversion_clone first");
  }
  vctx_t v;
  memset(&v, 0, sizeof(v));
  v.module = module;
  kiln_error_t *err = mv_targets_read(module, &v.t);
  if (err != NULL) return kiln_error_prefix(err, "kiln_multiversion_verify");

  size_t counts[KILN_MULTIVERSION_MAX_TARGETS] = {0};
  for (LLVMValueRef f = LLVMGetFirstFunction(module); f; f = LLVMGetNextFunction(f)) {
    char *origin = mv_attr_get(f, MV_ATTR_ORIGIN);
    if (origin != NULL) {
      /* A clone: count it (definitions only). */
      LLVMValueRef o;
      uint64_t mask;
      size_t k;
      identify(module, f, &o, &mask, &k);
      if (k == 0 || k >= v.t.count || ((mask >> k) & 1u) == 0) {
        violation(&v, "clone '%s' of '%s' is tagged with target %zu, which '%s' is not cloned for",
                  name_of(f), origin, k, origin);
      } else if (!LLVMIsDeclaration(f)) {
        counts[k]++;
      }
      free(origin);
      continue;
    }
    /* An original: every clone its annotation asks for must exist. */
    uint64_t mask = mv_attr_hex(f, MV_ATTR_CLONES);
    for (size_t k = 1; k < v.t.count; k++) {
      if (((mask >> k) & 1u) == 0) continue;
      char want[512];
      version_name(f, k, want, sizeof(want));
      LLVMValueRef c = LLVMGetNamedFunction(module, want);
      char *tag = c != NULL ? mv_attr_get(c, MV_ATTR_TARGET) : NULL;
      if (c == NULL || tag == NULL || (size_t)strtoull(tag, NULL, 10) != k) {
        violation(&v, "'%s' is annotated for target %zu but its clone '%s' is %s", name_of(f), k,
                  want, c == NULL ? "missing" : "not tagged with that target");
      }
      free(tag);
    }
    if (mask != 0 && mv_attr_hex(f, MV_ATTR_SLOT) != 0) {
      size_t len = 0;
      const char *n = LLVMGetValueName2(f, &len);
      char slot[512];
      snprintf(slot, sizeof(slot), "%.*s" MV_SLOT_SUFFIX, (int)len, n);
      if (LLVMGetNamedGlobal(module, slot) == NULL)
        violation(&v, "'%s' needs a slot but '%s' is missing", n, slot);
    }
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(module); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f)) check_refs(&v, f);
  for (LLVMValueRef g = LLVMGetFirstGlobal(module); g; g = LLVMGetNextGlobal(g)) {
    size_t len = 0;
    const char *n = LLVMGetValueName2(g, &len);
    if (strncmp(n, MV_TABLE_PREFIX, strlen(MV_TABLE_PREFIX)) == 0) continue; /* the tables */
    if (mv_is_special_global(g)) continue; /* ctors, used: target 0's code */
    if (LLVMGetInitializer(g) != NULL) check_data(&v, g, LLVMGetInitializer(g));
  }

  if (target_count_out != NULL) *target_count_out = v.t.count;
  if (clone_counts_out != NULL)
    for (size_t k = 0; k < capacity && k < v.t.count; k++) clone_counts_out[k] = counts[k];
  if (v.violations > 0) {
    err = kiln_error_new(KILN_ERR_FORMAT, "kiln_multiversion_verify: %zu violation%s:%s%s",
                         v.violations, v.violations == 1 ? "" : "s",
                         v.msg.data != NULL ? v.msg.data : "",
                         v.violations > kShown ? "\n  ..." : "");
  }
  mv_buf_release(&v.msg);
  mv_targets_release(&v.t);
  return err;
}
