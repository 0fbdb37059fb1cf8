/*
 * components/target/select.c — choosing the image target to run on a host,
 * and saying why: the loader calls this before dlopen, so an image whose
 * code the CPU cannot execute is refused with one line per target naming the
 * features the host lacks, instead of crashing on an illegal instruction.
 *
 * Rules, in order: drop targets needing a feature the host lacks; if a
 * remaining target's CPU name equals the host's, keep only those; then the
 * widest vector registers, then the most features, then the later target
 * (later targets in a target string are the more specific ones).
 *
 * Features whose instructions only ring 0 can execute (INVPCID, PCONFIG,
 * WBNOINVD, HRESET) are not required: user-space image code can never run
 * them, and hypervisors and emulators often hide them (qemu's TCG has no
 * INVPCID, so an emulated Haswell would otherwise refuse a haswell target).
 */
#include <stdlib.h>
#include <string.h>

#include "components/target/internal.h"

struct kiln_target_select_options {
  size_t force_index; /* SIZE_MAX: none */
  kiln_target_env_fn env;
  void *env_ctx;
};

struct kiln_target_selection {
  size_t index;
  char *reason;
  char *report;
};

kiln_error_t *kiln_target_select_options_new(kiln_target_select_options_t **options_out) {
  if (options_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_select_options_new: options_out must not be NULL");
  }
  *options_out = calloc(1, sizeof(**options_out));
  if (*options_out == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_target_select_options_new: out of memory");
  }
  (*options_out)->force_index = SIZE_MAX;
  return NULL;
}

void kiln_target_select_options_free(kiln_target_select_options_t *options) { free(options); }

void kiln_target_select_options_set_force_index(kiln_target_select_options_t *options,
                                                size_t index) {
  if (options != NULL) options->force_index = index;
}

void kiln_target_select_options_set_env(kiln_target_select_options_t *options,
                                        kiln_target_env_fn env, void *env_ctx) {
  if (options != NULL) {
    options->env = env;
    options->env_ctx = env_ctx;
  }
}

void kiln_target_selection_free(kiln_target_selection_t *selection) {
  if (selection == NULL) return;
  free(selection->reason);
  free(selection->report);
  free(selection);
}

size_t kiln_target_selection_index(const kiln_target_selection_t *selection) {
  return selection != NULL ? selection->index : SIZE_MAX;
}

const char *kiln_target_selection_reason(const kiln_target_selection_t *selection) {
  return selection != NULL && selection->reason != NULL ? selection->reason : "";
}

const char *kiln_target_selection_report(const kiln_target_selection_t *selection) {
  return selection != NULL && selection->report != NULL ? selection->report : "";
}

/* Ring-0-only features, per architecture (see the top of the file). */
static const struct {
  kiln_target_arch_t arch;
  const char *name;
} kSystemOnly[] = {
    {KILN_TARGET_ARCH_X86_64, "invpcid"},
    {KILN_TARGET_ARCH_X86_64, "pconfig"},
    {KILN_TARGET_ARCH_X86_64, "wbnoinvd"},
    {KILN_TARGET_ARCH_X86_64, "hreset"},
};

static void drop_system_only(const kt_arch *a, kiln_target_features_t *need) {
  for (size_t i = 0; i < sizeof(kSystemOnly) / sizeof(kSystemOnly[0]); i++) {
    if (kSystemOnly[i].arch != a->arch) continue;
    int idx = kt_feature_find(a, kSystemOnly[i].name, strlen(kSystemOnly[i].name));
    if (idx >= 0) kt_set_del(need, (size_t)idx);
  }
}

/* What kiln learned about one image target. */
typedef struct candidate {
  int runnable;
  int name_match;
  unsigned vbits;
  size_t nfeatures;
  kiln_target_features_t need;
  kt_buf why_not; /* set when not runnable */
} candidate;

static void examine(const kiln_target_host_t *host, const kt_arch *a,
                    const kiln_target_spec_t *spec, candidate *c) {
  const kiln_target_features_t *have = kiln_target_host_features(host);
  const kiln_target_features_t *masked = kiln_target_host_masked(host);
  const char *feats = spec->features != NULL ? spec->features : "";
  kiln_error_t *err = kiln_target_features_parse(a->arch, feats, 0, &c->need);
  if (err != NULL) {
    /* An unknown name is a feature this kiln cannot check on the host, so
     * running that code would be a guess. */
    kt_buf_addf(&c->why_not, "cannot be checked: %s", kiln_error_message(err));
    kiln_error_free(err);
    return;
  }
  drop_system_only(a, &c->need);
  kiln_target_features_t lacking;
  int lacks = 0, lacks_masked = 0;
  for (size_t w = 0; w < KILN_TARGET_FEATURE_WORDS; w++) {
    lacking.words[w] = c->need.words[w] & ~have->words[w];
    lacks |= lacking.words[w] != 0;
    lacks_masked |= (lacking.words[w] & masked->words[w]) != 0;
  }
  if (lacks) {
    char list[2048];
    size_t n = kiln_target_features_missing(a->arch, &lacking, NULL, list, sizeof(list));
    kt_buf_addf(&c->why_not, "host lacks %s%s%s", list, n >= sizeof(list) ? "..." : "",
                lacks_masked ? " (some masked by " KILN_TARGET_ENV_CPU_DISABLE ")" : "");
    return;
  }
  c->runnable = 1;
  const char *cpu = spec->cpu != NULL ? spec->cpu : "";
  const char *canon = kt_cpu_canonical(a, cpu, strlen(cpu));
  c->name_match = strcmp(canon != NULL ? canon : cpu, kiln_target_host_cpu(host)) == 0;
  c->vbits = kiln_target_features_vector_bits(a->arch, &c->need);
  c->nfeatures = kiln_target_features_popcount(&c->need);
}

static const char *why(const candidate *c) {
  return c->why_not.data != NULL ? c->why_not.data : "not runnable (out of memory)";
}

static const char *spec_cpu(const kiln_target_spec_t *s) {
  return s->cpu != NULL ? s->cpu : "?";
}

/* Parses KILN_CPU_TARGET_INDEX; SIZE_MAX when unset. */
static kiln_error_t *env_index(const kiln_target_select_options_t *o, size_t *index_out) {
  *index_out = SIZE_MAX;
  const char *v = o->env != NULL ? o->env(o->env_ctx, KILN_TARGET_ENV_CPU_TARGET_INDEX) : NULL;
  if (v == NULL || v[0] == '\0') return NULL;
  size_t value = 0;
  for (const char *p = v; *p != '\0'; p++) {
    if (*p < '0' || *p > '9' || p - v >= 9) {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s='%s': expected a target index",
                            KILN_TARGET_ENV_CPU_TARGET_INDEX, v);
    }
    value = value * 10 + (size_t)(*p - '0');
  }
  *index_out = value;
  return NULL;
}

static kiln_error_t *no_target(const kiln_target_host_t *host, const kt_arch *a,
                               const kiln_target_spec_t *targets, size_t count, candidate *cs,
                               const char *headline) {
  kt_buf b = {0};
  kt_buf_addf(&b, "%s (host %s, %s):", headline, kiln_target_host_cpu(host), a->name);
  for (size_t i = 0; i < count; i++) {
    kt_buf_addf(&b, "\n  target %zu (%s): %s", i, spec_cpu(&targets[i]),
                cs[i].runnable ? "runnable" : why(&cs[i]));
  }
  kiln_error_t *err = b.failed ? kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target selection: out of memory")
                               : kiln_error_new(KILN_ERR_INCOMPATIBLE, "%s", b.data);
  free(b.data);
  return err;
}

kiln_error_t *kiln_target_select(const kiln_target_host_t *host,
                                 const kiln_target_spec_t *targets, size_t count,
                                 const kiln_target_select_options_t *options,
                                 kiln_target_selection_t **selection_out) {
  if (selection_out != NULL) *selection_out = NULL;
  const kt_arch *a = kt_arch_get(kiln_target_host_arch(host));
  if (a == NULL || targets == NULL || count == 0 || selection_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_select: needs a host, at least one target and "
                          "selection_out");
  }
  size_t forced = SIZE_MAX;
  const char *forced_by = NULL;
  if (options != NULL) {
    kiln_error_t *err = env_index(options, &forced);
    if (err != NULL) return err;
    if (forced != SIZE_MAX) forced_by = KILN_TARGET_ENV_CPU_TARGET_INDEX;
    if (options->force_index != SIZE_MAX) {
      forced = options->force_index;
      forced_by = "the caller's option";
    }
  }

  candidate *cs = calloc(count, sizeof(candidate));
  if (cs == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target selection: out of memory");
  int any_match = 0;
  size_t nrunnable = 0, nmatch = 0;
  for (size_t i = 0; i < count; i++) {
    examine(host, a, &targets[i], &cs[i]);
    any_match |= cs[i].runnable && cs[i].name_match;
    nmatch += cs[i].runnable && cs[i].name_match;
    nrunnable += cs[i].runnable != 0;
  }

  kiln_error_t *err = NULL;
  size_t best = SIZE_MAX;
  if (forced != SIZE_MAX) {
    if (forced >= count) {
      err = kiln_error_new(KILN_ERR_INCOMPATIBLE,
                           "target index %zu forced by %s, but the image has %zu targets",
                           forced, forced_by, count);
    } else if (!cs[forced].runnable) {
      err = kiln_error_new(KILN_ERR_INCOMPATIBLE,
                           "target %zu (%s), forced by %s, cannot run on this host (%s): %s",
                           forced, spec_cpu(&targets[forced]), forced_by,
                           kiln_target_host_cpu(host), why(&cs[forced]));
    } else {
      best = forced;
    }
  } else if (nrunnable == 0) {
    err = no_target(host, a, targets, count, cs, "no target in the image can run on this host");
  } else {
    for (size_t i = 0; i < count; i++) {
      const candidate *c = &cs[i];
      if (!c->runnable || (any_match && !c->name_match)) continue;
      /* >= on ties: the later target wins. */
      if (best == SIZE_MAX || c->vbits > cs[best].vbits ||
          (c->vbits == cs[best].vbits && c->nfeatures >= cs[best].nfeatures)) {
        best = i;
      }
    }
  }

  kiln_target_selection_t *sel = NULL;
  if (err == NULL) {
    const candidate *b = &cs[best];
    kt_buf reason = {0}, report = {0};
    /* Which rule decided: compare with the runner-up under the same rules. */
    int wider = 1, more = 1;
    for (size_t i = 0; i < count; i++) {
      if (i == best || !cs[i].runnable || (any_match && !cs[i].name_match)) continue;
      if (cs[i].vbits >= b->vbits) wider = 0;
      if (cs[i].vbits == b->vbits && cs[i].nfeatures >= b->nfeatures) more = 0;
    }
    kt_buf_addf(&reason, "target %zu (%s): ", best, spec_cpu(&targets[best]));
    if (forced != SIZE_MAX) {
      kt_buf_addf(&reason, "forced by %s", forced_by);
    } else if (nrunnable == 1) {
      kt_buf_addf(&reason, "the only target this host (%s) can run", kiln_target_host_cpu(host));
    } else if (nmatch == 1) {
      kt_buf_addf(&reason, "exact CPU name match with the host (%s)", kiln_target_host_cpu(host));
    } else if (wider) {
      kt_buf_addf(&reason, "%swidest vector registers (%u bits)",
                  any_match ? "exact CPU name match, then " : "", b->vbits);
    } else if (more) {
      kt_buf_addf(&reason, "%smost features (%zu) among targets with %u-bit vectors",
                  any_match ? "exact CPU name match, then " : "", b->nfeatures, b->vbits);
    } else {
      kt_buf_addf(&reason, "%stie on vector width (%u bits) and feature count (%zu): the later "
                  "target wins", any_match ? "exact CPU name match, then " : "", b->vbits,
                  b->nfeatures);
    }
    for (size_t i = 0; i < count; i++) {
      const candidate *c = &cs[i];
      kt_buf_addf(&report, "%starget %zu (%s): ", i > 0 ? "\n" : "", i, spec_cpu(&targets[i]));
      if (i == best) {
        kt_buf_addf(&report, "chosen");
      } else if (!c->runnable) {
        kt_buf_addf(&report, "%s", why(c));
      } else if (forced != SIZE_MAX) {
        kt_buf_addf(&report, "runnable; another target was forced");
      } else if (any_match && !c->name_match) {
        kt_buf_addf(&report, "runnable; another target matches the host CPU name");
      } else if (c->vbits < b->vbits) {
        kt_buf_addf(&report, "runnable; narrower vectors (%u < %u bits)", c->vbits, b->vbits);
      } else if (c->nfeatures < b->nfeatures) {
        kt_buf_addf(&report, "runnable; fewer features (%zu < %zu)", c->nfeatures, b->nfeatures);
      } else {
        kt_buf_addf(&report, "runnable; tied, and a later target wins ties");
      }
    }
    sel = calloc(1, sizeof(*sel));
    if (sel == NULL || reason.failed || report.failed) {
      free(sel);
      free(reason.data);
      free(report.data);
      sel = NULL;
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target selection: out of memory");
    } else {
      sel->index = best;
      sel->reason = reason.data;
      sel->report = report.data;
    }
  }
  for (size_t i = 0; i < count; i++) free(cs[i].why_not.data);
  free(cs);
  *selection_out = sel;
  return err;
}
