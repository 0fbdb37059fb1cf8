/*
 * components/emitter/options.c — the emitter's options object and setters.
 * Every string is copied; defaults are listed in emitter.h.
 */
#include <stdlib.h>
#include <string.h>

#include "components/emitter/internal.h"

kiln_error_t *kiln_emitter_options_new(kiln_emitter_options_t **options_out) {
  if (options_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_options_new: NULL output");
  *options_out = NULL;
  kiln_emitter_options_t *o = calloc(1, sizeof(*o));
  if (o == NULL) return em_oom();
  o->targets = em_strdup("generic");
  o->name = em_strdup("");
  if (o->targets == NULL || o->name == NULL) {
    kiln_emitter_options_free(o);
    return em_oom();
  }
  o->opt_level = 2;
  o->vectorize = true;
  o->env = kiln_target_env_process;
  o->outputs = KILN_EMITTER_OUTPUT_ARCHIVE;
  o->kind = KILN_EMITTER_IMAGE_SYSTEM;
  o->embed_bitcode = -1;
  *options_out = o;
  return NULL;
}

void kiln_emitter_options_free(kiln_emitter_options_t *o) {
  if (o == NULL) return;
  free(o->targets);
  free(o->output_prefix);
  free(o->archive_path);
  free(o->name);
  for (size_t i = 0; i < o->root_count; i++) free(o->roots[i]);
  free(o->roots);
  free(o->time_trace_path);
  free(o);
}

/* Replaces *slot with a copy of `s` (NULL or "" allowed when `allow_empty`). */
static kiln_error_t *set_string(char **slot, const char *s, bool allow_empty, const char *what) {
  if (!allow_empty && (s == NULL || s[0] == '\0'))
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_options_set_%s: empty value",
                          what);
  char *copy = NULL;
  if (s != NULL && s[0] != '\0') {
    copy = em_strdup(s);
    if (copy == NULL) return em_oom();
  }
  free(*slot);
  *slot = copy;
  return NULL;
}

#define CHECK_OPTIONS(o, what)                                                    \
  if ((o) == NULL)                                                                \
  return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_options_set_%s: NULL options", \
                        what)

kiln_error_t *kiln_emitter_options_set_target(kiln_emitter_options_t *o, const char *targets) {
  CHECK_OPTIONS(o, "target");
  return set_string(&o->targets, targets, false, "target");
}

kiln_error_t *kiln_emitter_options_set_opt_level(kiln_emitter_options_t *o, unsigned level) {
  CHECK_OPTIONS(o, "opt_level");
  if (level > 3)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_emitter_options_set_opt_level: level %u out of range (0-3)", level);
  o->opt_level = level;
  return NULL;
}

void kiln_emitter_options_set_vectorize(kiln_emitter_options_t *o, bool enabled) {
  if (o != NULL) o->vectorize = enabled;
}

void kiln_emitter_options_set_shard_count(kiln_emitter_options_t *o, size_t n) {
  if (o != NULL) o->shard_count = n;
}

void kiln_emitter_options_set_threads(kiln_emitter_options_t *o, unsigned threads) {
  if (o != NULL) o->threads = threads;
}

void kiln_emitter_options_set_memory_budget(kiln_emitter_options_t *o, uint64_t bytes) {
  if (o != NULL) o->memory_budget = bytes;
}

void kiln_emitter_options_set_env(kiln_emitter_options_t *o, kiln_target_env_fn env,
                                  void *env_ctx) {
  if (o == NULL) return;
  o->env = env;
  o->env_ctx = env_ctx;
}

kiln_error_t *kiln_emitter_options_set_outputs(kiln_emitter_options_t *o, unsigned outputs) {
  CHECK_OPTIONS(o, "outputs");
  if ((outputs & ~KILN_EMITTER_OUTPUT_ALL) != 0)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_emitter_options_set_outputs: unknown output bits 0x%x",
                          outputs & ~KILN_EMITTER_OUTPUT_ALL);
  o->outputs = outputs;
  return NULL;
}

kiln_error_t *kiln_emitter_options_set_output_prefix(kiln_emitter_options_t *o,
                                                     const char *prefix) {
  CHECK_OPTIONS(o, "output_prefix");
  return set_string(&o->output_prefix, prefix, true, "output_prefix");
}

kiln_error_t *kiln_emitter_options_set_archive_path(kiln_emitter_options_t *o, const char *path) {
  CHECK_OPTIONS(o, "archive_path");
  return set_string(&o->archive_path, path, true, "archive_path");
}

kiln_error_t *kiln_emitter_options_set_image_kind(kiln_emitter_options_t *o, unsigned kind) {
  CHECK_OPTIONS(o, "image_kind");
  if (kind != KILN_EMITTER_IMAGE_SYSTEM && kind != KILN_EMITTER_IMAGE_PACKAGE)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_emitter_options_set_image_kind: unknown kind %u", kind);
  o->kind = kind;
  return NULL;
}

kiln_error_t *kiln_emitter_options_set_image_name(kiln_emitter_options_t *o, const char *name) {
  CHECK_OPTIONS(o, "image_name");
  char *copy = em_strdup(name != NULL ? name : "");
  if (copy == NULL) return em_oom();
  free(o->name);
  o->name = copy;
  return NULL;
}

void kiln_emitter_options_set_base_checksum(kiln_emitter_options_t *o, uint64_t checksum) {
  if (o != NULL) o->base_checksum = checksum;
}

void kiln_emitter_options_set_dep_resolver(kiln_emitter_options_t *o, kiln_emitter_dep_fn fn,
                                           void *user) {
  if (o == NULL) return;
  o->dep_fn = fn;
  o->dep_user = user;
}

kiln_error_t *kiln_emitter_options_add_root(kiln_emitter_options_t *o, const char *name) {
  if (o == NULL || name == NULL || name[0] == '\0')
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_options_add_root: %s",
                          o == NULL ? "NULL options" : "empty root name");
  char **roots = realloc(o->roots, (o->root_count + 1) * sizeof(char *));
  if (roots == NULL) return em_oom();
  o->roots = roots;
  o->roots[o->root_count] = em_strdup(name);
  if (o->roots[o->root_count] == NULL) return em_oom();
  o->root_count++;
  return NULL;
}

void kiln_emitter_options_set_progress(kiln_emitter_options_t *o, kiln_emitter_progress_fn fn,
                                       void *user) {
  if (o == NULL) return;
  o->progress = fn;
  o->progress_user = user;
}

kiln_error_t *kiln_emitter_options_set_time_trace_path(kiln_emitter_options_t *o,
                                                       const char *path) {
  CHECK_OPTIONS(o, "time_trace_path");
  return set_string(&o->time_trace_path, path, true, "time_trace_path");
}

void kiln_emitter_options_set_record_build_info(kiln_emitter_options_t *o, bool enabled) {
  if (o != NULL) o->record_build_info = enabled;
}

void kiln_emitter_options_set_embed_bitcode(kiln_emitter_options_t *o, bool enabled) {
  if (o != NULL) o->embed_bitcode = enabled ? 1 : 0;
}
