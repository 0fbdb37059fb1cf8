/*
 * components/emitter/finish.c — step 3: the shards' slot lists go into the
 * plan's description, which is encoded into the image blob; the blob's root
 * IR (kiln_image_format_root_ir) is compiled into the metadata object; the
 * shard objects and the metadata object become one deterministic archive.
 * Also the result object, its accessors and the Chrome trace writer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/emitter/internal.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

void kiln_emitter_result_free(kiln_emitter_result_t *r) {
  if (r == NULL) return;
  free(r->archive);
  free(r->archive_path);
  free(r->blob);
  free(r->clone_counts);
  em_phases_free(&r->phases);
  free(r->shard_start_ns);
  free(r->shard_wall_ns);
  free(r->shard_cpu_ns);
  free(r->shard_worker);
  free(r);
}

/* The metadata object: the root IR compiled for target 0. */
static kiln_error_t *metadata_object(const kiln_emitter_plan_t *p, const void *blob, size_t size,
                                     void **obj_out, size_t *obj_size_out) {
  char *ir = NULL;
  kiln_error_t *err = kiln_image_format_root_ir(blob, size, &ir);
  if (err != NULL) return err;
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef mb =
      LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, strlen(ir), KILN_EMITTER_METADATA_MEMBER);
  free(ir);
  LLVMModuleRef m = NULL;
  char *msg = NULL;
  /* LLVMParseIRInContext takes the buffer. */
  if (LLVMParseIRInContext(ctx, mb, &m, &msg) != 0) {
    err = kiln_error_new(KILN_ERR_INTERNAL, "root IR does not parse: %s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    LLVMContextDispose(ctx);
    return err;
  }
  LLVMSetDataLayout(m, p->data_layout);
  LLVMSetTarget(m, p->triple);
  LLVMTargetMachineRef tm = NULL;
  err = em_target_machine(p->triple, p->target_cpu[0], p->target_features[0], p->opt_level, &tm);
  if (err == NULL) err = em_codegen(tm, m, false, obj_out, obj_size_out);
  if (tm != NULL) LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  return err;
}

kiln_error_t *em_finish(const kiln_emitter_options_t *o, const kiln_emitter_plan_t *p,
                        kiln_emitter_shard_t *const *shards, size_t n, unsigned threads,
                        const em_phases_t *phases, kiln_emitter_result_t **result_out) {
  *result_out = NULL;
  if (p == NULL || (shards == NULL && n > 0))
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_finish: NULL argument");
  if (n != p->shard_count)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_emitter_finish: %zu shard results for a plan of %zu shards", n,
                          p->shard_count);
  /* Shards by index: the order the caller gathered them in never matters. */
  const kiln_emitter_shard_t **by = calloc(n ? n : 1, sizeof(*by));
  const uint32_t **slots = calloc(n ? n : 1, sizeof(*slots));
  size_t *slot_counts = calloc(n ? n : 1, sizeof(*slot_counts));
  kiln_emitter_result_t *r = calloc(1, sizeof(*r));
  kiln_error_t *err = (by == NULL || slots == NULL || slot_counts == NULL || r == NULL)
                          ? em_oom()
                          : NULL;
  for (size_t i = 0; err == NULL && i < n; i++) {
    const kiln_emitter_shard_t *sh = shards[i];
    if (sh == NULL || sh->index >= n || by[sh->index] != NULL) {
      err = kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                           "kiln_emitter_finish: shard result %zu is %s", i,
                           sh == NULL ? "NULL" : sh->index >= n ? "out of range" : "repeated");
      break;
    }
    for (size_t j = 0; j < sh->slot_count; j++) {
      if (sh->slots[j] >= p->function_count) {
        err = kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                             "kiln_emitter_finish: shard %zu slot %zu: function %" PRIu32
                             " out of range (%zu functions)",
                             sh->index, j, sh->slots[j], p->function_count);
        break;
      }
    }
    by[sh->index] = sh;
    slots[sh->index] = sh->slots;
    slot_counts[sh->index] = sh->slot_count;
  }
  if (err == NULL && phases != NULL) em_phases_append(&r->phases, phases);

  /* The blob: the plan's description plus the slot lists. */
  em_phase_timer_t t;
  em_phase_begin(&t);
  if (err == NULL) {
    kiln_image_format_desc_t desc;
    em_desc_storage_t *st = NULL;
    err = em_plan_desc(p, slots, slot_counts, &desc, &st);
    if (err == NULL) err = kiln_image_format_encode(&desc, &r->blob, &r->blob_size);
    em_desc_free(st);
    if (err != NULL) err = kiln_error_prefix(err, "image metadata");
  }
  void *meta = NULL;
  size_t meta_size = 0;
  if (err == NULL) {
    err = metadata_object(p, r->blob, r->blob_size, &meta, &meta_size);
    if (err != NULL) err = kiln_error_prefix(err, "metadata object");
  }
  if (err == NULL) em_phase_end(&r->phases, "metadata", &t);

  /* The archive: fixed member order, deterministic headers. */
  unsigned outputs = o != NULL ? o->outputs : KILN_EMITTER_OUTPUT_ARCHIVE;
  const char *apath = o != NULL ? o->archive_path : NULL;
  if (err == NULL && ((outputs & KILN_EMITTER_OUTPUT_ARCHIVE) || apath != NULL)) {
    em_phase_begin(&t);
    size_t nm = n + 2;
    kiln_llvm_archive_member_t *members = calloc(nm, sizeof(*members));
    char(*names)[32] = calloc(n ? n : 1, sizeof(*names));
    em_buf_t info = {0};
    if (members == NULL || names == NULL) err = em_oom();
    size_t k = 0;
    for (size_t i = 0; err == NULL && i < n; i++) {
      snprintf(names[i], sizeof(names[i]), "shard-%zu.o", i);
      members[k++] = (kiln_llvm_archive_member_t){names[i], by[i]->object, by[i]->object_size};
    }
    if (err == NULL) {
      members[k++] = (kiln_llvm_archive_member_t){KILN_EMITTER_METADATA_MEMBER, meta, meta_size};
      if (o != NULL && o->record_build_info) {
        em_buf_printf(&info, "threads=%u\nshards=%zu\nfunctions=%zu\n", threads, n,
                      p->function_count);
        if (info.failed) err = em_oom();
        members[k++] = (kiln_llvm_archive_member_t){KILN_EMITTER_BUILD_INFO_MEMBER, info.data,
                                                    info.size};
      }
    }
    if (err == NULL) err = kiln_llvm_archive_write_memory(members, k, &r->archive, &r->archive_size);
    if (err == NULL && apath != NULL) {
      err = em_write_file(apath, r->archive, r->archive_size);
      if (err == NULL && (r->archive_path = em_strdup(apath)) == NULL) err = em_oom();
    }
    if (err != NULL) err = kiln_error_prefix(err, "archive");
    em_buf_free(&info);
    free(names);
    free(members);
    if (err == NULL) em_phase_end(&r->phases, "archive", &t);
  }
  free(meta);

  if (err == NULL) {
    r->shard_count = n;
    r->function_count = p->function_count;
    r->target_count = p->target_count;
    r->threads_used = threads;
    r->clone_counts = calloc(p->target_count ? p->target_count : 1, sizeof(size_t));
    r->shard_start_ns = calloc(n ? n : 1, sizeof(int64_t));
    r->shard_wall_ns = calloc(n ? n : 1, sizeof(int64_t));
    r->shard_cpu_ns = calloc(n ? n : 1, sizeof(int64_t));
    r->shard_worker = calloc(n ? n : 1, sizeof(unsigned));
    if (!r->clone_counts || !r->shard_start_ns || !r->shard_wall_ns || !r->shard_cpu_ns ||
        !r->shard_worker)
      err = em_oom();
  }
  if (err == NULL) {
    for (size_t k = 0; k < p->target_count; k++) r->clone_counts[k] = p->clone_counts[k];
    int64_t origin = INT64_MAX;
    for (size_t i = 0; i < r->phases.count; i++)
      if (r->phases.items[i].start_ns < origin) origin = r->phases.items[i].start_ns;
    for (size_t i = 0; i < n; i++) {
      r->shard_start_ns[i] = by[i]->start_ns;
      r->shard_wall_ns[i] = by[i]->wall_ns;
      r->shard_cpu_ns[i] = by[i]->cpu_ns;
      r->shard_worker[i] = by[i]->worker;
      if (by[i]->start_ns != 0 && by[i]->start_ns < origin) origin = by[i]->start_ns;
    }
    r->origin_ns = origin == INT64_MAX ? 0 : origin;
  }
  free(by);
  free(slots);
  free(slot_counts);
  if (err != NULL) {
    kiln_emitter_result_free(r);
    return err;
  }
  *result_out = r;
  return NULL;
}

kiln_error_t *kiln_emitter_finish(const kiln_emitter_options_t *o, const kiln_emitter_plan_t *p,
                                  kiln_emitter_shard_t *const *shards, size_t n,
                                  kiln_emitter_result_t **result_out) {
  if (result_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_finish: NULL output");
  return em_finish(o, p, shards, n, 0, NULL, result_out);
}

/* ---- Accessors ---------------------------------------------------------------- */

const void *kiln_emitter_result_archive(const kiln_emitter_result_t *r, size_t *size_out) {
  if (size_out != NULL) *size_out = r != NULL ? r->archive_size : 0;
  return r != NULL ? r->archive : NULL;
}
const char *kiln_emitter_result_archive_path(const kiln_emitter_result_t *r) {
  return r != NULL ? r->archive_path : NULL;
}
const void *kiln_emitter_result_blob(const kiln_emitter_result_t *r, size_t *size_out) {
  if (size_out != NULL) *size_out = r != NULL ? r->blob_size : 0;
  return r != NULL ? r->blob : NULL;
}
size_t kiln_emitter_result_shard_count(const kiln_emitter_result_t *r) {
  return r != NULL ? r->shard_count : 0;
}
unsigned kiln_emitter_result_threads_used(const kiln_emitter_result_t *r) {
  return r != NULL ? r->threads_used : 0;
}
size_t kiln_emitter_result_function_count(const kiln_emitter_result_t *r) {
  return r != NULL ? r->function_count : 0;
}
size_t kiln_emitter_result_target_count(const kiln_emitter_result_t *r) {
  return r != NULL ? r->target_count : 0;
}
size_t kiln_emitter_result_clone_count(const kiln_emitter_result_t *r, size_t k) {
  return r != NULL && k < r->target_count ? r->clone_counts[k] : 0;
}
size_t kiln_emitter_result_phase_count(const kiln_emitter_result_t *r) {
  return r != NULL ? r->phases.count : 0;
}
const char *kiln_emitter_result_phase_name(const kiln_emitter_result_t *r, size_t i) {
  return r != NULL && i < r->phases.count ? r->phases.items[i].name : NULL;
}
int64_t kiln_emitter_result_phase_wall_ns(const kiln_emitter_result_t *r, size_t i) {
  return r != NULL && i < r->phases.count ? r->phases.items[i].wall_ns : 0;
}
int64_t kiln_emitter_result_phase_cpu_ns(const kiln_emitter_result_t *r, size_t i) {
  return r != NULL && i < r->phases.count ? r->phases.items[i].cpu_ns : 0;
}
uint64_t kiln_emitter_result_phase_peak_rss(const kiln_emitter_result_t *r, size_t i) {
  return r != NULL && i < r->phases.count ? r->phases.items[i].peak_rss : 0;
}
int64_t kiln_emitter_result_shard_wall_ns(const kiln_emitter_result_t *r, size_t s) {
  return r != NULL && s < r->shard_count ? r->shard_wall_ns[s] : 0;
}
int64_t kiln_emitter_result_shard_cpu_ns(const kiln_emitter_result_t *r, size_t s) {
  return r != NULL && s < r->shard_count ? r->shard_cpu_ns[s] : 0;
}
unsigned kiln_emitter_result_shard_worker(const kiln_emitter_result_t *r, size_t s) {
  return r != NULL && s < r->shard_count ? r->shard_worker[s] : 0;
}

/* ---- Chrome trace ------------------------------------------------------------- */

static int64_t rel_us(const kiln_emitter_result_t *r, int64_t ns) {
  return ns > r->origin_ns ? (ns - r->origin_ns) / 1000 : 0;
}

kiln_error_t *kiln_emitter_result_write_time_trace(const kiln_emitter_result_t *r,
                                                   const char *path) {
  if (r == NULL || path == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_emitter_result_write_time_trace: NULL argument");
  em_buf_t b = {0};
  em_buf_puts(&b, "{\"traceEvents\":[\n");
  bool first = true;
  for (size_t i = 0; i < r->phases.count; i++) {
    const em_phase_t *ph = &r->phases.items[i];
    em_buf_printf(&b,
                  "%s{\"name\":\"%s\",\"cat\":\"phase\",\"ph\":\"X\",\"ts\":%" PRId64
                  ",\"dur\":%" PRId64 ",\"pid\":1,\"tid\":0,\"args\":{\"cpu_us\":%" PRId64
                  ",\"peak_rss\":%" PRIu64 "}}",
                  first ? "" : ",\n", ph->name, rel_us(r, ph->start_ns), ph->wall_ns / 1000,
                  ph->cpu_ns / 1000, ph->peak_rss);
    first = false;
  }
  for (size_t s = 0; s < r->shard_count; s++) {
    em_buf_printf(&b,
                  "%s{\"name\":\"shard %zu\",\"cat\":\"shard\",\"ph\":\"X\",\"ts\":%" PRId64
                  ",\"dur\":%" PRId64 ",\"pid\":1,\"tid\":%u,\"args\":{\"cpu_us\":%" PRId64 "}}",
                  first ? "" : ",\n", s, rel_us(r, r->shard_start_ns[s]),
                  r->shard_wall_ns[s] / 1000, r->shard_worker[s], r->shard_cpu_ns[s] / 1000);
    first = false;
  }
  /* Thread names, so a viewer labels the rows. */
  em_buf_printf(&b, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
                    "\"args\":{\"name\":\"coordinator\"}}",
                first ? "" : ",\n");
  for (unsigned w = 1; w <= r->threads_used; w++)
    em_buf_printf(&b, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
                      "\"args\":{\"name\":\"worker %u\"}}",
                  w, w);
  em_buf_puts(&b, "\n]}\n");
  kiln_error_t *err = b.failed ? em_oom() : em_write_file(path, b.data, b.size);
  em_buf_free(&b);
  return err;
}
