/*
 * components/runtime/runtime.c — the method table and everything that writes
 * to it: image installs (system: trusted; package: dependency check and
 * transitive invalidation through in-image calls), single-method installs,
 * and compile on first use with once-semantics and tracing.
 *
 * Concurrency design:
 *   - The table is an open-addressing hash map of entry pointers. Readers
 *     probe it without locks (acquire loads of the table and its slots);
 *     writers hold `mu`, insert with release stores and grow by building a
 *     new array and publishing it, keeping the old arrays until free.
 *   - Entries are never removed. Each points at an immutable version
 *     (code + fingerprint + the kiln_codeinst_t it was published through);
 *     installing publishes a fresh version and swaps `current` with a release
 *     store, so a reader gets one whole version. Old versions are kept.
 *   - Compile on first use runs the hook outside `mu`; the entry is marked
 *     `compiling` under `mu`, and other first callers wait on `cv`.
 */
/* clock_gettime(CLOCK_MONOTONIC) to time compiles; pthreads for the lock
 * (POSIX, like the loader's dlopen; chosen over C11 <threads.h> because
 * ThreadSanitizer does not see glibc's mtx_* and would report false races). */
#define _POSIX_C_SOURCE 200809L

#include "components/runtime/runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "components/codeinst/codeinst.h"
#include "components/runtime/internal.h"

/* ---- Data ---------------------------------------------------------------- */

/* One published state of a method: immutable once `current` points at it. */
typedef struct version {
  kiln_codeinst_t ci;
  void *code;
  uint64_t fingerprint;
  struct version *next; /* all versions, for free */
} version_t;

/* Bitcode a method can be compiled from. Immutable; replaced ones are kept
 * until free, because a compile may still be reading them. */
typedef struct bitcode_src {
  void *data;
  size_t size;
  char *symbol;
  uint64_t fingerprint;
  char *origin;
  char **callees; /* in-image callees' keys: compiled first */
  size_t callee_count;
  struct bitcode_src *next; /* all sources, for free */
} bitcode_src_t;

typedef struct entry {
  char *key;
  uint64_t hash;
  _Atomic(version_t *) current; /* NULL: no code installed */
  /* Always the current code (release-stored with `current`): the target of
   * "kiln.import.<key>" for JIT'd code. */
  _Atomic(void *) cell;
  /* The rest is guarded by the runtime's mu. */
  bitcode_src_t *src;     /* NULL: nothing to compile from */
  char *invalid_reason;   /* why an image did not install it, or NULL */
  bool compiling;
  pthread_t compiler;
  kiln_error_code_t fail_code; /* KILN_OK: no recorded failure */
  char *fail_message;
  bool traced;
  struct entry *next; /* all entries, for free */
} entry_t;

typedef struct map_table {
  size_t mask; /* capacity - 1, capacity a power of two */
  struct map_table *retired;
  _Atomic(entry_t *) slots[];
} map_table_t;

struct kiln_runtime_options {
  char *trace_path;
  kiln_runtime_compile_fn compile;
  void *compile_user;
};

struct kiln_runtime {
  kiln_runtime_compile_fn compile;
  void *compile_user;
  FILE *trace;
  char *trace_path;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic(map_table_t *) table;
  /* Guarded by mu. */
  size_t count;
  entry_t *entries;
  version_t *versions;
  bitcode_src_t *sources;
  kiln_runtime_report_t *log;
};

static kiln_error_t *oom(const char *what) {
  return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
}

/* FNV-1a: keys are short; the map only needs a decent spread. */
static uint64_t hash_key(const char *key) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    h ^= *p;
    h *= 1099511628211ull;
  }
  return h;
}

static kiln_codeinst_fn_t to_fn(void *code) { return (kiln_codeinst_fn_t)(uintptr_t)code; }
static void *from_fn(kiln_codeinst_fn_t fn) { return (void *)(uintptr_t)fn; }

/* ---- Map ------------------------------------------------------------------ */

static map_table_t *table_new(size_t capacity) {
  map_table_t *t = calloc(1, sizeof(map_table_t) + capacity * sizeof(_Atomic(entry_t *)));
  if (t == NULL) return NULL;
  t->mask = capacity - 1;
  for (size_t i = 0; i < capacity; i++) atomic_init(&t->slots[i], NULL);
  return t;
}

/* Lock-free: any thread. */
static entry_t *map_find(const kiln_runtime_t *rt, const char *key, uint64_t hash) {
  /* Acquire: pairs with the release that published the table (and the entries
   * copied into it). */
  map_table_t *t = atomic_load_explicit(&((kiln_runtime_t *)rt)->table, memory_order_acquire);
  for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    /* Acquire: pairs with the insert's release, so the entry's key is seen. */
    entry_t *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
    if (e == NULL) return NULL;
    if (e->hash == hash && strcmp(e->key, key) == 0) return e;
  }
}

static void table_insert(map_table_t *t, entry_t *e) {
  size_t i = e->hash & t->mask;
  while (atomic_load_explicit(&t->slots[i], memory_order_relaxed) != NULL) i = (i + 1) & t->mask;
  atomic_store_explicit(&t->slots[i], e, memory_order_release);
}

/* Finds or creates the entry of `key`. Caller holds mu. NULL on OOM. */
static entry_t *map_get_or_add(kiln_runtime_t *rt, const char *key) {
  uint64_t hash = hash_key(key);
  entry_t *e = map_find(rt, key, hash);
  if (e != NULL) return e;
  map_table_t *t = atomic_load_explicit(&rt->table, memory_order_relaxed);
  if ((rt->count + 1) * 2 > t->mask + 1) { /* keep the load factor <= 1/2 */
    map_table_t *bigger = table_new((t->mask + 1) * 2);
    if (bigger == NULL) return NULL;
    for (size_t i = 0; i <= t->mask; i++) {
      entry_t *old = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
      if (old != NULL) table_insert(bigger, old);
    }
    bigger->retired = t; /* readers may still probe the old array */
    atomic_store_explicit(&rt->table, bigger, memory_order_release);
    t = bigger;
  }
  e = calloc(1, sizeof(*e));
  if (e == NULL) return NULL;
  e->key = kiln_runtime_strdup_(key);
  if (e->key == NULL) {
    free(e);
    return NULL;
  }
  e->hash = hash;
  atomic_init(&e->current, NULL);
  atomic_init(&e->cell, NULL);
  e->next = rt->entries;
  rt->entries = e;
  table_insert(t, e);
  rt->count++;
  return e;
}

/* The entry's current version, or NULL. Lock-free. */
static version_t *current_version(const entry_t *e) {
  /* Acquire: pairs with publish_version's release, so the version's fields
   * and its codeinst are seen complete. */
  return e ? atomic_load_explicit(&((entry_t *)e)->current, memory_order_acquire) : NULL;
}

/* Publishes code for `e` as a new version. Caller holds mu. */
static kiln_error_t *publish_version(kiln_runtime_t *rt, entry_t *e, void *code,
                                     uint64_t fingerprint, bool specsig) {
  version_t *v = calloc(1, sizeof(*v));
  if (v == NULL) return oom(e->key);
  kiln_error_t *err = kiln_codeinst_init(&v->ci);
  kiln_codeinst_code_t c = {to_fn(code), to_fn(code), specsig ? KILN_CODEINST_SPECSIG : 0u};
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  if (err == NULL)
    err = kiln_codeinst_publish(&v->ci, &c, KILN_CODEINST_WAIT_FOREVER, &view, &outcome);
  if (err != NULL) {
    free(v);
    return kiln_error_prefix(err, "method '%s'", e->key);
  }
  v->code = code;
  v->fingerprint = fingerprint;
  v->next = rt->versions;
  rt->versions = v;
  /* Release: the version (and its codeinst) is complete before readers can
   * reach it. */
  atomic_store_explicit(&e->current, v, memory_order_release);
  atomic_store_explicit(&e->cell, code, memory_order_release);
  return NULL;
}

/* ---- Options and lifetime --------------------------------------------------- */

kiln_error_t *kiln_runtime_options_new(kiln_runtime_options_t **options_out) {
  if (options_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_options_new: NULL options_out");
  *options_out = calloc(1, sizeof(kiln_runtime_options_t));
  return *options_out ? NULL : oom("kiln_runtime_options_new");
}

void kiln_runtime_options_free(kiln_runtime_options_t *options) {
  if (options == NULL) return;
  free(options->trace_path);
  free(options);
}

kiln_error_t *kiln_runtime_options_set_trace_file(kiln_runtime_options_t *options,
                                                  const char *path) {
  if (options == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_runtime_options_set_trace_file: NULL options");
  char *copy = NULL;
  if (path != NULL) {
    if (path[0] == '\0')
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "trace file: empty path");
    copy = kiln_runtime_strdup_(path);
    if (copy == NULL) return oom(path);
  }
  free(options->trace_path);
  options->trace_path = copy;
  return NULL;
}

void kiln_runtime_options_set_compile(kiln_runtime_options_t *options, kiln_runtime_compile_fn fn,
                                      void *user) {
  if (options == NULL) return;
  options->compile = fn;
  options->compile_user = user;
}

kiln_error_t *kiln_runtime_new(const kiln_runtime_options_t *options,
                               kiln_runtime_t **runtime_out) {
  if (runtime_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_new: NULL runtime_out");
  *runtime_out = NULL;
  kiln_runtime_t *rt = calloc(1, sizeof(*rt));
  if (rt == NULL) return oom("kiln_runtime_new");
  map_table_t *t = table_new(64);
  rt->log = kiln_runtime_report_new_();
  if (t == NULL || rt->log == NULL) {
    free(t);
    kiln_runtime_report_free(rt->log);
    free(rt);
    return oom("kiln_runtime_new");
  }
  atomic_init(&rt->table, t);
  if (pthread_mutex_init(&rt->mu, NULL) != 0) {
    free(t);
    kiln_runtime_report_free(rt->log);
    free(rt);
    return kiln_error_new(KILN_ERR_INTERNAL, "kiln_runtime_new: pthread_mutex_init failed");
  }
  if (pthread_cond_init(&rt->cv, NULL) != 0) {
    pthread_mutex_destroy(&rt->mu);
    free(t);
    kiln_runtime_report_free(rt->log);
    free(rt);
    return kiln_error_new(KILN_ERR_INTERNAL, "kiln_runtime_new: pthread_cond_init failed");
  }
  if (options != NULL) {
    rt->compile = options->compile;
    rt->compile_user = options->compile_user;
    if (options->trace_path != NULL) {
      rt->trace_path = kiln_runtime_strdup_(options->trace_path);
      rt->trace = rt->trace_path ? fopen(rt->trace_path, "a") : NULL;
      if (rt->trace == NULL) {
        kiln_error_t *err =
            rt->trace_path ? kiln_error_new(KILN_ERR_IO, "%s: cannot open trace file: %s",
                                            options->trace_path, strerror(errno))
                           : oom("kiln_runtime_new");
        kiln_runtime_free(rt);
        return err;
      }
      /* One key per line, visible to other processes line by line. */
      setvbuf(rt->trace, NULL, _IOLBF, 0);
    }
  }
  *runtime_out = rt;
  return NULL;
}

static void src_free(bitcode_src_t *s) {
  free(s->data);
  free(s->symbol);
  free(s->origin);
  for (size_t i = 0; i < s->callee_count; i++) free(s->callees[i]);
  free(s->callees);
  free(s);
}

void kiln_runtime_free(kiln_runtime_t *runtime) {
  if (runtime == NULL) return;
  for (entry_t *e = runtime->entries, *next; e != NULL; e = next) {
    next = e->next;
    free(e->key);
    free(e->invalid_reason);
    free(e->fail_message);
    free(e);
  }
  for (version_t *v = runtime->versions, *next; v != NULL; v = next) {
    next = v->next;
    free(v);
  }
  for (bitcode_src_t *s = runtime->sources, *next; s != NULL; s = next) {
    next = s->next;
    src_free(s);
  }
  for (map_table_t *t = atomic_load_explicit(&runtime->table, memory_order_relaxed), *next;
       t != NULL; t = next) {
    next = t->retired;
    free(t);
  }
  if (runtime->trace != NULL) fclose(runtime->trace);
  free(runtime->trace_path);
  kiln_runtime_report_free(runtime->log);
  pthread_cond_destroy(&runtime->cv);
  pthread_mutex_destroy(&runtime->mu);
  free(runtime);
}

/* ---- Image installs ---------------------------------------------------------- */

/* Per-method verdict during a package install. */
typedef struct verdict {
  kiln_runtime_reason_t reason; /* 0: valid */
  kiln_runtime_reason_t root_reason;
  size_t dep;    /* root: index of the failing dependency (in `root`'s list) */
  size_t root;   /* method whose dependency is the root cause */
  size_t callee; /* CALLS_INVALID: the invalid callee; else SIZE_MAX */
  uint64_t found;
} verdict_t;

/* Adds a bitcode source to `e` from method m of `view`. Caller holds mu. */
static bool attach_image_bitcode(kiln_runtime_t *rt, entry_t *e, const kiln_image_format_t *view,
                                 size_t m, const char *image) {
  size_t size = 0;
  const void *bitcode = kiln_image_format_method_bitcode(view, m, &size);
  if (bitcode == NULL || size == 0) return true;
  bitcode_src_t *s = calloc(1, sizeof(*s));
  if (s == NULL) return false;
  size_t call_count = 0;
  const uint32_t *calls = kiln_image_format_method_calls(view, m, &call_count);
  s->data = malloc(size);
  s->symbol = kiln_runtime_strdup_(
      kiln_image_format_function_name(view, kiln_image_format_method_function(view, m)));
  s->origin = kiln_runtime_strdup_(image);
  s->callees = call_count ? calloc(call_count, sizeof(char *)) : NULL;
  bool ok = s->data && s->symbol && s->origin && (call_count == 0 || s->callees);
  if (ok) {
    memcpy(s->data, bitcode, size);
    s->size = size;
    s->fingerprint = kiln_image_format_method_fingerprint(view, m);
    for (size_t i = 0; i < call_count && ok; i++) {
      s->callees[i] = kiln_runtime_strdup_(kiln_image_format_method_key(view, calls[i]));
      ok = s->callees[i] != NULL;
      s->callee_count = i + 1;
    }
  }
  /* Kept on the runtime's list either way, so src_free at the end owns it. */
  s->next = rt->sources;
  rt->sources = s;
  if (!ok) return false;
  e->src = s;
  e->fail_code = KILN_OK;
  free(e->fail_message);
  e->fail_message = NULL;
  return true;
}

static kiln_error_t *install_image(kiln_runtime_t *rt, const kiln_image_format_t *view,
                                   void *const *function_table, void *const *global_table,
                                   const char *name, bool package,
                                   kiln_runtime_report_t **report_out) {
  const char *what = package ? "kiln_runtime_install_package" : "kiln_runtime_install_system";
  if (report_out != NULL) *report_out = NULL;
  if (rt == NULL || view == NULL || function_table == NULL || name == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: NULL argument", what);
  kiln_image_format_kind_t kind = kiln_image_format_kind(view);
  if (package != (kind == KILN_IMAGE_FORMAT_KIND_PACKAGE))
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: image '%s' is a %s image", what, name,
                          kind == KILN_IMAGE_FORMAT_KIND_PACKAGE ? "package" : "system");

  /* The names of methods, functions and globals are in the directory. */
  if (!kiln_image_format_has_directory(view))
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "%s: image '%s': the view has no directory (names and methods); open it "
                          "with kiln_image_format_open",
                          what, name);

  /* Check everything first, so a rejected image installs nothing. */
  size_t n = kiln_image_format_method_count(view);
  size_t function_count = kiln_image_format_function_count(view);
  for (size_t m = 0; m < n; m++) {
    uint32_t f = kiln_image_format_method_function(view, m);
    if (f >= function_count || function_table[f] == NULL)
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                            "image '%s': method '%s': no address for function %" PRIu32, name,
                            kiln_image_format_method_key(view, m), f);
  }
  /* Import slots are visited in name (so key) order, through the name
   * index: global indices are numbered shard by shard, not by name. */
  const size_t prefix_len = strlen(KILN_RUNTIME_IMPORT_PREFIX);
  size_t global_count = kiln_image_format_global_count(view);
  for (size_t j = 0; j < global_count; j++) {
    size_t g = kiln_image_format_global_by_name(view, j);
    const char *gname = kiln_image_format_global_name(view, g);
    if (strncmp(gname, KILN_RUNTIME_IMPORT_PREFIX, prefix_len) != 0) continue;
    if (global_table == NULL || global_table[g] == NULL)
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                            "image '%s': import slot '%s' (global %zu) has no address", name,
                            gname, g);
  }

  kiln_runtime_report_t *report = kiln_runtime_report_new_();
  verdict_t *verdicts = calloc(n ? n : 1, sizeof(verdict_t));
  size_t *queue = calloc(n ? n : 1, sizeof(size_t));
  size_t *caller_start = calloc(n + 1, sizeof(size_t));
  size_t *callers = NULL;
  bool ok = report && verdicts && queue && caller_start;
  kiln_error_t *err = NULL;

  pthread_mutex_lock(&rt->mu);

  /* 1. Import slots: the current code of each imported key. Plain stores:
   * no image code runs before the install returns. */
  for (size_t j = 0; ok && j < global_count; j++) {
    size_t g = kiln_image_format_global_by_name(view, j);
    const char *gname = kiln_image_format_global_name(view, g);
    if (strncmp(gname, KILN_RUNTIME_IMPORT_PREFIX, prefix_len) != 0) continue;
    const char *key = gname + prefix_len;
    version_t *v = current_version(map_find(rt, key, hash_key(key)));
    *(void **)global_table[g] = v ? v->code : NULL;
    kiln_runtime_import_t rec = {name, key, g, v != NULL, v ? v->fingerprint : 0};
    ok = kiln_runtime_report_add_import_(report, &rec);
  }

  /* 2. Package: each method's dependencies against the current table. */
  if (ok && package) {
    for (size_t m = 0; m < n; m++) {
      verdicts[m].callee = SIZE_MAX;
      size_t dep_count = kiln_image_format_method_dep_count(view, m);
      for (size_t d = 0; d < dep_count; d++) {
        const char *key = kiln_image_format_method_dep_key(view, m, d);
        uint64_t expected = kiln_image_format_method_dep_fingerprint(view, m, d);
        version_t *v = current_version(map_find(rt, key, hash_key(key)));
        if (v != NULL && v->fingerprint == expected) continue;
        verdicts[m].reason = v ? KILN_RUNTIME_DEP_CHANGED : KILN_RUNTIME_DEP_MISSING;
        verdicts[m].root_reason = verdicts[m].reason;
        verdicts[m].dep = d;
        verdicts[m].root = m;
        verdicts[m].found = v ? v->fingerprint : 0;
        break; /* the first failing dependency, in key order */
      }
    }
    /* 3. Reverse call edges (callers of each method, ascending), then a
     * breadth-first walk from the dependency-invalid methods: each caller
     * reached is invalid through the callee it was reached from, so
     * following callee links always ends at a root cause. */
    size_t edges = 0;
    for (size_t m = 0; m < n; m++) {
      size_t c = 0;
      const uint32_t *calls = kiln_image_format_method_calls(view, m, &c);
      for (size_t i = 0; i < c; i++) caller_start[calls[i] + 1]++;
      edges += c;
    }
    for (size_t m = 0; m < n; m++) caller_start[m + 1] += caller_start[m];
    callers = calloc(edges ? edges : 1, sizeof(size_t));
    size_t *fill = calloc(n ? n : 1, sizeof(size_t));
    ok = callers && fill;
    for (size_t m = 0; ok && m < n; m++) {
      size_t c = 0;
      const uint32_t *calls = kiln_image_format_method_calls(view, m, &c);
      for (size_t i = 0; i < c; i++) callers[caller_start[calls[i]] + fill[calls[i]]++] = m;
    }
    free(fill);
    size_t head = 0, tail = 0;
    for (size_t m = 0; ok && m < n; m++)
      if (verdicts[m].reason != 0) queue[tail++] = m;
    while (ok && head < tail) {
      size_t x = queue[head++];
      for (size_t i = caller_start[x]; i < caller_start[x + 1]; i++) {
        size_t y = callers[i];
        if (verdicts[y].reason != 0) continue;
        verdicts[y] = verdicts[x];
        verdicts[y].reason = KILN_RUNTIME_CALLS_INVALID;
        verdicts[y].callee = x;
        queue[tail++] = y;
      }
    }
  }

  /* 4. Install the valid methods; record the invalid ones (with their
   * bitcode, for compile on first use). */
  for (size_t m = 0; ok && m < n; m++) {
    const char *key = kiln_image_format_method_key(view, m);
    uint64_t fingerprint = kiln_image_format_method_fingerprint(view, m);
    entry_t *e = map_get_or_add(rt, key);
    if (e == NULL) {
      ok = false;
      break;
    }
    const verdict_t *vd = &verdicts[m];
    if (vd->reason == 0) {
      version_t *old = current_version(e);
      void *code = function_table[kiln_image_format_method_function(view, m)];
      bool specsig = kiln_image_format_method_flags(view, m) & KILN_IMAGE_FORMAT_METHOD_SPECSIG;
      err = publish_version(rt, e, code, fingerprint, specsig);
      if (err != NULL) break;
      free(e->invalid_reason);
      e->invalid_reason = NULL;
      kiln_runtime_installed_t rec = {name, key, fingerprint, old != NULL,
                                      old ? old->fingerprint : 0};
      ok = kiln_runtime_report_add_installed_(report, &rec);
      continue;
    }
    size_t bitcode_size = 0;
    (void)kiln_image_format_method_bitcode(view, m, &bitcode_size);
    kiln_runtime_invalidated_t rec = {
        .image = name,
        .key = key,
        .fingerprint = fingerprint,
        .reason = vd->reason,
        .root_reason = vd->root_reason,
        .dep_key = kiln_image_format_method_dep_key(view, vd->root, vd->dep),
        .expected = kiln_image_format_method_dep_fingerprint(view, vd->root, vd->dep),
        .found = vd->found,
        .callee = vd->callee != SIZE_MAX ? kiln_image_format_method_key(view, vd->callee) : NULL,
        .has_bitcode = bitcode_size > 0,
    };
    ok = kiln_runtime_report_add_invalidated_(report, &rec);
    kiln_runtime_text_t why = {0};
    kiln_runtime_text_printf_(&why, "image '%s' did not install it: ", name);
    if (rec.callee != NULL) kiln_runtime_text_printf_(&why, "calls invalid '%s', ", rec.callee);
    if (rec.root_reason == KILN_RUNTIME_DEP_MISSING)
      kiln_runtime_text_printf_(&why, "dependency '%s' missing", rec.dep_key);
    else
      kiln_runtime_text_printf_(&why,
                                "dependency '%s' changed (expected 0x%016" PRIx64
                                ", found 0x%016" PRIx64 ")",
                                rec.dep_key, rec.expected, rec.found);
    free(e->invalid_reason);
    e->invalid_reason = why.data; /* NULL on OOM: the message just loses detail */
    if (ok) ok = attach_image_bitcode(rt, e, view, m, name);
  }
  if (ok && err == NULL) ok = kiln_runtime_report_append_(rt->log, report);
  pthread_mutex_unlock(&rt->mu);

  free(verdicts);
  free(queue);
  free(caller_start);
  free(callers);
  if (err == NULL && !ok) err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "image '%s': out of memory while installing", name);
  if (err != NULL) {
    kiln_runtime_report_free(report);
    return err;
  }
  if (report_out != NULL)
    *report_out = report;
  else
    kiln_runtime_report_free(report);
  return NULL;
}

kiln_error_t *kiln_runtime_install_system(kiln_runtime_t *runtime, const kiln_image_format_t *view,
                                          void *const *function_table, void *const *global_table,
                                          const char *name, kiln_runtime_report_t **report_out) {
  return install_image(runtime, view, function_table, global_table, name, false, report_out);
}

kiln_error_t *kiln_runtime_install_package(kiln_runtime_t *runtime,
                                           const kiln_image_format_t *view,
                                           void *const *function_table, void *const *global_table,
                                           const char *name, kiln_runtime_report_t **report_out) {
  return install_image(runtime, view, function_table, global_table, name, true, report_out);
}

/* ---- Single methods --------------------------------------------------------- */

static kiln_error_t *check_key(const char *what, const kiln_runtime_t *rt, const char *key) {
  if (rt == NULL || key == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: NULL argument", what);
  if (key[0] == '\0') return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: empty key", what);
  return NULL;
}

kiln_error_t *kiln_runtime_install_method(kiln_runtime_t *runtime, const char *key, void *code,
                                          uint64_t fingerprint) {
  kiln_error_t *err = check_key("kiln_runtime_install_method", runtime, key);
  if (err != NULL) return err;
  if (code == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_install_method: '%s': NULL code",
                          key);
  pthread_mutex_lock(&runtime->mu);
  entry_t *e = map_get_or_add(runtime, key);
  if (e == NULL) {
    pthread_mutex_unlock(&runtime->mu);
    return oom(key);
  }
  version_t *old = current_version(e);
  err = publish_version(runtime, e, code, fingerprint, true);
  if (err == NULL) {
    kiln_runtime_installed_t rec = {"", key, fingerprint, old != NULL, old ? old->fingerprint : 0};
    if (!kiln_runtime_report_add_installed_(runtime->log, &rec)) err = oom(key);
  }
  pthread_mutex_unlock(&runtime->mu);
  return err;
}

kiln_error_t *kiln_runtime_provide_bitcode(kiln_runtime_t *runtime, const char *key,
                                           const char *symbol, const void *bitcode, size_t size,
                                           uint64_t fingerprint) {
  kiln_error_t *err = check_key("kiln_runtime_provide_bitcode", runtime, key);
  if (err != NULL) return err;
  if (bitcode == NULL || size == 0)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_runtime_provide_bitcode: '%s': no bitcode", key);
  bitcode_src_t *s = calloc(1, sizeof(*s));
  if (s == NULL) return oom(key);
  s->data = malloc(size);
  s->symbol = kiln_runtime_strdup_(symbol ? symbol : key);
  s->origin = kiln_runtime_strdup_("provided");
  if (!s->data || !s->symbol || !s->origin) {
    src_free(s);
    return oom(key);
  }
  memcpy(s->data, bitcode, size);
  s->size = size;
  s->fingerprint = fingerprint;
  pthread_mutex_lock(&runtime->mu);
  entry_t *e = map_get_or_add(runtime, key);
  if (e == NULL) {
    pthread_mutex_unlock(&runtime->mu);
    src_free(s);
    return oom(key);
  }
  s->next = runtime->sources;
  runtime->sources = s;
  e->src = s;
  e->fail_code = KILN_OK;
  free(e->fail_message);
  e->fail_message = NULL;
  pthread_mutex_unlock(&runtime->mu);
  return NULL;
}

/* ---- Lookup and compile on first use ------------------------------------------ */

/* The chain of entries this thread is preparing (callees first). */
typedef struct frame {
  const entry_t *entry;
  const struct frame *up;
} frame_t;

static bool on_stack(const frame_t *f, const entry_t *e) {
  for (; f != NULL; f = f->up)
    if (f->entry == e) return true;
  return false;
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static kiln_error_t *lookup_slow(kiln_runtime_t *rt, entry_t *e, const frame_t *up,
                                 void **code_out) {
  frame_t self = {e, up};
  bool callees_done = false;
  bitcode_src_t *src = NULL;
  pthread_mutex_lock(&rt->mu);
  for (;;) {
    version_t *v = current_version(e);
    if (v != NULL) {
      *code_out = v->code;
      pthread_mutex_unlock(&rt->mu);
      return NULL;
    }
    if (e->compiling) {
      if (pthread_equal(e->compiler, pthread_self())) {
        pthread_mutex_unlock(&rt->mu);
        return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                              "method '%s': looked up while this thread compiles it", e->key);
      }
      pthread_cond_wait(&rt->cv, &rt->mu);
      continue;
    }
    if (e->fail_code != KILN_OK) {
      kiln_error_t *err = kiln_error_new(e->fail_code, "%s", e->fail_message ? e->fail_message : "");
      pthread_mutex_unlock(&rt->mu);
      return err;
    }
    src = e->src;
    if (src == NULL) {
      kiln_error_t *err =
          e->invalid_reason
              ? kiln_error_new(KILN_ERR_NOT_FOUND,
                               "method '%s': %s, and there is no bitcode to compile it from",
                               e->key, e->invalid_reason)
              : kiln_error_new(KILN_ERR_NOT_FOUND, "method '%s' is not in the method table",
                               e->key);
      pthread_mutex_unlock(&rt->mu);
      return err;
    }
    if (rt->compile == NULL) {
      pthread_mutex_unlock(&rt->mu);
      return kiln_error_new(KILN_ERR_UNSUPPORTED,
                            "method '%s': has bitcode but the runtime has no compile hook", e->key);
    }
    if (!callees_done && src->callee_count > 0) {
      /* In-image callees first, so the JIT resolves them to code. Their own
       * errors surface as unresolved symbols in this compile. src stays
       * alive (sources are freed with the runtime). */
      pthread_mutex_unlock(&rt->mu);
      for (size_t i = 0; i < src->callee_count; i++) {
        entry_t *ce = map_find(rt, src->callees[i], hash_key(src->callees[i]));
        if (ce == NULL || on_stack(&self, ce) || current_version(ce) != NULL) continue;
        void *ignored = NULL;
        kiln_error_free(lookup_slow(rt, ce, &self, &ignored));
      }
      callees_done = true;
      pthread_mutex_lock(&rt->mu);
      continue; /* the state may have changed meanwhile */
    }
    break;
  }
  /* Claim the compile. First call of a method no image provided: trace it. */
  e->compiling = true;
  e->compiler = pthread_self();
  if (rt->trace != NULL && !e->traced) {
    e->traced = true;
    fprintf(rt->trace, "%s\n", e->key);
  }
  pthread_mutex_unlock(&rt->mu);

  uint64_t start = monotonic_ns();
  void *code = NULL;
  kiln_error_t *err =
      rt->compile(rt->compile_user, e->key, src->symbol, src->data, src->size, &code);
  uint64_t elapsed = monotonic_ns() - start;
  if (err == NULL && code == NULL)
    err = kiln_error_new(KILN_ERR_INTERNAL, "compile hook returned no code");

  pthread_mutex_lock(&rt->mu);
  e->compiling = false;
  if (err == NULL) err = publish_version(rt, e, code, src->fingerprint, true);
  if (err == NULL) {
    kiln_runtime_compiled_t rec = {e->key, src->origin, src->fingerprint, elapsed};
    (void)kiln_runtime_report_add_compiled_(rt->log, &rec); /* OOM: one record lost */
    *code_out = code;
  } else {
    err = kiln_error_prefix(err, "method '%s': compile on first use failed", e->key);
    /* Sticky until new bitcode: later callers get the same error. */
    e->fail_code = kiln_error_code(err);
    free(e->fail_message);
    e->fail_message = kiln_runtime_strdup_(kiln_error_message(err));
  }
  pthread_cond_broadcast(&rt->cv);
  pthread_mutex_unlock(&rt->mu);
  return err;
}

kiln_error_t *kiln_runtime_lookup(kiln_runtime_t *runtime, const char *key, void **code_out) {
  if (code_out != NULL) *code_out = NULL;
  if (runtime == NULL || key == NULL || code_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_lookup: NULL argument");
  entry_t *e = map_find(runtime, key, hash_key(key));
  if (e == NULL)
    return kiln_error_new(KILN_ERR_NOT_FOUND, "method '%s' is not in the method table", key);
  version_t *v = current_version(e);
  kiln_codeinst_view_t view;
  if (v != NULL && kiln_codeinst_read_compiled(&v->ci, &view)) {
    *code_out = from_fn(view.specptr);
    return NULL;
  }
  return lookup_slow(runtime, e, NULL, code_out);
}

kiln_error_t *kiln_runtime_find(const kiln_runtime_t *runtime, const char *key, void **code_out,
                                uint64_t *fingerprint_out) {
  if (code_out != NULL) *code_out = NULL;
  if (fingerprint_out != NULL) *fingerprint_out = 0;
  if (runtime == NULL || key == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_find: NULL argument");
  version_t *v = current_version(map_find(runtime, key, hash_key(key)));
  if (v == NULL) return kiln_error_new(KILN_ERR_NOT_FOUND, "method '%s' has no code installed", key);
  if (code_out != NULL) *code_out = v->code;
  if (fingerprint_out != NULL) *fingerprint_out = v->fingerprint;
  return NULL;
}

kiln_error_t *kiln_runtime_fingerprint(const kiln_runtime_t *runtime, const char *key,
                                       uint64_t *fingerprint_out) {
  if (fingerprint_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_fingerprint: NULL argument");
  }
  return kiln_runtime_find(runtime, key, NULL, fingerprint_out);
}

void *kiln_runtime_resolve(void *runtime, const char *name) {
  kiln_runtime_t *rt = runtime;
  if (rt == NULL || name == NULL) return NULL;
  const size_t prefix_len = strlen(KILN_RUNTIME_IMPORT_PREFIX);
  if (strncmp(name, KILN_RUNTIME_IMPORT_PREFIX, prefix_len) == 0) {
    entry_t *e = map_find(rt, name + prefix_len, hash_key(name + prefix_len));
    return current_version(e) != NULL ? (void *)&e->cell : NULL;
  }
  version_t *v = current_version(map_find(rt, name, hash_key(name)));
  return v ? v->code : NULL;
}

kiln_error_t *kiln_runtime_report(kiln_runtime_t *runtime, kiln_runtime_report_t **report_out) {
  if (report_out != NULL) *report_out = NULL;
  if (runtime == NULL || report_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_report: NULL argument");
  kiln_runtime_report_t *r = kiln_runtime_report_new_();
  if (r == NULL) return oom("kiln_runtime_report");
  pthread_mutex_lock(&runtime->mu);
  bool ok = kiln_runtime_report_append_(r, runtime->log);
  pthread_mutex_unlock(&runtime->mu);
  if (!ok) {
    kiln_runtime_report_free(r);
    return oom("kiln_runtime_report");
  }
  *report_out = r;
  return NULL;
}
