/*
 * components/splitter/shard.c — builds one shard from the partitioned,
 * promoted input module.
 *
 * Stages, per shard: copy the module (LLVMCloneModule keeps item order);
 * reduce every definition another shard owns to a declaration (bodies and
 * initializers go, attributes stay; aliases and ifuncs become plain
 * declarations of their type); keep owned definitions, local constant copies
 * and available_externally copies; rebuild llvm.global_ctors/dtors and
 * llvm.used/llvm.compiler.used from the entries the shard defines; erase
 * what is left unused; keep module inline asm in shard 0 only; verify; write
 * bitcode once; dispose the copy.
 */
#include <stdlib.h>
#include <string.h>

#include "components/splitter/internal.h"
#include "llvm-c/Analysis.h"
#include "llvm-c/BitWriter.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

typedef struct shard_ctx {
  const partition_t *p;
  size_t s;
  LLVMModuleRef m;
  LLVMValueRef *values; /* item i in the copy (NULL once erased) */
  ptrmap_t map;         /* copy value -> item */
} shard_ctx_t;

/* What shard s does with item i. */
typedef enum disposition { KEEP, COPY_INLINE, STRIP } disposition_t;

static disposition_t disposition(const partition_t *p, size_t s, size_t i) {
  const item_t *it = &p->items[i];
  if (it->duplicable) return KEEP; /* erased later when unused */
  if (it->shard == s) return KEEP;
  if (p->copies != NULL && p->copies[s * p->nitems + i]) return COPY_INLINE;
  return STRIP;
}

static kiln_error_t *map_copy(shard_ctx_t *c) {
  const partition_t *p = c->p;
  size_t n = 0;
  for (LLVMValueRef v = LLVMGetFirstFunction(c->m); v && n < p->nitems; v = LLVMGetNextFunction(v))
    c->values[n++] = v;
  if (n != p->nfunctions) goto mismatch;
  for (LLVMValueRef v = LLVMGetFirstGlobal(c->m); v && n < p->nitems; v = LLVMGetNextGlobal(v))
    c->values[n++] = v;
  if (n != p->nfunctions + p->nvariables) goto mismatch;
  for (LLVMValueRef v = LLVMGetFirstGlobalAlias(c->m); v && n < p->nitems;
       v = LLVMGetNextGlobalAlias(v))
    c->values[n++] = v;
  for (LLVMValueRef v = LLVMGetFirstGlobalIFunc(c->m); v && n < p->nitems;
       v = LLVMGetNextGlobalIFunc(v))
    c->values[n++] = v;
  if (n != p->nitems) goto mismatch;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(splitter_name(c->values[i]), splitter_name(p->items[i].value)) != 0) goto mismatch;
    ptrmap_put(&c->map, c->values[i], i);
  }
  return NULL;
mismatch:
  return kiln_error_new(KILN_ERR_INTERNAL,
                        "splitter: shard %zu: the module copy does not list the globals in the "
                        "order of the input",
                        c->s);
}

/* Replaces alias/ifunc `v` (item i) by a declaration of its value type with
 * the same name, or erases it when the shard does not use it. */
static kiln_error_t *declare_indirect(shard_ctx_t *c, size_t i) {
  LLVMValueRef v = c->values[i];
  int erased = 0;
  kiln_error_t *err = kiln_llvm_global_erase_if_unused(v, &erased);
  if (err != NULL || erased) {
    c->values[i] = NULL;
    return err;
  }
  char *name = splitter_strdup(splitter_name(v));
  if (name == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: alias name");
  LLVMTypeRef ty = LLVMGlobalGetValueType(v);
  LLVMValueRef decl;
  if (LLVMGetTypeKind(ty) == LLVMFunctionTypeKind) {
    decl = LLVMAddFunction(c->m, "", ty);
    /* An alias of a function: its declaration carries the function's
     * attributes (the multiversion cloner reads them). */
    LLVMValueRef target =
        c->p->items[i].kind == ITEM_ALIAS ? LLVMAliasGetAliasee(v) : NULL;
    while (target != NULL && LLVMIsAConstantExpr(target)) target = LLVMGetOperand(target, 0);
    if (target != NULL && LLVMIsAFunction(target)) {
      unsigned na = LLVMGetAttributeCountAtIndex(target, LLVMAttributeFunctionIndex);
      LLVMAttributeRef *attrs = malloc((na ? na : 1) * sizeof(*attrs));
      if (attrs == NULL) {
        free(name);
        return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: attributes");
      }
      LLVMGetAttributesAtIndex(target, LLVMAttributeFunctionIndex, attrs);
      for (unsigned k = 0; k < na; k++)
        LLVMAddAttributeAtIndex(decl, LLVMAttributeFunctionIndex, attrs[k]);
      free(attrs);
      LLVMSetFunctionCallConv(decl, LLVMGetFunctionCallConv(target));
    }
  } else {
    unsigned as = LLVMGetPointerAddressSpace(LLVMTypeOf(v));
    decl = LLVMAddGlobalInAddressSpace(c->m, ty, "", as);
    LLVMValueRef target = LLVMAliasGetAliasee(v);
    while (target != NULL && LLVMIsAConstantExpr(target)) target = LLVMGetOperand(target, 0);
    if (target != NULL && LLVMIsAGlobalVariable(target) && LLVMIsThreadLocal(target))
      LLVMSetThreadLocalMode(decl, LLVMGetThreadLocalMode(target));
  }
  LLVMSetLinkage(decl, LLVMExternalLinkage);
  LLVMSetVisibility(decl, LLVMGetVisibility(v));
  LLVMReplaceAllUsesWith(v, decl);
  err = kiln_llvm_global_erase_if_unused(v, &erased);
  if (err == NULL && !erased)
    err = kiln_error_new(KILN_ERR_INTERNAL, "splitter: shard %zu: '%s' still used after replacement",
                         c->s, name);
  if (err == NULL) {
    LLVMSetValueName2(decl, name, strlen(name));
    ptrmap_put(&c->map, decl, i);
  }
  c->values[i] = err == NULL ? decl : NULL;
  free(name);
  return err;
}

static kiln_error_t *reduce(shard_ctx_t *c) {
  const partition_t *p = c->p;
  kiln_error_t *err = NULL;
  /* Functions and variables first: aliases and ifuncs may briefly point at
   * declarations until they are replaced below. */
  for (size_t i = 0; i < p->nitems && err == NULL; i++) {
    const item_t *it = &p->items[i];
    if (!it->defined || it->kind == ITEM_ALIAS || it->kind == ITEM_IFUNC) continue;
    LLVMValueRef v = c->values[i];
    switch (disposition(p, c->s, i)) {
      case KEEP:
        /* Owned linkonce definitions that other shards call must not be
         * dropped when unused here. */
        if (it->cross_ref && !it->duplicable) {
          LLVMLinkage l = LLVMGetLinkage(v);
          if (l == LLVMLinkOnceAnyLinkage) LLVMSetLinkage(v, LLVMWeakAnyLinkage);
          if (l == LLVMLinkOnceODRLinkage) LLVMSetLinkage(v, LLVMWeakODRLinkage);
        }
        break;
      case COPY_INLINE:
        LLVMSetLinkage(v, LLVMAvailableExternallyLinkage);
        LLVMSetComdat(v, NULL);
        break;
      case STRIP:
        if (it->kind == ITEM_FUNCTION) {
          err = kiln_llvm_function_delete_body(v);
        } else {
          LLVMSetInitializer(v, NULL);
          LLVMSetLinkage(v, LLVMExternalLinkage);
          LLVMSetComdat(v, NULL);
          LLVMGlobalClearMetadata(v);
        }
        break;
    }
  }
  for (size_t i = 0; i < p->nitems && err == NULL; i++) {
    const item_t *it = &p->items[i];
    if ((it->kind == ITEM_ALIAS || it->kind == ITEM_IFUNC) && disposition(p, c->s, i) != KEEP)
      err = declare_indirect(c, i);
  }
  return err;
}

/* Whether a special list entry naming item j belongs in this shard. */
static bool entry_here(const shard_ctx_t *c, LLVMValueRef target) {
  while (target != NULL && LLVMIsAConstantExpr(target)) target = LLVMGetOperand(target, 0);
  size_t j;
  if (target == NULL || !ptrmap_get(&c->map, target, &j)) return c->s == 0;
  const item_t *it = &c->p->items[j];
  if (it->duplicable || !it->defined) return c->s == 0;
  return it->shard == c->s;
}

/* Rebuilds llvm.global_ctors/dtors, llvm.used and llvm.compiler.used with the
 * entries whose symbol this shard defines (entries naming nothing the
 * splitter knows stay in shard 0). */
static kiln_error_t *rebuild_specials(shard_ctx_t *c) {
  for (size_t i = 0; i < c->p->nitems; i++) {
    const item_t *it = &c->p->items[i];
    if (it->special == SPECIAL_NONE || LLVMIsDeclaration(c->values[i])) continue;
    LLVMValueRef g = c->values[i];
    LLVMValueRef init = LLVMGetInitializer(g);
    LLVMTypeRef aty = LLVMTypeOf(init);
    if (LLVMGetTypeKind(aty) != LLVMArrayTypeKind) continue;
    unsigned n = (unsigned)LLVMGetArrayLength2(aty);
    LLVMValueRef *kept = malloc((n ? n : 1) * sizeof(*kept));
    if (kept == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: special list");
    unsigned nk = 0;
    for (unsigned k = 0; k < n; k++) {
      LLVMValueRef e = LLVMGetAggregateElement(init, k);
      if (e == NULL) continue;
      LLVMValueRef target = it->special == SPECIAL_STRUCTORS
                                ? (LLVMGetNumOperands(e) >= 2 ? LLVMGetOperand(e, 1) : NULL)
                                : e;
      if (entry_here(c, target)) kept[nk++] = e;
    }
    if (nk == n) {
      free(kept);
      continue;
    }
    char *name = splitter_strdup(splitter_name(g));
    const char *section = LLVMGetSection(g);
    char *sec = splitter_strdup(section ? section : "");
    kiln_error_t *err = NULL;
    if (name == NULL || sec == NULL) {
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: special list");
    } else {
      LLVMSetValueName2(g, "", 0);
      if (nk > 0) {
        LLVMTypeRef ety = LLVMGetElementType(aty);
        LLVMValueRef arr = LLVMConstArray2(ety, kept, nk);
        LLVMValueRef ng = LLVMAddGlobal(c->m, LLVMTypeOf(arr), name);
        LLVMSetLinkage(ng, LLVMAppendingLinkage);
        LLVMSetInitializer(ng, arr);
        if (sec[0] != '\0') LLVMSetSection(ng, sec);
      }
      int erased = 0;
      err = kiln_llvm_global_erase_if_unused(g, &erased);
      if (err == NULL && !erased)
        err = kiln_error_new(KILN_ERR_INTERNAL, "splitter: '%s' is used", name);
      c->values[i] = NULL;
    }
    free(name);
    free(sec);
    free(kept);
    if (err != NULL) return err;
  }
  return NULL;
}

/* Erases declarations left over from other shards' definitions that the
 * shard does not use, and unused local constant copies. A local definition
 * of another shard that is still used means promotion missed a reference. */
static kiln_error_t *erase_unused(shard_ctx_t *c) {
  const partition_t *p = c->p;
  for (size_t i = 0; i < p->nitems; i++) {
    const item_t *it = &p->items[i];
    if (c->values[i] == NULL || !it->defined) continue;
    disposition_t d = disposition(p, c->s, i);
    if (d == COPY_INLINE || (d == KEEP && !it->duplicable)) continue;
    int erased = 0;
    kiln_error_t *err = kiln_llvm_global_erase_if_unused(c->values[i], &erased);
    if (err != NULL) return err;
    if (erased) {
      c->values[i] = NULL;
    } else if (!it->duplicable && splitter_linkage_is_local(LLVMGetLinkage(it->value))) {
      return kiln_error_new(KILN_ERR_INTERNAL,
                            "splitter: shard %zu uses local symbol '%s' of shard %zu", c->s,
                            splitter_name(it->value), it->shard);
    }
  }
  return NULL;
}

static kiln_error_t *report_defined(shard_ctx_t *c, splitter_defined_fn defined, void *ctx) {
  for (size_t i = 0; i < c->p->nitems; i++) {
    const item_t *it = &c->p->items[i];
    if (c->values[i] == NULL || !it->defined) continue;
    if (disposition(c->p, c->s, i) != KEEP) continue;
    kiln_error_t *err = defined(ctx, c->s, i);
    if (err != NULL) return err;
  }
  return NULL;
}

kiln_error_t *splitter_build_shard(const partition_t *p, size_t s, LLVMMemoryBufferRef *bitcode_out,
                                   splitter_defined_fn defined, void *ctx) {
  *bitcode_out = NULL;
  shard_ctx_t c = {.p = p, .s = s};
  c.values = calloc(p->nitems ? p->nitems : 1, sizeof(LLVMValueRef));
  if (c.values == NULL || !ptrmap_init(&c.map, p->nitems)) {
    free(c.values);
    ptrmap_dispose(&c.map);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: shard %zu", s);
  }
  c.m = LLVMCloneModule(p->module);
  kiln_error_t *err = map_copy(&c);
  if (err == NULL) err = reduce(&c);
  if (err == NULL) err = rebuild_specials(&c);
  if (err == NULL) err = erase_unused(&c);
  if (err == NULL && s != 0) LLVMSetModuleInlineAsm2(c.m, "", 0);
  if (err == NULL) {
    char *msg = NULL;
    if (LLVMVerifyModule(c.m, LLVMReturnStatusAction, &msg))
      err = kiln_error_new(KILN_ERR_INTERNAL, "splitter: shard %zu fails the verifier: %s", s,
                           msg ? msg : "");
    LLVMDisposeMessage(msg);
  }
  if (err == NULL) err = report_defined(&c, defined, ctx);
  if (err == NULL) {
    *bitcode_out = LLVMWriteBitcodeToMemoryBuffer(c.m);
    if (*bitcode_out == NULL)
      err = kiln_error_new(KILN_ERR_LLVM, "splitter: shard %zu: writing bitcode failed", s);
  }
  LLVMDisposeModule(c.m);
  ptrmap_dispose(&c.map);
  free(c.values);
  return err;
}
