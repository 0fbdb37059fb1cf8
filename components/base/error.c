/*
 * error.c — kiln_error_t: a code plus a heap-allocated message.
 *
 * Errors must be creatable exactly when things go wrong, including when
 * memory has run out, so allocation failure falls back to one static,
 * immutable out-of-memory error that kiln_error_free() recognises and skips.
 */
#include "components/base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kiln_error {
  kiln_error_code_t code;
  char *message;
};

static char oom_message[] = "out of memory while reporting an error";
static struct kiln_error oom_error = {KILN_ERR_OUT_OF_MEMORY, oom_message};

/* Formats into a fresh heap string; NULL when memory runs out. */
static char *format_message(const char *fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int len = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (len < 0) len = 0;
  char *buf = malloc((size_t)len + 1);
  if (buf == NULL) return NULL;
  if (len == 0) {
    buf[0] = '\0';
  } else {
    vsnprintf(buf, (size_t)len + 1, fmt, args);
  }
  return buf;
}

kiln_error_t *kiln_error_newv(kiln_error_code_t code, const char *fmt, va_list args) {
  kiln_error_t *err = malloc(sizeof *err);
  if (err == NULL) return &oom_error;
  err->code = code;
  err->message = format_message(fmt != NULL ? fmt : "", args);
  if (err->message == NULL) {
    free(err);
    return &oom_error;
  }
  return err;
}

kiln_error_t *kiln_error_new(kiln_error_code_t code, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  kiln_error_t *err = kiln_error_newv(code, fmt, args);
  va_end(args);
  return err;
}

kiln_error_t *kiln_error_prefix(kiln_error_t *err, const char *fmt, ...) {
  if (err == NULL) return NULL;
  if (err == &oom_error) return err;
  va_list args;
  va_start(args, fmt);
  char *prefix = format_message(fmt != NULL ? fmt : "", args);
  va_end(args);
  if (prefix == NULL) {
    kiln_error_free(err);
    return &oom_error;
  }
  size_t plen = strlen(prefix), mlen = strlen(err->message);
  char *joined = malloc(plen + 2 + mlen + 1);
  if (joined == NULL) {
    free(prefix);
    kiln_error_free(err);
    return &oom_error;
  }
  memcpy(joined, prefix, plen);
  memcpy(joined + plen, ": ", 2);
  memcpy(joined + plen + 2, err->message, mlen + 1);
  free(prefix);
  free(err->message);
  err->message = joined;
  return err;
}

kiln_error_code_t kiln_error_code(const kiln_error_t *err) {
  return err != NULL ? err->code : KILN_OK;
}

const char *kiln_error_message(const kiln_error_t *err) {
  return err != NULL ? err->message : "";
}

/* Indexed by code; kept in step with kiln_error_code_t. */
static const char *const code_names[] = {
    [KILN_OK] = "ok",
    [KILN_ERR_INVALID_ARGUMENT] = "invalid-argument",
    [KILN_ERR_PARSE] = "parse",
    [KILN_ERR_NOT_FOUND] = "not-found",
    [KILN_ERR_IO] = "io",
    [KILN_ERR_FORMAT] = "format",
    [KILN_ERR_VERSION_MISMATCH] = "version-mismatch",
    [KILN_ERR_INCOMPATIBLE] = "incompatible",
    [KILN_ERR_UNSUPPORTED] = "unsupported",
    [KILN_ERR_OUT_OF_MEMORY] = "out-of-memory",
    [KILN_ERR_LLVM] = "llvm",
    [KILN_ERR_LINK] = "link",
    [KILN_ERR_TIMEOUT] = "timeout",
    [KILN_ERR_INTERNAL] = "internal",
};

const char *kiln_error_code_name(kiln_error_code_t code) {
  size_t i = (size_t)code;
  if (i >= sizeof code_names / sizeof code_names[0] || code_names[i] == NULL) return "unknown";
  return code_names[i];
}

void kiln_error_free(kiln_error_t *err) {
  if (err == NULL || err == &oom_error) return;
  free(err->message);
  free(err);
}
