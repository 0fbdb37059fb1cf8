/*
 * components/image_format/hash.c — kiln_image_format_hash64 (the blob
 * checksum and the code/option fingerprints), the checksum rule, and the
 * per-shard table symbol names.
 *
 * hash64 is XXH64 (Yann Collet's xxHash, 64-bit variant) written out here:
 * four independent multiply-rotate lanes over 32-byte stripes, so a core
 * overlaps four multiplications per step, then 8-byte words, a 4-byte word
 * and single bytes for the tail, and a final xor-shift-multiply avalanche.
 * Words are read byte by byte in little-endian order (compilers turn that
 * into one load), so the value is the same on every host and for any
 * alignment of `data`. Being XXH64 exactly, its published test vectors
 * check it (image_format_test.cc).
 */
#include <stdio.h>

#include "components/image_format/internal.h"

static const uint64_t kP1 = 0x9E3779B185EBCA87ull;
static const uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
static const uint64_t kP3 = 0x165667B19E3779F9ull;
static const uint64_t kP4 = 0x85EBCA77C2B2AE63ull;
static const uint64_t kP5 = 0x27D4EB2F165667C5ull;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t round64(uint64_t acc, uint64_t input) {
  acc += input * kP2;
  acc = rotl64(acc, 31);
  return acc * kP1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t val) {
  acc ^= round64(0, val);
  return acc * kP1 + kP4;
}

uint64_t kiln_image_format_hash64(const void *data, size_t size, uint64_t seed) {
  const uint8_t *p = data;
  const uint8_t *end = p + size;
  uint64_t h;
  if (size >= 32) {
    const uint8_t *limit = end - 32;
    uint64_t v1 = seed + kP1 + kP2;
    uint64_t v2 = seed + kP2;
    uint64_t v3 = seed;
    uint64_t v4 = seed - kP1;
    do {
      v1 = round64(v1, kif_get64(p));
      v2 = round64(v2, kif_get64(p + 8));
      v3 = round64(v3, kif_get64(p + 16));
      v4 = round64(v4, kif_get64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = merge64(h, v1);
    h = merge64(h, v2);
    h = merge64(h, v3);
    h = merge64(h, v4);
  } else {
    h = seed + kP5;
  }
  h += (uint64_t)size;
  while (end - p >= 8) {
    h ^= round64(0, kif_get64(p));
    h = rotl64(h, 27) * kP1 + kP4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= (uint64_t)kif_get32(p) * kP1;
    h = rotl64(h, 23) * kP2 + kP3;
    p += 4;
  }
  while (p < end) {
    h ^= (uint64_t)(*p) * kP5;
    h = rotl64(h, 11) * kP1;
    p++;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

uint64_t kif_checksum(const uint8_t *blob, uint64_t size) {
  uint64_t seed = kiln_image_format_hash64(blob, KIF_H_CHECKSUM, 0);
  return kiln_image_format_hash64(blob + KIF_H_SECTION_COUNT, (size_t)(size - KIF_H_SECTION_COUNT),
                                  seed);
}

size_t kiln_image_format_table_symbol(char *buf, size_t size, size_t shard,
                                      kiln_image_format_table_kind_t kind, size_t target) {
  char tmp[96];
  int n;
  switch (kind) {
    case KILN_IMAGE_FORMAT_TABLE_FUNCTIONS:
      n = snprintf(tmp, sizeof(tmp), "__kiln_s%zu_f%zu", shard, target);
      break;
    case KILN_IMAGE_FORMAT_TABLE_SLOTS:
      n = snprintf(tmp, sizeof(tmp), "__kiln_s%zu_slots", shard);
      break;
    case KILN_IMAGE_FORMAT_TABLE_GLOBALS:
      n = snprintf(tmp, sizeof(tmp), "__kiln_s%zu_globals", shard);
      break;
    default:
      n = 0; /* not a table kind: the empty name */
      tmp[0] = '\0';
      break;
  }
  if (n < 0) n = 0;
  if (size > 0) {
    size_t copy = (size_t)n < size - 1 ? (size_t)n : size - 1;
    memcpy(buf, tmp, copy);
    buf[copy] = '\0';
  }
  return (size_t)n;
}
