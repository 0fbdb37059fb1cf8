/*
 * components/base/base.h — what every kiln component shares: the error type,
 * the version of kiln, and the macros public headers use.
 *
 * Every fallible kiln call returns an owned `kiln_error_t *`, NULL on
 * success, and sets its trailing `*_out` parameters even on failure (to
 * NULL/0). An error carries a stable numeric code (below; numbers never
 * change meaning) and a message that names the input and what is wrong, e.g.
 * "image.so: checksum mismatch (stored 0x1234, computed 0x5678)". The caller
 * releases it with kiln_error_free(), which accepts NULL.
 *
 * This header is C11 and compiles as C++; it uses libc only, so the loader
 * (which must not pull in LLVM or a C++ runtime) can depend on it.
 */
#ifndef KILN_BASE_H
#define KILN_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Macros for public headers -------------------------------------- */

#ifdef __cplusplus
#define KILN_BEGIN_DECLS extern "C" {
#define KILN_END_DECLS }
#else
#define KILN_BEGIN_DECLS
#define KILN_END_DECLS
#endif

/* Symbols of kiln's public API. Shared objects built from kiln export these
 * and nothing else (the image root symbol is exported the same way). */
#if defined(__GNUC__) || defined(__clang__)
#define KILN_API __attribute__((visibility("default")))
#define KILN_NODISCARD __attribute__((warn_unused_result))
#define KILN_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define KILN_API
#define KILN_NODISCARD
#define KILN_PRINTF(fmt_index, first_arg)
#endif

/* ---- Version ---------------------------------------------------------- */

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
#define KILN_VERSION_STRING "0.1.0"
/* One number that orders versions: major * 10000 + minor * 100 + patch. */
#define KILN_VERSION_NUMBER \
  (KILN_VERSION_MAJOR * 10000 + KILN_VERSION_MINOR * 100 + KILN_VERSION_PATCH)

KILN_BEGIN_DECLS

/* The version of the kiln library linked at run time, as KILN_VERSION_NUMBER
 * computes it. Compare with the macro to detect header/library skew.
 * Thread-safety: any thread. */
KILN_API unsigned kiln_version_number(void);

/* The same version as "major.minor.patch". Ownership: static storage, never
 * freed. Thread-safety: any thread. */
KILN_API const char *kiln_version_string(void);

/* ---- Errors ------------------------------------------------------------ */

/* Stable error codes. Numbers are part of the ABI: new codes are appended,
 * none is ever renumbered or reused. */
typedef enum kiln_error_code {
  KILN_OK = 0,                    /* never carried by an error; for switches */
  KILN_ERR_INVALID_ARGUMENT = 1,  /* the caller broke the API's contract */
  KILN_ERR_PARSE = 2,             /* malformed text: target string, number, IR */
  KILN_ERR_NOT_FOUND = 3,         /* missing file, symbol, key or name */
  KILN_ERR_IO = 4,                /* reading or writing failed */
  KILN_ERR_FORMAT = 5,            /* not the expected format: corrupt or truncated */
  KILN_ERR_VERSION_MISMATCH = 6,  /* format or producer version differs */
  KILN_ERR_INCOMPATIBLE = 7,      /* CPU, triple or codegen options do not fit */
  KILN_ERR_UNSUPPORTED = 8,       /* valid, but not supported here */
  KILN_ERR_OUT_OF_MEMORY = 9,     /* an allocation failed */
  KILN_ERR_LLVM = 10,             /* LLVM reported an error (message included) */
  KILN_ERR_LINK = 11,             /* the linker failed (diagnostics included) */
  KILN_ERR_TIMEOUT = 12,          /* a bounded wait ran out */
  KILN_ERR_INTERNAL = 13          /* a kiln bug: please report it */
} kiln_error_code_t;

/* Opaque error. Ownership: returned errors are owned by the caller and
 * released with kiln_error_free(). Thread-safety: an error is not shared;
 * reading one from several threads at once is safe (it is immutable). */
typedef struct kiln_error kiln_error_t;

/* Creates an error with a printf-style message. The message should name the
 * input and the problem ("'haswel': unknown CPU name"). Never returns NULL:
 * when memory runs out it returns a static out-of-memory error, which
 * kiln_error_free() also accepts. Ownership: the caller owns the result. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_error_new(kiln_error_code_t code, const char *fmt, ...)
    KILN_PRINTF(2, 3);

/* kiln_error_new() taking a va_list. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_error_newv(kiln_error_code_t code, const char *fmt,
                                                     va_list args) KILN_PRINTF(2, 0);

/* Puts context in front of an error's message, separated by ": ", so a
 * caller can say which input a callee's error is about
 * ("libfoo.so: " + "checksum mismatch"). Returns `err` (or a replacement
 * when memory runs out); NULL stays NULL. Ownership: consumes `err`, the
 * caller owns the result. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_error_prefix(kiln_error_t *err, const char *fmt, ...)
    KILN_PRINTF(2, 3);

/* The error's code; KILN_OK for NULL. */
KILN_API kiln_error_code_t kiln_error_code(const kiln_error_t *err);

/* The error's message; "" for NULL. Ownership: borrowed, valid until
 * kiln_error_free(err). */
KILN_API const char *kiln_error_message(const kiln_error_t *err);

/* A short stable name for a code ("invalid-argument", "parse", ...), for
 * logs and CLI output; "unknown" for numbers that are not codes. Ownership:
 * static storage. */
KILN_API const char *kiln_error_code_name(kiln_error_code_t code);

/* Releases an error. Accepts NULL and the static out-of-memory error. */
KILN_API void kiln_error_free(kiln_error_t *err);

KILN_END_DECLS

#endif /* KILN_BASE_H */
