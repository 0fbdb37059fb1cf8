/*
 * components/runtime/internal.h — helpers shared by the runtime's source
 * files (not part of the public API): owned string copies, a growable text
 * buffer for reports and messages, and the report's internal append calls.
 */
#ifndef KILN_RUNTIME_INTERNAL_H
#define KILN_RUNTIME_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/runtime/runtime.h"

/* A copy of `s` (NULL stays NULL) owned by the caller; NULL on OOM. */
char *kiln_runtime_strdup_(const char *s);

/* A growable NUL-terminated text buffer. `failed` is sticky after OOM. */
typedef struct kiln_runtime_text {
  char *data;
  size_t size;
  size_t cap;
  bool failed;
} kiln_runtime_text_t;

void kiln_runtime_text_printf_(kiln_runtime_text_t *t, const char *fmt, ...) KILN_PRINTF(2, 3);
void kiln_runtime_text_release_(kiln_runtime_text_t *t);

/* Creates an empty report; NULL on OOM. */
kiln_runtime_report_t *kiln_runtime_report_new_(void);

/* Appends one record (strings are copied). Return false on OOM. */
bool kiln_runtime_report_add_installed_(kiln_runtime_report_t *r,
                                        const kiln_runtime_installed_t *rec);
bool kiln_runtime_report_add_invalidated_(kiln_runtime_report_t *r,
                                          const kiln_runtime_invalidated_t *rec);
bool kiln_runtime_report_add_import_(kiln_runtime_report_t *r, const kiln_runtime_import_t *rec);
bool kiln_runtime_report_add_compiled_(kiln_runtime_report_t *r,
                                       const kiln_runtime_compiled_t *rec);

/* Appends every record of `src` to `dst`. False on OOM. */
bool kiln_runtime_report_append_(kiln_runtime_report_t *dst, const kiln_runtime_report_t *src);

#endif /* KILN_RUNTIME_INTERNAL_H */
