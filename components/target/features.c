/*
 * components/target/features.c — feature sets over the const tables:
 * name lookup with "did you mean" suggestions, closure under implication,
 * vector width, printing, and the CPU-name table. Also the small string
 * helpers the other files share (kt_buf, kt_copy_out).
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/target/internal.h"

/* ---- Architectures ---------------------------------------------------- */

kiln_target_arch_t kiln_target_arch_host(void) {
#if defined(__x86_64__) || defined(_M_X64)
  return KILN_TARGET_ARCH_X86_64;
#elif defined(__aarch64__) || defined(_M_ARM64)
  return KILN_TARGET_ARCH_AARCH64;
#else
  return KILN_TARGET_ARCH_UNKNOWN;
#endif
}

const char *kiln_target_arch_name(kiln_target_arch_t arch) {
  const kt_arch *a = kt_arch_get(arch);
  return a != NULL ? a->name : "unknown";
}

kiln_error_t *kiln_target_arch_from_name(const char *name, kiln_target_arch_t *arch_out) {
  static const struct {
    const char *prefix;
    kiln_target_arch_t arch;
  } kNames[] = {
      {"x86_64", KILN_TARGET_ARCH_X86_64},   {"x86-64", KILN_TARGET_ARCH_X86_64},
      {"amd64", KILN_TARGET_ARCH_X86_64},    {"aarch64", KILN_TARGET_ARCH_AARCH64},
      {"arm64", KILN_TARGET_ARCH_AARCH64},
  };
  if (arch_out != NULL) *arch_out = KILN_TARGET_ARCH_UNKNOWN;
  if (name == NULL || arch_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_arch_from_name: name and arch_out must not be NULL");
  }
  for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); i++) {
    size_t n = strlen(kNames[i].prefix);
    /* A triple's first component is the architecture. */
    if (strncmp(name, kNames[i].prefix, n) == 0 && (name[n] == '\0' || name[n] == '-')) {
      *arch_out = kNames[i].arch;
      return NULL;
    }
  }
  return kiln_error_new(KILN_ERR_NOT_FOUND,
                        "'%s': not an architecture kiln knows (x86_64, aarch64)", name);
}

/* ---- Table lookups ---------------------------------------------------- */

/* Whether the NUL-terminated `entry` equals name[0..len). Stops at the
 * first differing byte: the table scans below run on every image load, and
 * a strlen per entry cost more than the rest of target selection. */
static int name_is(const char *entry, const char *name, size_t len) {
  return entry[0] == (len > 0 ? name[0] : 0) && strncmp(entry, name, len) == 0 && entry[len] == '\0';
}

/* Per architecture, a hash table of feature names, built once: every
 * feature of every target of an image is looked up on each load, and one
 * hash and usually one compare beat both a scan of the table (over a
 * hundred names on x86-64) and a binary search of it (seven string
 * compares). Open addressing, linear probing; a slot holds index + 1, 0 is
 * empty; the table is at least twice the feature count. */
enum { KT_ARCHES = 3, KT_FEATURE_SLOTS = 512 };
_Static_assert(KT_FEATURE_SLOTS >= 2 * KILN_TARGET_FEATURE_WORDS * 64,
               "feature hash table must stay at most half full");
static uint16_t g_feature_slots[KT_ARCHES][KT_FEATURE_SLOTS];
static pthread_once_t g_feature_slots_once[KT_ARCHES] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
                                                         PTHREAD_ONCE_INIT};

/* FNV-1a of name[0..len). */
static uint32_t name_hash(const char *name, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
  return h;
}

static void hash_features(kiln_target_arch_t arch) {
  const kt_arch *a = kt_arch_get(arch);
  uint16_t *slots = g_feature_slots[arch];
  for (size_t i = 0; i < a->nfeatures; i++) {
    const char *name = a->features[i].name;
    size_t j = name_hash(name, strlen(name)) & (KT_FEATURE_SLOTS - 1);
    while (slots[j] != 0) j = (j + 1) & (KT_FEATURE_SLOTS - 1);
    slots[j] = (uint16_t)(i + 1);
  }
}

static void hash_x86_features(void) { hash_features(KILN_TARGET_ARCH_X86_64); }
static void hash_a64_features(void) { hash_features(KILN_TARGET_ARCH_AARCH64); }

int kt_feature_find(const kt_arch *a, const char *name, size_t len) {
  if (a == NULL) return -1;
  if (a->arch == KILN_TARGET_ARCH_X86_64) {
    pthread_once(&g_feature_slots_once[KILN_TARGET_ARCH_X86_64], hash_x86_features);
  } else if (a->arch == KILN_TARGET_ARCH_AARCH64) {
    pthread_once(&g_feature_slots_once[KILN_TARGET_ARCH_AARCH64], hash_a64_features);
  } else {
    return -1;
  }
  const uint16_t *slots = g_feature_slots[a->arch];
  for (size_t j = name_hash(name, len) & (KT_FEATURE_SLOTS - 1); slots[j] != 0;
       j = (j + 1) & (KT_FEATURE_SLOTS - 1)) {
    if (name_is(a->features[slots[j] - 1].name, name, len)) return (int)(slots[j] - 1);
  }
  return -1;
}

const char *kt_cpu_canonical(const kt_arch *a, const char *name, size_t len) {
  if (len == 6 && memcmp(name, "native", 6) == 0) return "native";
  if (len == 7 && memcmp(name, "generic", 7) == 0) return "generic";
  if (a == NULL) return NULL;
  for (size_t i = 0; i < a->ncpus; i++) {
    if (name_is(a->cpus[i].name, name, len)) return a->cpus[i].name;
  }
  for (size_t i = 0; i < a->naliases; i++) {
    if (name_is(a->aliases[i].alias, name, len)) return a->aliases[i].name;
  }
  return NULL;
}

int kt_cpu_find(const kt_arch *a, const char *name) {
  for (size_t i = 0; a != NULL && i < a->ncpus; i++) {
    if (strcmp(a->cpus[i].name, name) == 0) return (int)i;
  }
  return -1;
}

void kt_close(const kt_arch *a, kiln_target_features_t *set) {
  /* Implications point both ways in the table order, so iterate to a fixed
   * point; the tables are small (< 256 features, depth < 10). */
  int changed = 1;
  while (changed) {
    changed = 0;
    for (size_t i = 0; i < a->nfeatures; i++) {
      if (!kt_set_has(set, i)) continue;
      for (const int16_t *p = a->features[i].implies; *p != KT_END; p++) {
        if (!kt_set_has(set, (size_t)*p)) {
          kt_set_add(set, (size_t)*p);
          changed = 1;
        }
      }
    }
  }
}

void kt_drop_unsupported(const kt_arch *a, kiln_target_features_t *set) {
  int changed = 1;
  while (changed) {
    changed = 0;
    for (size_t i = 0; i < a->nfeatures; i++) {
      if (!kt_set_has(set, i)) continue;
      for (const int16_t *p = a->features[i].implies; *p != KT_END; p++) {
        if (!kt_set_has(set, (size_t)*p)) {
          kt_set_del(set, i);
          changed = 1;
          break;
        }
      }
    }
  }
}

void kt_cpu_set(const kt_arch *a, size_t i, kiln_target_features_t *set) {
  memset(set, 0, sizeof(*set));
  const char *p = a->cpus[i].features;
  while (*p != '\0') {
    const char *end = strchr(p, ' ');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    int idx = kt_feature_find(a, p, len);
    if (idx >= 0) kt_set_add(set, (size_t)idx); /* the tables are tested */
    p += len;
    while (*p == ' ') p++;
  }
  kt_close(a, set);
}

/* ---- Suggestions ------------------------------------------------------ */

/* Levenshtein distance, capped to keep the cost bounded for fuzzed input. */
static size_t edit_distance(const char *a, size_t la, const char *b) {
  enum { kMax = 64 };
  size_t lb = strlen(b);
  if (la > kMax) la = kMax;
  if (lb > kMax) lb = kMax;
  size_t row[kMax + 1];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static void consider(const char *cand, const char *word, size_t len, const char **best,
                     size_t *best_d) {
  size_t d = edit_distance(word, len, cand);
  if (d < *best_d) {
    *best_d = d;
    *best = cand;
  }
}

void kt_suggest(const kt_names *names, const char *word, size_t len, char *buf, size_t size) {
  const char *best = NULL;
  size_t best_d = SIZE_MAX;
  for (size_t i = 0; names->list != NULL && names->list[i] != NULL; i++) {
    consider(names->list[i], word, len, &best, &best_d);
  }
  if (names->features != NULL) {
    for (size_t i = 0; i < names->features->nfeatures; i++) {
      consider(names->features->features[i].name, word, len, &best, &best_d);
    }
  }
  if (names->cpus != NULL) {
    for (size_t i = 0; i < names->cpus->ncpus; i++) {
      consider(names->cpus->cpus[i].name, word, len, &best, &best_d);
    }
    for (size_t i = 0; i < names->cpus->naliases; i++) {
      consider(names->cpus->aliases[i].alias, word, len, &best, &best_d);
    }
  }
  if (best != NULL) {
    snprintf(buf, size, "; did you mean '%s'?", best);
  } else if (size > 0) {
    buf[0] = '\0';
  }
}

/* ---- Strings ---------------------------------------------------------- */

void kt_buf_addn(kt_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < b->len + n + 1) cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
      b->failed = 1;
      return;
    }
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void kt_buf_addf(kt_buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    kt_buf_addn(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) {
    b->failed = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  kt_buf_addn(b, big, (size_t)n);
  free(big);
}

void kt_out_init(kt_out *o, char *buf, size_t size) {
  o->buf = buf;
  o->size = buf != NULL ? size : 0;
  o->total = 0;
  if (o->size > 0) buf[0] = '\0';
}

void kt_out_add(kt_out *o, const char *s) {
  size_t n = strlen(s);
  if (o->size > 0 && o->total < o->size - 1) {
    size_t room = o->size - 1 - o->total;
    size_t k = n < room ? n : room;
    memcpy(o->buf + o->total, s, k);
    o->buf[o->total + k] = '\0';
  }
  o->total += n;
}

/* ---- Public feature-set functions -------------------------------------- */

size_t kiln_target_feature_count(kiln_target_arch_t arch) {
  const kt_arch *a = kt_arch_get(arch);
  return a != NULL ? a->nfeatures : 0;
}

const char *kiln_target_feature_name(kiln_target_arch_t arch, size_t index) {
  const kt_arch *a = kt_arch_get(arch);
  return a != NULL && index < a->nfeatures ? a->features[index].name : NULL;
}

static kiln_error_t *unknown_feature(const kt_arch *a, const char *name, size_t len) {
  char hint[96];
  kt_names names = {NULL, a, NULL};
  kt_suggest(&names, name, len, hint, sizeof(hint));
  return kiln_error_new(KILN_ERR_NOT_FOUND, "'%.*s': unknown %s feature%s", (int)len, name,
                        a->name, hint);
}

kiln_error_t *kiln_target_feature_index(kiln_target_arch_t arch, const char *name,
                                        size_t *index_out) {
  if (index_out != NULL) *index_out = SIZE_MAX;
  const kt_arch *a = kt_arch_get(arch);
  if (a == NULL || name == NULL || index_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_feature_index: needs a known arch, a name and index_out");
  }
  if (name[0] == '+') name++;
  int idx = kt_feature_find(a, name, strlen(name));
  if (idx < 0) return unknown_feature(a, name, strlen(name));
  *index_out = (size_t)idx;
  return NULL;
}

bool kiln_target_features_has(const kiln_target_features_t *set, size_t index) {
  return set != NULL && index < 64 * KILN_TARGET_FEATURE_WORDS && kt_set_has(set, index);
}

size_t kiln_target_features_popcount(const kiln_target_features_t *set) {
  size_t n = 0;
  for (size_t w = 0; set != NULL && w < KILN_TARGET_FEATURE_WORDS; w++) {
    n += (size_t)__builtin_popcountll(set->words[w]);
  }
  return n;
}

kiln_error_t *kiln_target_features_parse(kiln_target_arch_t arch, const char *list,
                                         unsigned options, kiln_target_features_t *set_out) {
  if (set_out != NULL) memset(set_out, 0, sizeof(*set_out));
  const kt_arch *a = kt_arch_get(arch);
  if (a == NULL || list == NULL || set_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_features_parse: needs a known arch, a list and set_out");
  }
  kiln_target_features_t set;
  memset(&set, 0, sizeof(set));
  const char *p = list;
  if (*p == '\0') {
    *set_out = set;
    return NULL;
  }
  for (size_t n = 0;; n++) {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    int negative = len > 0 && p[0] == '-';
    const char *name = (len > 0 && (p[0] == '+' || p[0] == '-')) ? p + 1 : p;
    size_t nlen = len - (size_t)(name - p);
    if (nlen == 0) {
      return kiln_error_new(KILN_ERR_PARSE, "feature list '%s': entry %zu is empty", list, n);
    }
    if (!negative) {
      int idx = kt_feature_find(a, name, nlen);
      if (idx >= 0) {
        kt_set_add(&set, (size_t)idx);
      } else if ((options & KILN_TARGET_FEATURES_IGNORE_UNKNOWN) == 0) {
        return kiln_error_prefix(unknown_feature(a, name, nlen), "feature list entry %zu", n);
      }
    }
    if (end == NULL) break;
    p = end + 1;
  }
  kt_close(a, &set);
  *set_out = set;
  return NULL;
}

size_t kiln_target_features_print(kiln_target_arch_t arch, const kiln_target_features_t *set,
                                  char *buf, size_t size) {
  const kt_arch *a = kt_arch_get(arch);
  kt_out o;
  kt_out_init(&o, buf, size);
  for (size_t i = 0; a != NULL && set != NULL && i < a->nfeatures; i++) {
    if (!kt_set_has(set, i)) continue;
    kt_out_add(&o, o.total > 0 ? ",+" : "+");
    kt_out_add(&o, a->features[i].name);
  }
  return o.total;
}

size_t kiln_target_features_missing(kiln_target_arch_t arch,
                                    const kiln_target_features_t *needed,
                                    const kiln_target_features_t *have, char *buf, size_t size) {
  const kt_arch *a = kt_arch_get(arch);
  kt_out o;
  kt_out_init(&o, buf, size);
  for (size_t i = 0; a != NULL && needed != NULL && i < a->nfeatures; i++) {
    if (!kt_set_has(needed, i) || (have != NULL && kt_set_has(have, i))) continue;
    if (o.total > 0) kt_out_add(&o, ", ");
    kt_out_add(&o, a->features[i].name);
  }
  return o.total;
}

unsigned kiln_target_features_vector_bits(kiln_target_arch_t arch,
                                          const kiln_target_features_t *set) {
  const kt_arch *a = kt_arch_get(arch);
  unsigned bits = 0;
  for (size_t i = 0; a != NULL && set != NULL && i < a->nfeatures; i++) {
    if (kt_set_has(set, i) && a->features[i].vector_bits > bits) {
      bits = a->features[i].vector_bits;
    }
  }
  return bits;
}

kiln_error_t *kiln_target_cpu_features(kiln_target_arch_t arch, const char *cpu,
                                       kiln_target_features_t *set_out) {
  if (set_out != NULL) memset(set_out, 0, sizeof(*set_out));
  const kt_arch *a = kt_arch_get(arch);
  if (a == NULL || cpu == NULL || set_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_cpu_features: needs a known arch, a CPU name and set_out");
  }
  const char *canon = kt_cpu_canonical(a, cpu, strlen(cpu));
  int idx = canon != NULL ? kt_cpu_find(a, canon) : -1;
  if (idx < 0) {
    char hint[96];
    kt_names names = {NULL, NULL, a};
    kt_suggest(&names, cpu, strlen(cpu), hint, sizeof(hint));
    return kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': unknown %s CPU%s", cpu, a->name, hint);
  }
  kt_cpu_set(a, (size_t)idx, set_out);
  return NULL;
}
