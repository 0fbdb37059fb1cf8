/*
 * components/emitter/shard.c — step 2: one shard in its own LLVMContext on
 * the calling thread. Parse the shard's bitcode, clone per target
 * (kiln_multiversion_clone without its own tables), define the shard's
 * image tables (__kiln_s<s>_f<k>, _slots, _globals: hidden arrays of
 * pointers the metadata object's root points at), run the staged pipeline
 * with target 0's machine, and compile to an object in memory. Also the
 * shard's files (.o + .slots sidecar) for multi-process builds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/emitter/internal.h"
#include "components/multiversion/multiversion.h"
#include "components/pipeline/pipeline.h"
#include "llvm-c/BitReader.h"
#include "llvm-c/Core.h"

/* The slot sidecar's version: 2 since format 5 numbers functions shard by
 * shard (a version-1 file's indices follow name order). */
#define EM_SLOTS_VERSION 2

void kiln_emitter_shard_free(kiln_emitter_shard_t *sh) {
  if (sh == NULL) return;
  free(sh->object);
  free(sh->asm_text);
  free(sh->bitcode);
  free(sh->unopt_bitcode);
  free(sh->slots);
  free(sh);
}

/* ---- Tables -------------------------------------------------------------- */

typedef struct mv_entry {
  const char *name;
  size_t index;
} mv_entry_t;

static int cmp_mv_entry(const void *a, const void *b) {
  return strcmp(((const mv_entry_t *)a)->name, ((const mv_entry_t *)b)->name);
}

/* Defines `[n x ptr] <symbol>` hidden and constant (n > 0). */
static void add_table(LLVMModuleRef m, size_t shard, kiln_image_format_table_kind_t kind,
                      size_t target, LLVMValueRef *vals, size_t n) {
  char name[96];
  kiln_image_format_table_symbol(name, sizeof(name), shard, kind, target);
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMValueRef arr = LLVMConstArray2(ptr, vals, n);
  LLVMValueRef g = LLVMAddGlobal(m, LLVMTypeOf(arr), name);
  LLVMSetInitializer(g, arr);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMExternalLinkage);
  LLVMSetVisibility(g, LLVMHiddenVisibility);
  LLVMSetAlignment(g, 8);
}

static kiln_error_t *add_tables(const kiln_emitter_plan_t *p, size_t s, LLVMModuleRef m,
                                const kiln_multiversion_tables_t *tables,
                                kiln_emitter_shard_t *out) {
  const em_shard_plan_t *sh = &p->shards[s];
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  size_t nmv = kiln_multiversion_tables_function_count(tables);
  size_t nslots = kiln_multiversion_tables_slot_count(tables);
  size_t cap = sh->function_count;
  if (sh->global_count > cap) cap = sh->global_count;
  if (nslots > cap) cap = nslots;
  LLVMValueRef *vals = calloc(cap ? cap : 1, sizeof(*vals));
  mv_entry_t *mv = calloc(nmv ? nmv : 1, sizeof(*mv));
  out->slots = calloc(nslots ? nslots : 1, sizeof(uint32_t));
  kiln_error_t *err = NULL;
  if (vals == NULL || mv == NULL || out->slots == NULL) err = em_oom();
  for (size_t i = 0; err == NULL && i < nmv; i++)
    mv[i] = (mv_entry_t){kiln_multiversion_tables_function_name(tables, i), i};
  if (err == NULL && nmv > 1) qsort(mv, nmv, sizeof(*mv), cmp_mv_entry);

  /* functions(s, 0): the originals of the shard's range of the function
   * table (numbered shard by shard), entry j = function first_function + j. */
  for (size_t j = 0; err == NULL && j < sh->function_count; j++) {
    const char *name = p->functions[sh->first_function + j];
    LLVMValueRef f = LLVMGetNamedFunction(m, name);
    if (f == NULL || LLVMIsDeclaration(f))
      err = kiln_error_new(KILN_ERR_INTERNAL, "shard %zu: function '%s' is not defined here", s,
                           name);
    vals[j] = f;
  }
  if (err == NULL && sh->function_count > 0)
    add_table(m, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, 0, vals, sh->function_count);

  /* functions(s, k): target k's version of each overridden function (the
   * overrides are positions in the shard's range). */
  for (size_t k = 1; err == NULL && k < p->target_count; k++) {
    size_t n = sh->override_counts != NULL ? sh->override_counts[k] : 0;
    for (size_t j = 0; err == NULL && j < n; j++) {
      const char *name = p->functions[sh->first_function + sh->overrides[k][j]];
      mv_entry_t key = {name, 0};
      mv_entry_t *hit = bsearch(&key, mv, nmv, sizeof(*mv), cmp_mv_entry);
      const char *sym =
          hit != NULL ? kiln_multiversion_tables_function_symbol(tables, k, hit->index) : NULL;
      LLVMValueRef f = sym != NULL ? LLVMGetNamedFunction(m, sym) : NULL;
      if (f == NULL) {
        err = kiln_error_new(KILN_ERR_INTERNAL,
                             "shard %zu: no target-%zu version of '%s' (the plan overrides it)", s,
                             k, name);
        break;
      }
      vals[j] = f;
    }
    if (err == NULL && n > 0) add_table(m, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k, vals, n);
  }

  /* slots(s): the slot words defined in this shard (a GLOBAL slot lives
   * where its function is defined; other shards only declare it). */
  LLVMTypeRef i8 = LLVMInt8TypeInContext(ctx), i64 = LLVMInt64TypeInContext(ctx);
  size_t q = 0;
  for (size_t j = 0; err == NULL && j < nslots; j++) {
    const kiln_multiversion_slot_t *slot = kiln_multiversion_tables_slot(tables, j);
    LLVMValueRef g = LLVMGetNamedGlobal(m, slot->symbol);
    if (g == NULL || LLVMGetInitializer(g) == NULL) continue;
    const char *fname = kiln_multiversion_tables_function_name(tables, slot->function);
    uint32_t idx = 0;
    if (fname == NULL || !em_plan_function_index(p, fname, &idx)) {
      err = kiln_error_new(KILN_ERR_INTERNAL, "shard %zu: slot '%s' holds '%s', not in the image",
                           s, slot->symbol, fname != NULL ? fname : "?");
      break;
    }
    LLVMValueRef off = LLVMConstInt(i64, slot->offset, 0);
    vals[q] = slot->offset == 0 ? g : LLVMConstInBoundsGEP2(i8, g, &off, 1);
    out->slots[q++] = idx;
  }
  out->slot_count = q;
  if (err == NULL && q > 0) add_table(m, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0, vals, q);

  /* globals(s): the shard's range of the global table. */
  for (size_t j = 0; err == NULL && j < sh->global_count; j++) {
    const char *name = p->globals[sh->first_global + j];
    LLVMValueRef g = LLVMGetNamedGlobal(m, name);
    if (g == NULL || LLVMGetInitializer(g) == NULL)
      err = kiln_error_new(KILN_ERR_INTERNAL, "shard %zu: global '%s' is not defined here", s,
                           name);
    vals[j] = g;
  }
  if (err == NULL && sh->global_count > 0)
    add_table(m, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0, vals, sh->global_count);
  free(vals);
  free(mv);
  return err;
}

/* ---- The shard ------------------------------------------------------------- */

static kiln_error_t *compile(const kiln_emitter_plan_t *p, size_t s, unsigned outputs,
                             LLVMContextRef ctx, kiln_emitter_shard_t *out) {
  const em_shard_plan_t *sh = &p->shards[s];
  const void *data = NULL;
  size_t size = 0;
  void *owned = NULL;
  kiln_error_t *err = em_shard_bitcode(p, s, &data, &size, &owned);
  if (err != NULL) return err;
  LLVMMemoryBufferRef mb =
      LLVMCreateMemoryBufferWithMemoryRange(data, size, sh->path != NULL ? sh->path : sh->file, 0);
  LLVMModuleRef m = NULL;
  if (LLVMParseBitcodeInContext2(ctx, mb, &m) != 0)
    err = kiln_error_new(KILN_ERR_FORMAT, "%s: not valid LLVM bitcode",
                         sh->path != NULL ? sh->path : sh->file);
  LLVMDisposeMemoryBuffer(mb);
  free(owned);
  if (err != NULL) return err;

  kiln_multiversion_options_t *mo = NULL;
  kiln_multiversion_tables_t *tables = NULL;
  kiln_pipeline_options_t *po = NULL;
  kiln_pipeline_report_t *report = NULL;
  LLVMTargetMachineRef tm = NULL;

  /* Clones per target; the image tables are ours, not multiversion's. */
  err = kiln_multiversion_options_new(&mo);
  if (err == NULL) {
    kiln_multiversion_options_set_emit_tables(mo, false);
    err = kiln_multiversion_clone(m, mo, &tables);
  }
  if (err == NULL) err = kiln_multiversion_verify(m, NULL, 0, NULL);
  if (err == NULL) err = add_tables(p, s, m, tables, out);
  if (err == NULL && (outputs & KILN_EMITTER_OUTPUT_UNOPT_BC))
    err = em_bitcode(m, &out->unopt_bitcode, &out->unopt_bitcode_size);
  /* Target 0's machine: its cost model drives the optimizer; each
   * function's own target-cpu/target-features drive its code. */
  if (err == NULL)
    err = em_target_machine(p->triple, p->target_cpu[0], p->target_features[0], p->opt_level,
                            &tm);
  if (err == NULL) err = kiln_pipeline_options_new(&po);
  if (err == NULL) err = kiln_pipeline_options_set_opt_level(po, p->opt_level);
  if (err == NULL) {
    kiln_pipeline_options_set_vectorize(po, p->vectorize);
    kiln_pipeline_options_set_target_machine(po, tm);
    err = kiln_pipeline_run(po, m, &report);
  }
  if (err == NULL && (outputs & KILN_EMITTER_OUTPUT_BC))
    err = em_bitcode(m, &out->bitcode, &out->bitcode_size);
  /* Codegen changes the IR it runs on (CodeGenPrepare): the assembly is
   * made from a copy, so the object is the same with or without it. */
  if (err == NULL && (outputs & KILN_EMITTER_OUTPUT_ASM)) {
    LLVMModuleRef copy = LLVMCloneModule(m);
    err = em_codegen(tm, copy, true, &out->asm_text, &out->asm_size);
    LLVMDisposeModule(copy);
  }
  if (err == NULL) err = em_codegen(tm, m, false, &out->object, &out->object_size);
  kiln_pipeline_report_free(report);
  kiln_pipeline_options_free(po);
  if (tm != NULL) LLVMDisposeTargetMachine(tm);
  kiln_multiversion_tables_free(tables);
  kiln_multiversion_options_free(mo);
  LLVMDisposeModule(m);
  return err;
}

kiln_error_t *kiln_emitter_emit_shard(const kiln_emitter_options_t *o,
                                      const kiln_emitter_plan_t *p, size_t s,
                                      kiln_emitter_shard_t **shard_out) {
  if (shard_out != NULL) *shard_out = NULL;
  if (p == NULL || shard_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_emit_shard: NULL argument");
  if (s >= p->shard_count)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_emitter_emit_shard: shard %zu out of range (%zu shards)", s,
                          p->shard_count);
  kiln_emitter_shard_t *sh = calloc(1, sizeof(*sh));
  if (sh == NULL) return em_oom();
  sh->index = s;
  sh->start_ns = em_now_ns();
  int64_t cpu0 = em_thread_cpu_ns();
  em_llvm_init();
  /* A context per shard: workers share no LLVM state. */
  LLVMContextRef ctx = LLVMContextCreate();
  kiln_error_t *err = compile(p, s, o != NULL ? o->outputs : 0, ctx, sh);
  LLVMContextDispose(ctx);
  sh->wall_ns = em_now_ns() - sh->start_ns;
  sh->cpu_ns = em_thread_cpu_ns() - cpu0;
  if (err != NULL) {
    kiln_emitter_shard_free(sh);
    return kiln_error_prefix(err, "shard %zu", s);
  }
  *shard_out = sh;
  return NULL;
}

/* ---- Accessors -------------------------------------------------------------- */

size_t kiln_emitter_shard_index(const kiln_emitter_shard_t *sh) {
  return sh != NULL ? sh->index : 0;
}

static const void *bytes(const void *d, size_t n, size_t *size_out) {
  if (size_out != NULL) *size_out = d != NULL ? n : 0;
  return d;
}

const void *kiln_emitter_shard_object(const kiln_emitter_shard_t *sh, size_t *size_out) {
  return sh != NULL ? bytes(sh->object, sh->object_size, size_out) : bytes(NULL, 0, size_out);
}
const void *kiln_emitter_shard_asm(const kiln_emitter_shard_t *sh, size_t *size_out) {
  return sh != NULL ? bytes(sh->asm_text, sh->asm_size, size_out) : bytes(NULL, 0, size_out);
}
const void *kiln_emitter_shard_bitcode(const kiln_emitter_shard_t *sh, size_t *size_out) {
  return sh != NULL ? bytes(sh->bitcode, sh->bitcode_size, size_out) : bytes(NULL, 0, size_out);
}
const void *kiln_emitter_shard_unopt_bitcode(const kiln_emitter_shard_t *sh, size_t *size_out) {
  return sh != NULL ? bytes(sh->unopt_bitcode, sh->unopt_bitcode_size, size_out)
                    : bytes(NULL, 0, size_out);
}
size_t kiln_emitter_shard_slot_count(const kiln_emitter_shard_t *sh) {
  return sh != NULL ? sh->slot_count : 0;
}
uint32_t kiln_emitter_shard_slot_function(const kiln_emitter_shard_t *sh, size_t j) {
  return sh != NULL && j < sh->slot_count ? sh->slots[j] : 0;
}
int64_t kiln_emitter_shard_wall_ns(const kiln_emitter_shard_t *sh) {
  return sh != NULL ? sh->wall_ns : 0;
}
int64_t kiln_emitter_shard_cpu_ns(const kiln_emitter_shard_t *sh) {
  return sh != NULL ? sh->cpu_ns : 0;
}

/* ---- Files --------------------------------------------------------------------- */

/* Writes <prefix><ext> when data is present. */
static kiln_error_t *write_part(const char *prefix, const char *ext, const void *data,
                                size_t size) {
  if (data == NULL) return NULL;
  char *path = em_path_join(prefix, ext);
  if (path == NULL) return em_oom();
  kiln_error_t *err = em_write_file(path, data, size);
  free(path);
  return err;
}

kiln_error_t *kiln_emitter_shard_write(const kiln_emitter_shard_t *sh, const char *prefix) {
  if (sh == NULL || prefix == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_shard_write: NULL argument");
  em_buf_t b = {0};
  em_buf_printf(&b, "kiln-slots %d\nshard %zu\ntime %" PRId64 " %" PRId64 "\nslots %zu\n",
                EM_SLOTS_VERSION, sh->index, sh->wall_ns, sh->cpu_ns, sh->slot_count);
  for (size_t j = 0; j < sh->slot_count; j++) em_buf_printf(&b, "%" PRIu32 "\n", sh->slots[j]);
  kiln_error_t *err = b.failed ? em_oom() : NULL;
  if (err == NULL) err = write_part(prefix, ".o", sh->object, sh->object_size);
  if (err == NULL) err = write_part(prefix, ".s", sh->asm_text, sh->asm_size);
  if (err == NULL) err = write_part(prefix, ".bc", sh->bitcode, sh->bitcode_size);
  if (err == NULL)
    err = write_part(prefix, ".unopt.bc", sh->unopt_bitcode, sh->unopt_bitcode_size);
  /* The sidecar last: its presence means the object is complete. */
  if (err == NULL) err = write_part(prefix, ".slots", b.data, b.size);
  em_buf_free(&b);
  return err;
}

kiln_error_t *kiln_emitter_shard_read(const char *prefix, kiln_emitter_shard_t **shard_out) {
  if (shard_out != NULL) *shard_out = NULL;
  if (prefix == NULL || shard_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_shard_read: NULL argument");
  char *spath = em_path_join(prefix, ".slots"), *opath = em_path_join(prefix, ".o");
  kiln_emitter_shard_t *sh = calloc(1, sizeof(*sh));
  void *text = NULL;
  size_t size = 0;
  kiln_error_t *err = (spath == NULL || opath == NULL || sh == NULL) ? em_oom() : NULL;
  if (err == NULL) err = em_read_file(spath, &text, &size);
  if (err == NULL) {
    const char *t = text;
    int used = 0, version = 0;
    size_t n = 0;
    if (sscanf(t, "kiln-slots %d\n", &version) == 1 && version != EM_SLOTS_VERSION) {
      err = kiln_error_new(KILN_ERR_VERSION_MISMATCH,
                           "%s: slot file version %d, this kiln reads version %d (its function "
                           "indices follow another numbering: emit the shard again)",
                           spath, version, EM_SLOTS_VERSION);
    } else if (sscanf(t, "kiln-slots %d\nshard %zu\ntime %" SCNd64 " %" SCNd64 "\nslots %zu\n%n",
                      &version, &sh->index, &sh->wall_ns, &sh->cpu_ns, &n, &used) != 5 ||
               n > size) {
      err = kiln_error_new(KILN_ERR_FORMAT, "%s: damaged slot file", spath);
    } else {
      sh->slots = calloc(n ? n : 1, sizeof(uint32_t));
      if (sh->slots == NULL) err = em_oom();
      t += used;
      for (size_t j = 0; err == NULL && j < n; j++) {
        char *end = NULL;
        unsigned long v = strtoul(t, &end, 10);
        if (end == t || *end != '\n' || v > UINT32_MAX) {
          err = kiln_error_new(KILN_ERR_FORMAT, "%s: damaged slot file (slot %zu)", spath, j);
          break;
        }
        sh->slots[j] = (uint32_t)v;
        t = end + 1;
      }
      sh->slot_count = n;
    }
  }
  if (err == NULL) err = em_read_file(opath, &sh->object, &sh->object_size);
  free(text);
  free(spath);
  free(opath);
  if (err != NULL) {
    kiln_emitter_shard_free(sh);
    return err;
  }
  *shard_out = sh;
  return NULL;
}
