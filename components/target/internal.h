/*
 * components/target/internal.h — private to components/target: the shape of
 * the per-architecture const tables and helpers shared by the .c files
 * (features.c, parse.c, host*.c, select.c). Not installed, not public.
 */
#ifndef KILN_TARGET_INTERNAL_H
#define KILN_TARGET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "components/target/target.h"

/* CPUID output registers. */
enum { KT_REG_EAX = 0, KT_REG_EBX = 1, KT_REG_ECX = 2, KT_REG_EDX = 3 };

/* Register state the OS must save (XCR0 via xgetbv) before a feature is
 * usable: the CPU may support AVX while the kernel does not save YMM. */
enum {
  KT_OS_NONE = 0,
  KT_OS_AVX = 1,    /* XCR0 bits 1-2 (SSE, YMM) */
  KT_OS_AVX512 = 2, /* plus bits 5-7 (opmask, ZMM_Hi256, Hi16_ZMM) */
  KT_OS_AMX = 3,    /* XCR0 bits 17-18 (TILECFG, TILEDATA) */
  KT_OS_APX = 4     /* XCR0 bit 19 (extended GPRs) */
};

/* How a CPUID entry is read. */
enum {
  KT_DETECT_BIT = 0,          /* the bit is set */
  KT_DETECT_AVX10_VERSION = 1 /* AVX10 (7.1 EDX[19]) and version byte >= bit */
};

/* Marks the end of an implication list. */
#define KT_END (-1)
#define KT_MAX_IMPLIES 12

typedef struct kt_x86_detect {
  uint32_t leaf;
  uint8_t subleaf;
  uint8_t reg;
  uint8_t bit;
  uint8_t os_state;
  uint8_t kind;
} kt_x86_detect;

typedef struct kt_arm_detect {
  uint8_t hwcap; /* 1 = AT_HWCAP, 2 = AT_HWCAP2, 0 = not detectable */
  uint8_t bit;
} kt_arm_detect;

typedef struct kt_feature {
  const char *name;      /* LLVM 22's name */
  uint16_t vector_bits;  /* register width this feature gives, 0 if none */
  kt_x86_detect x86;     /* x86-64 tables only */
  kt_arm_detect arm;     /* AArch64 tables only */
  int16_t implies[KT_MAX_IMPLIES]; /* direct implications, KT_END-terminated */
} kt_feature;

typedef struct kt_cpu {
  const char *name;     /* LLVM 22's name */
  const char *features; /* space-separated feature names, as LLVM 22 sets them */
} kt_cpu;

typedef struct kt_alias {
  const char *alias; /* another spelling LLVM accepts */
  const char *name;  /* the canonical name in the CPU table */
} kt_alias;

typedef struct kt_arch {
  kiln_target_arch_t arch;
  const char *name;
  const kt_feature *features;
  size_t nfeatures;
  const kt_cpu *cpus;
  size_t ncpus;
  const kt_alias *aliases;
  size_t naliases;
} kt_arch;

/* The table of `arch`, NULL for UNKNOWN. */
const kt_arch *kt_arch_get(kiln_target_arch_t arch);

/* Index of feature `name` (length `len`) or -1. */
int kt_feature_find(const kt_arch *a, const char *name, size_t len);

/* The canonical CPU name for `name` (length `len`): a table name, "generic"
 * or "native"; NULL when unknown. */
const char *kt_cpu_canonical(const kt_arch *a, const char *name, size_t len);

/* Index of the CPU table entry named `name`, or -1. */
int kt_cpu_find(const kt_arch *a, const char *name);

/* Table features of CPU entry `i`, closed. */
void kt_cpu_set(const kt_arch *a, size_t i, kiln_target_features_t *set);

/* Closes `set` under implication. */
void kt_close(const kt_arch *a, kiln_target_features_t *set);

/* Removes from `set` every feature whose implications are not all in it
 * (transitively): what remains is consistent after masking. */
void kt_drop_unsupported(const kt_arch *a, kiln_target_features_t *set);

static inline void kt_set_add(kiln_target_features_t *s, size_t i) {
  s->words[i / 64] |= (uint64_t)1 << (i % 64);
}
static inline void kt_set_del(kiln_target_features_t *s, size_t i) {
  s->words[i / 64] &= ~((uint64_t)1 << (i % 64));
}
static inline int kt_set_has(const kiln_target_features_t *s, size_t i) {
  return (int)((s->words[i / 64] >> (i % 64)) & 1u);
}

/* Appends the nearest of `candidates` (a NULL-terminated list, or the
 * arrays below) to a message: writes "; did you mean 'x'?" into buf. */
typedef struct kt_names {
  const char *const *list; /* NULL-terminated, or NULL */
  const kt_arch *features; /* feature names of this arch, or NULL */
  const kt_arch *cpus;     /* CPU names + aliases of this arch, or NULL */
} kt_names;
void kt_suggest(const kt_names *names, const char *word, size_t len, char *buf, size_t size);

/* A growable string for messages; on allocation failure it stays valid and
 * marks itself failed (callers then return an out-of-memory error). */
typedef struct kt_buf {
  char *data;
  size_t len, cap;
  int failed;
} kt_buf;
void kt_buf_addf(kt_buf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
void kt_buf_addn(kt_buf *b, const char *s, size_t n);

/* Output into a caller's (buf, size) like a chain of snprintf calls:
 * `total` counts everything, bytes are written while they fit, and the
 * text is always NUL-terminated. */
typedef struct kt_out {
  char *buf;
  size_t size, total;
} kt_out;
void kt_out_init(kt_out *o, char *buf, size_t size);
void kt_out_add(kt_out *o, const char *s);

/* Host detection backends (host_x86.c, host_aarch64.c): fill the raw
 * feature set and a model-based CPU name (NULL when the model is not known). */
int kt_host_probe(kiln_target_features_t *set, const char **model_name);

#endif /* KILN_TARGET_INTERNAL_H */
