/*
 * components/emitter/internal.h — the emitter's private structures, shared
 * by its files: options.c (setters), plan.c (roots, annotation, tables,
 * split), plan_io.c (plan files), shard.c (per-shard compile, shard files),
 * finish.c (metadata object, archive, result, trace), build.c (worker pool),
 * util.c (files, clocks, growable buffers).
 */
#ifndef KILN_EMITTER_INTERNAL_H
#define KILN_EMITTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/emitter/emitter.h"
#include "components/image_format/image_format.h"
#include "llvm-c/TargetMachine.h"

struct kiln_emitter_options {
  char *targets;
  unsigned opt_level;
  bool vectorize;
  size_t shard_count;
  unsigned threads;
  uint64_t memory_budget;
  kiln_target_env_fn env;
  void *env_ctx;
  unsigned outputs;
  char *output_prefix;
  char *archive_path;
  unsigned kind;
  char *name;
  uint64_t base_checksum;
  kiln_emitter_dep_fn dep_fn;
  void *dep_user;
  char **roots;
  size_t root_count;
  kiln_emitter_progress_fn progress;
  void *progress_user;
  char *time_trace_path;
  bool record_build_info;
  int embed_bitcode; /* -1: by image kind (package on, system off); 0/1 set */
};

/* ---- Timings ---------------------------------------------------------- */

typedef struct em_phase {
  const char *name; /* static */
  int64_t start_ns; /* monotonic, absolute */
  int64_t wall_ns, cpu_ns;
  uint64_t peak_rss;
} em_phase_t;

typedef struct em_phases {
  em_phase_t *items;
  size_t count, cap;
} em_phases_t;

typedef struct em_phase_timer {
  int64_t wall0, cpu0;
} em_phase_timer_t;

void em_phase_begin(em_phase_timer_t *t);
/* Appends a phase measured from `t` (ignores allocation failure: timings
 * are best-effort and never change the build's outcome). */
void em_phase_end(em_phases_t *phases, const char *name, const em_phase_timer_t *t);
void em_phases_free(em_phases_t *phases);
void em_phases_append(em_phases_t *dst, const em_phases_t *src);

int64_t em_now_ns(void);
int64_t em_process_cpu_ns(void);
int64_t em_thread_cpu_ns(void);
uint64_t em_peak_rss(void);

/* ---- The plan ---------------------------------------------------------- */

/* Import slots of package images: the runtime's KILN_RUNTIME_IMPORT_PREFIX
 * (components/runtime/runtime.h; the emitter does not depend on it). */
#define EM_IMPORT_PREFIX "kiln.import."


typedef struct em_dep {
  char *key;
  uint64_t fingerprint;
} em_dep_t;

typedef struct em_method {
  char *key;
  uint32_t function;
  uint32_t flags;
  uint64_t fingerprint;
  uint32_t *calls;
  size_t call_count;
  em_dep_t *deps;
  size_t dep_count;
  void *bitcode; /* per-method bitcode (compile on first use), or NULL */
  size_t bitcode_size;
} em_method_t;

/* A shard's part of the tables. The tables are numbered shard by shard
 * (format 5), so a shard's functions are the consecutive range
 * [first_function, first_function + function_count) of the plan's function
 * table, and likewise its globals. */
typedef struct em_shard_plan {
  size_t first_function, function_count;
  uint32_t **overrides; /* [target_count]; [0] NULL; positions in the range */
  size_t *override_counts;
  size_t first_global, global_count;
  uint64_t weight;
  /* The shard's bitcode. A plan from kiln_emitter_plan holds it in memory;
   * one from kiln_emitter_plan_read only knows `path` and the size, and
   * kiln_emitter_emit_shard reads the file (lazily, so a per-shard action
   * needs only its own shard file). */
  void *bitcode;
  size_t bitcode_size;
  char *path; /* lazily read plans: the shard file; else NULL */
  char file[32]; /* "shard-<s>.bc" */
} em_shard_plan_t;

struct kiln_emitter_plan {
  char *producer, *triple, *data_layout, *name, *targets;
  unsigned kind;
  uint64_t base_checksum;
  unsigned opt_level;
  bool vectorize;
  /* options recorded in the header, sorted by key */
  char **option_keys, **option_values;
  size_t option_count;
  /* targets */
  size_t target_count;
  char **target_cpu, **target_features;
  uint32_t *target_flags, *target_base;
  size_t *clone_counts;
  /* tables: names in index order, numbered shard by shard (shard 0's
   * first), in strcmp order within a shard; function_by_name[j] is the index
   * of the j-th function in strcmp order (em_plan_function_index) */
  char **functions;
  uint32_t *function_by_name;
  size_t function_count;
  char **globals;
  size_t global_count;
  em_shard_plan_t *shards;
  size_t shard_count;
  em_method_t *methods;
  size_t method_count;
  em_phases_t phases; /* planning phases, for kiln_emitter_build */
};

/* Builds the image description from the plan, with per-shard slot lists
 * (slots[s], slot_counts[s]; both may be NULL for "none"). The returned
 * desc borrows the plan; *storage_out must be freed with em_desc_free. */
typedef struct em_desc_storage em_desc_storage_t;
kiln_error_t *em_plan_desc(const kiln_emitter_plan_t *plan, const uint32_t *const *slots,
                           const size_t *slot_counts, kiln_image_format_desc_t *desc_out,
                           em_desc_storage_t **storage_out);
void em_desc_free(em_desc_storage_t *storage);

/* The bitcode of shard `s`: borrowed from the plan when it holds it in
 * memory (*owned_out NULL), else read from its file and size-checked (the
 * caller frees *owned_out). */
kiln_error_t *em_shard_bitcode(const kiln_emitter_plan_t *plan, size_t s, const void **data_out,
                               size_t *size_out, void **owned_out);

/* The function index of symbol `name` (binary search through
 * function_by_name); false when absent. */
bool em_plan_function_index(const kiln_emitter_plan_t *plan, const char *name, uint32_t *out);

/* ---- Shards and results ------------------------------------------------ */

struct kiln_emitter_shard {
  size_t index;
  void *object;
  size_t object_size;
  void *asm_text, *bitcode, *unopt_bitcode;
  size_t asm_size, bitcode_size, unopt_bitcode_size;
  uint32_t *slots;
  size_t slot_count;
  int64_t start_ns, wall_ns, cpu_ns;
  unsigned worker;
};

struct kiln_emitter_result {
  void *archive;
  size_t archive_size;
  char *archive_path;
  void *blob;
  size_t blob_size;
  size_t shard_count, function_count, target_count;
  size_t *clone_counts;
  unsigned threads_used;
  em_phases_t phases;
  int64_t *shard_start_ns, *shard_wall_ns, *shard_cpu_ns;
  unsigned *shard_worker;
  int64_t origin_ns; /* trace time zero */
};

/* kiln_emitter_finish with the thread count used and earlier phases (both
 * only for the result's reporting). */
kiln_error_t *em_finish(const kiln_emitter_options_t *o, const kiln_emitter_plan_t *p,
                        kiln_emitter_shard_t *const *shards, size_t n, unsigned threads,
                        const em_phases_t *phases, kiln_emitter_result_t **result_out);

/* ---- LLVM helpers ------------------------------------------------------ */

/* Registers every LLVM target once (thread-safe). */
void em_llvm_init(void);
/* A PIC target machine for `triple` with `cpu`/`features` at `opt_level`. */
kiln_error_t *em_target_machine(const char *triple, const char *cpu, const char *features,
                                unsigned opt_level, LLVMTargetMachineRef *tm_out);
/* Codegen `module` to a malloc'ed buffer (object or assembly). */
kiln_error_t *em_codegen(LLVMTargetMachineRef tm, LLVMModuleRef module, bool assembly,
                         void **data_out, size_t *size_out);
/* Serializes `module` to malloc'ed bitcode. */
kiln_error_t *em_bitcode(LLVMModuleRef module, void **data_out, size_t *size_out);

/* ---- Files and strings -------------------------------------------------- */

char *em_strdup(const char *s);
char *em_strndup(const char *s, size_t n);
kiln_error_t *em_oom(void);
/* Writes data atomically: `path`.tmp.<pid> then rename. */
kiln_error_t *em_write_file(const char *path, const void *data, size_t size);
kiln_error_t *em_read_file(const char *path, void **data_out, size_t *size_out);
char *em_path_join(const char *a, const char *b); /* a + b */

/* A growable byte buffer (NUL-terminated when used for text). */
typedef struct em_buf {
  char *data;
  size_t size, cap;
  bool failed;
} em_buf_t;
void em_buf_append(em_buf_t *b, const void *data, size_t n);
void em_buf_puts(em_buf_t *b, const char *s);
void em_buf_printf(em_buf_t *b, const char *fmt, ...) KILN_PRINTF(2, 3);
void em_buf_free(em_buf_t *b);

#endif /* KILN_EMITTER_INTERNAL_H */
