/*
 * components/image_format/image_format_fuzzer.c — libFuzzer entry point for
 * the reader. Every input is opened as it is (exercising the header, size
 * and checksum checks), and, when it is at least a header long, with magic,
 * version, header size, total size, load size and both checksums (the load
 * checksum first: the blob checksum covers its field) patched to be right,
 * so the structural checks behind the checksums get the fuzzer's attention.
 * Each is opened twice: in full (kiln_image_format_open) and as a load view
 * (kiln_image_format_open_load), which must accept whatever the full open
 * accepts, and must open again from a copy cut to exactly its load size.
 * Whatever opens is walked through every accessor (and a full view is
 * rendered as root IR), so ASan/UBSan (built in) catch any read the
 * validation let through, and the properties the reader promises are
 * checked: the shards' function and global ranges tile the tables in shard
 * order, the name index is a permutation in strictly ascending name order
 * and every name is found at its own index. On a load view the directory's
 * accessors must give NULL/0/SIZE_MAX/KILN_ERR_UNSUPPORTED, and its
 * load-part accessors must agree with the full view's. A failed open must
 * carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "components/image_format/image_format.h"
#include "components/image_format/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

/* The load part's accessors: the same for a full view and a load view. */
static uint64_t walk_load_part(const kiln_image_format_t *v) {
  uint64_t h = kiln_image_format_version(v) + kiln_image_format_size(v) +
               kiln_image_format_checksum(v) + kiln_image_format_base_checksum(v) +
               (uint64_t)kiln_image_format_kind(v) + kiln_image_format_pointer_offset(v) +
               kiln_image_format_load_size(v);
  if (kiln_image_format_load_size(v) > kiln_image_format_size(v)) abort();
  h += strlen(kiln_image_format_producer(v)) + strlen(kiln_image_format_triple(v)) +
       strlen(kiln_image_format_name(v));
  for (size_t i = 0; i < kiln_image_format_option_count(v); i++) {
    const char *key = kiln_image_format_option_key(v, i);
    h += strlen(key) + strlen(kiln_image_format_option_value(v, i));
    if (kiln_image_format_option_find(v, key) != kiln_image_format_option_value(v, i)) abort();
  }
  size_t targets = kiln_image_format_target_count(v);
  for (size_t k = 0; k < targets; k++) {
    h += strlen(kiln_image_format_target_cpu(v, k)) + strlen(kiln_image_format_target_features(v, k));
    h += kiln_image_format_target_flags(v, k) + kiln_image_format_target_base(v, k);
  }
  h += kiln_image_format_function_count(v) + kiln_image_format_global_count(v);
  size_t n, next_fn = 0, next_gl = 0;
  for (size_t s = 0; s < kiln_image_format_shard_count(v); s++) {
    /* The ranges tile the tables in shard order. */
    size_t nf = 0, ng = 0;
    if (kiln_image_format_shard_first_function(v, s, &nf) != next_fn) abort();
    if (kiln_image_format_shard_first_global(v, s, &ng) != next_gl) abort();
    next_fn += nf;
    next_gl += ng;
    if (next_fn > kiln_image_format_function_count(v) ||
        next_gl > kiln_image_format_global_count(v)) {
      abort();
    }
    h += nf + ng;
    for (size_t k = 0; k <= targets; k++) {
      /* Positions decoded from the mask: ascending, each below the
       * shard's function count. */
      size_t no = kiln_image_format_shard_override_positions(v, s, k, NULL, 0);
      uint32_t *o = malloc((no + 1) * sizeof(uint32_t));
      if (o == NULL) abort();
      if (kiln_image_format_shard_override_positions(v, s, k, o, no) != no) abort();
      for (size_t i = 0; i < no; i++) {
        if (o[i] >= nf || (i > 0 && o[i] <= o[i - 1])) abort();
        h += o[i];
      }
      free(o);
      h += kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k);
    }
    const uint32_t *sl = kiln_image_format_shard_slots(v, s, &n);
    for (size_t i = 0; i < n; i++) h += sl[i];
    h += kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0);
    h += kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0);
  }
  if (next_fn != kiln_image_format_function_count(v) ||
      next_gl != kiln_image_format_global_count(v)) {
    abort(); /* every function and global is in exactly one shard */
  }
  /* One past the last shard: 0 with count 0. */
  n = 1;
  if (kiln_image_format_shard_first_function(v, kiln_image_format_shard_count(v), &n) != 0 ||
      n != 0) {
    abort();
  }
  n = 1;
  if (kiln_image_format_shard_first_global(v, kiln_image_format_shard_count(v), &n) != 0 ||
      n != 0) {
    abort();
  }
  h += kiln_image_format_pointer_count(v);
  return h;
}

/* A symbol table's name index on a full view: a permutation of the
 * indices, strictly ascending by name, SIZE_MAX past the end; each name is
 * found at its own index. */
static uint64_t walk_named(const kiln_image_format_t *v, size_t count,
                           const char *(*name)(const kiln_image_format_t *, size_t),
                           size_t (*by_name)(const kiln_image_format_t *, size_t),
                           kiln_error_t *(*find)(const kiln_image_format_t *, const char *,
                                                 size_t *)) {
  uint64_t h = 0;
  uint8_t *seen = calloc(count + 1, 1);
  if (seen == NULL) abort();
  const char *prev = NULL;
  for (size_t j = 0; j < count; j++) {
    size_t i = by_name(v, j), idx;
    if (i >= count || seen[i]) abort();
    seen[i] = 1;
    const char *s = name(v, i);
    if (s == NULL || (prev != NULL && strcmp(prev, s) >= 0)) abort();
    prev = s;
    kiln_error_t *err = find(v, s, &idx);
    if (err != NULL || idx != i) abort();
    h += i * (j + 1) + strlen(s);
  }
  free(seen);
  if (by_name(v, count) != SIZE_MAX || name(v, count) != NULL) abort();
  return h;
}

/* The directory's accessors on a full view. */
static uint64_t walk_directory(const kiln_image_format_t *v) {
  uint64_t h = 0;
  size_t idx;
  h += walk_named(v, kiln_image_format_function_count(v), kiln_image_format_function_name,
                  kiln_image_format_function_by_name, kiln_image_format_function_find);
  h += walk_named(v, kiln_image_format_global_count(v), kiln_image_format_global_name,
                  kiln_image_format_global_by_name, kiln_image_format_global_find);
  kiln_error_free(kiln_image_format_function_find(v, "", &idx));
  kiln_error_free(kiln_image_format_global_find(v, "", &idx));
  size_t n;
  for (size_t m = 0; m < kiln_image_format_method_count(v); m++) {
    kiln_error_t *err = kiln_image_format_method_find(v, kiln_image_format_method_key(v, m), &idx);
    if (err != NULL || idx != m) abort();
    h += kiln_image_format_method_function(v, m) + kiln_image_format_method_flags(v, m) +
         kiln_image_format_method_fingerprint(v, m);
    const uint32_t *calls = kiln_image_format_method_calls(v, m, &n);
    for (size_t i = 0; i < n; i++) h += calls[i];
    for (size_t d = 0; d < kiln_image_format_method_dep_count(v, m); d++) {
      h += strlen(kiln_image_format_method_dep_key(v, m, d)) +
           kiln_image_format_method_dep_fingerprint(v, m, d);
    }
    const uint8_t *bc = kiln_image_format_method_bitcode(v, m, &n);
    if (n > 0) h += bc[0] + bc[n - 1];
  }
  return h;
}

/* A load view has no directory: every directory accessor sees no entries. */
static void check_no_directory(const kiln_image_format_t *v) {
  if (kiln_image_format_has_directory(v)) abort();
  size_t n = 1, idx = 0;
  for (size_t i = 0; i < kiln_image_format_function_count(v) && i < 64; i++) {
    if (kiln_image_format_function_name(v, i) != NULL) abort();
    if (kiln_image_format_function_by_name(v, i) != SIZE_MAX) abort();
  }
  for (size_t i = 0; i < kiln_image_format_global_count(v) && i < 64; i++) {
    if (kiln_image_format_global_name(v, i) != NULL) abort();
    if (kiln_image_format_global_by_name(v, i) != SIZE_MAX) abort();
  }
  if (kiln_image_format_method_count(v) != 0 || kiln_image_format_method_key(v, 0) != NULL ||
      kiln_image_format_method_function(v, 0) != 0 || kiln_image_format_method_flags(v, 0) != 0 ||
      kiln_image_format_method_fingerprint(v, 0) != 0 ||
      kiln_image_format_method_dep_count(v, 0) != 0 ||
      kiln_image_format_method_dep_key(v, 0, 0) != NULL ||
      kiln_image_format_method_dep_fingerprint(v, 0, 0) != 0) {
    abort();
  }
  if (kiln_image_format_method_calls(v, 0, &n) != NULL || n != 0) abort();
  n = 1;
  if (kiln_image_format_method_bitcode(v, 0, &n) != NULL || n != 0) abort();
  kiln_error_t *(*const finds[3])(const kiln_image_format_t *, const char *, size_t *) = {
      kiln_image_format_function_find, kiln_image_format_global_find,
      kiln_image_format_method_find};
  for (int i = 0; i < 3; i++) {
    kiln_error_t *err = finds[i](v, "", &idx);
    if (kiln_error_code(err) != KILN_ERR_UNSUPPORTED || idx != SIZE_MAX) abort();
    kiln_error_free(err);
  }
}

/* The load-part accessors of two views of the same blob agree. */
static void check_same_load_part(const kiln_image_format_t *a, const kiln_image_format_t *b) {
  if (walk_load_part(a) != walk_load_part(b) ||
      kiln_image_format_function_count(a) != kiln_image_format_function_count(b) ||
      kiln_image_format_global_count(a) != kiln_image_format_global_count(b) ||
      kiln_image_format_shard_count(a) != kiln_image_format_shard_count(b) ||
      strcmp(kiln_image_format_producer(a), kiln_image_format_producer(b)) != 0 ||
      strcmp(kiln_image_format_triple(a), kiln_image_format_triple(b)) != 0) {
    abort();
  }
}

static void try_open(const uint8_t *data, size_t size) {
  kiln_image_format_t *full = NULL, *load = NULL;
  kiln_error_t *err = kiln_image_format_open(data, size, "fuzz", &full);
  if (err != NULL) {
    if (full != NULL || kiln_error_message(err)[0] == '\0') abort();
    kiln_error_free(err);
  } else {
    if (!kiln_image_format_has_directory(full)) abort();
    sink = walk_load_part(full) + walk_directory(full);
    char *ir = NULL;
    err = kiln_image_format_root_ir(data, size, &ir);
    if (err != NULL) abort(); /* it opened, so it renders */
    free(ir);
  }

  err = kiln_image_format_open_load(data, size, "fuzz", &load);
  if (err != NULL) {
    if (load != NULL || kiln_error_message(err)[0] == '\0') abort();
    if (full != NULL) abort(); /* whatever open accepts, open_load accepts */
    kiln_error_free(err);
    return;
  }
  check_no_directory(load);
  sink = walk_load_part(load);
  if (full != NULL) check_same_load_part(full, load);

  /* The load view reads nothing past the load part: an exact-size copy of
   * it opens too, and any read past it is an ASan report. */
  uint64_t load_size = kiln_image_format_load_size(load);
  if (load_size > size) abort();
  uint8_t *part = malloc(load_size ? (size_t)load_size : 1);
  if (part != NULL) {
    memcpy(part, data, (size_t)load_size);
    kiln_image_format_t *again = NULL;
    err = kiln_image_format_open_load(part, (size_t)load_size, "fuzz", &again);
    if (err != NULL) abort();
    check_no_directory(again);
    check_same_load_part(load, again);
    kiln_image_format_close(again);
    free(part);
  }
  kiln_image_format_close(load);
  kiln_image_format_close(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy, so any read past the end is an ASan report. */
  uint8_t *buf = malloc(size ? size : 1);
  if (buf == NULL) return 0;
  memcpy(buf, data, size);
  try_open(buf, size);
  if (size >= KILN_IMAGE_FORMAT_HEADER_SIZE) {
    uint64_t total = size & ~(size_t)7;
    memcpy(buf, KILN_IMAGE_FORMAT_MAGIC, KILN_IMAGE_FORMAT_MAGIC_SIZE);
    kif_put32(buf + KIF_H_VERSION, KILN_IMAGE_FORMAT_VERSION);
    kif_put32(buf + KIF_H_HEADER_SIZE, KILN_IMAGE_FORMAT_HEADER_SIZE);
    kif_put64(buf + KIF_H_TOTAL_SIZE, total);
    /* Keep the input's load size when it can be one (so the seeds' split
     * survives); otherwise make everything the load part. */
    uint64_t load_size = kif_get64(buf + KIF_H_LOAD_SIZE);
    if (load_size < KILN_IMAGE_FORMAT_HEADER_SIZE || load_size > total) load_size = total;
    load_size &= ~(uint64_t)7;
    kif_put64(buf + KIF_H_LOAD_SIZE, load_size);
    /* The load checksum first: the blob checksum covers its field. */
    kif_put64(buf + KIF_H_LOAD_CHECKSUM, kif_load_checksum(buf, load_size));
    kif_put64(buf + KIF_H_CHECKSUM, kif_checksum(buf, total));
    try_open(buf, size);
  }
  free(buf);
  return 0;
}
