/*
 * components/emitter/plan_io.c — the plan on disk, so the per-shard step can
 * run as its own process (a Bazel action per shard). A plan directory holds
 * KILN_EMITTER_PLAN_FILE and shard-<i>.bc. The plan file is
 *
 *   kiln-plan 1\n
 *   data_layout <n>\n<n bytes>\n
 *   shards <count>\n
 *   shard <s> <weight> <bitcode bytes>\n      (one line per shard)
 *   clones <k> <count>\n                      (one line per target)
 *   blob <n>\n<n bytes>                       (kiln_image_format blob)
 *
 * The blob is the image description without slot lists (those come from
 * the shards): producer, triple, options (targets, opt level, vectorize),
 * targets, tables (numbered shard by shard, with their name index), shards'
 * function/global counts and overrides, and methods. Reading validates it
 * with kiln_image_format_open and rebuilds the plan from it (each shard's
 * range from kiln_image_format_shard_first_function/_global, the plan's
 * name index from kiln_image_format_function_by_name).
 * The shard files are not read here: a read plan records each one's path
 * and size, and em_shard_bitcode reads it when a shard is emitted (or the
 * plan is written again).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "components/emitter/internal.h"

#define PLAN_MAGIC "kiln-plan 1\n"

kiln_error_t *kiln_emitter_plan_write(const kiln_emitter_plan_t *p, const char *dir) {
  if (p == NULL || dir == NULL || dir[0] == '\0')
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_plan_write: NULL argument");
  kiln_image_format_desc_t desc;
  em_desc_storage_t *st = NULL;
  kiln_error_t *err = em_plan_desc(p, NULL, NULL, &desc, &st);
  void *blob = NULL;
  size_t blob_size = 0;
  if (err == NULL) err = kiln_image_format_encode(&desc, &blob, &blob_size);
  em_desc_free(st);
  if (err != NULL) return kiln_error_prefix(err, "kiln_emitter_plan_write");
  em_buf_t b = {0};
  em_buf_puts(&b, PLAN_MAGIC);
  em_buf_printf(&b, "data_layout %zu\n", strlen(p->data_layout));
  em_buf_puts(&b, p->data_layout);
  em_buf_printf(&b, "\nshards %zu\n", p->shard_count);
  for (size_t s = 0; s < p->shard_count; s++)
    em_buf_printf(&b, "shard %zu %" PRIu64 " %zu\n", s, p->shards[s].weight,
                  p->shards[s].bitcode_size);
  for (size_t k = 0; k < p->target_count; k++)
    em_buf_printf(&b, "clones %zu %zu\n", k, p->clone_counts[k]);
  em_buf_printf(&b, "blob %zu\n", blob_size);
  em_buf_append(&b, blob, blob_size);
  free(blob);
  if (b.failed) {
    em_buf_free(&b);
    return em_oom();
  }
  char *sep_dir = em_path_join(dir, "/");
  char *path = sep_dir != NULL ? em_path_join(sep_dir, KILN_EMITTER_PLAN_FILE) : NULL;
  if (path == NULL) err = em_oom();
  /* Shards first, the plan file last: a plan file means a complete plan. */
  for (size_t s = 0; err == NULL && s < p->shard_count; s++) {
    char *sp = em_path_join(sep_dir, p->shards[s].file);
    const void *data = NULL;
    size_t size = 0;
    void *owned = NULL;
    if (sp == NULL) {
      err = em_oom();
      break;
    }
    err = em_shard_bitcode(p, s, &data, &size, &owned);
    if (err == NULL) err = em_write_file(sp, data, size);
    free(owned);
    free(sp);
  }
  if (err == NULL) err = em_write_file(path, b.data, b.size);
  em_buf_free(&b);
  free(path);
  free(sep_dir);
  return err;
}

kiln_error_t *em_shard_bitcode(const kiln_emitter_plan_t *p, size_t s, const void **data_out,
                               size_t *size_out, void **owned_out) {
  *data_out = NULL;
  *size_out = 0;
  *owned_out = NULL;
  const em_shard_plan_t *sh = &p->shards[s];
  if (sh->bitcode != NULL || sh->path == NULL) {
    *data_out = sh->bitcode;
    *size_out = sh->bitcode_size;
    return NULL;
  }
  void *data = NULL;
  size_t size = 0;
  kiln_error_t *err = em_read_file(sh->path, &data, &size);
  if (err != NULL) return err;
  if (size != sh->bitcode_size) {
    free(data);
    return kiln_error_new(KILN_ERR_FORMAT, "%s: %zu bytes, the plan says %zu", sh->path, size,
                          sh->bitcode_size);
  }
  *data_out = data;
  *size_out = size;
  *owned_out = data;
  return NULL;
}

/* ---- Reading ------------------------------------------------------------------ */

typedef struct reader {
  const char *data;
  size_t size, pos;
  const char *path;
} reader_t;

static kiln_error_t *bad(const reader_t *r, const char *what) {
  return kiln_error_new(KILN_ERR_FORMAT, "%s: damaged plan file (%s at byte %zu)", r->path, what,
                        r->pos);
}

/* Reads one "\n"-terminated line into buf. */
static bool read_line(reader_t *r, char *buf, size_t size) {
  size_t n = 0;
  while (r->pos < r->size && r->data[r->pos] != '\n') {
    if (n + 1 >= size) return false;
    buf[n++] = r->data[r->pos++];
  }
  if (r->pos >= r->size) return false;
  r->pos++;
  buf[n] = '\0';
  return true;
}

static char *dup_or_oom(const char *s, bool *oom) {
  char *d = em_strdup(s != NULL ? s : "");
  if (d == NULL) *oom = true;
  return d;
}

static uint32_t *dup_u32(const uint32_t *a, size_t n, bool *oom) {
  uint32_t *d = calloc(n ? n : 1, sizeof(uint32_t));
  if (d == NULL) {
    *oom = true;
    return NULL;
  }
  if (n > 0) memcpy(d, a, n * sizeof(uint32_t));
  return d;
}

/* Rebuilds the plan's tables from the validated blob view. */
static kiln_error_t *from_image(kiln_emitter_plan_t *p, const kiln_image_format_t *im,
                                const char *path) {
  bool oom = false;
  p->producer = dup_or_oom(kiln_image_format_producer(im), &oom);
  p->triple = dup_or_oom(kiln_image_format_triple(im), &oom);
  p->name = dup_or_oom(kiln_image_format_name(im), &oom);
  p->kind = kiln_image_format_kind(im) == KILN_IMAGE_FORMAT_KIND_PACKAGE
                ? KILN_EMITTER_IMAGE_PACKAGE
                : KILN_EMITTER_IMAGE_SYSTEM;
  p->base_checksum = kiln_image_format_base_checksum(im);
  size_t no = kiln_image_format_option_count(im);
  p->option_keys = calloc(no ? no : 1, sizeof(char *));
  p->option_values = calloc(no ? no : 1, sizeof(char *));
  if (p->option_keys == NULL || p->option_values == NULL) return em_oom();
  p->option_count = no;
  for (size_t i = 0; i < no; i++) {
    p->option_keys[i] = dup_or_oom(kiln_image_format_option_key(im, i), &oom);
    p->option_values[i] = dup_or_oom(kiln_image_format_option_value(im, i), &oom);
  }
  const char *targets = kiln_image_format_option_find(im, "targets");
  const char *opt = kiln_image_format_option_find(im, "opt_level");
  const char *vec = kiln_image_format_option_find(im, "vectorize");
  if (targets == NULL || opt == NULL || vec == NULL || opt[0] < '0' || opt[0] > '3')
    return kiln_error_new(KILN_ERR_FORMAT, "%s: plan lacks targets/opt_level/vectorize", path);
  p->targets = dup_or_oom(targets, &oom);
  p->opt_level = (unsigned)(opt[0] - '0');
  p->vectorize = strcmp(vec, "1") == 0;

  size_t nt = kiln_image_format_target_count(im);
  p->target_count = nt;
  p->target_cpu = calloc(nt ? nt : 1, sizeof(char *));
  p->target_features = calloc(nt ? nt : 1, sizeof(char *));
  p->target_flags = calloc(nt ? nt : 1, sizeof(uint32_t));
  p->target_base = calloc(nt ? nt : 1, sizeof(uint32_t));
  if (!p->target_cpu || !p->target_features || !p->target_flags || !p->target_base)
    return em_oom();
  for (size_t k = 0; k < nt; k++) {
    p->target_cpu[k] = dup_or_oom(kiln_image_format_target_cpu(im, k), &oom);
    p->target_features[k] = dup_or_oom(kiln_image_format_target_features(im, k), &oom);
    p->target_flags[k] = kiln_image_format_target_flags(im, k);
    p->target_base[k] = kiln_image_format_target_base(im, k);
  }

  size_t nf = kiln_image_format_function_count(im), ng = kiln_image_format_global_count(im);
  p->functions = calloc(nf ? nf : 1, sizeof(char *));
  p->function_by_name = calloc(nf ? nf : 1, sizeof(uint32_t));
  p->globals = calloc(ng ? ng : 1, sizeof(char *));
  if (p->functions == NULL || p->function_by_name == NULL || p->globals == NULL) return em_oom();
  p->function_count = nf;
  p->global_count = ng;
  for (size_t i = 0; i < nf; i++)
    p->functions[i] = dup_or_oom(kiln_image_format_function_name(im, i), &oom);
  /* The name index (kiln_image_format_open checked it lists each function
   * once, in strcmp order). */
  for (size_t j = 0; j < nf; j++) {
    size_t i = kiln_image_format_function_by_name(im, j);
    if (i >= nf)
      return kiln_error_new(KILN_ERR_FORMAT, "%s: blob has no name index entry %zu", path, j);
    p->function_by_name[j] = (uint32_t)i;
  }
  for (size_t i = 0; i < ng; i++)
    p->globals[i] = dup_or_oom(kiln_image_format_global_name(im, i), &oom);

  if (kiln_image_format_shard_count(im) != p->shard_count)
    return kiln_error_new(KILN_ERR_FORMAT, "%s: blob has %zu shards, the plan %zu", path,
                          kiln_image_format_shard_count(im), p->shard_count);
  for (size_t s = 0; s < p->shard_count && !oom; s++) {
    em_shard_plan_t *sh = &p->shards[s];
    /* Consecutive ranges that tile the tables (checked by the open). */
    size_t n = 0;
    sh->first_function = kiln_image_format_shard_first_function(im, s, &n);
    sh->function_count = n;
    sh->first_global = kiln_image_format_shard_first_global(im, s, &n);
    sh->global_count = n;
    sh->overrides = calloc(nt ? nt : 1, sizeof(uint32_t *));
    sh->override_counts = calloc(nt ? nt : 1, sizeof(size_t));
    if (sh->overrides == NULL || sh->override_counts == NULL) return em_oom();
    for (size_t k = 1; k < nt; k++) {
      n = kiln_image_format_shard_override_positions(im, s, k, NULL, 0);
      uint32_t *positions = calloc(n ? n : 1, sizeof(uint32_t));
      if (positions == NULL) return em_oom();
      (void)kiln_image_format_shard_override_positions(im, s, k, positions, n);
      sh->overrides[k] = positions;
      sh->override_counts[k] = n;
    }
  }

  size_t nm = kiln_image_format_method_count(im);
  p->methods = calloc(nm ? nm : 1, sizeof(em_method_t));
  if (p->methods == NULL) return em_oom();
  p->method_count = nm;
  for (size_t i = 0; i < nm && !oom; i++) {
    em_method_t *mt = &p->methods[i];
    mt->key = dup_or_oom(kiln_image_format_method_key(im, i), &oom);
    mt->function = kiln_image_format_method_function(im, i);
    mt->flags = kiln_image_format_method_flags(im, i);
    mt->fingerprint = kiln_image_format_method_fingerprint(im, i);
    size_t n = 0;
    const uint32_t *calls = kiln_image_format_method_calls(im, i, &n);
    mt->calls = dup_u32(calls, n, &oom);
    mt->call_count = n;
    size_t nd = kiln_image_format_method_dep_count(im, i);
    mt->deps = calloc(nd ? nd : 1, sizeof(em_dep_t));
    if (mt->deps == NULL) return em_oom();
    mt->dep_count = nd;
    for (size_t d = 0; d < nd; d++) {
      mt->deps[d].key = dup_or_oom(kiln_image_format_method_dep_key(im, i, d), &oom);
      mt->deps[d].fingerprint = kiln_image_format_method_dep_fingerprint(im, i, d);
    }
    size_t nb = 0;
    const void *bc = kiln_image_format_method_bitcode(im, i, &nb);
    if (bc != NULL && nb > 0) {
      mt->bitcode = malloc(nb);
      if (mt->bitcode == NULL) return em_oom();
      memcpy(mt->bitcode, bc, nb);
      mt->bitcode_size = nb;
    }
  }
  return oom ? em_oom() : NULL;
}

static kiln_error_t *parse_plan(kiln_emitter_plan_t *p, reader_t *r, const char *dir) {
  char line[256];
  size_t n = 0;
  if (r->size < strlen(PLAN_MAGIC) || memcmp(r->data, PLAN_MAGIC, strlen(PLAN_MAGIC)) != 0)
    return kiln_error_new(KILN_ERR_FORMAT, "%s: not a kiln plan file", r->path);
  r->pos = strlen(PLAN_MAGIC);
  if (!read_line(r, line, sizeof(line)) || sscanf(line, "data_layout %zu", &n) != 1 ||
      n > r->size - r->pos)
    return bad(r, "data_layout");
  p->data_layout = em_strndup(r->data + r->pos, n);
  if (p->data_layout == NULL) return em_oom();
  r->pos += n;
  if (r->pos >= r->size || r->data[r->pos] != '\n') return bad(r, "data_layout end");
  r->pos++;
  size_t ns = 0;
  if (!read_line(r, line, sizeof(line)) || sscanf(line, "shards %zu", &ns) != 1 || ns == 0 ||
      ns > 1u << 20)
    return bad(r, "shards");
  p->shards = calloc(ns, sizeof(em_shard_plan_t));
  if (p->shards == NULL) return em_oom();
  p->shard_count = ns;
  for (size_t s = 0; s < ns; s++) {
    size_t idx = 0, size = 0;
    uint64_t weight = 0;
    if (!read_line(r, line, sizeof(line)) ||
        sscanf(line, "shard %zu %" SCNu64 " %zu", &idx, &weight, &size) != 3 || idx != s)
      return bad(r, "shard line");
    em_shard_plan_t *sh = &p->shards[s];
    sh->weight = weight;
    snprintf(sh->file, sizeof(sh->file), "shard-%zu.bc", s);
    /* Lazily: kiln_emitter_emit_shard reads (and size-checks) the file. */
    sh->path = em_path_join(dir, sh->file);
    if (sh->path == NULL) return em_oom();
    sh->bitcode_size = size;
  }
  /* clones lines, then the blob. */
  size_t *clones = NULL, nclones = 0;
  for (;;) {
    size_t k = 0, c = 0;
    if (!read_line(r, line, sizeof(line))) {
      free(clones);
      return bad(r, "line");
    }
    if (sscanf(line, "clones %zu %zu", &k, &c) == 2) {
      if (k != nclones || k >= 64) {
        free(clones);
        return bad(r, "clones");
      }
      size_t *nc = realloc(clones, (nclones + 1) * sizeof(size_t));
      if (nc == NULL) {
        free(clones);
        return em_oom();
      }
      clones = nc;
      clones[nclones++] = c;
      continue;
    }
    if (sscanf(line, "blob %zu", &n) != 1 || n != r->size - r->pos) {
      free(clones);
      return bad(r, "blob");
    }
    break;
  }
  kiln_image_format_t *im = NULL;
  kiln_error_t *err = kiln_image_format_open(r->data + r->pos, n, r->path, &im);
  if (err == NULL) err = from_image(p, im, r->path);
  kiln_image_format_close(im);
  if (err == NULL && nclones != p->target_count)
    err = bad(r, "clone counts do not match the targets");
  p->clone_counts = clones;
  return err;
}

kiln_error_t *kiln_emitter_plan_read(const char *path, kiln_emitter_plan_t **plan_out) {
  if (plan_out != NULL) *plan_out = NULL;
  if (path == NULL || plan_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_plan_read: NULL argument");
  /* A directory or the plan file itself. */
  struct stat sb;
  char *dir = NULL, *file = NULL;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    dir = em_path_join(path, "/");
    file = dir != NULL ? em_path_join(dir, KILN_EMITTER_PLAN_FILE) : NULL;
  } else {
    file = em_strdup(path);
    const char *slash = strrchr(path, '/');
    dir = slash != NULL ? em_strndup(path, (size_t)(slash - path) + 1) : em_strdup("");
  }
  if (dir == NULL || file == NULL) {
    free(dir);
    free(file);
    return em_oom();
  }
  void *data = NULL;
  size_t size = 0;
  kiln_error_t *err = em_read_file(file, &data, &size);
  kiln_emitter_plan_t *p = NULL;
  if (err == NULL) {
    p = calloc(1, sizeof(*p));
    if (p == NULL) err = em_oom();
  }
  if (err == NULL) {
    reader_t r = {data, size, 0, file};
    err = parse_plan(p, &r, dir);
  }
  free(data);
  free(dir);
  free(file);
  if (err != NULL) {
    kiln_emitter_plan_free(p);
    return err;
  }
  *plan_out = p;
  return NULL;
}
