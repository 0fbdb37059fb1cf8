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

/* ---- The blob checksum ----------------------------------------------------
 *
 * The loader checksums the whole blob on every load, so this hash is built
 * for throughput rather than reuse: the XXH3 long-input scheme written in
 * plain C. Eight u64 lanes over 64-byte stripes; per lane the word is xored
 * with a key and the product of the key-mixed word's two 32-bit halves is
 * added to the lane, and the word itself to the neighbouring lane (so a
 * change that zeroes one half still changes the sum). Keys slide by one
 * word per stripe across kKifKeys, and every 16 stripes (1 KiB) each lane is
 * scrambled (xor-shift, xor key, multiply), so reordered stripes or blocks
 * give other values. The lanes are independent 32x32->64 multiplies and
 * adds, which compilers vectorize (SSE2 pmuludq on baseline x86-64) with
 * the same integer results as the scalar code: the value depends only on
 * the bytes. The tail (< 64 bytes) and the eight lanes are folded with
 * XXH64's merge and the result is finished by hash64 of the tail. */
static const uint64_t kKifKeys[24] = {
    0x55d8ed89e5dfda42ull, 0x7c31a469a8f6fd59ull, 0x848c12b70e1fee98ull,
    0xd74b725b29387214ull, 0x88dd0395927ccc3bull, 0x66733795fea76edfull,
    0x4c10e1d6f838ae41ull, 0x54b5e8120cb19d5bull, 0x32f039df0a274766ull,
    0x65ab71d52465634aull, 0x390cb227879e93c0ull, 0x06f5775c47d4f8c8ull,
    0x09ad908872c18eb2ull, 0x7e3a39866a355adaull, 0x6ed5fa8746a0abe3ull,
    0x46f389c86c8ef5c6ull, 0x439d3045bf2bf0bfull, 0x5d3cdd54ec72404full,
    0xc8791e34b552d404ull, 0xa6c83878e6a64c5aull, 0xfeae3ea9fe65b8b8ull,
    0xf6f22d77ea50dfd3ull, 0x531f0ad83d4fc366ull, 0xe48880f992b01e7cull,
};

enum { KIF_STRIPE = 64, KIF_LANES = 8, KIF_BLOCK_STRIPES = 16 };

static inline void wide_stripe(uint64_t acc[KIF_LANES], const uint8_t *p, const uint64_t *key) {
  uint64_t x[KIF_LANES];
  memcpy(x, p, sizeof(x)); /* little-endian host (internal.h) */
  for (int i = 0; i < KIF_LANES; i++) {
    uint64_t k = x[i] ^ key[i];
    acc[i ^ 1] += x[i];
    acc[i] += (k & 0xffffffffu) * (k >> 32);
  }
}

static inline void wide_scramble(uint64_t acc[KIF_LANES]) {
  for (int i = 0; i < KIF_LANES; i++) {
    uint64_t a = acc[i];
    a ^= a >> 47;
    a ^= kKifKeys[16 + i];
    acc[i] = a * 0x9E3779B1u;
  }
}

uint64_t kif_wide_hash64(const uint8_t *p, size_t size, uint64_t seed) {
  uint64_t acc[KIF_LANES] = {kP3 + seed, kP1 - seed, kP2 + seed, kP4 - seed,
                             kP5 + seed, kP1 ^ seed, kP2 ^ ~seed, kP3 - seed};
  size_t stripes = size / KIF_STRIPE;
  size_t s = 0;
  for (; s + KIF_BLOCK_STRIPES <= stripes; s += KIF_BLOCK_STRIPES) {
    for (int j = 0; j < KIF_BLOCK_STRIPES; j++) {
      wide_stripe(acc, p + (s + (size_t)j) * KIF_STRIPE, kKifKeys + j);
    }
    wide_scramble(acc);
  }
  for (int j = 0; s < stripes; s++, j++) wide_stripe(acc, p + s * KIF_STRIPE, kKifKeys + j);
  uint64_t h = (uint64_t)size * kP1;
  for (int i = 0; i < KIF_LANES; i++) h = merge64(h, acc[i]);
  return kiln_image_format_hash64(p + stripes * KIF_STRIPE, size % KIF_STRIPE, h);
}

uint64_t kif_checksum(const uint8_t *blob, uint64_t size) {
  uint64_t seed = kiln_image_format_hash64(blob, KIF_H_CHECKSUM, 0);
  return kif_wide_hash64(blob + KIF_H_SECTION_COUNT, (size_t)(size - KIF_H_SECTION_COUNT), seed);
}

uint64_t kif_load_checksum(const uint8_t *blob, uint64_t load_size) {
  uint64_t seed = kiln_image_format_hash64(blob, KIF_H_CHECKSUM, 0);
  seed = kiln_image_format_hash64(blob + KIF_H_SECTION_COUNT,
                                  KIF_H_LOAD_CHECKSUM - KIF_H_SECTION_COUNT, seed);
  return kif_wide_hash64(blob + KILN_IMAGE_FORMAT_HEADER_SIZE,
                         (size_t)(load_size - KILN_IMAGE_FORMAT_HEADER_SIZE), seed);
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
