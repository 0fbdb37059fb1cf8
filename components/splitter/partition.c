/*
 * components/splitter/partition.c — the whole-module decision: weigh every
 * definition, collect what references what, union the definitions that must
 * stay together into groups, hand groups to shards (heaviest first to the
 * lightest shard, ties by name), choose available_externally copies, and
 * promote internal symbols that another shard references.
 *
 * Everything is indexed by item (module order); the pointer map only answers
 * "which item is this global", so no decision depends on an address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/splitter/internal.h"

/* ---- Small helpers ------------------------------------------------------ */

static size_t hash_ptr(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}

bool ptrmap_init(ptrmap_t *m, size_t expected) {
  size_t cap = 16;
  while (cap < expected * 2 + 1) cap *= 2;
  m->keys = calloc(cap, sizeof(*m->keys));
  m->vals = calloc(cap, sizeof(*m->vals));
  m->cap = cap;
  return m->keys != NULL && m->vals != NULL;
}

void ptrmap_dispose(ptrmap_t *m) {
  free(m->keys);
  free(m->vals);
  m->keys = NULL;
  m->vals = NULL;
}

void ptrmap_put(ptrmap_t *m, const void *key, size_t val) {
  size_t i = hash_ptr(key) & (m->cap - 1);
  while (m->keys[i] != NULL && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  m->keys[i] = key;
  m->vals[i] = val;
}

bool ptrmap_get(const ptrmap_t *m, const void *key, size_t *val_out) {
  size_t i = hash_ptr(key) & (m->cap - 1);
  while (m->keys[i] != NULL) {
    if (m->keys[i] == key) {
      *val_out = m->vals[i];
      return true;
    }
    i = (i + 1) & (m->cap - 1);
  }
  return false;
}

const char *splitter_name(LLVMValueRef v) {
  size_t len = 0;
  const char *n = LLVMGetValueName2(v, &len);
  return n != NULL ? n : "";
}

bool splitter_linkage_is_local(LLVMLinkage l) {
  return l == LLVMInternalLinkage || l == LLVMPrivateLinkage;
}

static size_t find_root(item_t *items, size_t i) {
  while (items[i].parent != i) {
    items[i].parent = items[items[i].parent].parent;
    i = items[i].parent;
  }
  return i;
}

/* Unions by the smaller index, so a group's root is its first member in
 * module order whatever the union order. */
static void unite(item_t *items, size_t a, size_t b) {
  a = find_root(items, a);
  b = find_root(items, b);
  if (a == b) return;
  if (a < b)
    items[b].parent = a;
  else
    items[a].parent = b;
}

/* ---- Collecting references --------------------------------------------- */

typedef struct collector {
  partition_t *p;
  ptrmap_t map;
  size_t *mark; /* mark[j] == i + 1: item i already references j */
  bool oom;
} collector_t;

static void add_ref(collector_t *c, size_t from, size_t to) {
  if (c->mark[to] == from + 1) return;
  c->mark[to] = from + 1;
  item_t *it = &c->p->items[from];
  if (it->nrefs == it->caprefs) {
    size_t cap = it->caprefs ? it->caprefs * 2 : 4;
    size_t *r = realloc(it->refs, cap * sizeof(size_t));
    if (r == NULL) {
      c->oom = true;
      return;
    }
    it->refs = r;
    it->caprefs = cap;
  }
  it->refs[it->nrefs++] = to;
}

/* Records the globals `v` names, looking through constant expressions and
 * aggregates. */
static void collect_value(collector_t *c, size_t from, LLVMValueRef v) {
  if (v == NULL) return;
  if (LLVMIsAGlobalValue(v)) {
    size_t to;
    if (ptrmap_get(&c->map, v, &to)) add_ref(c, from, to);
    return;
  }
  if (!LLVMIsAConstant(v)) return;
  if (LLVMIsABlockAddress(v)) {
    size_t to;
    if (ptrmap_get(&c->map, LLVMGetBlockAddressFunction(v), &to)) {
      add_ref(c, from, to);
      partition_t *p = c->p;
      if (p->nties == p->capties) {
        size_t cap = p->capties ? p->capties * 2 : 8;
        size_t *t = realloc(p->ties, 2 * cap * sizeof(size_t));
        if (t == NULL) {
          c->oom = true;
          return;
        }
        p->ties = t;
        p->capties = cap;
      }
      p->ties[2 * p->nties] = from;
      p->ties[2 * p->nties + 1] = to;
      p->nties++;
    }
    return;
  }
  int n = LLVMGetNumOperands(v);
  for (int k = 0; k < n; k++) collect_value(c, from, LLVMGetOperand(v, (unsigned)k));
}

static void collect_function(collector_t *c, size_t i) {
  LLVMValueRef fn = c->p->items[i].value;
  uint64_t size = 0;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb)) {
    size++;
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
      size++;
      int n = LLVMGetNumOperands(in);
      for (int k = 0; k < n; k++) collect_value(c, i, LLVMGetOperand(in, (unsigned)k));
    }
  }
  if (LLVMHasPersonalityFn(fn)) collect_value(c, i, LLVMGetPersonalityFn(fn));
  if (LLVMHasPrefixData(fn)) collect_value(c, i, LLVMGetPrefixData(fn));
  if (LLVMHasPrologueData(fn)) collect_value(c, i, LLVMGetPrologueData(fn));
  c->p->items[i].size = size;
}

static LLVMValueRef strip_casts(LLVMValueRef v) {
  while (v != NULL && LLVMIsAConstantExpr(v)) {
    LLVMOpcode op = LLVMGetConstOpcode(v);
    if (op != LLVMBitCast && op != LLVMAddrSpaceCast) break;
    v = LLVMGetOperand(v, 0);
  }
  return v;
}

/* A ctor/dtor entry's data pointer travels with its function: record it as a
 * reference of the function so promotion sees it. */
static void collect_structors(collector_t *c, LLVMValueRef list) {
  LLVMValueRef init = LLVMGetInitializer(list);
  if (init == NULL || LLVMGetTypeKind(LLVMTypeOf(init)) != LLVMArrayTypeKind) return;
  unsigned n = (unsigned)LLVMGetArrayLength2(LLVMTypeOf(init));
  for (unsigned k = 0; k < n; k++) {
    LLVMValueRef entry = LLVMGetAggregateElement(init, k);
    if (entry == NULL || LLVMGetNumOperands(entry) < 3) continue;
    LLVMValueRef fn = strip_casts(LLVMGetOperand(entry, 1));
    size_t fi;
    if (fn == NULL || !ptrmap_get(&c->map, fn, &fi)) continue;
    collect_value(c, fi, LLVMGetOperand(entry, 2));
  }
}

/* ---- Analysis ----------------------------------------------------------- */

static item_special_t special_kind(const char *name) {
  if (strcmp(name, "llvm.global_ctors") == 0 || strcmp(name, "llvm.global_dtors") == 0)
    return SPECIAL_STRUCTORS;
  if (strcmp(name, "llvm.used") == 0 || strcmp(name, "llvm.compiler.used") == 0)
    return SPECIAL_USED;
  return SPECIAL_NONE;
}

static kiln_error_t *collect_items(partition_t *p) {
  LLVMModuleRef m = p->module;
  size_t n = 0;
  for (LLVMValueRef v = LLVMGetFirstFunction(m); v; v = LLVMGetNextFunction(v)) p->nfunctions++;
  for (LLVMValueRef v = LLVMGetFirstGlobal(m); v; v = LLVMGetNextGlobal(v)) p->nvariables++;
  for (LLVMValueRef v = LLVMGetFirstGlobalAlias(m); v; v = LLVMGetNextGlobalAlias(v))
    p->naliases++;
  for (LLVMValueRef v = LLVMGetFirstGlobalIFunc(m); v; v = LLVMGetNextGlobalIFunc(v))
    p->nifuncs++;
  p->nitems = p->nfunctions + p->nvariables + p->naliases + p->nifuncs;
  p->items = calloc(p->nitems ? p->nitems : 1, sizeof(item_t));
  if (p->items == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: items");
  for (LLVMValueRef v = LLVMGetFirstFunction(m); v; v = LLVMGetNextFunction(v)) {
    p->items[n].kind = ITEM_FUNCTION;
    p->items[n++].value = v;
  }
  for (LLVMValueRef v = LLVMGetFirstGlobal(m); v; v = LLVMGetNextGlobal(v)) {
    p->items[n].kind = ITEM_VARIABLE;
    p->items[n].special = special_kind(splitter_name(v));
    p->items[n++].value = v;
  }
  for (LLVMValueRef v = LLVMGetFirstGlobalAlias(m); v; v = LLVMGetNextGlobalAlias(v)) {
    p->items[n].kind = ITEM_ALIAS;
    p->items[n++].value = v;
  }
  for (LLVMValueRef v = LLVMGetFirstGlobalIFunc(m); v; v = LLVMGetNextGlobalIFunc(v)) {
    p->items[n].kind = ITEM_IFUNC;
    p->items[n++].value = v;
  }
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    it->parent = i;
    it->local = splitter_linkage_is_local(LLVMGetLinkage(it->value));
    switch (it->kind) {
      case ITEM_FUNCTION:
        it->defined = !LLVMIsDeclaration(it->value);
        break;
      case ITEM_VARIABLE:
        it->defined = !LLVMIsDeclaration(it->value) && it->special == SPECIAL_NONE;
        break;
      case ITEM_ALIAS:
      case ITEM_IFUNC:
        it->defined = true;
        break;
    }
  }
  return NULL;
}

static kiln_error_t *collect_refs(partition_t *p) {
  collector_t c = {.p = p};
  c.mark = calloc(p->nitems ? p->nitems : 1, sizeof(size_t));
  if (c.mark == NULL || !ptrmap_init(&c.map, p->nitems)) {
    free(c.mark);
    ptrmap_dispose(&c.map);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: reference map");
  }
  for (size_t i = 0; i < p->nitems; i++) ptrmap_put(&c.map, p->items[i].value, i);
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    if (!it->defined) continue;
    switch (it->kind) {
      case ITEM_FUNCTION:
        collect_function(&c, i);
        break;
      case ITEM_VARIABLE:
        collect_value(&c, i, LLVMGetInitializer(it->value));
        break;
      case ITEM_ALIAS:
        collect_value(&c, i, LLVMAliasGetAliasee(it->value));
        break;
      case ITEM_IFUNC:
        collect_value(&c, i, LLVMGetGlobalIFuncResolver(it->value));
        break;
    }
  }
  for (size_t i = 0; i < p->nitems; i++)
    if (p->items[i].special == SPECIAL_STRUCTORS) collect_structors(&c, p->items[i].value);
  free(c.mark);
  ptrmap_dispose(&c.map);
  if (c.oom) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: references");
  return NULL;
}

/* Local constants of plain data with an insignificant address (string
 * literals and the like) are copied into every shard that uses them. */
static void mark_duplicable(partition_t *p) {
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    it->duplicable = it->kind == ITEM_VARIABLE && it->defined && it->local &&
                     LLVMIsGlobalConstant(it->value) &&
                     LLVMGetUnnamedAddress(it->value) == LLVMGlobalUnnamedAddr &&
                     !LLVMIsThreadLocal(it->value) && LLVMGetComdat(it->value) == NULL &&
                     it->nrefs == 0;
  }
}

/* A node takes part in grouping and placement. */
static bool is_node(const item_t *it) { return it->defined && !it->duplicable; }

static kiln_error_t *group(partition_t *p, const kiln_splitter_options_t *o) {
  /* Comdat members stay together: the first member seen per comdat. */
  ptrmap_t comdats;
  if (!ptrmap_init(&comdats, p->nitems))
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: comdat map");
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    if (!is_node(it) || it->kind == ITEM_ALIAS || it->kind == ITEM_IFUNC) continue;
    LLVMComdatRef cd = LLVMGetComdat(it->value);
    if (cd == NULL) continue;
    size_t first;
    if (ptrmap_get(&comdats, cd, &first))
      unite(p->items, first, i);
    else
      ptrmap_put(&comdats, cd, i);
  }
  ptrmap_dispose(&comdats);
  for (size_t t = 0; t < p->nties; t++) {
    size_t a = p->ties[2 * t], b = p->ties[2 * t + 1];
    if (is_node(&p->items[a]) && is_node(&p->items[b])) unite(p->items, a, b);
  }
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    if (!is_node(it)) continue;
    for (size_t k = 0; k < it->nrefs; k++) {
      const item_t *to = &p->items[it->refs[k]];
      if (!is_node(to)) continue;
      /* An alias or ifunc lives with what it points at. Internal symbols
       * are otherwise promoted when another shard uses them (hidden, unique
       * name), because grouping a variable with all its users serializes
       * the build: one static table or counter used by most functions of a
       * C program put 92% of its weight into one shard. With
       * group_internal_variables, a function stays with the internal
       * variables it uses and a variable with the internal symbols its
       * initializer names (at the cost of that parallelism). */
      bool tie = it->kind == ITEM_ALIAS || it->kind == ITEM_IFUNC;
      if (o->group_internal_variables)
        tie = tie || (to->local && to->kind == ITEM_VARIABLE) ||
              (it->kind == ITEM_VARIABLE && to->local);
      if (tie) unite(p->items, i, it->refs[k]);
    }
  }
  return NULL;
}

/* ---- Placement ---------------------------------------------------------- */

typedef struct group_rec {
  size_t root;
  uint64_t weight;
  const char *name; /* smallest member name ("" only when all are unnamed) */
} group_rec_t;

static int compare_groups(const void *a, const void *b) {
  const group_rec_t *x = a, *y = b;
  if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
  int c = strcmp(x->name, y->name);
  if (c != 0) return c;
  return x->root < y->root ? -1 : (x->root > y->root ? 1 : 0);
}

static kiln_error_t *place(partition_t *p, const kiln_splitter_options_t *o) {
  size_t ngroups = 0;
  size_t *gindex = malloc((p->nitems ? p->nitems : 1) * sizeof(size_t));
  group_rec_t *groups = calloc(p->nitems ? p->nitems : 1, sizeof(group_rec_t));
  if (gindex == NULL || groups == NULL) {
    free(gindex);
    free(groups);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: groups");
  }
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    if (!is_node(it)) continue;
    if (it->kind == ITEM_FUNCTION) {
      unsigned mult = o->multiplier ? o->multiplier(it->value, o->multiplier_user) : 1;
      it->weight = it->size * (mult ? mult : 1);
    } else {
      it->weight = 1;
    }
    p->total_weight += it->weight;
    size_t r = find_root(p->items, i);
    if (r == i) { /* roots come first in module order (smallest index) */
      gindex[i] = ngroups;
      groups[ngroups].root = i;
      groups[ngroups].name = splitter_name(it->value);
      ngroups++;
    }
    group_rec_t *g = &groups[gindex[r]];
    g->weight += it->weight;
    const char *nm = splitter_name(it->value);
    if (nm[0] != '\0' && (g->name[0] == '\0' || strcmp(nm, g->name) < 0)) g->name = nm;
  }
  qsort(groups, ngroups, sizeof(group_rec_t), compare_groups);

  size_t k = o->shard_count;
  if (k == 0) {
    uint64_t w = o->shard_weight ? o->shard_weight : KILN_SPLITTER_DEFAULT_SHARD_WEIGHT;
    uint64_t want = (p->total_weight + w - 1) / w;
    unsigned maxk = o->max_shards ? o->max_shards : KILN_SPLITTER_DEFAULT_MAX_SHARDS;
    if (want > maxk) want = maxk;
    if (want > ngroups) want = ngroups;
    k = want ? (size_t)want : 1;
  }
  p->nshards = k;
  p->shard_weight = calloc(k, sizeof(uint64_t));
  if (p->shard_weight == NULL) {
    free(gindex);
    free(groups);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: %zu shards", k);
  }
  for (size_t g = 0; g < ngroups; g++) {
    size_t best = 0;
    for (size_t s = 1; s < k; s++)
      if (p->shard_weight[s] < p->shard_weight[best]) best = s;
    p->shard_weight[best] += groups[g].weight;
    gindex[groups[g].root] = best; /* reuse: root -> shard */
  }
  for (size_t i = 0; i < p->nitems; i++)
    if (is_node(&p->items[i])) p->items[i].shard = gindex[find_root(p->items, i)];
  free(gindex);
  free(groups);
  return NULL;
}

/* ---- Inline copies and promotion --------------------------------------- */

static bool can_copy_inline(const item_t *it, unsigned alwaysinline_kind) {
  if (it->kind != ITEM_FUNCTION || !is_node(it)) return false;
  if (it->size > KILN_SPLITTER_INLINE_COPY_MAX_WEIGHT) return false;
  switch (LLVMGetLinkage(it->value)) {
    case LLVMExternalLinkage:
    case LLVMInternalLinkage:
    case LLVMPrivateLinkage:
    case LLVMLinkOnceODRLinkage:
    case LLVMWeakODRLinkage:
      break;
    default: /* interposable or already a copy: the body may not be the one */
      return false;
  }
  return LLVMGetEnumAttributeAtIndex(it->value, LLVMAttributeFunctionIndex, alwaysinline_kind) !=
         NULL;
}

static void mark_refs_from(partition_t *p, const item_t *from, size_t shard) {
  for (size_t k = 0; k < from->nrefs; k++) {
    item_t *to = &p->items[from->refs[k]];
    if (is_node(to) && to->shard != shard) to->cross_ref = true;
  }
}

static kiln_error_t *choose_copies_and_cross_refs(partition_t *p, const kiln_splitter_options_t *o) {
  for (size_t i = 0; i < p->nitems; i++)
    if (is_node(&p->items[i])) mark_refs_from(p, &p->items[i], p->items[i].shard);
  if (!o->copy_inline || p->nshards < 2) return NULL;
  unsigned ai = LLVMGetEnumAttributeKindForName("alwaysinline", strlen("alwaysinline"));
  for (size_t i = 0; i < p->nitems; i++)
    p->items[i].inline_ok = can_copy_inline(&p->items[i], ai);
  p->copies = calloc(p->nshards * p->nitems, 1);
  if (p->copies == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: inline copies");
  for (size_t i = 0; i < p->nitems; i++) {
    const item_t *it = &p->items[i];
    if (!is_node(it)) continue;
    for (size_t k = 0; k < it->nrefs; k++) {
      size_t j = it->refs[k];
      if (p->items[j].inline_ok && p->items[j].shard != it->shard)
        p->copies[it->shard * p->nitems + j] = 1;
    }
  }
  /* A copy's own references now come from its new shard (one level: a copy
   * does not bring copies of its callees). */
  for (size_t s = 0; s < p->nshards; s++)
    for (size_t j = 0; j < p->nitems; j++)
      if (p->copies[s * p->nitems + j]) mark_refs_from(p, &p->items[j], s);
  return NULL;
}

static bool name_taken(LLVMModuleRef m, const char *name) {
  return LLVMGetNamedFunction(m, name) != NULL || LLVMGetNamedGlobal(m, name) != NULL ||
         LLVMGetNamedGlobalAlias(m, name, strlen(name)) != NULL ||
         LLVMGetNamedGlobalIFunc(m, name, strlen(name)) != NULL;
}

/* "<name>.kiln.split" (unnamed: "kiln.split.anon.<item>"), then ".1", ".2"
 * ... until free; decided in item order, so the same on every run. */
static kiln_error_t *promote(partition_t *p) {
  for (size_t i = 0; i < p->nitems; i++) {
    item_t *it = &p->items[i];
    if (!is_node(it) || !it->local || !it->cross_ref) continue;
    const char *old = splitter_name(it->value);
    size_t len = strlen(old) + 64;
    char *base = malloc(len), *name = malloc(len + 24);
    if (base == NULL || name == NULL) {
      free(base);
      free(name);
      return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: promoting '%s'", old);
    }
    if (old[0] != '\0')
      snprintf(base, len, "%s.kiln.split", old);
    else
      snprintf(base, len, "kiln.split.anon.%zu", i);
    snprintf(name, len + 24, "%s", base);
    for (unsigned n = 1; name_taken(p->module, name); n++) snprintf(name, len + 24, "%s.%u", base, n);
    LLVMSetValueName2(it->value, name, strlen(name));
    LLVMSetLinkage(it->value, LLVMExternalLinkage);
    LLVMSetVisibility(it->value, LLVMHiddenVisibility);
    free(base);
    free(name);
  }
  return NULL;
}

kiln_error_t *splitter_partition(LLVMModuleRef module, const kiln_splitter_options_t *options,
                                 partition_t *p) {
  memset(p, 0, sizeof(*p));
  p->module = module;
  kiln_error_t *err = collect_items(p);
  if (err == NULL) err = collect_refs(p);
  if (err == NULL) {
    mark_duplicable(p);
    err = group(p, options);
  }
  if (err == NULL) err = place(p, options);
  if (err == NULL) err = choose_copies_and_cross_refs(p, options);
  if (err == NULL) err = promote(p);
  return err;
}

void splitter_partition_dispose(partition_t *p) {
  if (p->items != NULL)
    for (size_t i = 0; i < p->nitems; i++) free(p->items[i].refs);
  free(p->items);
  free(p->shard_weight);
  free(p->copies);
  free(p->ties);
  memset(p, 0, sizeof(*p));
}

char *splitter_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}
