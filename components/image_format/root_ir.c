/*
 * components/image_format/root_ir.c — kiln_image_format_root_ir: the image
 * root as LLVM textual IR, for the emitter's metadata object.
 *
 *   target triple = "<triple from the blob>"
 *   @kiln_image_root = constant <{ [N x i8], [P x i8], [M x ptr] }>
 *       <{ [N x i8] c"...", [P x i8] zeroinitializer, [M x ptr] [ptr @__kiln_s0_f0, ...] }>,
 *       section ".data.rel.ro.kiln", align 16
 *   @__kiln_s0_f0 = external hidden global [0 x ptr]
 *
 * The root has external linkage and default visibility (the image's one
 * export). Pointer-array entry i names the table whose recorded pointer index
 * is i, so the order is the blob's, not this file's. With no pointers the
 * third member is left out and the root goes to ".rodata.kiln".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "components/image_format/internal.h"

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
  if (b->oom || b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (p == NULL) {
    b->oom = 1;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void sb_printf(sbuf *b, const char *fmt, ...) KILN_PRINTF(2, 3);

static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof(tmp), fmt, args);
  va_end(args);
  if (n < 0) return;
  if ((size_t)n < sizeof(tmp)) {
    sb_reserve(b, (size_t)n);
    if (b->oom) return;
    memcpy(b->p + b->len, tmp, (size_t)n + 1);
    b->len += (size_t)n;
    return;
  }
  sb_reserve(b, (size_t)n);
  if (b->oom) return;
  va_start(args, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, args);
  va_end(args);
  b->len += (size_t)n;
}

/* Bytes as the inside of an IR string constant: printable ASCII as is,
 * everything else (and '"', '\\') as \XX. */
static void sb_ir_bytes(sbuf *b, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  sb_reserve(b, 3 * n);
  if (b->oom) return;
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      *o++ = (char)c;
    } else {
      *o++ = '\\';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  *o = '\0';
  b->len = (size_t)(o - b->p);
}

kiln_error_t *kiln_image_format_root_ir(const void *blob, size_t size, char **ir_out) {
  if (ir_out == NULL) return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "image_format_root_ir: ir_out is NULL");
  *ir_out = NULL;
  kiln_image_format_t *v = NULL;
  kiln_error_t *err = kiln_image_format_open(blob, size, "image root", &v);
  if (err != NULL) return err;

  uint64_t n = kiln_image_format_size(v);
  uint64_t pad = kiln_image_format_pointer_offset(v) - n;
  size_t m = kiln_image_format_pointer_count(v);
  size_t shards = kiln_image_format_shard_count(v), targets = kiln_image_format_target_count(v);

  /* Name of each pointer-array entry, in pointer-index order. */
  typedef struct {
    size_t shard;
    kiln_image_format_table_kind_t kind;
    size_t target;
  } table_ref;
  table_ref *refs = calloc(m + 1, sizeof(*refs));
  if (refs == NULL) {
    kiln_image_format_close(v);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "image_format_root_ir: out of memory");
  }
  for (size_t s = 0; s < shards; s++) {
    for (size_t k = 0; k < targets; k++) {
      size_t p = kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k);
      if (p != SIZE_MAX) refs[p] = (table_ref){s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k};
    }
    size_t p = kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0);
    if (p != SIZE_MAX) refs[p] = (table_ref){s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0};
    p = kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0);
    if (p != SIZE_MAX) refs[p] = (table_ref){s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0};
  }

  sbuf b = {0};
  const char *triple = kiln_image_format_triple(v);
  sb_printf(&b, "; kiln image root: format version %u, %llu-byte blob, %zu pointers\n",
            KILN_IMAGE_FORMAT_VERSION, (unsigned long long)n, m);
  sb_printf(&b, "target triple = \"");
  sb_ir_bytes(&b, (const uint8_t *)triple, strlen(triple));
  sb_printf(&b, "\"\n\n");
  sb_printf(&b, "@%s = constant <{ [%llu x i8], [%llu x i8]", KILN_IMAGE_FORMAT_ROOT_SYMBOL,
            (unsigned long long)n, (unsigned long long)pad);
  if (m > 0) sb_printf(&b, ", [%zu x ptr]", m);
  sb_printf(&b, " }> <{ [%llu x i8] c\"", (unsigned long long)n);
  sb_ir_bytes(&b, blob, (size_t)n);
  sb_printf(&b, "\", [%llu x i8] zeroinitializer", (unsigned long long)pad);
  char sym[96];
  if (m > 0) {
    sb_printf(&b, ", [%zu x ptr] [", m);
    for (size_t i = 0; i < m; i++) {
      kiln_image_format_table_symbol(sym, sizeof(sym), refs[i].shard, refs[i].kind,
                                     refs[i].target);
      sb_printf(&b, "%sptr @%s", i ? ", " : "", sym);
    }
    sb_printf(&b, "]");
  }
  sb_printf(&b, " }>, section \"%s\", align 16\n\n", m > 0 ? ".data.rel.ro.kiln" : ".rodata.kiln");
  for (size_t i = 0; i < m; i++) {
    kiln_image_format_table_symbol(sym, sizeof(sym), refs[i].shard, refs[i].kind, refs[i].target);
    sb_printf(&b, "@%s = external hidden global [0 x ptr]\n", sym);
  }
  free(refs);
  kiln_image_format_close(v);
  if (b.oom) {
    free(b.p);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "image_format_root_ir: out of memory");
  }
  *ir_out = b.p;
  return NULL;
}
