/*
 * components/multiversion/common.c — the helpers internal.h declares: the
 * target list stored in and read back from the module, the owner rule, and
 * thin wrappers over LLVM-C attributes and metadata.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/multiversion/internal.h"
#include "llvm-c/TargetMachine.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

char *mv_module_triple(LLVMModuleRef module) {
  const char *triple = LLVMGetTarget(module);
  if (triple != NULL && triple[0] != '\0') {
    /* LLVMCreateMessage gives a string LLVMDisposeMessage accepts. */
    return LLVMCreateMessage(triple);
  }
  return LLVMGetDefaultTargetTriple();
}

/* The module's architecture; kiln_target_arch_from_name takes whole
 * triples ("x86_64-unknown-linux-gnu"). */
static kiln_target_arch_t arch_of(LLVMModuleRef module) {
  char *triple = mv_module_triple(module);
  kiln_target_arch_t out = KILN_TARGET_ARCH_UNKNOWN;
  kiln_error_free(kiln_target_arch_from_name(triple, &out)); /* unknown: names unchecked */
  LLVMDisposeMessage(triple);
  return out;
}

kiln_error_t *mv_targets_parse(LLVMModuleRef module, const char *text, mv_targets_t *out) {
  memset(out, 0, sizeof(*out));
  kiln_target_list_t *list = NULL;
  kiln_target_arch_t arch = arch_of(module);
  kiln_error_t *err = kiln_target_list_parse(arch, text, &list);
  if (err != NULL) return kiln_error_prefix(err, "multiversion: target string '%s'", text);
  size_t n = kiln_target_list_count(list);
  if (n > KILN_MULTIVERSION_MAX_TARGETS) {
    kiln_target_list_free(list);
    return kiln_error_new(KILN_ERR_UNSUPPORTED,
                          "multiversion: target string '%s' has %zu targets; at most %d", text, n,
                          KILN_MULTIVERSION_MAX_TARGETS);
  }
  out->list = list;
  out->arch = arch;
  out->count = n;
  for (size_t k = 0; k < n; k++) {
    out->base[k] = kiln_target_list_base(list, k);
    out->flags[k] = kiln_target_list_flags(list, k);
  }
  return NULL;
}

bool mv_has_named_md(LLVMModuleRef module, const char *name) {
  return LLVMGetNamedMetadata(module, name, strlen(name)) != NULL;
}

kiln_error_t *mv_targets_read(LLVMModuleRef module, mv_targets_t *out) {
  memset(out, 0, sizeof(*out));
  if (LLVMGetNamedMetadataNumOperands(module, MV_MD_TARGETS) != 1) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "multiversion: module is not annotated (no !" MV_MD_TARGETS
                          "); run kiln_multiversion_annotate on the whole module first");
  }
  LLVMValueRef node = NULL;
  LLVMGetNamedMetadataOperands(module, MV_MD_TARGETS, &node);
  if (LLVMGetMDNodeNumOperands(node) != 2) {
    return kiln_error_new(KILN_ERR_FORMAT, "multiversion: !" MV_MD_TARGETS " is malformed");
  }
  LLVMValueRef ops[2];
  LLVMGetMDNodeOperands(node, ops);
  unsigned len = 0;
  const char *text = ops[1] != NULL ? LLVMGetMDString(ops[1], &len) : NULL;
  if (text == NULL) {
    return kiln_error_new(KILN_ERR_FORMAT, "multiversion: !" MV_MD_TARGETS " is malformed");
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "multiversion: out of memory");
  memcpy(copy, text, len);
  copy[len] = '\0';
  kiln_error_t *err = mv_targets_parse(module, copy, out);
  free(copy);
  return err;
}

void mv_targets_release(mv_targets_t *t) {
  kiln_target_list_free(t->list);
  t->list = NULL;
}

size_t mv_owner(const mv_targets_t *t, uint64_t mask, size_t target) {
  /* The parser guarantees base(k) < k, so this ends at 0. */
  while (target != 0 && ((mask >> target) & 1u) == 0) target = t->base[target];
  return target;
}

kiln_error_t *mv_resolve(const mv_targets_t *t, const char *triple, size_t k, char **cpu_out,
                         char **features_out) {
  size_t need = kiln_target_list_llvm_features(t->list, k, NULL, 0);
  char *feats = malloc(need + 1);
  if (feats == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "multiversion: out of memory");
  kiln_target_list_llvm_features(t->list, k, feats, need + 1);
  kiln_error_t *err =
      kiln_llvm_cpu_resolve(triple, kiln_target_list_cpu(t->list, k), feats, cpu_out, features_out);
  free(feats);
  if (err != NULL) return kiln_error_prefix(err, "multiversion: target %zu", k);
  return NULL;
}

char *mv_attr_get(LLVMValueRef fn, const char *key) {
  LLVMAttributeRef a =
      LLVMGetStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, key, (unsigned)strlen(key));
  if (a == NULL) return NULL;
  unsigned len = 0;
  const char *v = LLVMGetStringAttributeValue(a, &len);
  char *out = malloc(len + 1);
  if (out == NULL) return NULL;
  memcpy(out, v, len);
  out[len] = '\0';
  return out;
}

void mv_attr_set(LLVMValueRef fn, const char *key, const char *value) {
  LLVMContextRef ctx = LLVMGetModuleContext(LLVMGetGlobalParent(fn));
  mv_attr_remove(fn, key);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(ctx, key, (unsigned)strlen(key), value,
                                                    (unsigned)strlen(value)));
}

void mv_attr_remove(LLVMValueRef fn, const char *key) {
  LLVMRemoveStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, key, (unsigned)strlen(key));
}

uint64_t mv_attr_hex(LLVMValueRef fn, const char *key) {
  char *v = mv_attr_get(fn, key);
  if (v == NULL) return 0;
  char *end = NULL;
  uint64_t out = strtoull(v, &end, 16);
  if (end == v || *end != '\0') out = 0;
  free(v);
  return out;
}

bool mv_is_intrinsic(LLVMValueRef fn) { return LLVMGetIntrinsicID(fn) != 0; }

bool mv_is_special_global(LLVMValueRef g) {
  size_t len = 0;
  const char *n = LLVMGetValueName2(g, &len);
  return len > 5 && strncmp(n, "llvm.", 5) == 0;
}

static int entry_cmp(const void *a, const void *b) {
  const struct mv_ptrmap_entry *x = a, *y = b;
  uintptr_t px = (uintptr_t)x->key, py = (uintptr_t)y->key;
  return px < py ? -1 : px > py;
}

bool mv_ptrmap_add(mv_ptrmap_t *m, const void *key, size_t value) {
  if (m->count == m->capacity) {
    size_t cap = m->capacity ? m->capacity * 2 : 64;
    struct mv_ptrmap_entry *e = realloc(m->entries, cap * sizeof(*e));
    if (e == NULL) return false;
    m->entries = e;
    m->capacity = cap;
  }
  m->entries[m->count].key = key;
  m->entries[m->count].value = value;
  m->count++;
  m->sorted = false;
  return true;
}

void mv_ptrmap_seal(mv_ptrmap_t *m) {
  if (m->count > 1) qsort(m->entries, m->count, sizeof(*m->entries), entry_cmp);
  m->sorted = true;
}

bool mv_ptrmap_find(const mv_ptrmap_t *m, const void *key, size_t *value_out) {
  struct mv_ptrmap_entry probe = {key, 0};
  if (m->count == 0) return false;
  const struct mv_ptrmap_entry *e =
      bsearch(&probe, m->entries, m->count, sizeof(*m->entries), entry_cmp);
  if (e == NULL) return false;
  if (value_out != NULL) *value_out = e->value;
  return true;
}

void mv_ptrmap_release(mv_ptrmap_t *m) {
  free(m->entries);
  memset(m, 0, sizeof(*m));
}

void mv_buf_printf(mv_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = (b->len + (size_t)n + 1) * 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) {
      va_end(ap2);
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  b->len += (size_t)n;
}

void mv_buf_release(mv_buf_t *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}
