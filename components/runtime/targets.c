/*
 * components/runtime/targets.c — the build-time check that a package image
 * fits its base image's CPU targets. A package's code is selected with the
 * same target index as the base it extends, so each target must be the same
 * CPU with the same resolved feature set; the builder refuses or warns with
 * the mismatch lines this produces.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "components/runtime/internal.h"

/* A feature string "+a,+b,-c" split into sorted tokens (pointers into a copy). */
typedef struct feature_set {
  char *copy;
  char **items;
  size_t count;
} feature_set_t;

static int compare_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool feature_set_parse(const char *text, feature_set_t *set) {
  memset(set, 0, sizeof(*set));
  set->copy = kiln_runtime_strdup_(text ? text : "");
  if (set->copy == NULL) return false;
  size_t max = 1;
  for (const char *p = set->copy; *p; p++) max += *p == ',';
  set->items = calloc(max, sizeof(char *));
  if (set->items == NULL) return false;
  for (char *p = set->copy; p != NULL;) {
    char *comma = strchr(p, ',');
    if (comma != NULL) *comma = '\0';
    if (*p != '\0') set->items[set->count++] = p;
    p = comma ? comma + 1 : NULL;
  }
  qsort(set->items, set->count, sizeof(char *), compare_str);
  return true;
}

static void feature_set_release(feature_set_t *set) {
  free(set->copy);
  free(set->items);
}

/* Appends to `t` the features in `a` but not in `b` (both sorted). */
static size_t list_difference(kiln_runtime_text_t *t, const feature_set_t *a,
                              const feature_set_t *b) {
  size_t found = 0, j = 0;
  for (size_t i = 0; i < a->count; i++) {
    while (j < b->count && strcmp(b->items[j], a->items[i]) < 0) j++;
    if (j < b->count && strcmp(b->items[j], a->items[i]) == 0) continue;
    kiln_runtime_text_printf_(t, "%s%s", found ? "," : "", a->items[i]);
    found++;
  }
  return found;
}

kiln_error_t *kiln_runtime_check_targets(const kiln_image_format_t *base,
                                         const kiln_image_format_target_t *targets, size_t count) {
  if (base == NULL || (targets == NULL && count > 0))
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_check_targets: NULL argument");
  kiln_runtime_text_t t = {0};
  size_t mismatches = 0;
  size_t base_count = kiln_image_format_target_count(base);
  if (base_count != count) {
    kiln_runtime_text_printf_(&t, "\n  %zu targets in base, %zu in package", base_count, count);
    mismatches++;
  }
  size_t common = base_count < count ? base_count : count;
  bool oom = false;
  for (size_t k = 0; k < common; k++) {
    const char *base_cpu = kiln_image_format_target_cpu(base, k);
    const char *cpu = targets[k].cpu ? targets[k].cpu : "";
    if (strcmp(base_cpu, cpu) != 0) {
      kiln_runtime_text_printf_(&t, "\n  target %zu: cpu %s in base, %s in package", k, base_cpu,
                                cpu);
      mismatches++;
      continue;
    }
    feature_set_t want, have;
    bool parsed = feature_set_parse(kiln_image_format_target_features(base, k), &want);
    parsed = feature_set_parse(targets[k].features, &have) && parsed;
    if (!parsed) {
      oom = true;
    } else {
      kiln_runtime_text_t only_base = {0}, only_package = {0};
      size_t a = list_difference(&only_base, &want, &have);
      size_t b = list_difference(&only_package, &have, &want);
      if (a + b > 0) {
        kiln_runtime_text_printf_(&t, "\n  target %zu (%s): features differ:", k, base_cpu);
        if (a) kiln_runtime_text_printf_(&t, " only in base: %s", only_base.data);
        if (b) kiln_runtime_text_printf_(&t, "%s only in package: %s", a ? ";" : "",
                                         only_package.data);
        mismatches++;
      }
      oom = oom || only_base.failed || only_package.failed;
      kiln_runtime_text_release_(&only_base);
      kiln_runtime_text_release_(&only_package);
    }
    feature_set_release(&want);
    feature_set_release(&have);
  }
  for (size_t k = common; k < base_count; k++)
    kiln_runtime_text_printf_(&t, "\n  target %zu (%s): only in base", k,
                              kiln_image_format_target_cpu(base, k));
  for (size_t k = common; k < count; k++)
    kiln_runtime_text_printf_(&t, "\n  target %zu (%s): only in package", k,
                              targets[k].cpu ? targets[k].cpu : "");
  if (oom || t.failed) {
    kiln_runtime_text_release_(&t);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_runtime_check_targets: out of memory");
  }
  kiln_error_t *err = NULL;
  if (mismatches > 0)
    err = kiln_error_new(KILN_ERR_INCOMPATIBLE,
                         "package CPU targets do not fit base image '%s' (%zu mismatches):%s",
                         kiln_image_format_name(base), mismatches, t.data);
  kiln_runtime_text_release_(&t);
  return err;
}

kiln_error_t *kiln_runtime_check_package_targets(const kiln_image_format_t *base,
                                                 const kiln_image_format_t *package) {
  if (base == NULL || package == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_runtime_check_package_targets: NULL argument");
  if (kiln_image_format_base_checksum(package) != kiln_image_format_checksum(base))
    return kiln_error_new(KILN_ERR_INCOMPATIBLE,
                          "package '%s' was built against base checksum 0x%016" PRIx64
                          ", but base image '%s' has checksum 0x%016" PRIx64,
                          kiln_image_format_name(package), kiln_image_format_base_checksum(package),
                          kiln_image_format_name(base), kiln_image_format_checksum(base));
  size_t count = kiln_image_format_target_count(package);
  kiln_image_format_target_t *targets = calloc(count ? count : 1, sizeof(*targets));
  if (targets == NULL)
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_runtime_check_package_targets: out of memory");
  for (size_t k = 0; k < count; k++) {
    targets[k].cpu = kiln_image_format_target_cpu(package, k);
    targets[k].features = kiln_image_format_target_features(package, k);
    targets[k].flags = kiln_image_format_target_flags(package, k);
    targets[k].base = kiln_image_format_target_base(package, k);
  }
  kiln_error_t *err = kiln_runtime_check_targets(base, targets, count);
  free(targets);
  if (err != NULL) err = kiln_error_prefix(err, "package '%s'", kiln_image_format_name(package));
  return err;
}
