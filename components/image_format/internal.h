/*
 * components/image_format/internal.h — the encoding's constants and the
 * little-endian helpers shared by the encoder (encode.c), the reader
 * (read.c) and the IR renderer (root_ir.c). docs/image-format.md is the
 * prose version of this file; keep the two in step.
 */
#ifndef KILN_IMAGE_FORMAT_INTERNAL_H
#define KILN_IMAGE_FORMAT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "components/image_format/image_format.h"

/* The accessors hand out `const uint32_t *` arrays that point into the blob,
 * so the host must store integers the way the blob does. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "components/image_format: the reader hands out blob arrays as uint32_t and needs a little-endian host"
#endif

/* Fixed header fields (byte offsets into the blob). */
enum {
  KIF_H_MAGIC = 0,
  KIF_H_VERSION = 8,
  KIF_H_HEADER_SIZE = 12,
  KIF_H_TOTAL_SIZE = 16,
  KIF_H_CHECKSUM = 24,
  KIF_H_SECTION_COUNT = 32,
  KIF_H_FLAGS = 36,
  KIF_H_SECTION_TABLE = 40,
  KIF_H_LOAD_SIZE = 48,     /* bytes [0, load size) hold the header, table and load part */
  KIF_H_LOAD_CHECKSUM = 56, /* checksum of the load part (kif_load_checksum) */
  KIF_SECTION_ENTRY_SIZE = 24
};

/* Section ids. A blob has each exactly once, listed in this order in the
 * section table. The load part (strings .. shard indices without
 * functions and globals) is what loading needs and is laid out first; the
 * directory (names, functions, globals, methods, calls, deps, bitcode)
 * follows it, from the header's load size to the end. */
enum {
  KIF_SEC_STRINGS = 1,
  KIF_SEC_INFO = 2,
  KIF_SEC_OPTIONS = 3,
  KIF_SEC_TARGETS = 4,
  KIF_SEC_FUNCTIONS = 5,
  KIF_SEC_GLOBALS = 6,
  KIF_SEC_SHARDS = 7,
  KIF_SEC_SHARD_TABLES = 8,
  KIF_SEC_SHARD_INDICES = 9,
  KIF_SEC_METHODS = 10,
  KIF_SEC_CALLS = 11,
  KIF_SEC_DEPS = 12,
  KIF_SEC_BITCODE = 13,
  KIF_SEC_NAMES = 14,
  KIF_SECTION_COUNT = 14
};

/* Entry sizes per section, indexed by id (0 unused). */
static const uint32_t kKifEntrySize[KIF_SECTION_COUNT + 1] = {
    0, 1, 32, 8, 16, 8, 8, 24, 16, 4, 56, 4, 16, 1, 1,
};

static const char *const kKifSectionName[KIF_SECTION_COUNT + 1] = {
    "?",       "strings",      "info",          "options", "targets", "functions", "globals",
    "shards",  "shard tables", "shard indices", "methods", "calls",   "deps",      "bitcode",
    "names",
};

/* 1 for the directory's sections, 0 for the load part's, by id. */
static const uint8_t kKifInDirectory[KIF_SECTION_COUNT + 1] = {
    0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1,
};

/* The order the encoder lays the sections out in: the load part first. */
static const uint8_t kKifLayoutOrder[KIF_SECTION_COUNT] = {
    KIF_SEC_STRINGS, KIF_SEC_INFO,    KIF_SEC_OPTIONS, KIF_SEC_TARGETS, KIF_SEC_SHARDS,
    KIF_SEC_SHARD_TABLES, KIF_SEC_SHARD_INDICES, KIF_SEC_NAMES, KIF_SEC_FUNCTIONS,
    KIF_SEC_GLOBALS, KIF_SEC_METHODS, KIF_SEC_CALLS, KIF_SEC_DEPS, KIF_SEC_BITCODE,
};

/* Field offsets inside entries. */
enum {
  /* info */
  KIF_INFO_PRODUCER = 0,
  KIF_INFO_TRIPLE = 4,
  KIF_INFO_NAME = 8,
  KIF_INFO_KIND = 12,
  KIF_INFO_BASE_CHECKSUM = 16,
  KIF_INFO_POINTER_COUNT = 24,
  KIF_INFO_RESERVED = 28,
  /* options */
  KIF_OPT_KEY = 0,
  KIF_OPT_VALUE = 4,
  /* targets */
  KIF_TGT_CPU = 0,
  KIF_TGT_FEATURES = 4,
  KIF_TGT_FLAGS = 8,
  KIF_TGT_BASE = 12,
  /* functions and globals: entry i is the name of function (global) i and
   * the index of the i-th one in name order (the name index) */
  KIF_SYM_NAME = 0,
  KIF_SYM_BY_NAME = 4,
  /* shards */
  KIF_SHD_SLOT_COUNT = 0,
  KIF_SHD_SLOT_OFFSET = 4,
  KIF_SHD_GLOBAL_COUNT = 8,
  KIF_SHD_GLOBAL_FIRST = 12, /* the shard's first global: the counts before it added up */
  KIF_SHD_SLOTS_POINTER = 16,
  KIF_SHD_GLOBALS_POINTER = 20,
  /* shard tables: entry (s, k) at index s * target_count + k. OFFSET is
   * the shard's first function for k = 0 (the counts before it added up),
   * the override mask's index into the shard indices for k >= 1 */
  KIF_STB_COUNT = 0,
  KIF_STB_OFFSET = 4,
  KIF_STB_POINTER = 8,
  KIF_STB_RESERVED = 12,
  /* methods */
  KIF_MTH_KEY = 0,
  KIF_MTH_FUNCTION = 4,
  KIF_MTH_FLAGS = 8,
  KIF_MTH_CALL_COUNT = 12,
  KIF_MTH_CALL_OFFSET = 16,
  KIF_MTH_DEP_COUNT = 20,
  KIF_MTH_DEP_OFFSET = 24,
  KIF_MTH_RESERVED = 28,
  KIF_MTH_FINGERPRINT = 32,
  KIF_MTH_BITCODE_OFFSET = 40,
  KIF_MTH_BITCODE_SIZE = 48,
  /* deps */
  KIF_DEP_KEY = 0,
  KIF_DEP_RESERVED = 4,
  KIF_DEP_FINGERPRINT = 8
};

/* "No table": the pointer index of an empty (absent) per-shard table. */
#define KIF_NO_POINTER UINT32_MAX

#define KIF_KNOWN_METHOD_FLAGS KILN_IMAGE_FORMAT_METHOD_SPECSIG

static inline uint32_t kif_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t kif_get64(const uint8_t *p) {
  return (uint64_t)kif_get32(p) | (uint64_t)kif_get32(p + 4) << 32;
}

static inline void kif_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static inline void kif_put64(uint8_t *p, uint64_t v) {
  kif_put32(p, (uint32_t)v);
  kif_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t kif_align8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }

KILN_BEGIN_DECLS

/* The checksum of a blob of `size` >= KILN_IMAGE_FORMAT_HEADER_SIZE bytes:
 * hash64 of bytes [0, 24) with seed 0 is the seed for the wide hash of bytes
 * [32, size), so the 8 checksum bytes themselves are skipped. */
uint64_t kif_checksum(const uint8_t *blob, uint64_t size);

/* The load checksum, over bytes [0, load_size) (load_size >= the header
 * size) without the two checksum fields: hash64 of bytes [0, 24) with seed 0
 * seeds hash64 of bytes [32, 56), which seeds the wide hash of bytes
 * [64, load_size). */
uint64_t kif_load_checksum(const uint8_t *blob, uint64_t load_size);

/* The wide hash the checksum uses (hash.c): XXH3-style, 64-byte stripes. */
uint64_t kif_wide_hash64(const uint8_t *data, size_t size, uint64_t seed);

/* kiln_image_format_open() (directory != 0) or kiln_image_format_open_load()
 * (directory == 0), with the checksum checks optional: the encoder's
 * self-check and the benchmark of the structural checks use it. */
kiln_error_t *kif_open(const void *data, size_t size, const char *name, int verify_checksum,
                       int directory, kiln_image_format_t **image_out);

KILN_END_DECLS

#endif /* KILN_IMAGE_FORMAT_INTERNAL_H */
