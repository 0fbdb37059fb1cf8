/*
 * components/emitter/build.c — the whole build in one call: plan, every
 * shard on a pool of worker threads, finish. Workers take the next shard
 * index from a shared counter and store each result in its own slot of an
 * array indexed by shard, so what finish sees — and the archive — does not
 * depend on the thread count or on which worker finished first. The
 * coordinating thread waits for completions and reports progress.
 * Also the input side: parse .bc/.ll files and link them into one module.
 */
#define _GNU_SOURCE /* sysconf(_SC_NPROCESSORS_ONLN) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "components/emitter/internal.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Linker.h"
#include "third_party/abseil_c/abseil_c.h"

/* ---- Threads ------------------------------------------------------------- */

static kiln_error_t *thread_count(const kiln_emitter_options_t *o, const kiln_emitter_plan_t *p,
                                  unsigned *threads_out) {
  *threads_out = 1;
  unsigned threads = o->threads;
  const char *env = o->env != NULL ? o->env(o->env_ctx, KILN_EMITTER_ENV_THREADS) : NULL;
  if (env != NULL && env[0] != '\0') {
    int64_t v = 0;
    kiln_error_t *err = kiln_absl_parse_int64(env, &v);
    if (err != NULL || v < 1 || v > 4096) {
      kiln_error_free(err);
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                            KILN_EMITTER_ENV_THREADS "='%s': not a thread count (1-4096)", env);
    }
    threads = (unsigned)v;
  }
  if (threads == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = cores >= 2 ? (unsigned)(cores / 2) : 1;
  }
  /* Each worker holds one shard's context at a time: fit the budget. */
  if (o->memory_budget > 0) {
    uint64_t largest = 0;
    for (size_t s = 0; s < p->shard_count; s++) {
      uint64_t e = kiln_emitter_plan_shard_memory_estimate(p, s);
      if (e > largest) largest = e;
    }
    uint64_t fit = largest > 0 ? o->memory_budget / largest : threads;
    if (fit < 1) fit = 1;
    if (fit < threads) threads = (unsigned)fit;
  }
  if (threads > p->shard_count) threads = (unsigned)p->shard_count;
  *threads_out = threads > 0 ? threads : 1;
  return NULL;
}

/* ---- The pool ---------------------------------------------------------------- */

typedef struct pool {
  const kiln_emitter_options_t *options;
  const kiln_emitter_plan_t *plan;
  /* pthread primitives rather than abseil's: the system abseil is not
   * built with TSan, which then cannot see its synchronization. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* guarded by mu: */
  size_t next;        /* next shard to take */
  bool stop;          /* a shard failed: take no more */
  size_t *done_order; /* shards in completion order */
  size_t done;
  /* one slot per shard, written by the worker that ran it, read after join */
  kiln_emitter_shard_t **results;
  kiln_error_t **errors;
} pool_t;

typedef struct worker {
  pool_t *pool;
  unsigned id; /* 1-based, the trace's tid */
} worker_t;

/* Writes the per-shard files the options ask for. */
static kiln_error_t *write_outputs(const kiln_emitter_options_t *o, const kiln_emitter_shard_t *sh) {
  static const struct {
    unsigned bit;
    const char *ext;
  } kinds[] = {{KILN_EMITTER_OUTPUT_OBJ, ".o"},
               {KILN_EMITTER_OUTPUT_ASM, ".s"},
               {KILN_EMITTER_OUTPUT_BC, ".bc"},
               {KILN_EMITTER_OUTPUT_UNOPT_BC, ".unopt.bc"}};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    if ((o->outputs & kinds[i].bit) == 0) continue;
    const void *data = NULL;
    size_t size = 0;
    switch (kinds[i].bit) {
      case KILN_EMITTER_OUTPUT_OBJ: data = kiln_emitter_shard_object(sh, &size); break;
      case KILN_EMITTER_OUTPUT_ASM: data = kiln_emitter_shard_asm(sh, &size); break;
      case KILN_EMITTER_OUTPUT_BC: data = kiln_emitter_shard_bitcode(sh, &size); break;
      default: data = kiln_emitter_shard_unopt_bitcode(sh, &size); break;
    }
    char path[4096];
    int n = snprintf(path, sizeof(path), "%sshard-%zu%s",
                     o->output_prefix != NULL ? o->output_prefix : "", sh->index, kinds[i].ext);
    if (n < 0 || (size_t)n >= sizeof(path))
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "output prefix too long");
    kiln_error_t *err = em_write_file(path, data, size);
    if (err != NULL) return err;
  }
  return NULL;
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  pool_t *pl = w->pool;
  for (;;) {
    pthread_mutex_lock(&pl->mu);
    size_t s = pl->next;
    bool stop = pl->stop || s >= pl->plan->shard_count;
    if (!stop) pl->next++;
    pthread_mutex_unlock(&pl->mu);
    if (stop) break;
    kiln_emitter_shard_t *sh = NULL;
    kiln_error_t *err = kiln_emitter_emit_shard(pl->options, pl->plan, s, &sh);
    if (err == NULL) {
      sh->worker = w->id;
      err = write_outputs(pl->options, sh);
    }
    pl->results[s] = sh;
    pl->errors[s] = err;
    pthread_mutex_lock(&pl->mu);
    if (err != NULL) pl->stop = true;
    pl->done_order[pl->done++] = s;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
  }
  return NULL;
}

static kiln_error_t *emit_all(const kiln_emitter_options_t *o, const kiln_emitter_plan_t *p,
                              unsigned threads, kiln_emitter_shard_t **results) {
  size_t n = p->shard_count;
  pool_t pl = {.options = o, .plan = p, .results = results};
  pl.done_order = calloc(n, sizeof(size_t));
  pl.errors = calloc(n, sizeof(kiln_error_t *));
  worker_t *workers = calloc(threads, sizeof(worker_t));
  pthread_t *tids = calloc(threads, sizeof(pthread_t));
  kiln_error_t *err = NULL;
  if (pl.done_order == NULL || pl.errors == NULL || workers == NULL || tids == NULL)
    err = em_oom();
  pthread_mutex_init(&pl.mu, NULL);
  pthread_cond_init(&pl.cv, NULL);
  /* LLVM's target registry is filled once, before any worker exists. */
  em_llvm_init();
  unsigned started = 0;
  for (unsigned i = 0; err == NULL && i < threads; i++) {
    workers[i] = (worker_t){&pl, i + 1};
    int rc = pthread_create(&tids[i], NULL, worker_main, &workers[i]);
    if (rc != 0) {
      if (started == 0)
        err = kiln_error_new(KILN_ERR_INTERNAL, "cannot start a worker thread: %s", strerror(rc));
      break; /* the started workers take every shard */
    }
    started++;
  }
  if (started > 0) {
    /* Progress on this thread, in completion order. */
    size_t reported = 0;
    pthread_mutex_lock(&pl.mu);
    for (;;) {
      while (reported < pl.done) {
        size_t s = pl.done_order[reported++];
        size_t done = reported;
        if (o->progress != NULL) {
          pthread_mutex_unlock(&pl.mu);
          o->progress(o->progress_user, s, done, n);
          pthread_mutex_lock(&pl.mu);
        }
      }
      bool finished = pl.done == n || (pl.stop && pl.done == pl.next);
      if (finished) break;
      pthread_cond_wait(&pl.cv, &pl.mu);
    }
    pthread_mutex_unlock(&pl.mu);
    for (unsigned i = 0; i < started; i++) pthread_join(tids[i], NULL);
  }
  /* The lowest failing shard's error, the same for any thread count that
   * reached it. */
  for (size_t s = 0; s < n && pl.errors != NULL; s++) {
    if (pl.errors[s] == NULL) continue;
    if (err == NULL) {
      err = pl.errors[s];
    } else {
      kiln_error_free(pl.errors[s]);
    }
  }
  pthread_cond_destroy(&pl.cv);
  pthread_mutex_destroy(&pl.mu);
  free(pl.done_order);
  free(pl.errors);
  free(workers);
  free(tids);
  return err;
}

static kiln_error_t *build(const kiln_emitter_options_t *o, LLVMModuleRef module,
                           const em_phases_t *pre, kiln_emitter_result_t **result_out) {
  kiln_emitter_plan_t *plan = NULL;
  kiln_error_t *err = kiln_emitter_plan(o, module, &plan);
  if (err != NULL) return err;
  em_phases_t phases = {0};
  if (pre != NULL) em_phases_append(&phases, pre);
  em_phases_append(&phases, &plan->phases);
  unsigned threads = 1;
  err = thread_count(o, plan, &threads);
  kiln_emitter_shard_t **results = calloc(plan->shard_count, sizeof(*results));
  if (err == NULL && results == NULL) err = em_oom();
  if (err == NULL) {
    em_phase_timer_t t;
    em_phase_begin(&t);
    err = emit_all(o, plan, threads, results);
    em_phase_end(&phases, "emit", &t);
  }
  if (err == NULL)
    err = em_finish(o, plan, results, plan->shard_count, threads, &phases, result_out);
  if (err == NULL && o->time_trace_path != NULL) {
    err = kiln_emitter_result_write_time_trace(*result_out, o->time_trace_path);
    if (err != NULL) {
      kiln_emitter_result_free(*result_out);
      *result_out = NULL;
    }
  }
  for (size_t s = 0; results != NULL && s < plan->shard_count; s++)
    kiln_emitter_shard_free(results[s]);
  free(results);
  em_phases_free(&phases);
  kiln_emitter_plan_free(plan);
  return err;
}

kiln_error_t *kiln_emitter_build(const kiln_emitter_options_t *o, LLVMModuleRef module,
                                 kiln_emitter_result_t **result_out) {
  if (result_out != NULL) *result_out = NULL;
  if (o == NULL || module == NULL || result_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_build: NULL argument");
  return build(o, module, NULL, result_out);
}

/* ---- Inputs --------------------------------------------------------------------- */

typedef struct diag_sink {
  em_buf_t text;
} diag_sink_t;

/* Collects LLVM's diagnostics (errors and warnings of the linker) instead
 * of letting LLVM print them. */
static void collect_diag(LLVMDiagnosticInfoRef info, void *ctx) {
  diag_sink_t *sink = ctx;
  char *d = LLVMGetDiagInfoDescription(info);
  if (LLVMGetDiagInfoSeverity(info) == LLVMDSError) {
    if (sink->text.size > 0) em_buf_puts(&sink->text, "; ");
    em_buf_puts(&sink->text, d != NULL ? d : "");
  }
  LLVMDisposeMessage(d);
}

static kiln_error_t *parse_input(LLVMContextRef ctx, const char *path, LLVMModuleRef *m_out) {
  *m_out = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return kiln_error_new(errno == ENOENT ? KILN_ERR_NOT_FOUND : KILN_ERR_IO, "%s: %s", path,
                          strerror(errno));
  fclose(f);
  LLVMMemoryBufferRef mb = NULL;
  char *msg = NULL;
  if (LLVMCreateMemoryBufferWithContentsOfFile(path, &mb, &msg) != 0) {
    kiln_error_t *err = kiln_error_new(KILN_ERR_IO, "%s: %s", path, msg ? msg : "cannot read");
    LLVMDisposeMessage(msg);
    return err;
  }
  /* Takes the buffer; reads bitcode or text by content. */
  if (LLVMParseIRInContext(ctx, mb, m_out, &msg) != 0) {
    /* LLVM's message already starts with the path and the line. */
    kiln_error_t *err =
        msg != NULL && strstr(msg, path) != NULL
            ? kiln_error_new(KILN_ERR_PARSE, "%s", msg)
            : kiln_error_new(KILN_ERR_PARSE, "%s: %s", path, msg ? msg : "invalid IR");
    LLVMDisposeMessage(msg);
    *m_out = NULL;
    return err;
  }
  return NULL;
}

kiln_error_t *kiln_emitter_link_inputs(LLVMContextRef ctx, const char *const *inputs, size_t n,
                                       LLVMModuleRef *module_out) {
  if (module_out != NULL) *module_out = NULL;
  if (ctx == NULL || (inputs == NULL && n > 0) || module_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_link_inputs: NULL argument");
  if (n == 0) return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_link_inputs: no inputs");
  LLVMModuleRef dst = NULL;
  kiln_error_t *err = parse_input(ctx, inputs[0], &dst);
  LLVMDiagnosticHandler old = LLVMContextGetDiagnosticHandler(ctx);
  void *old_ctx = LLVMContextGetDiagnosticContext(ctx);
  diag_sink_t sink = {{0}};
  LLVMContextSetDiagnosticHandler(ctx, collect_diag, &sink);
  for (size_t i = 1; err == NULL && i < n; i++) {
    LLVMModuleRef src = NULL;
    err = parse_input(ctx, inputs[i], &src);
    if (err != NULL) break;
    em_buf_free(&sink.text);
    /* Destroys src either way. */
    if (LLVMLinkModules2(dst, src) != 0)
      err = kiln_error_new(KILN_ERR_LINK, "%s: does not link: %s", inputs[i],
                           sink.text.data != NULL ? sink.text.data : "linker error");
  }
  LLVMContextSetDiagnosticHandler(ctx, old, old_ctx);
  em_buf_free(&sink.text);
  if (err != NULL) {
    if (dst != NULL) LLVMDisposeModule(dst);
    return err;
  }
  *module_out = dst;
  return NULL;
}

kiln_error_t *kiln_emitter_build_files(const kiln_emitter_options_t *o, const char *const *inputs,
                                       size_t n, kiln_emitter_result_t **result_out) {
  if (result_out != NULL) *result_out = NULL;
  if (o == NULL || result_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_emitter_build_files: NULL argument");
  em_phases_t pre = {0};
  em_phase_timer_t t;
  em_phase_begin(&t);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = NULL;
  kiln_error_t *err = kiln_emitter_link_inputs(ctx, inputs, n, &m);
  em_phase_end(&pre, "link", &t);
  if (err == NULL) err = build(o, m, &pre, result_out);
  if (m != NULL) LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  em_phases_free(&pre);
  return err;
}
