/*
 * components/image_format/image_format_fuzzer.c — libFuzzer entry point for
 * the reader. Every input is opened twice: as it is (exercising the header,
 * size and checksum checks), and, when it is at least a header long, with
 * magic, version, header size, total size and checksum patched to be right,
 * so the structural checks behind the checksum get the fuzzer's attention.
 * Whatever opens is walked through every accessor (and rendered as root
 * IR), so ASan/UBSan (built in) catch any read the validation let through.
 * A failed open must carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "components/image_format/image_format.h"
#include "components/image_format/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void walk(const kiln_image_format_t *v) {
  uint64_t h = kiln_image_format_version(v) + kiln_image_format_size(v) +
               kiln_image_format_checksum(v) + kiln_image_format_base_checksum(v) +
               (uint64_t)kiln_image_format_kind(v) + kiln_image_format_pointer_offset(v);
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
  size_t idx;
  for (size_t i = 0; i < kiln_image_format_function_count(v); i++) {
    kiln_error_t *err = kiln_image_format_function_find(v, kiln_image_format_function_name(v, i), &idx);
    if (err != NULL || idx != i) abort();
  }
  for (size_t i = 0; i < kiln_image_format_global_count(v); i++) {
    kiln_error_t *err = kiln_image_format_global_find(v, kiln_image_format_global_name(v, i), &idx);
    if (err != NULL || idx != i) abort();
  }
  kiln_error_free(kiln_image_format_function_find(v, "", &idx));
  size_t n;
  for (size_t s = 0; s < kiln_image_format_shard_count(v); s++) {
    const uint32_t *fns = kiln_image_format_shard_functions(v, s, &n);
    for (size_t i = 0; i < n; i++) h += fns[i];
    for (size_t k = 0; k <= targets; k++) {
      const uint32_t *o = kiln_image_format_shard_overrides(v, s, k, &n);
      for (size_t i = 0; i < n; i++) h += o[i];
      h += kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k);
    }
    const uint32_t *sl = kiln_image_format_shard_slots(v, s, &n);
    for (size_t i = 0; i < n; i++) h += sl[i];
    const uint32_t *gl = kiln_image_format_shard_globals(v, s, &n);
    for (size_t i = 0; i < n; i++) h += gl[i];
    h += kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0);
    h += kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0);
  }
  h += kiln_image_format_pointer_count(v);
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
  sink = h;
}

static void try_open(const uint8_t *data, size_t size) {
  kiln_image_format_t *v = NULL;
  kiln_error_t *err = kiln_image_format_open(data, size, "fuzz", &v);
  if (err != NULL) {
    if (v != NULL || kiln_error_message(err)[0] == '\0') abort();
    kiln_error_free(err);
    return;
  }
  walk(v);
  char *ir = NULL;
  err = kiln_image_format_root_ir(data, size, &ir);
  if (err != NULL) abort(); /* it opened, so it renders */
  free(ir);
  kiln_image_format_close(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy, so any read past the end is an ASan report. */
  uint8_t *buf = malloc(size ? size : 1);
  if (buf == NULL) return 0;
  memcpy(buf, data, size);
  try_open(buf, size);
  if (size >= KILN_IMAGE_FORMAT_HEADER_SIZE) {
    size_t total = size & ~(size_t)7;
    memcpy(buf, KILN_IMAGE_FORMAT_MAGIC, KILN_IMAGE_FORMAT_MAGIC_SIZE);
    kif_put32(buf + KIF_H_VERSION, KILN_IMAGE_FORMAT_VERSION);
    kif_put32(buf + KIF_H_HEADER_SIZE, KILN_IMAGE_FORMAT_HEADER_SIZE);
    kif_put64(buf + KIF_H_TOTAL_SIZE, total);
    kif_put64(buf + KIF_H_CHECKSUM, kif_checksum(buf, total));
    try_open(buf, size);
  }
  free(buf);
  return 0;
}
