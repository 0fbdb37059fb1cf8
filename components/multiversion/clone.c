/*
 * components/multiversion/clone.c — cloning per target, slots and tables.
 *
 * Reads the annotation back from the module (so it works on a shard in
 * another context or process), then: resolve every target's feature set;
 * create `f.kiln.k` for each target k the annotation names; tag every
 * version with its target's cpu/features; create the slots; rewire every
 * reference in every version by the owner rule (direct when all targets
 * that run the version agree on the callee's version, else a load from the
 * slot); move function addresses out of data initializers into data slots;
 * emit the tables. All loops run in module order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/multiversion/internal.h"
#include "llvm-c/Target.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

struct kiln_multiversion_options {
  bool emit_tables;
  char *suffix;
};

typedef struct mv_target_info {
  char *cpu, *features;
  unsigned flags;
  size_t base, clone_count;
} mv_target_info_t;

typedef struct mv_function_row {
  char *name;
  char **symbols; /* [target count] */
} mv_function_row_t;

struct kiln_multiversion_tables {
  size_t ntargets, nfunctions, nslots;
  mv_target_info_t *targets;
  mv_function_row_t *functions;
  kiln_multiversion_slot_t *slots;
  char **slot_symbols; /* owned copies behind slots[j].symbol */
};

kiln_error_t *kiln_multiversion_options_new(kiln_multiversion_options_t **options_out) {
  if (options_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_multiversion_options_new: NULL output");
  *options_out = calloc(1, sizeof(**options_out));
  if (*options_out == NULL)
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_multiversion_options_new: out of memory");
  (*options_out)->emit_tables = true;
  return NULL;
}

void kiln_multiversion_options_free(kiln_multiversion_options_t *options) {
  if (options == NULL) return;
  free(options->suffix);
  free(options);
}

void kiln_multiversion_options_set_emit_tables(kiln_multiversion_options_t *options, bool emit) {
  if (options != NULL) options->emit_tables = emit;
}

kiln_error_t *kiln_multiversion_options_set_suffix(kiln_multiversion_options_t *options,
                                                   const char *suffix) {
  if (options == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_options_set_suffix: NULL options");
  char *copy = NULL;
  if (suffix != NULL) {
    size_t n = strlen(suffix) + 1;
    copy = malloc(n);
    if (copy != NULL) memcpy(copy, suffix, n);
    if (copy == NULL)
      return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_multiversion_options_set_suffix: OOM");
  }
  free(options->suffix);
  options->suffix = copy;
  return NULL;
}

void kiln_multiversion_tables_free(kiln_multiversion_tables_t *tables) {
  if (tables == NULL) return;
  for (size_t k = 0; k < tables->ntargets; k++) {
    kiln_llvm_string_free(tables->targets[k].cpu);
    kiln_llvm_string_free(tables->targets[k].features);
  }
  for (size_t i = 0; i < tables->nfunctions; i++) {
    free(tables->functions[i].name);
    if (tables->functions[i].symbols != NULL)
      for (size_t k = 0; k < tables->ntargets; k++) free(tables->functions[i].symbols[k]);
    free(tables->functions[i].symbols);
  }
  for (size_t j = 0; j < tables->nslots; j++) free(tables->slot_symbols[j]);
  free(tables->slot_symbols);
  free(tables->slots);
  free(tables->functions);
  free(tables->targets);
  free(tables);
}

/* ---- The clone context ---------------------------------------------------- */

typedef struct mv_fn {
  LLVMValueRef orig;
  uint64_t mask;
  LLVMValueRef versions[KILN_MULTIVERSION_MAX_TARGETS]; /* [0] = orig */
  LLVMValueRef slot;                                    /* GLOBAL slot or NULL */
} mv_fn_t;

typedef struct mv_ctx {
  LLVMModuleRef module;
  LLVMContextRef llctx;
  LLVMTargetDataRef layout;
  LLVMTypeRef ptr_ty;
  mv_targets_t t;
  mv_fn_t *fns; /* multiversioned functions in module order */
  size_t nfns;
  mv_ptrmap_t index; /* original function -> fns index */
  kiln_multiversion_tables_t *tables;
  size_t slot_cap;
  unsigned invariant_kind;
} mv_ctx_t;

static char *copy_name(LLVMValueRef v) {
  size_t len = 0;
  const char *name = LLVMGetValueName2(v, &len);
  char *out = malloc(len + 1);
  if (out != NULL) {
    memcpy(out, name, len);
    out[len] = '\0';
  }
  return out;
}

static kiln_error_t *oom(void) {
  return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_multiversion_clone: out of memory");
}

static kiln_error_t *add_slot(mv_ctx_t *c, size_t fn, kiln_multiversion_slot_kind_t kind,
                              LLVMValueRef symbol, uint64_t offset) {
  kiln_multiversion_tables_t *tb = c->tables;
  if (tb->nslots == c->slot_cap) {
    size_t cap = c->slot_cap ? c->slot_cap * 2 : 16;
    kiln_multiversion_slot_t *s = realloc(tb->slots, cap * sizeof(*s));
    if (s == NULL) return oom();
    tb->slots = s;
    char **names = realloc(tb->slot_symbols, cap * sizeof(char *));
    if (names == NULL) return oom();
    tb->slot_symbols = names;
    c->slot_cap = cap;
  }
  char *name = copy_name(symbol);
  if (name == NULL) return oom();
  tb->slot_symbols[tb->nslots] = name;
  tb->slots[tb->nslots] = (kiln_multiversion_slot_t){fn, kind, name, offset};
  tb->nslots++;
  return NULL;
}

/* Tags `fn` as target k's code: cpu, features, size attributes. */
static void tag_target(mv_ctx_t *c, LLVMValueRef fn, size_t k) {
  mv_attr_set(fn, "target-cpu", c->tables->targets[k].cpu);
  mv_attr_set(fn, "target-features", c->tables->targets[k].features);
  char idx[24];
  snprintf(idx, sizeof(idx), "%zu", k);
  mv_attr_set(fn, MV_ATTR_TARGET, idx);
  unsigned flags = c->t.flags[k];
  unsigned optnone = LLVMGetEnumAttributeKindForName("optnone", 7);
  if (LLVMGetEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, optnone) != NULL) return;
  if (flags & (KILN_TARGET_OPT_SIZE | KILN_TARGET_MIN_SIZE)) {
    unsigned kind = LLVMGetEnumAttributeKindForName("optsize", 7);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(c->llctx, kind, 0));
  }
  if (flags & KILN_TARGET_MIN_SIZE) {
    unsigned kind = LLVMGetEnumAttributeKindForName("minsize", 7);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(c->llctx, kind, 0));
  }
}

/* Stage: the clones themselves. */
static kiln_error_t *make_clones(mv_ctx_t *c) {
  for (size_t i = 0; i < c->nfns; i++) {
    mv_fn_t *f = &c->fns[i];
    f->versions[0] = f->orig;
    size_t len = 0;
    const char *name = LLVMGetValueName2(f->orig, &len);
    for (size_t k = 1; k < c->t.count; k++) {
      if (((f->mask >> k) & 1u) == 0) continue;
      char *cname = malloc(len + 32);
      if (cname == NULL) return oom();
      snprintf(cname, len + 32, "%.*s" MV_CLONE_INFIX "%zu", (int)len, name, k);
      LLVMValueRef clone = NULL;
      kiln_error_t *err = kiln_llvm_function_clone(f->orig, cname, &clone);
      free(cname);
      if (err != NULL) return kiln_error_prefix(err, "kiln_multiversion_clone");
      mv_attr_remove(clone, MV_ATTR_CLONES);
      mv_attr_remove(clone, MV_ATTR_REASONS);
      mv_attr_remove(clone, MV_ATTR_SLOT);
      char *oname = copy_name(f->orig);
      if (oname == NULL) return oom();
      mv_attr_set(clone, MV_ATTR_ORIGIN, oname);
      free(oname);
      tag_target(c, clone, k);
      f->versions[k] = clone;
      if (!LLVMIsDeclaration(clone)) c->tables->targets[k].clone_count++;
    }
  }
  return NULL;
}

/* Stage: one GLOBAL slot per function the annotation marked. */
static kiln_error_t *make_slots(mv_ctx_t *c) {
  for (size_t i = 0; i < c->nfns; i++) {
    mv_fn_t *f = &c->fns[i];
    if (mv_attr_hex(f->orig, MV_ATTR_SLOT) == 0) continue;
    size_t len = 0;
    const char *name = LLVMGetValueName2(f->orig, &len);
    char *sname = malloc(len + sizeof(MV_SLOT_SUFFIX));
    if (sname == NULL) return oom();
    snprintf(sname, len + sizeof(MV_SLOT_SUFFIX), "%.*s" MV_SLOT_SUFFIX, (int)len, name);
    LLVMValueRef g = LLVMAddGlobal(c->module, c->ptr_ty, sname);
    free(sname);
    if (!LLVMIsDeclaration(f->orig)) {
      /* Defined where the function is; other shards declare it. The loader
       * writes it before any code runs, which optimizers must not assume
       * away (externally_initialized). */
      LLVMSetInitializer(g, LLVMConstPointerNull(c->ptr_ty));
      LLVMSetExternallyInitialized(g, 1);
      LLVMLinkage l = LLVMGetLinkage(f->orig);
      if (l == LLVMInternalLinkage || l == LLVMPrivateLinkage) {
        LLVMSetLinkage(g, LLVMInternalLinkage);
      } else {
        LLVMSetVisibility(g, LLVMHiddenVisibility);
      }
    } else {
      LLVMSetExternallyInitialized(g, 1);
      LLVMSetVisibility(g, LLVMHiddenVisibility);
    }
    f->slot = g;
    kiln_error_t *err = add_slot(c, i, KILN_MULTIVERSION_SLOT_GLOBAL, g, 0);
    if (err != NULL) return err;
  }
  return NULL;
}

/* Stage: rewire the references inside one version. `mask`/`o` say which
 * function and target version this is, so the targets that run it are
 * {t : owner(mask, t) == o}. */
static kiln_error_t *rewire(mv_ctx_t *c, LLVMValueRef fn, uint64_t mask, size_t o,
                            LLVMBuilderRef b) {
  bool runs[KILN_MULTIVERSION_MAX_TARGETS];
  for (size_t tt = 0; tt < c->t.count; tt++) runs[tt] = mv_owner(&c->t, mask, tt) == o;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb)) {
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
      int nops = LLVMGetNumOperands(in);
      bool phi = LLVMIsAPHINode(in) != NULL;
      for (int op_i = 0; op_i < nops; op_i++) {
        LLVMValueRef op = LLVMGetOperand(in, (unsigned)op_i);
        size_t i = 0;
        if (op == NULL || LLVMIsAFunction(op) == NULL || !mv_ptrmap_find(&c->index, op, &i))
          continue;
        mv_fn_t *g = &c->fns[i];
        size_t first = SIZE_MAX;
        bool uniform = true;
        for (size_t tt = 0; tt < c->t.count; tt++) {
          if (!runs[tt]) continue;
          size_t owner = mv_owner(&c->t, g->mask, tt);
          if (first == SIZE_MAX) first = owner;
          else if (owner != first) uniform = false;
        }
        if (uniform) {
          if (g->versions[first] != op) LLVMSetOperand(in, (unsigned)op_i, g->versions[first]);
          continue;
        }
        if (g->slot == NULL) {
          return kiln_error_new(KILN_ERR_FORMAT,
                                "kiln_multiversion_clone: '%s' uses '%s' in target-dependent "
                                "code, but the annotation gives it no slot (annotate the whole "
                                "module before splitting)",
                                LLVMGetValueName2(fn, &(size_t){0}),
                                LLVMGetValueName2(g->orig, &(size_t){0}));
        }
        LLVMValueRef load = NULL;
        if (phi) {
          LLVMBasicBlockRef from = LLVMGetIncomingBlock(in, (unsigned)op_i);
          /* A block listed twice must give the same value both times. */
          for (int prev = 0; prev < op_i && load == NULL; prev++)
            if (LLVMGetIncomingBlock(in, (unsigned)prev) == from &&
                LLVMIsALoadInst(LLVMGetOperand(in, (unsigned)prev)) != NULL &&
                LLVMGetOperand(LLVMGetOperand(in, (unsigned)prev), 0) == g->slot)
              load = LLVMGetOperand(in, (unsigned)prev);
          if (load == NULL) LLVMPositionBuilderBefore(b, LLVMGetBasicBlockTerminator(from));
        } else {
          LLVMPositionBuilderBefore(b, in);
        }
        if (load == NULL) {
          load = LLVMBuildLoad2(b, c->ptr_ty, g->slot, "");
          LLVMSetMetadata(load, c->invariant_kind, LLVMMDNodeInContext(c->llctx, NULL, 0));
        }
        LLVMSetOperand(in, (unsigned)op_i, load);
      }
    }
  }
  return NULL;
}

/* Rebuilds a data initializer with the addresses of multiversioned
 * functions replaced by null, recording a DATA slot for each. */
static kiln_error_t *strip_data(mv_ctx_t *c, LLVMValueRef gv, LLVMValueRef init, uint64_t offset,
                                LLVMValueRef *out) {
  *out = init;
  size_t i = 0;
  if (LLVMIsAFunction(init) != NULL && mv_ptrmap_find(&c->index, init, &i)) {
    *out = LLVMConstPointerNull(LLVMTypeOf(init));
    return add_slot(c, i, KILN_MULTIVERSION_SLOT_DATA, gv, offset);
  }
  bool is_struct = LLVMIsAConstantStruct(init) != NULL;
  bool is_array = LLVMIsAConstantArray(init) != NULL;
  if (!is_struct && !is_array) return NULL;
  LLVMTypeRef ty = LLVMTypeOf(init);
  unsigned n = (unsigned)LLVMGetNumOperands(init);
  LLVMValueRef *elems = malloc((n ? n : 1) * sizeof(*elems));
  if (elems == NULL) return oom();
  bool changed = false;
  for (unsigned e = 0; e < n; e++) {
    LLVMValueRef el = LLVMGetOperand(init, e);
    uint64_t off = is_struct ? LLVMOffsetOfElement(c->layout, ty, e)
                             : e * LLVMABISizeOfType(c->layout, LLVMGetElementType(ty));
    kiln_error_t *err = strip_data(c, gv, el, offset + off, &elems[e]);
    if (err != NULL) {
      free(elems);
      return err;
    }
    changed |= elems[e] != el;
  }
  if (changed) {
    if (is_array) {
      *out = LLVMConstArray2(LLVMGetElementType(ty), elems, n);
    } else if (LLVMGetStructName(ty) != NULL) {
      *out = LLVMConstNamedStruct(ty, elems, n);
    } else {
      *out = LLVMConstStructInContext(c->llctx, elems, n, LLVMIsPackedStruct(ty));
    }
  }
  free(elems);
  return NULL;
}

static kiln_error_t *fix_data(mv_ctx_t *c) {
  for (LLVMValueRef gv = LLVMGetFirstGlobal(c->module); gv; gv = LLVMGetNextGlobal(gv)) {
    LLVMValueRef init = LLVMGetInitializer(gv);
    if (init == NULL || mv_is_special_global(gv)) continue;
    size_t before = c->tables->nslots;
    LLVMValueRef stripped = NULL;
    kiln_error_t *err = strip_data(c, gv, init, 0, &stripped);
    if (err != NULL) return err;
    if (c->tables->nslots != before) {
      LLVMSetInitializer(gv, stripped);
      LLVMSetGlobalConstant(gv, 0);
      LLVMSetExternallyInitialized(gv, 1);
    }
  }
  return NULL;
}

static LLVMValueRef add_table(mv_ctx_t *c, const char *name, const char *suffix, LLVMTypeRef elem,
                              LLVMValueRef *vals, size_t n) {
  char full[128];
  snprintf(full, sizeof(full), "%s%s", name, suffix);
  LLVMValueRef arr = LLVMConstArray2(elem, vals, n);
  LLVMValueRef g = LLVMAddGlobal(c->module, LLVMTypeOf(arr), full);
  LLVMSetInitializer(g, arr);
  LLVMSetGlobalConstant(g, 1);
  return g;
}

/* Stage: the tables as globals the loader reads (names in multiversion.h). */
static kiln_error_t *emit_tables(mv_ctx_t *c, const char *suffix) {
  kiln_multiversion_tables_t *tb = c->tables;
  size_t n = tb->nfunctions > tb->nslots ? tb->nfunctions : tb->nslots;
  LLVMValueRef *vals = malloc((n ? n : 1) * sizeof(*vals));
  if (vals == NULL) return oom();
  char name[64];
  for (size_t k = 0; k < c->t.count; k++) {
    for (size_t i = 0; i < c->nfns; i++)
      vals[i] = c->fns[i].versions[mv_owner(&c->t, c->fns[i].mask, k)];
    snprintf(name, sizeof(name), MV_TABLE_PREFIX "fptrs_%zu", k);
    add_table(c, name, suffix, c->ptr_ty, vals, c->nfns);
  }
  LLVMTypeRef i8 = LLVMInt8TypeInContext(c->llctx), i64 = LLVMInt64TypeInContext(c->llctx);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(c->llctx);
  for (size_t j = 0; j < tb->nslots; j++) {
    const kiln_multiversion_slot_t *s = &tb->slots[j];
    LLVMValueRef g = LLVMGetNamedGlobal(c->module, s->symbol);
    LLVMValueRef off = LLVMConstInt(i64, s->offset, 0);
    vals[j] = s->offset == 0 ? g : LLVMConstInBoundsGEP2(i8, g, &off, 1);
  }
  add_table(c, MV_TABLE_PREFIX "slot_addrs", suffix, c->ptr_ty, vals, tb->nslots);
  for (size_t j = 0; j < tb->nslots; j++) vals[j] = LLVMConstInt(i32, tb->slots[j].function, 0);
  add_table(c, MV_TABLE_PREFIX "slot_fids", suffix, i32, vals, tb->nslots);
  LLVMValueRef counts[3] = {LLVMConstInt(i64, c->t.count, 0), LLVMConstInt(i64, c->nfns, 0),
                            LLVMConstInt(i64, tb->nslots, 0)};
  add_table(c, MV_TABLE_PREFIX "counts", suffix, i64, counts, 3);
  free(vals);
  return NULL;
}

static kiln_error_t *fill_function_rows(mv_ctx_t *c) {
  kiln_multiversion_tables_t *tb = c->tables;
  tb->functions = calloc(c->nfns ? c->nfns : 1, sizeof(*tb->functions));
  if (tb->functions == NULL) return oom();
  tb->nfunctions = c->nfns;
  for (size_t i = 0; i < c->nfns; i++) {
    mv_function_row_t *row = &tb->functions[i];
    row->name = copy_name(c->fns[i].orig);
    row->symbols = calloc(c->t.count, sizeof(char *));
    if (row->name == NULL || row->symbols == NULL) return oom();
    for (size_t k = 0; k < c->t.count; k++) {
      row->symbols[k] = copy_name(c->fns[i].versions[mv_owner(&c->t, c->fns[i].mask, k)]);
      if (row->symbols[k] == NULL) return oom();
    }
  }
  return NULL;
}

static kiln_error_t *run(mv_ctx_t *c, const kiln_multiversion_options_t *options) {
  kiln_multiversion_tables_t *tb = c->tables;
  kiln_error_t *err = NULL;

  /* Resolve every target once: clones carry these sets, the image stores
   * them for the loader. */
  char *triple = mv_module_triple(c->module);
  tb->ntargets = c->t.count;
  tb->targets = calloc(c->t.count, sizeof(*tb->targets));
  if (tb->targets == NULL) err = oom();
  for (size_t k = 0; err == NULL && k < c->t.count; k++) {
    err = mv_resolve(&c->t, triple, k, &tb->targets[k].cpu, &tb->targets[k].features);
    tb->targets[k].flags = c->t.flags[k];
    tb->targets[k].base = c->t.base[k];
  }
  LLVMDisposeMessage(triple);
  if (err != NULL) return err;

  /* The multiversioned functions (defined or declared, so shards agree)
   * and the original definitions, before any clone exists. */
  size_t ndefs = 0, nall = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(c->module); f; f = LLVMGetNextFunction(f)) nall++;
  c->fns = calloc(nall ? nall : 1, sizeof(*c->fns));
  LLVMValueRef *defs = calloc(nall ? nall : 1, sizeof(*defs));
  if (c->fns == NULL || defs == NULL) {
    free(defs);
    return oom();
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(c->module); f; f = LLVMGetNextFunction(f)) {
    if (!LLVMIsDeclaration(f)) defs[ndefs++] = f;
    uint64_t mask = mv_attr_hex(f, MV_ATTR_CLONES);
    if (mask == 0) continue;
    c->fns[c->nfns].orig = f;
    c->fns[c->nfns].mask = mask;
    mv_ptrmap_add(&c->index, f, c->nfns);
    c->nfns++;
  }
  mv_ptrmap_seal(&c->index);

  err = make_clones(c);
  if (err == NULL) err = make_slots(c);
  /* Rewire every version: originals as target 0's, clones as theirs. */
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c->llctx);
  for (size_t d = 0; err == NULL && d < ndefs; d++) {
    size_t i = 0;
    uint64_t mask = mv_ptrmap_find(&c->index, defs[d], &i) ? c->fns[i].mask : 0;
    tag_target(c, defs[d], 0);
    err = rewire(c, defs[d], mask, 0, b);
  }
  for (size_t i = 0; err == NULL && i < c->nfns; i++) {
    for (size_t k = 1; err == NULL && k < c->t.count; k++) {
      LLVMValueRef v = ((c->fns[i].mask >> k) & 1u) ? c->fns[i].versions[k] : NULL;
      if (v != NULL && !LLVMIsDeclaration(v)) err = rewire(c, v, c->fns[i].mask, k, b);
    }
  }
  LLVMDisposeBuilder(b);
  free(defs);
  if (err == NULL) err = fix_data(c);
  if (err == NULL) err = fill_function_rows(c);
  if (err == NULL && (options == NULL || options->emit_tables))
    err = emit_tables(c, options != NULL && options->suffix != NULL ? options->suffix : "");
  if (err == NULL) {
    LLVMMetadataRef md = LLVMMDStringInContext2(c->llctx, "1", 1);
    LLVMAddNamedMetadataOperand(c->module, MV_MD_CLONED,
                                LLVMMetadataAsValue(c->llctx, LLVMMDNodeInContext2(c->llctx, &md, 1)));
  }
  return err;
}

kiln_error_t *kiln_multiversion_clone(LLVMModuleRef module,
                                      const kiln_multiversion_options_t *options,
                                      kiln_multiversion_tables_t **tables_out) {
  if (tables_out != NULL) *tables_out = NULL;
  if (module == NULL || tables_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_clone: NULL module or output");
  }
  if (mv_has_named_md(module, MV_MD_CLONED)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_multiversion_clone: module is already multiversioned");
  }
  mv_ctx_t c;
  memset(&c, 0, sizeof(c));
  kiln_error_t *err = mv_targets_read(module, &c.t);
  if (err != NULL) return kiln_error_prefix(err, "kiln_multiversion_clone");
  c.module = module;
  c.llctx = LLVMGetModuleContext(module);
  c.layout = LLVMGetModuleDataLayout(module);
  c.ptr_ty = LLVMPointerTypeInContext(c.llctx, 0);
  c.invariant_kind = LLVMGetMDKindIDInContext(c.llctx, "invariant.load", 14);
  c.tables = calloc(1, sizeof(*c.tables));
  if (c.tables == NULL) err = oom();
  if (err == NULL) err = run(&c, options);
  mv_ptrmap_release(&c.index);
  free(c.fns);
  mv_targets_release(&c.t);
  if (err != NULL) {
    kiln_multiversion_tables_free(c.tables);
    return err;
  }
  *tables_out = c.tables;
  return NULL;
}

/* ---- Table accessors ------------------------------------------------------ */

size_t kiln_multiversion_tables_target_count(const kiln_multiversion_tables_t *tables) {
  return tables != NULL ? tables->ntargets : 0;
}

const char *kiln_multiversion_tables_target_cpu(const kiln_multiversion_tables_t *tables,
                                                size_t k) {
  return tables != NULL && k < tables->ntargets ? tables->targets[k].cpu : NULL;
}

const char *kiln_multiversion_tables_target_features(const kiln_multiversion_tables_t *tables,
                                                     size_t k) {
  return tables != NULL && k < tables->ntargets ? tables->targets[k].features : NULL;
}

unsigned kiln_multiversion_tables_target_flags(const kiln_multiversion_tables_t *tables,
                                               size_t k) {
  return tables != NULL && k < tables->ntargets ? tables->targets[k].flags : 0;
}

size_t kiln_multiversion_tables_target_base(const kiln_multiversion_tables_t *tables, size_t k) {
  return tables != NULL && k < tables->ntargets ? tables->targets[k].base : 0;
}

size_t kiln_multiversion_tables_clone_count(const kiln_multiversion_tables_t *tables, size_t k) {
  return tables != NULL && k < tables->ntargets ? tables->targets[k].clone_count : 0;
}

size_t kiln_multiversion_tables_function_count(const kiln_multiversion_tables_t *tables) {
  return tables != NULL ? tables->nfunctions : 0;
}

const char *kiln_multiversion_tables_function_name(const kiln_multiversion_tables_t *tables,
                                                   size_t i) {
  return tables != NULL && i < tables->nfunctions ? tables->functions[i].name : NULL;
}

const char *kiln_multiversion_tables_function_symbol(const kiln_multiversion_tables_t *tables,
                                                     size_t k, size_t i) {
  if (tables == NULL || k >= tables->ntargets || i >= tables->nfunctions) return NULL;
  return tables->functions[i].symbols[k];
}

size_t kiln_multiversion_tables_slot_count(const kiln_multiversion_tables_t *tables) {
  return tables != NULL ? tables->nslots : 0;
}

const kiln_multiversion_slot_t *kiln_multiversion_tables_slot(
    const kiln_multiversion_tables_t *tables, size_t j) {
  return tables != NULL && j < tables->nslots ? &tables->slots[j] : NULL;
}
