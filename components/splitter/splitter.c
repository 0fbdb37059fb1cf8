/*
 * components/splitter/splitter.c — the public API: options, the split
 * pipeline and the shards result.
 *
 * kiln_splitter_split reads top to bottom: verify the input (a broken module
 * would make every shard fail for reasons that are not the splitter's),
 * partition and promote (partition.c), then build each shard in order
 * (shard.c) and record what it defines. Shards are built one after another
 * in the caller's context, so at most one module copy is alive at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "components/splitter/internal.h"
#include "llvm-c/Analysis.h"
#include "third_party/abseil_c/abseil_c.h"

/* ---- Options ------------------------------------------------------------ */

kiln_error_t *kiln_splitter_options_new(kiln_splitter_options_t **out) {
  if (out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_splitter_options_new: NULL output");
  *out = calloc(1, sizeof(**out));
  if (*out == NULL)
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_splitter_options_new: out of memory");
  (*out)->shard_weight = KILN_SPLITTER_DEFAULT_SHARD_WEIGHT;
  (*out)->max_shards = KILN_SPLITTER_DEFAULT_MAX_SHARDS;
  (*out)->copy_inline = true;
  return NULL;
}

void kiln_splitter_options_free(kiln_splitter_options_t *options) { free(options); }

void kiln_splitter_options_set_shard_count(kiln_splitter_options_t *options, unsigned n) {
  if (options != NULL) options->shard_count = n;
}

void kiln_splitter_options_set_shard_weight(kiln_splitter_options_t *options, uint64_t w) {
  if (options != NULL) options->shard_weight = w ? w : KILN_SPLITTER_DEFAULT_SHARD_WEIGHT;
}

void kiln_splitter_options_set_max_shards(kiln_splitter_options_t *options, unsigned n) {
  if (options != NULL) options->max_shards = n ? n : KILN_SPLITTER_DEFAULT_MAX_SHARDS;
}

void kiln_splitter_options_set_multiplier(kiln_splitter_options_t *options,
                                          kiln_splitter_multiplier_fn fn, void *user) {
  if (options == NULL) return;
  options->multiplier = fn;
  options->multiplier_user = user;
}

void kiln_splitter_options_set_copy_inline(kiln_splitter_options_t *options, bool on) {
  if (options != NULL) options->copy_inline = on;
}

void kiln_splitter_options_set_group_internal_variables(kiln_splitter_options_t *options,
                                                        bool on) {
  if (options != NULL) options->group_internal_variables = on;
}

/* ---- Shards ------------------------------------------------------------- */

typedef struct shard {
  LLVMMemoryBufferRef bitcode;
  uint64_t weight;
  char **functions; /* owned copies, module order */
  size_t nfunctions, capfunctions;
} shard_t;

struct kiln_splitter_shards {
  shard_t *shards;
  size_t count;
  uint64_t total_weight;
  kiln_absl_strmap_t *where; /* name -> (void *)(shard + 1) */
};

void kiln_splitter_shards_free(kiln_splitter_shards_t *shards) {
  if (shards == NULL) return;
  for (size_t s = 0; s < shards->count; s++) {
    if (shards->shards[s].bitcode != NULL) LLVMDisposeMemoryBuffer(shards->shards[s].bitcode);
    for (size_t i = 0; i < shards->shards[s].nfunctions; i++) free(shards->shards[s].functions[i]);
    free(shards->shards[s].functions);
  }
  free(shards->shards);
  kiln_absl_strmap_free(shards->where);
  free(shards);
}

size_t kiln_splitter_shards_count(const kiln_splitter_shards_t *shards) {
  return shards != NULL ? shards->count : 0;
}

void kiln_splitter_shards_bitcode(const kiln_splitter_shards_t *shards, size_t shard,
                                  const void **data_out, size_t *size_out) {
  if (data_out != NULL) *data_out = NULL;
  if (size_out != NULL) *size_out = 0;
  if (shards == NULL || shard >= shards->count || shards->shards[shard].bitcode == NULL) return;
  if (data_out != NULL) *data_out = LLVMGetBufferStart(shards->shards[shard].bitcode);
  if (size_out != NULL) *size_out = LLVMGetBufferSize(shards->shards[shard].bitcode);
}

uint64_t kiln_splitter_shards_weight(const kiln_splitter_shards_t *shards, size_t shard) {
  return shards != NULL && shard < shards->count ? shards->shards[shard].weight : 0;
}

uint64_t kiln_splitter_shards_total_weight(const kiln_splitter_shards_t *shards) {
  return shards != NULL ? shards->total_weight : 0;
}

kiln_error_t *kiln_splitter_shards_find(const kiln_splitter_shards_t *shards, const char *name,
                                        size_t *shard_out) {
  if (shard_out != NULL) *shard_out = 0;
  if (shards == NULL || name == NULL || shard_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_splitter_shards_find: NULL shards, name or output");
  void *v = NULL;
  if (!kiln_absl_strmap_find(shards->where, name, &v))
    return kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': no shard defines it", name);
  *shard_out = (size_t)(uintptr_t)v - 1;
  return NULL;
}

size_t kiln_splitter_shards_function_count(const kiln_splitter_shards_t *shards, size_t shard) {
  return shards != NULL && shard < shards->count ? shards->shards[shard].nfunctions : 0;
}

const char *kiln_splitter_shards_function_name(const kiln_splitter_shards_t *shards, size_t shard,
                                               size_t i) {
  if (shards == NULL || shard >= shards->count || i >= shards->shards[shard].nfunctions)
    return NULL;
  return shards->shards[shard].functions[i];
}

/* ---- Splitting ---------------------------------------------------------- */

typedef struct record_ctx {
  const partition_t *p;
  kiln_splitter_shards_t *out;
} record_ctx_t;

/* Records that shard s defines item i: the name table (first shard wins for
 * local constants copied into several) and the function list. */
static kiln_error_t *record_defined(void *ctx, size_t s, size_t i) {
  record_ctx_t *r = ctx;
  const item_t *it = &r->p->items[i];
  const char *name = splitter_name(it->value);
  if (name[0] == '\0') return NULL;
  kiln_error_t *err = kiln_absl_strmap_insert(r->out->where, name, (void *)(uintptr_t)(s + 1), NULL);
  if (err != NULL || it->kind != ITEM_FUNCTION || it->shard != s) return err;
  shard_t *sh = &r->out->shards[s];
  if (sh->nfunctions == sh->capfunctions) {
    size_t cap = sh->capfunctions ? sh->capfunctions * 2 : 8;
    char **f = realloc(sh->functions, cap * sizeof(char *));
    if (f == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: function list");
    sh->functions = f;
    sh->capfunctions = cap;
  }
  sh->functions[sh->nfunctions] = splitter_strdup(name);
  if (sh->functions[sh->nfunctions] == NULL)
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: function list");
  sh->nfunctions++;
  return NULL;
}

kiln_error_t *kiln_splitter_split(LLVMModuleRef module, const kiln_splitter_options_t *options,
                                  kiln_splitter_shards_t **shards_out) {
  if (shards_out != NULL) *shards_out = NULL;
  if (module == NULL || shards_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_splitter_split: NULL module or output");
  kiln_splitter_options_t defaults = {
      .shard_weight = KILN_SPLITTER_DEFAULT_SHARD_WEIGHT,
      .max_shards = KILN_SPLITTER_DEFAULT_MAX_SHARDS,
      .copy_inline = true,
  };
  if (options == NULL) options = &defaults;

  /* Verify the input: the splitter's own checks assume a valid module. */
  char *msg = NULL;
  if (LLVMVerifyModule(module, LLVMReturnStatusAction, &msg)) {
    size_t len = 0;
    const char *id = LLVMGetModuleIdentifier(module, &len);
    kiln_error_t *err = kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                                       "%.*s: the module fails the LLVM verifier: %s", (int)len,
                                       id ? id : "", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return err;
  }
  LLVMDisposeMessage(msg);

  /* Partition: weigh, group, place, choose copies, promote. */
  partition_t p;
  kiln_error_t *err = splitter_partition(module, options, &p);
  kiln_splitter_shards_t *out = NULL;
  if (err == NULL) {
    out = calloc(1, sizeof(*out));
    if (out != NULL) out->shards = calloc(p.nshards, sizeof(shard_t));
    if (out == NULL || out->shards == NULL)
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "splitter: %zu shards", p.nshards);
    else
      out->count = p.nshards;
  }
  if (err == NULL) err = kiln_absl_strmap_new(&out->where);

  /* Build each shard in order: copy, reduce, verify, bitcode. */
  record_ctx_t rc = {.p = &p, .out = out};
  for (size_t s = 0; err == NULL && s < p.nshards; s++) {
    out->shards[s].weight = p.shard_weight[s];
    out->total_weight += p.shard_weight[s];
    err = splitter_build_shard(&p, s, &out->shards[s].bitcode, record_defined, &rc);
  }
  splitter_partition_dispose(&p);
  if (err != NULL) {
    kiln_splitter_shards_free(out);
    return err;
  }
  *shards_out = out;
  return NULL;
}
