/*
 * components/runtime/report.c — the record lists behind kiln_runtime_report_t
 * (installed, invalidated, import slots, compiled on first use) and their
 * human-readable rendering. Reports own copies of every string, so they
 * outlive the images and the runtime they describe.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/runtime/internal.h"

struct kiln_runtime_report {
  kiln_runtime_installed_t *installed;
  size_t installed_count, installed_cap;
  kiln_runtime_invalidated_t *invalidated;
  size_t invalidated_count, invalidated_cap;
  kiln_runtime_import_t *imports;
  size_t import_count, import_cap;
  kiln_runtime_compiled_t *compiled;
  size_t compiled_count, compiled_cap;
};

char *kiln_runtime_strdup_(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  if (copy != NULL) memcpy(copy, s, n);
  return copy;
}

void kiln_runtime_text_printf_(kiln_runtime_text_t *t, const char *fmt, ...) {
  if (t->failed) return;
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  int need = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  if (need < 0) {
    t->failed = true;
    va_end(again);
    return;
  }
  if (t->size + (size_t)need + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (t->size + (size_t)need + 1 > cap) cap *= 2;
    char *data = realloc(t->data, cap);
    if (data == NULL) {
      t->failed = true;
      va_end(again);
      return;
    }
    t->data = data;
    t->cap = cap;
  }
  vsnprintf(t->data + t->size, t->cap - t->size, fmt, again);
  va_end(again);
  t->size += (size_t)need;
}

void kiln_runtime_text_release_(kiln_runtime_text_t *t) {
  free(t->data);
  t->data = NULL;
  t->size = t->cap = 0;
}

kiln_runtime_report_t *kiln_runtime_report_new_(void) {
  return calloc(1, sizeof(kiln_runtime_report_t));
}

/* Makes room for one more element of `size` bytes in *items. */
static bool grow(void **items, size_t *cap, size_t count, size_t size) {
  if (count < *cap) return true;
  size_t new_cap = *cap ? *cap * 2 : 8;
  void *bigger = realloc(*items, new_cap * size);
  if (bigger == NULL) return false;
  *items = bigger;
  *cap = new_cap;
  return true;
}

/* Copies a string field; `ok` turns false when a non-NULL string fails. */
static const char *dup_field(const char *s, bool *ok) {
  if (s == NULL) return NULL;
  char *copy = kiln_runtime_strdup_(s);
  if (copy == NULL) *ok = false;
  return copy;
}

bool kiln_runtime_report_add_installed_(kiln_runtime_report_t *r,
                                        const kiln_runtime_installed_t *rec) {
  if (!grow((void **)&r->installed, &r->installed_cap, r->installed_count, sizeof(*rec)))
    return false;
  bool ok = true;
  kiln_runtime_installed_t copy = *rec;
  copy.image = dup_field(rec->image ? rec->image : "", &ok);
  copy.key = dup_field(rec->key, &ok);
  r->installed[r->installed_count++] = copy;
  return ok;
}

bool kiln_runtime_report_add_invalidated_(kiln_runtime_report_t *r,
                                          const kiln_runtime_invalidated_t *rec) {
  if (!grow((void **)&r->invalidated, &r->invalidated_cap, r->invalidated_count, sizeof(*rec)))
    return false;
  bool ok = true;
  kiln_runtime_invalidated_t copy = *rec;
  copy.image = dup_field(rec->image ? rec->image : "", &ok);
  copy.key = dup_field(rec->key, &ok);
  copy.dep_key = dup_field(rec->dep_key, &ok);
  copy.callee = dup_field(rec->callee, &ok);
  r->invalidated[r->invalidated_count++] = copy;
  return ok;
}

bool kiln_runtime_report_add_import_(kiln_runtime_report_t *r, const kiln_runtime_import_t *rec) {
  if (!grow((void **)&r->imports, &r->import_cap, r->import_count, sizeof(*rec))) return false;
  bool ok = true;
  kiln_runtime_import_t copy = *rec;
  copy.image = dup_field(rec->image ? rec->image : "", &ok);
  copy.key = dup_field(rec->key, &ok);
  r->imports[r->import_count++] = copy;
  return ok;
}

bool kiln_runtime_report_add_compiled_(kiln_runtime_report_t *r,
                                       const kiln_runtime_compiled_t *rec) {
  if (!grow((void **)&r->compiled, &r->compiled_cap, r->compiled_count, sizeof(*rec)))
    return false;
  bool ok = true;
  kiln_runtime_compiled_t copy = *rec;
  copy.key = dup_field(rec->key, &ok);
  copy.origin = dup_field(rec->origin ? rec->origin : "", &ok);
  r->compiled[r->compiled_count++] = copy;
  return ok;
}

bool kiln_runtime_report_append_(kiln_runtime_report_t *dst, const kiln_runtime_report_t *src) {
  bool ok = true;
  for (size_t i = 0; i < src->installed_count; i++)
    ok = kiln_runtime_report_add_installed_(dst, &src->installed[i]) && ok;
  for (size_t i = 0; i < src->invalidated_count; i++)
    ok = kiln_runtime_report_add_invalidated_(dst, &src->invalidated[i]) && ok;
  for (size_t i = 0; i < src->import_count; i++)
    ok = kiln_runtime_report_add_import_(dst, &src->imports[i]) && ok;
  for (size_t i = 0; i < src->compiled_count; i++)
    ok = kiln_runtime_report_add_compiled_(dst, &src->compiled[i]) && ok;
  return ok;
}

void kiln_runtime_report_free(kiln_runtime_report_t *report) {
  if (report == NULL) return;
  for (size_t i = 0; i < report->installed_count; i++) {
    free((char *)report->installed[i].image);
    free((char *)report->installed[i].key);
  }
  for (size_t i = 0; i < report->invalidated_count; i++) {
    free((char *)report->invalidated[i].image);
    free((char *)report->invalidated[i].key);
    free((char *)report->invalidated[i].dep_key);
    free((char *)report->invalidated[i].callee);
  }
  for (size_t i = 0; i < report->import_count; i++) {
    free((char *)report->imports[i].image);
    free((char *)report->imports[i].key);
  }
  for (size_t i = 0; i < report->compiled_count; i++) {
    free((char *)report->compiled[i].key);
    free((char *)report->compiled[i].origin);
  }
  free(report->installed);
  free(report->invalidated);
  free(report->imports);
  free(report->compiled);
  free(report);
}

size_t kiln_runtime_report_installed_count(const kiln_runtime_report_t *report) {
  return report ? report->installed_count : 0;
}
const kiln_runtime_installed_t *kiln_runtime_report_installed(const kiln_runtime_report_t *report,
                                                              size_t i) {
  return report && i < report->installed_count ? &report->installed[i] : NULL;
}
size_t kiln_runtime_report_invalidated_count(const kiln_runtime_report_t *report) {
  return report ? report->invalidated_count : 0;
}
const kiln_runtime_invalidated_t *kiln_runtime_report_invalidated(
    const kiln_runtime_report_t *report, size_t i) {
  return report && i < report->invalidated_count ? &report->invalidated[i] : NULL;
}
size_t kiln_runtime_report_import_count(const kiln_runtime_report_t *report) {
  return report ? report->import_count : 0;
}
const kiln_runtime_import_t *kiln_runtime_report_import(const kiln_runtime_report_t *report,
                                                        size_t i) {
  return report && i < report->import_count ? &report->imports[i] : NULL;
}
size_t kiln_runtime_report_compiled_count(const kiln_runtime_report_t *report) {
  return report ? report->compiled_count : 0;
}
const kiln_runtime_compiled_t *kiln_runtime_report_compiled(const kiln_runtime_report_t *report,
                                                            size_t i) {
  return report && i < report->compiled_count ? &report->compiled[i] : NULL;
}

const kiln_runtime_invalidated_t *kiln_runtime_report_find_invalidated(
    const kiln_runtime_report_t *report, const char *key) {
  if (report == NULL || key == NULL) return NULL;
  /* The last record wins: a key invalidated by a later image too. */
  for (size_t i = report->invalidated_count; i-- > 0;)
    if (strcmp(report->invalidated[i].key, key) == 0) return &report->invalidated[i];
  return NULL;
}

const char *kiln_runtime_reason_name(kiln_runtime_reason_t reason) {
  switch (reason) {
    case KILN_RUNTIME_DEP_MISSING: return "dep-missing";
    case KILN_RUNTIME_DEP_CHANGED: return "dep-changed";
    case KILN_RUNTIME_CALLS_INVALID: return "calls-invalid";
  }
  return "unknown";
}

/* "dependency f missing (expected 0x...)" or "... changed (expected, found)". */
static void format_root(kiln_runtime_text_t *t, const kiln_runtime_invalidated_t *rec) {
  if (rec->root_reason == KILN_RUNTIME_DEP_MISSING) {
    kiln_runtime_text_printf_(t, "dependency %s missing (expected 0x%016" PRIx64 ")",
                              rec->dep_key ? rec->dep_key : "?", rec->expected);
  } else {
    kiln_runtime_text_printf_(t,
                              "dependency %s changed (expected 0x%016" PRIx64
                              ", found 0x%016" PRIx64 ")",
                              rec->dep_key ? rec->dep_key : "?", rec->expected, rec->found);
  }
}

kiln_error_t *kiln_runtime_report_format(const kiln_runtime_report_t *report, char **text_out) {
  if (text_out != NULL) *text_out = NULL;
  if (report == NULL || text_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_runtime_report_format: NULL argument");
  kiln_runtime_text_t t = {0};
  size_t missing_imports = 0;
  for (size_t i = 0; i < report->import_count; i++) missing_imports += !report->imports[i].filled;
  kiln_runtime_text_printf_(&t,
                            "runtime report: %zu installed, %zu invalidated, %zu import slots "
                            "(%zu unfilled), %zu compiled on first use\n",
                            report->installed_count, report->invalidated_count,
                            report->import_count, missing_imports, report->compiled_count);
  for (size_t i = 0; i < report->installed_count; i++) {
    const kiln_runtime_installed_t *rec = &report->installed[i];
    kiln_runtime_text_printf_(&t, "installed   %s %s fingerprint 0x%016" PRIx64,
                              rec->image[0] ? rec->image : "-", rec->key, rec->fingerprint);
    if (rec->replaced)
      kiln_runtime_text_printf_(&t, " (replaces 0x%016" PRIx64 ")", rec->previous_fingerprint);
    kiln_runtime_text_printf_(&t, "\n");
  }
  for (size_t i = 0; i < report->invalidated_count; i++) {
    const kiln_runtime_invalidated_t *rec = &report->invalidated[i];
    kiln_runtime_text_printf_(&t, "invalidated %s %s: ", rec->image[0] ? rec->image : "-",
                              rec->key);
    if (rec->reason == KILN_RUNTIME_CALLS_INVALID) {
      kiln_runtime_text_printf_(&t, "calls invalid %s (", rec->callee ? rec->callee : "?");
      format_root(&t, rec);
      kiln_runtime_text_printf_(&t, ")");
    } else {
      format_root(&t, rec);
    }
    kiln_runtime_text_printf_(&t, "%s\n", rec->has_bitcode ? "; bitcode kept" : "; no bitcode");
  }
  for (size_t i = 0; i < report->import_count; i++) {
    const kiln_runtime_import_t *rec = &report->imports[i];
    if (rec->filled)
      kiln_runtime_text_printf_(&t, "import      %s %s: filled (fingerprint 0x%016" PRIx64 ")\n",
                                rec->image[0] ? rec->image : "-", rec->key, rec->fingerprint);
    else
      kiln_runtime_text_printf_(&t, "import      %s %s: missing (slot set to NULL)\n",
                                rec->image[0] ? rec->image : "-", rec->key);
  }
  for (size_t i = 0; i < report->compiled_count; i++) {
    const kiln_runtime_compiled_t *rec = &report->compiled[i];
    kiln_runtime_text_printf_(&t,
                              "compiled    %s on first use from %s (fingerprint 0x%016" PRIx64
                              ", %.3f ms)\n",
                              rec->key, rec->origin[0] ? rec->origin : "-", rec->fingerprint,
                              (double)rec->compile_ns / 1e6);
  }
  if (t.failed) {
    kiln_runtime_text_release_(&t);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_runtime_report_format: out of memory");
  }
  *text_out = t.data;
  return NULL;
}
