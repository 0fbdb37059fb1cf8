/*
 * components/emitter/util.c — the emitter's plumbing: clocks and phase
 * timers, atomic file writes, growable buffers, and the LLVM calls every
 * step shares (target registration, target machines, codegen to memory).
 */
#define _GNU_SOURCE /* clock_gettime CPU clocks, getrusage */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "components/emitter/internal.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"
#include "llvm-c/BitWriter.h"
#include "llvm-c/Core.h"
#include "llvm-c/Target.h"

/* ---- Clocks -------------------------------------------------------------- */

static int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t em_now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t em_process_cpu_ns(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }
int64_t em_thread_cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

uint64_t em_peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

void em_phase_begin(em_phase_timer_t *t) {
  t->wall0 = em_now_ns();
  t->cpu0 = em_process_cpu_ns();
}

static void phases_push(em_phases_t *phases, const em_phase_t *p) {
  if (phases->count == phases->cap) {
    size_t cap = phases->cap ? phases->cap * 2 : 8;
    em_phase_t *items = realloc(phases->items, cap * sizeof(*items));
    if (items == NULL) return;
    phases->items = items;
    phases->cap = cap;
  }
  phases->items[phases->count++] = *p;
}

void em_phase_end(em_phases_t *phases, const char *name, const em_phase_timer_t *t) {
  em_phase_t p = {name, t->wall0, em_now_ns() - t->wall0, em_process_cpu_ns() - t->cpu0,
                  em_peak_rss()};
  phases_push(phases, &p);
}

void em_phases_append(em_phases_t *dst, const em_phases_t *src) {
  for (size_t i = 0; i < src->count; i++) phases_push(dst, &src->items[i]);
}

void em_phases_free(em_phases_t *phases) {
  free(phases->items);
  phases->items = NULL;
  phases->count = phases->cap = 0;
}

/* ---- Strings and buffers ------------------------------------------------ */

kiln_error_t *em_oom(void) { return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "emitter: out of memory"); }

char *em_strndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *em_strdup(const char *s) { return s == NULL ? NULL : em_strndup(s, strlen(s)); }

char *em_path_join(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  char *p = malloc(na + nb + 1);
  if (p == NULL) return NULL;
  memcpy(p, a, na);
  memcpy(p + na, b, nb + 1);
  return p;
}

void em_buf_append(em_buf_t *b, const void *data, size_t n) {
  if (b->failed) return;
  if (b->size + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->size + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) {
      b->failed = true;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  if (n > 0) memcpy(b->data + b->size, data, n);
  b->size += n;
  b->data[b->size] = '\0';
}

void em_buf_puts(em_buf_t *b, const char *s) { em_buf_append(b, s, strlen(s)); }

void em_buf_printf(em_buf_t *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = true;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    em_buf_append(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  em_buf_append(b, big, (size_t)n);
  free(big);
}

void em_buf_free(em_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->size = b->cap = 0;
  b->failed = false;
}

/* ---- Files ------------------------------------------------------------------ */

kiln_error_t *em_write_file(const char *path, const void *data, size_t size) {
  if (path == NULL || path[0] == '\0')
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "emitter: empty output path");
  char tmp[4096];
  int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (f == NULL)
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
  bool ok = size == 0 || fwrite(data, 1, size, f) == size;
  int saved = errno;
  if (fclose(f) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    remove(tmp);
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write: %s", path, strerror(saved));
  }
  if (rename(tmp, path) != 0) {
    saved = errno;
    remove(tmp);
    return kiln_error_new(KILN_ERR_IO, "%s: cannot rename into place: %s", path, strerror(saved));
  }
  return NULL;
}

kiln_error_t *em_read_file(const char *path, void **data_out, size_t *size_out) {
  *data_out = NULL;
  *size_out = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return kiln_error_new(errno == ENOENT ? KILN_ERR_NOT_FOUND : KILN_ERR_IO, "%s: %s", path,
                          strerror(errno));
  em_buf_t b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) em_buf_append(&b, chunk, n);
  bool err = ferror(f) != 0;
  fclose(f);
  if (err) {
    em_buf_free(&b);
    return kiln_error_new(KILN_ERR_IO, "%s: read error", path);
  }
  if (b.failed) {
    em_buf_free(&b);
    return em_oom();
  }
  if (b.data == NULL) {
    b.data = malloc(1);
    if (b.data == NULL) return em_oom();
  }
  *data_out = b.data;
  *size_out = b.size;
  return NULL;
}

/* ---- LLVM ------------------------------------------------------------------ */

static pthread_once_t g_llvm_once = PTHREAD_ONCE_INIT; /* immutable after first call */

static void llvm_init_once(void) {
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
  LLVMInitializeAllAsmParsers();
}

void em_llvm_init(void) { pthread_once(&g_llvm_once, llvm_init_once); }

kiln_error_t *em_target_machine(const char *triple, const char *cpu, const char *features,
                                unsigned opt_level, LLVMTargetMachineRef *tm_out) {
  *tm_out = NULL;
  em_llvm_init();
  LLVMTargetRef target = NULL;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &msg) != 0) {
    kiln_error_t *err =
        kiln_error_new(KILN_ERR_UNSUPPORTED, "triple '%s': %s", triple, msg ? msg : "no target");
    LLVMDisposeMessage(msg);
    return err;
  }
  static const LLVMCodeGenOptLevel levels[4] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                                LLVMCodeGenLevelDefault,
                                                LLVMCodeGenLevelAggressive};
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, triple, cpu ? cpu : "generic", features ? features : "",
                              levels[opt_level > 3 ? 3 : opt_level], LLVMRelocPIC,
                              LLVMCodeModelDefault);
  if (tm == NULL)
    return kiln_error_new(KILN_ERR_LLVM, "triple '%s' cpu '%s': cannot create a target machine",
                          triple, cpu ? cpu : "generic");
  /* Images are linked without crtbegin.o: constructors must be in
   * .init_array (as clang emits them) for the dynamic linker to run them. */
  kiln_error_t *err = kiln_llvm_target_machine_use_init_array(tm);
  if (err != NULL) {
    LLVMDisposeTargetMachine(tm);
    return err;
  }
  *tm_out = tm;
  return NULL;
}

kiln_error_t *em_codegen(LLVMTargetMachineRef tm, LLVMModuleRef module, bool assembly,
                         void **data_out, size_t *size_out) {
  *data_out = NULL;
  *size_out = 0;
  char *msg = NULL;
  LLVMMemoryBufferRef mb = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, module, assembly ? LLVMAssemblyFile : LLVMObjectFile,
                                          &msg, &mb) != 0) {
    kiln_error_t *err = kiln_error_new(KILN_ERR_LLVM, "codegen: %s", msg ? msg : "failed");
    LLVMDisposeMessage(msg);
    return err;
  }
  size_t n = LLVMGetBufferSize(mb);
  void *d = malloc(n ? n : 1);
  if (d == NULL) {
    LLVMDisposeMemoryBuffer(mb);
    return em_oom();
  }
  memcpy(d, LLVMGetBufferStart(mb), n);
  LLVMDisposeMemoryBuffer(mb);
  *data_out = d;
  *size_out = n;
  return NULL;
}

kiln_error_t *em_bitcode(LLVMModuleRef module, void **data_out, size_t *size_out) {
  *data_out = NULL;
  *size_out = 0;
  LLVMMemoryBufferRef mb = LLVMWriteBitcodeToMemoryBuffer(module);
  if (mb == NULL) return kiln_error_new(KILN_ERR_LLVM, "cannot write bitcode");
  size_t n = LLVMGetBufferSize(mb);
  void *d = malloc(n ? n : 1);
  if (d == NULL) {
    LLVMDisposeMemoryBuffer(mb);
    return em_oom();
  }
  memcpy(d, LLVMGetBufferStart(mb), n);
  LLVMDisposeMemoryBuffer(mb);
  *data_out = d;
  *size_out = n;
  return NULL;
}
