/*
 * components/target/host.c — the host CPU as a kiln_target_host_t: runs the
 * architecture's probe (host_x86.c, host_aarch64.c), makes the set
 * consistent, names the CPU, and applies KILN_CPU_DISABLE.
 *
 * The environment is read only through the kiln_target_env_fn the caller
 * passes, so tests inject values and embedders can route their own settings.
 */
#include <stdlib.h>
#include <string.h>

#include "components/target/internal.h"

struct kiln_target_host {
  kiln_target_arch_t arch;
  char cpu[64];
  kiln_target_features_t features;
  kiln_target_features_t masked;
};

const char *kiln_target_env_process(void *ctx, const char *name) {
  (void)ctx;
  return name != NULL ? getenv(name) : NULL;
}

/* The largest table CPU whose features the host has (later entries win
 * ties: the tables list newer CPUs later). */
static const char *nearest_cpu(const kt_arch *a, const kiln_target_features_t *have) {
  const char *best = "generic";
  size_t best_n = 0;
  for (size_t i = 0; i < a->ncpus; i++) {
    kiln_target_features_t need;
    kt_cpu_set(a, i, &need);
    int fits = 1;
    for (size_t w = 0; w < KILN_TARGET_FEATURE_WORDS; w++) {
      if (need.words[w] & ~have->words[w]) fits = 0;
    }
    size_t n = kiln_target_features_popcount(&need);
    if (fits && n >= best_n) {
      best_n = n;
      best = a->cpus[i].name;
    }
  }
  return best;
}

/* Masks the listed features and everything that depends on them. */
static kiln_error_t *apply_disable(const kt_arch *a, const char *value, kiln_target_host_t *h) {
  kiln_target_features_t m;
  memset(&m, 0, sizeof(m));
  const char *p = value;
  while (*p != '\0') {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    /* Tolerate spaces and a sign: the variable is typed by hand. */
    while (len > 0 && (*p == ' ' || *p == '+' || *p == '-')) {
      p++;
      len--;
    }
    while (len > 0 && p[len - 1] == ' ') len--;
    if (len > 0) {
      int idx = kt_feature_find(a, p, len);
      if (idx < 0) {
        char hint[96];
        kt_names names = {NULL, a, NULL};
        kt_suggest(&names, p, len, hint, sizeof(hint));
        return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s='%s': '%.*s': unknown %s feature%s",
                              KILN_TARGET_ENV_CPU_DISABLE, value, (int)len, p, a->name, hint);
      }
      kt_set_add(&m, (size_t)idx);
    }
    if (end == NULL) break;
    p = end + 1;
  }
  /* Grow the mask with every feature that implies a masked one. */
  int changed = 1;
  while (changed) {
    changed = 0;
    for (size_t i = 0; i < a->nfeatures; i++) {
      if (kt_set_has(&m, i)) continue;
      for (const int16_t *q = a->features[i].implies; *q != KT_END; q++) {
        if (kt_set_has(&m, (size_t)*q)) {
          kt_set_add(&m, i);
          changed = 1;
          break;
        }
      }
    }
  }
  for (size_t w = 0; w < KILN_TARGET_FEATURE_WORDS; w++) {
    h->masked.words[w] = m.words[w] & h->features.words[w];
    h->features.words[w] &= ~m.words[w];
  }
  return NULL;
}

static void set_name(kiln_target_host_t *h, const char *name) {
  size_t n = strlen(name);
  if (n >= sizeof(h->cpu)) n = sizeof(h->cpu) - 1;
  memcpy(h->cpu, name, n);
  h->cpu[n] = '\0';
}

kiln_error_t *kiln_target_host_detect(kiln_target_env_fn env, void *env_ctx,
                                      kiln_target_host_t **host_out) {
  if (host_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_host_detect: host_out must not be NULL");
  }
  *host_out = NULL;
  const kt_arch *a = kt_arch_get(kiln_target_arch_host());
  if (a == NULL) {
    return kiln_error_new(KILN_ERR_UNSUPPORTED,
                          "host CPU detection: kiln knows x86_64 and aarch64 only");
  }
  kiln_target_host_t *h = calloc(1, sizeof(*h));
  if (h == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "host CPU detection: out of memory");
  h->arch = a->arch;
  const char *model = NULL;
  if (!kt_host_probe(&h->features, &model)) {
    free(h);
    return kiln_error_new(KILN_ERR_UNSUPPORTED, "host CPU detection failed on this %s machine",
                          a->name);
  }
  /* A feature whose prerequisites are missing (avx2 without OS-enabled avx,
   * as some hypervisors report) cannot be used. */
  kt_drop_unsupported(a, &h->features);
  set_name(h, model != NULL ? model : nearest_cpu(a, &h->features));

  const char *disable = env != NULL ? env(env_ctx, KILN_TARGET_ENV_CPU_DISABLE) : NULL;
  if (disable != NULL) {
    kiln_error_t *err = apply_disable(a, disable, h);
    if (err != NULL) {
      free(h);
      return err;
    }
  }
  *host_out = h;
  return NULL;
}

kiln_error_t *kiln_target_host_new(kiln_target_arch_t arch, const char *cpu,
                                   const char *features, kiln_target_host_t **host_out) {
  if (host_out != NULL) *host_out = NULL;
  const kt_arch *a = kt_arch_get(arch);
  if (a == NULL || cpu == NULL || cpu[0] == '\0' || features == NULL || host_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_host_new: needs a known arch, a CPU name, features and "
                          "host_out");
  }
  kiln_target_host_t *h = calloc(1, sizeof(*h));
  if (h == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_target_host_new: out of memory");
  h->arch = arch;
  kiln_error_t *err = kiln_target_features_parse(arch, features, 0, &h->features);
  if (err != NULL) {
    free(h);
    return kiln_error_prefix(err, "host '%s'", cpu);
  }
  const char *canon = kt_cpu_canonical(a, cpu, strlen(cpu));
  set_name(h, canon != NULL ? canon : cpu);
  *host_out = h;
  return NULL;
}

void kiln_target_host_free(kiln_target_host_t *host) { free(host); }

kiln_target_arch_t kiln_target_host_arch(const kiln_target_host_t *host) {
  return host != NULL ? host->arch : KILN_TARGET_ARCH_UNKNOWN;
}

const char *kiln_target_host_cpu(const kiln_target_host_t *host) {
  return host != NULL ? host->cpu : "";
}

const kiln_target_features_t *kiln_target_host_features(const kiln_target_host_t *host) {
  return host != NULL ? &host->features : NULL;
}

const kiln_target_features_t *kiln_target_host_masked(const kiln_target_host_t *host) {
  return host != NULL ? &host->masked : NULL;
}
