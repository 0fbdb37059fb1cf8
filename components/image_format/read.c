/*
 * components/image_format/read.c — kiln_image_format_open: validates a blob
 * completely, then hands out a view whose accessors are O(1) (binary search
 * for the finds) and cannot read out of bounds; kiln_image_format_open_load:
 * the same for the load part alone (header, section table, load-part
 * sections), whose view has no directory.
 *
 * Validation runs in the order a corrupt input is most cheaply and most
 * usefully diagnosed: header (magic, version, declared and load sizes),
 * checksums, section table (ids, entry sizes, alignment, bounds, overlap,
 * which part each section is in), then the load part's sections, then the
 * directory's, so that when a section is checked every section it refers to
 * is already known to be sound. The view keeps only pointers and counts
 * into the blob; the bitmap and rank arrays the "exactly once" rules need
 * are freed before open returns. Every message starts with the caller's
 * `name` and "image metadata:", then names the section, the entry and the
 * field.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "components/image_format/internal.h"

struct kiln_image_format {
  const uint8_t *blob;
  uint64_t size;      /* declared total size */
  uint64_t load_size; /* bytes [0, load_size) are the header, table and load part */
  uint64_t checksum;
  uint8_t *owned; /* aligned private copy when the caller's buffer was misaligned */
  bool directory; /* opened with kiln_image_format_open: the directory is readable */

  const char *strings; /* load-part text */
  uint64_t strings_size;
  const char *names; /* directory text; NULL in a load view */
  uint64_t names_size;
  const char *producer;
  const char *triple;
  const char *name;
  kiln_image_format_kind_t kind;
  uint64_t base_checksum;
  uint32_t pointer_count;

  const uint8_t *options;
  size_t option_count;
  const uint8_t *targets;
  size_t target_count;
  const uint8_t *functions;
  size_t function_count;
  const uint8_t *globals;
  size_t global_count;
  const uint8_t *shards;
  size_t shard_count;
  const uint8_t *shard_tables;
  const uint32_t *indices;
  size_t index_count;
  const uint8_t *methods;
  size_t method_count;
  const uint32_t *calls;
  size_t call_count;
  const uint8_t *deps;
  size_t dep_count;
  const uint8_t *bitcode;
  uint64_t bitcode_size;
};

/* ---- Errors -------------------------------------------------------------- */

static kiln_error_t *fail(kiln_error_code_t code, const char *name, const char *fmt, ...)
    KILN_PRINTF(3, 4);

static kiln_error_t *fail(kiln_error_code_t code, const char *name, const char *fmt, ...) {
  char msg[640];
  va_list args;
  va_start(args, fmt);
  vsnprintf(msg, sizeof(msg), fmt, args);
  va_end(args);
  return kiln_error_new(code, "%s: image metadata: %s", name, msg);
}

#define FAIL(...) fail(KILN_ERR_FORMAT, name, __VA_ARGS__)

/* ---- Header -------------------------------------------------------------- */

static kiln_error_t *check_header(const uint8_t *data, size_t size, const char *name,
                                  uint64_t *total_out, uint64_t *checksum_out) {
  *total_out = 0;
  *checksum_out = 0;
  if (size == 0) {
    return FAIL("truncated: the buffer is empty, a kiln image header needs %d bytes",
                KILN_IMAGE_FORMAT_HEADER_SIZE);
  }
  size_t magic_len = size < KILN_IMAGE_FORMAT_MAGIC_SIZE ? size : KILN_IMAGE_FORMAT_MAGIC_SIZE;
  if (memcmp(data, KILN_IMAGE_FORMAT_MAGIC, magic_len) != 0) {
    return FAIL("not a kiln image (bad magic)");
  }
  if (size < KILN_IMAGE_FORMAT_HEADER_SIZE) {
    return FAIL("truncated: buffer has %zu bytes, the header needs %d", size,
                KILN_IMAGE_FORMAT_HEADER_SIZE);
  }
  uint32_t version = kif_get32(data + KIF_H_VERSION);
  if (version != KILN_IMAGE_FORMAT_VERSION) {
    return fail(KILN_ERR_VERSION_MISMATCH, name,
                "format version %u, but this reader accepts only version %u", version,
                KILN_IMAGE_FORMAT_VERSION);
  }
  uint64_t total = kif_get64(data + KIF_H_TOTAL_SIZE);
  if (total < KILN_IMAGE_FORMAT_HEADER_SIZE || total % 8 != 0) {
    return FAIL("header: total size %llu is not a multiple of 8 of at least %d bytes",
                (unsigned long long)total, KILN_IMAGE_FORMAT_HEADER_SIZE);
  }
  *total_out = total;
  *checksum_out = kif_get64(data + KIF_H_CHECKSUM);
  return NULL;
}

/* The header's load size (data holds the whole header, total its checked
 * total size): a multiple of 8 between the header size and the total. */
static kiln_error_t *check_load_size(const uint8_t *data, uint64_t total, const char *name,
                                     uint64_t *load_size_out) {
  uint64_t load_size = kif_get64(data + KIF_H_LOAD_SIZE);
  *load_size_out = load_size;
  if (load_size < KILN_IMAGE_FORMAT_HEADER_SIZE || load_size % 8 != 0 || load_size > total) {
    return FAIL("header: load size %llu is not a multiple of 8 between the header size %d and "
                "the total size %llu",
                (unsigned long long)load_size, KILN_IMAGE_FORMAT_HEADER_SIZE,
                (unsigned long long)total);
  }
  return NULL;
}

kiln_error_t *kiln_image_format_peek(const void *data, size_t size, const char *name,
                                     uint64_t *blob_size_out, uint64_t *checksum_out) {
  uint64_t total = 0, checksum = 0;
  kiln_error_t *err = NULL;
  if (name == NULL) name = "<image>";
  if (data == NULL && size > 0) {
    err = kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: image metadata: data is NULL", name);
  } else {
    err = check_header(data, size, name, &total, &checksum);
  }
  if (blob_size_out != NULL) *blob_size_out = err ? 0 : total;
  if (checksum_out != NULL) *checksum_out = err ? 0 : checksum;
  if (err == NULL && (blob_size_out == NULL || checksum_out == NULL)) {
    err = kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: image metadata: NULL output", name);
  }
  return err;
}

/* ---- Structure ----------------------------------------------------------- */

typedef struct section {
  uint64_t offset;
  uint64_t size;
  uint64_t count; /* size / entry size */
} section;

/* A string reference: any offset inside a string section is NUL-terminated
 * inside it, because the section's last byte is checked to be NUL. */
static kiln_error_t *get_text(const char *table, uint64_t table_size, const char *table_name,
                              const char *name, const char *where, size_t entry, const char *field,
                              uint32_t off, const char **out) {
  if (off >= table_size) {
    return FAIL("%s section: entry %zu: %s string offset %u outside the %s section (%llu bytes)",
                where, entry, field, off, table_name, (unsigned long long)table_size);
  }
  *out = table + off;
  return NULL;
}

/* Load-part strings (producer, triple, options, targets). */
static kiln_error_t *get_string(const kiln_image_format_t *v, const char *name, const char *where,
                                size_t entry, const char *field, uint32_t off, const char **out) {
  return get_text(v->strings, v->strings_size, "strings", name, where, entry, field, off, out);
}

/* Directory names (symbol names, method and dependency keys). */
static kiln_error_t *get_name(const kiln_image_format_t *v, const char *name, const char *where,
                              size_t entry, const char *field, uint32_t off, const char **out) {
  return get_text(v->names, v->names_size, "names", name, where, entry, field, off, out);
}

/* Names, keys: strictly ascending by strcmp. */
static kiln_error_t *check_sorted(const char *name, const char *where, size_t entry,
                                  const char *field, const char *prev, const char *cur) {
  if (prev != NULL && strcmp(prev, cur) >= 0) {
    return FAIL("%s section: entry %zu: %s '%.80s' is not after '%.80s' (must be strictly "
                "ascending)",
                where, entry, field, cur, prev);
  }
  return NULL;
}

static kiln_error_t *check_section_table(const uint8_t *b, uint64_t total, uint64_t load_size,
                                         const char *name,
                                         section sec[KIF_SECTION_COUNT + 1]) {
  if (kif_get32(b + KIF_H_HEADER_SIZE) != KILN_IMAGE_FORMAT_HEADER_SIZE) {
    return FAIL("header: header size %u, expected %d", kif_get32(b + KIF_H_HEADER_SIZE),
                KILN_IMAGE_FORMAT_HEADER_SIZE);
  }
  if (kif_get32(b + KIF_H_FLAGS) != 0) {
    return FAIL("header: unknown flags 0x%x", kif_get32(b + KIF_H_FLAGS));
  }
  uint32_t count = kif_get32(b + KIF_H_SECTION_COUNT);
  if (count != KIF_SECTION_COUNT) {
    return FAIL("header: %u sections, version %u has %d", count, KILN_IMAGE_FORMAT_VERSION,
                KIF_SECTION_COUNT);
  }
  uint64_t table = kif_get64(b + KIF_H_SECTION_TABLE);
  uint64_t table_size = (uint64_t)KIF_SECTION_COUNT * KIF_SECTION_ENTRY_SIZE;
  if (table % 8 != 0 || table < KILN_IMAGE_FORMAT_HEADER_SIZE || table > load_size ||
      load_size - table < table_size) {
    return FAIL("header: section table at offset %llu (%llu bytes) is not 8-byte aligned "
                "inside the load part (%llu bytes) after the header",
                (unsigned long long)table, (unsigned long long)table_size,
                (unsigned long long)load_size);
  }

  for (int i = 0; i < KIF_SECTION_COUNT; i++) {
    const uint8_t *e = b + table + (uint64_t)i * KIF_SECTION_ENTRY_SIZE;
    uint32_t id = kif_get32(e);
    int want = i + 1;
    if (id != (uint32_t)want) {
      return FAIL("section table: entry %d: id %u, expected %d (%s)", i, id, want,
                  kKifSectionName[want]);
    }
    uint32_t esize = kif_get32(e + 4);
    if (esize != kKifEntrySize[want]) {
      return FAIL("section table: %s section: entry size %u, expected %u", kKifSectionName[want],
                  esize, kKifEntrySize[want]);
    }
    uint64_t off = kif_get64(e + 8), size = kif_get64(e + 16);
    if (off % 8 != 0) {
      return FAIL("section table: %s section: offset %llu is not 8-byte aligned",
                  kKifSectionName[want], (unsigned long long)off);
    }
    if (off > total || size > total - off) {
      return FAIL("section table: %s section: bytes [%llu, +%llu) outside the blob (%llu bytes)",
                  kKifSectionName[want], (unsigned long long)off, (unsigned long long)size,
                  (unsigned long long)total);
    }
    /* The load part's sections end by the load size; the directory's start
     * at it. */
    if (kKifInDirectory[want] ? off < load_size : size > load_size || off > load_size - size) {
      return FAIL("section table: %s section: bytes [%llu, +%llu) are not in the %s (the load "
                  "part is bytes [0, %llu))",
                  kKifSectionName[want], (unsigned long long)off, (unsigned long long)size,
                  kKifInDirectory[want] ? "directory" : "load part",
                  (unsigned long long)load_size);
    }
    if (size % esize != 0) {
      return FAIL("section table: %s section: size %llu is not a multiple of its entry size %u",
                  kKifSectionName[want], (unsigned long long)size, esize);
    }
    sec[want].offset = off;
    sec[want].size = size;
    sec[want].count = size / esize;
  }
  /* No section overlaps the header, the section table or another section. */
  for (int i = 1; i <= KIF_SECTION_COUNT; i++) {
    if (sec[i].size == 0) continue;
    uint64_t lo = sec[i].offset, hi = sec[i].offset + sec[i].size;
    if (lo < KILN_IMAGE_FORMAT_HEADER_SIZE || (lo < table + table_size && table < hi)) {
      return FAIL("section table: %s section: bytes [%llu, %llu) overlap the header or the "
                  "section table",
                  kKifSectionName[i], (unsigned long long)lo, (unsigned long long)hi);
    }
    for (int j = 1; j < i; j++) {
      if (sec[j].size == 0) continue;
      if (lo < sec[j].offset + sec[j].size && sec[j].offset < hi) {
        return FAIL("section table: %s section overlaps the %s section", kKifSectionName[i],
                    kKifSectionName[j]);
      }
    }
  }
  return NULL;
}

static kiln_error_t *check_info(kiln_image_format_t *v, const section *s, const char *name) {
  if (s->count != 1) {
    return FAIL("info section: %llu bytes, expected %u", (unsigned long long)s->size,
                kKifEntrySize[KIF_SEC_INFO]);
  }
  const uint8_t *e = v->blob + s->offset;
  kiln_error_t *err;
  if ((err = get_string(v, name, "info", 0, "producer", kif_get32(e + KIF_INFO_PRODUCER),
                        &v->producer)) ||
      (err = get_string(v, name, "info", 0, "triple", kif_get32(e + KIF_INFO_TRIPLE),
                        &v->triple)) ||
      (err = get_string(v, name, "info", 0, "name", kif_get32(e + KIF_INFO_NAME), &v->name))) {
    return err;
  }
  uint32_t kind = kif_get32(e + KIF_INFO_KIND);
  if (kind != KILN_IMAGE_FORMAT_KIND_SYSTEM && kind != KILN_IMAGE_FORMAT_KIND_PACKAGE) {
    return FAIL("info section: unknown image kind %u", kind);
  }
  v->kind = (kiln_image_format_kind_t)kind;
  v->base_checksum = kif_get64(e + KIF_INFO_BASE_CHECKSUM);
  if (kind == KILN_IMAGE_FORMAT_KIND_SYSTEM && v->base_checksum != 0) {
    return FAIL("info section: a system image with base checksum 0x%016llx (must be 0)",
                (unsigned long long)v->base_checksum);
  }
  v->pointer_count = kif_get32(e + KIF_INFO_POINTER_COUNT);
  if (kif_get32(e + KIF_INFO_RESERVED) != 0) return FAIL("info section: reserved field not zero");
  return NULL;
}

/* strcmp(a, b) < 0. glibc's vectorized strcmp beats an inline byte loop on
 * names with long common prefixes ("jl_function_00000123"). */
static inline int str_before(const char *a, const char *b) { return strcmp(a, b) < 0; }

/* A symbol table (functions or globals): every name inside the names
 * section; the name index a permutation of the entries along which the
 * names are strictly ascending. rank[i] (count entries, caller-allocated)
 * receives the position of entry i in name order. */
static kiln_error_t *check_named_table(kiln_image_format_t *v, const uint8_t *base, size_t count,
                                       const char *where, const char *name, uint32_t *rank) {
  const uint32_t *entries = (const uint32_t *)(const void *)base; /* aligned, little-endian */
  for (size_t i = 0; i < count; i++) {
    uint32_t off = entries[2 * i + KIF_SYM_NAME / 4];
    if (off >= v->names_size) {
      const char *s;
      return get_name(v, name, where, i, "name", off, &s);
    }
    rank[i] = UINT32_MAX;
  }
  const char *prev = NULL;
  for (size_t j = 0; j < count; j++) {
    uint32_t i = entries[2 * j + KIF_SYM_BY_NAME / 4];
    if (i >= count || rank[i] != UINT32_MAX) {
      return FAIL("%s section: entry %zu: name index %u is %s (the name index must list each of "
                  "the %zu entries once)",
                  where, j, i, i >= count ? "out of range" : "listed twice", count);
    }
    rank[i] = (uint32_t)j;
    const char *s = v->names + entries[2 * i + KIF_SYM_NAME / 4];
    if (prev != NULL && !str_before(prev, s)) {
      return FAIL("%s section: entry %zu: name index %u: '%.80s' is not after '%.80s' (the name "
                  "index must be in strictly ascending name order)",
                  where, j, i, s, prev);
    }
    prev = s;
  }
  return NULL;
}

/* Pointer-array index `p` of a table with `count` entries: absent iff empty,
 * otherwise in range and used by no other table. */
static kiln_error_t *check_pointer(const kiln_image_format_t *v, uint8_t *used, const char *name,
                                   size_t shard, const char *table, uint32_t count, uint32_t p) {
  if (count == 0) {
    if (p != KIF_NO_POINTER) {
      return FAIL("shards section: entry %zu: empty %s table has pointer index %u (must be "
                  "0xffffffff)",
                  shard, table, p);
    }
    return NULL;
  }
  if (p >= v->pointer_count) {
    return FAIL("shards section: entry %zu: %s table pointer index %u out of range (%u "
                "pointers)",
                shard, table, p, v->pointer_count);
  }
  if (used[p]) {
    return FAIL("shards section: entry %zu: %s table pointer index %u used twice", shard, table,
                p);
  }
  used[p] = 1;
  return NULL;
}

/* One index list of a shard: it must start where the previous list ended
 * (lists tile the shard indices section in order), fit, and its entries must
 * be below `limit`, strictly ascending when `ascending`. The loop only
 * accumulates a "bad" flag, so it vectorizes; the entry at fault is looked
 * for again when there is one. This runs before every dlopen. */
static kiln_error_t *check_list(const kiln_image_format_t *v, const char *name, size_t shard,
                                const char *kind, uint32_t count, uint32_t offset, uint64_t *cursor,
                                uint64_t limit, const char *limit_what, int ascending) {
  if (offset != *cursor) {
    return FAIL("shards section: entry %zu: %s list at index %u, expected %llu (lists are "
                "stored back to back)",
                shard, kind, offset, (unsigned long long)*cursor);
  }
  if (count > v->index_count - offset) {
    return FAIL("shards section: entry %zu: %s list [%u, +%u) outside the shard indices "
                "section (%zu entries)",
                shard, kind, offset, count, v->index_count);
  }
  const uint32_t *list = v->indices + offset;
  /* limit < 2^32 (section counts are checked against 32-bit indices), so
   * the compares stay 32-bit wide. */
  const uint32_t lim = (uint32_t)limit;
  uint32_t bad = 0;
  if (count > 0) bad |= list[0] >= lim;
  if (ascending) {
    for (uint32_t i = 1; i < count; i++) bad |= (list[i] >= lim) | (list[i] <= list[i - 1]);
  } else {
    for (uint32_t i = 1; i < count; i++) bad |= list[i] >= lim;
  }
  for (uint32_t i = 0; bad && i < count; i++) {
    if (list[i] >= limit) {
      return FAIL("shards section: entry %zu: %s %u: %u out of range (%llu %s)", shard, kind, i,
                  list[i], (unsigned long long)limit, limit_what);
    }
    if (ascending && i > 0 && list[i] <= list[i - 1]) {
      return FAIL("shards section: entry %zu: %s %u: %u is not after %u (must be strictly "
                  "ascending)",
                  shard, kind, i, list[i], list[i - 1]);
    }
  }
  *cursor += count;
  return NULL;
}

/* Target k's override mask in shard s (nfn functions): ceil(nfn / 32)
 * words at the cursor when the table has entries, none when it is empty;
 * exactly `count` bits set (one per table entry), none at or past nfn. */
static kiln_error_t *check_mask(const kiln_image_format_t *v, const char *name, size_t shard,
                                size_t k, uint32_t count, uint32_t offset, uint64_t *cursor,
                                uint32_t nfn) {
  if (offset != *cursor) {
    return FAIL("shards section: entry %zu: target %zu override mask at index %u, expected %llu "
                "(lists are stored back to back)",
                shard, k, offset, (unsigned long long)*cursor);
  }
  if (count > nfn) {
    return FAIL("shards section: entry %zu: target %zu overrides %u functions, the shard has %u",
                shard, k, count, nfn);
  }
  uint32_t words = count == 0 ? 0 : (uint32_t)(((uint64_t)nfn + 31) / 32);
  if (words > v->index_count - offset) {
    return FAIL("shards section: entry %zu: target %zu override mask [%u, +%u) outside the shard "
                "indices section (%zu entries)",
                shard, k, offset, words, v->index_count);
  }
  const uint32_t *mask = v->indices + offset;
  uint32_t bits = 0;
  for (uint32_t w = 0; w < words; w++) bits += (uint32_t)__builtin_popcount(mask[w]);
  if (words > 0 && nfn % 32 != 0 && (mask[words - 1] >> (nfn % 32)) != 0) {
    return FAIL("shards section: entry %zu: target %zu override mask has a bit past the shard's "
                "%u functions",
                shard, k, nfn);
  }
  if (bits != count) {
    return FAIL("shards section: entry %zu: target %zu override mask has %u bits set, its table "
                "%u entries",
                shard, k, bits, count);
  }
  *cursor += words;
  return NULL;
}

/* A shard's range of functions or globals: it starts where the previous
 * shard's ended (`first` equals the counts before it added up, so the
 * ranges tile the table in shard order and each entry is in exactly one
 * shard) and fits in the table. */
static kiln_error_t *check_range(const char *name, size_t shard, const char *kind,
                                 uint32_t count, uint32_t first, uint64_t *next, size_t total) {
  if (first != *next) {
    return FAIL("shards section: entry %zu: first %s %u, expected %llu (the shards number the "
                "%ss in order)",
                shard, kind, first, (unsigned long long)*next, kind);
  }
  if (count > total - *next) {
    return FAIL("shards section: entry %zu: %ss [%u, +%u) past the %zu %ss of the table", shard,
                kind, first, count, total, kind);
  }
  *next += count;
  return NULL;
}

static kiln_error_t *check_shards(kiln_image_format_t *v, const section *stb, const char *name) {
  uint64_t tables = (uint64_t)v->shard_count * v->target_count;
  if (stb->count != tables) {
    return FAIL("shard tables section: %llu entries, expected %zu shards x %zu targets",
                (unsigned long long)stb->count, v->shard_count, v->target_count);
  }
  /* At most one pointer per table: bounds the bitmap below by the blob. */
  uint64_t max_pointers = (uint64_t)v->shard_count * (v->target_count + 2);
  if (v->pointer_count > max_pointers) {
    return FAIL("info section: pointer count %u exceeds the %llu per-shard tables", v->pointer_count,
                (unsigned long long)max_pointers);
  }
  kiln_error_t *err = NULL;
  uint8_t *used_ptr = calloc((size_t)v->pointer_count + 1, 1);
  if (used_ptr == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: image metadata: out of memory", name);
  }
  uint64_t cursor = 0, next_fn = 0, next_gl = 0;
  for (size_t s = 0; s < v->shard_count && err == NULL; s++) {
    const uint8_t *e = v->shards + s * kKifEntrySize[KIF_SEC_SHARDS];
    const uint8_t *t0 = v->shard_tables + s * v->target_count * kKifEntrySize[KIF_SEC_SHARD_TABLES];
    uint32_t nfn = kif_get32(t0 + KIF_STB_COUNT);
    for (size_t k = 0; k < v->target_count && err == NULL; k++) {
      const uint8_t *t = t0 + k * kKifEntrySize[KIF_SEC_SHARD_TABLES];
      uint32_t count = kif_get32(t + KIF_STB_COUNT), offset = kif_get32(t + KIF_STB_OFFSET);
      if (k == 0) {
        err = check_range(name, s, "function", count, offset, &next_fn, v->function_count);
      } else {
        err = check_mask(v, name, s, k, count, offset, &cursor, nfn);
      }
      if (err == NULL && kif_get32(t + KIF_STB_RESERVED) != 0) {
        err = FAIL("shards section: entry %zu: target %zu table: reserved field not zero", s, k);
      }
      if (err == NULL) {
        uint32_t p = kif_get32(t + KIF_STB_POINTER);
        if (count == 0 ? p != KIF_NO_POINTER : p >= v->pointer_count || used_ptr[p]) {
          char what[48];
          snprintf(what, sizeof(what), "target %zu function", k);
          err = check_pointer(v, used_ptr, name, s, what, count, p);
        } else if (count != 0) {
          used_ptr[p] = 1;
        }
      }
    }
    if (err != NULL) break;
    uint32_t nslot = kif_get32(e + KIF_SHD_SLOT_COUNT), ngl = kif_get32(e + KIF_SHD_GLOBAL_COUNT);
    err = check_list(v, name, s, "slot", nslot, kif_get32(e + KIF_SHD_SLOT_OFFSET),
                     &cursor, v->function_count, "functions", 0);
    if (err == NULL) {
      err = check_range(name, s, "global", ngl, kif_get32(e + KIF_SHD_GLOBAL_FIRST), &next_gl,
                        v->global_count);
    }
    if (err == NULL) {
      err = check_pointer(v, used_ptr, name, s, "slots", nslot, kif_get32(e + KIF_SHD_SLOTS_POINTER));
    }
    if (err == NULL) {
      err = check_pointer(v, used_ptr, name, s, "globals", ngl,
                          kif_get32(e + KIF_SHD_GLOBALS_POINTER));
    }
  }
  if (err != NULL) goto out;
  if (cursor != v->index_count) {
    err = FAIL("shard indices section: %zu entries, but the shards use %llu", v->index_count,
               (unsigned long long)cursor);
    goto out;
  }
  /* Names are in the directory, which this check does not need: the
   * messages give indices only. */
  if (next_fn != v->function_count) {
    err = FAIL("functions section: %zu entries, but the shards hold %llu (function %llu is in no "
               "shard)",
               v->function_count, (unsigned long long)next_fn, (unsigned long long)next_fn);
    goto out;
  }
  if (next_gl != v->global_count) {
    err = FAIL("globals section: %zu entries, but the shards hold %llu (global %llu is in no "
               "shard)",
               v->global_count, (unsigned long long)next_gl, (unsigned long long)next_gl);
    goto out;
  }
  if (memchr(used_ptr, 0, v->pointer_count) != NULL) {
    size_t p = (size_t)((const uint8_t *)memchr(used_ptr, 0, v->pointer_count) - used_ptr);
    err = FAIL("info section: pointer array entry %zu is used by no table", p);
    goto out;
  }
out:
  free(used_ptr);
  return err;
}

/* fn_rank: each function's position in name order (check_named_table). */
static kiln_error_t *check_methods(kiln_image_format_t *v, const char *name,
                                   const uint32_t *fn_rank) {
  uint64_t call_cursor = 0, dep_cursor = 0, bc_cursor = 0;
  const char *prev = NULL;
  /* The previous method's function when its key is that function's name
   * string, else SIZE_MAX. */
  size_t prev_named_fn = SIZE_MAX;
  const uint32_t *fn_entries = (const uint32_t *)(const void *)v->functions;
  kiln_error_t *err;
  for (size_t m = 0; m < v->method_count; m++) {
    const uint8_t *e = v->methods + m * kKifEntrySize[KIF_SEC_METHODS];
    uint32_t key_off = kif_get32(e + KIF_MTH_KEY);
    uint32_t f = kif_get32(e + KIF_MTH_FUNCTION);
    if (f >= v->function_count) {
      return FAIL("methods section: entry %zu: function index %u out of range (%zu functions)", m,
                  f, v->function_count);
    }
    const char *key;
    if ((err = get_name(v, name, "methods", m, "key", key_off, &key))) return err;
    /* Keys strictly ascending. When this key and the previous one are the
     * name strings of their functions, the functions' places in name order
     * decide (the name index was checked above), without reading the
     * strings. */
    size_t named_fn = key_off == fn_entries[2 * (size_t)f + KIF_SYM_NAME / 4] ? f : SIZE_MAX;
    if (prev != NULL && !(named_fn != SIZE_MAX && prev_named_fn != SIZE_MAX
                              ? fn_rank[named_fn] > fn_rank[prev_named_fn]
                              : str_before(prev, key))) {
      return check_sorted(name, "methods", m, "key", prev, key);
    }
    prev = key;
    prev_named_fn = named_fn;
    uint32_t flags = kif_get32(e + KIF_MTH_FLAGS);
    if (flags & ~(uint32_t)KIF_KNOWN_METHOD_FLAGS) {
      return FAIL("methods section: entry %zu: unknown flags 0x%x", m, flags);
    }
    if (kif_get32(e + KIF_MTH_RESERVED) != 0) {
      return FAIL("methods section: entry %zu: reserved field not zero", m);
    }
    /* Calls. */
    uint32_t nc = kif_get32(e + KIF_MTH_CALL_COUNT), oc = kif_get32(e + KIF_MTH_CALL_OFFSET);
    if (oc != call_cursor || nc > v->call_count - oc) {
      return FAIL("methods section: entry %zu: calls [%u, +%u) are not the next %u entries of "
                  "the calls section (%zu entries, next is %llu)",
                  m, oc, nc, nc, v->call_count, (unsigned long long)call_cursor);
    }
    for (uint32_t i = 0; i < nc; i++) {
      uint32_t c = v->calls[oc + i];
      if (c >= v->method_count) {
        return FAIL("methods section: entry %zu: call %u: method %u out of range (%zu methods)", m,
                    i, c, v->method_count);
      }
      if (i > 0 && c <= v->calls[oc + i - 1]) {
        return FAIL("methods section: entry %zu: call %u: method %u is not after %u (must be "
                    "strictly ascending)",
                    m, i, c, v->calls[oc + i - 1]);
      }
    }
    call_cursor += nc;
    /* Deps. */
    uint32_t nd = kif_get32(e + KIF_MTH_DEP_COUNT), od = kif_get32(e + KIF_MTH_DEP_OFFSET);
    if (od != dep_cursor || nd > v->dep_count - od) {
      return FAIL("methods section: entry %zu: deps [%u, +%u) are not the next %u entries of "
                  "the deps section (%zu entries, next is %llu)",
                  m, od, nd, nd, v->dep_count, (unsigned long long)dep_cursor);
    }
    const char *prev_dep = NULL;
    for (uint32_t i = 0; i < nd; i++) {
      const uint8_t *d = v->deps + (size_t)(od + i) * kKifEntrySize[KIF_SEC_DEPS];
      const char *dk;
      if ((err = get_name(v, name, "deps", od + i, "key", kif_get32(d + KIF_DEP_KEY), &dk)) ||
          (err = check_sorted(name, "deps", od + i, "key", prev_dep, dk))) {
        return err;
      }
      if (kif_get32(d + KIF_DEP_RESERVED) != 0) {
        return FAIL("deps section: entry %u: reserved field not zero", od + i);
      }
      prev_dep = dk;
    }
    dep_cursor += nd;
    /* Bitcode. */
    uint64_t bo = kif_get64(e + KIF_MTH_BITCODE_OFFSET), bs = kif_get64(e + KIF_MTH_BITCODE_SIZE);
    if (bs == 0) {
      if (bo != 0) return FAIL("methods section: entry %zu: no bitcode but offset %llu", m,
                               (unsigned long long)bo);
    } else {
      if (bo != bc_cursor || bo > v->bitcode_size || bs > v->bitcode_size - bo) {
        return FAIL("methods section: entry %zu: bitcode [%llu, +%llu) is not the next payload "
                    "of the bitcode section (%llu bytes, next at %llu)",
                    m, (unsigned long long)bo, (unsigned long long)bs,
                    (unsigned long long)v->bitcode_size, (unsigned long long)bc_cursor);
      }
      bc_cursor = kif_align8(bo + bs);
    }
  }
  if (call_cursor != v->call_count) {
    return FAIL("calls section: %zu entries, but the methods use %llu", v->call_count,
                (unsigned long long)call_cursor);
  }
  if (dep_cursor != v->dep_count) {
    return FAIL("deps section: %zu entries, but the methods use %llu", v->dep_count,
                (unsigned long long)dep_cursor);
  }
  if (bc_cursor != v->bitcode_size) {
    return FAIL("bitcode section: %llu bytes, but the methods use %llu",
                (unsigned long long)v->bitcode_size, (unsigned long long)bc_cursor);
  }
  return NULL;
}

/* A string section: 1 to 2^32-1 bytes ending in NUL. */
static kiln_error_t *check_text(const uint8_t *b, const section *s, const char *what,
                                const char *name, const char **text_out, uint64_t *size_out) {
  *text_out = (const char *)(b + s->offset);
  *size_out = s->size;
  if (s->size == 0 || (*text_out)[s->size - 1] != '\0' || s->size > UINT32_MAX) {
    return FAIL("%s section: must be 1 to 2^32-1 bytes ending in NUL (%llu bytes)", what,
                (unsigned long long)s->size);
  }
  return NULL;
}

/* The load part: everything loading needs. Function and global counts come
 * from the section table; their names are in the directory. */
static kiln_error_t *check_load(kiln_image_format_t *v, const section *sec, const char *name) {
  const uint8_t *b = v->blob;
  kiln_error_t *err =
      check_text(b, &sec[KIF_SEC_STRINGS], "strings", name, &v->strings, &v->strings_size);
  if (err != NULL) return err;
  if ((err = check_info(v, &sec[KIF_SEC_INFO], name)) != NULL) return err;

  v->options = b + sec[KIF_SEC_OPTIONS].offset;
  v->option_count = (size_t)sec[KIF_SEC_OPTIONS].count;
  const char *prev = NULL;
  for (size_t i = 0; i < v->option_count; i++) {
    const uint8_t *e = v->options + i * 8;
    const char *key, *value;
    if ((err = get_string(v, name, "options", i, "key", kif_get32(e + KIF_OPT_KEY), &key)) ||
        (err = get_string(v, name, "options", i, "value", kif_get32(e + KIF_OPT_VALUE), &value)) ||
        (err = check_sorted(name, "options", i, "key", prev, key))) {
      return err;
    }
    prev = key;
  }

  v->targets = b + sec[KIF_SEC_TARGETS].offset;
  v->target_count = (size_t)sec[KIF_SEC_TARGETS].count;
  if (v->target_count == 0) return FAIL("targets section: no targets (at least one is required)");
  for (size_t k = 0; k < v->target_count; k++) {
    const uint8_t *e = v->targets + k * 16;
    const char *s;
    if ((err = get_string(v, name, "targets", k, "cpu", kif_get32(e + KIF_TGT_CPU), &s)) ||
        (err = get_string(v, name, "targets", k, "features", kif_get32(e + KIF_TGT_FEATURES), &s))) {
      return err;
    }
    uint32_t base = kif_get32(e + KIF_TGT_BASE);
    if (base > k) {
      return FAIL("targets section: entry %zu: base target %u is not an earlier target", k, base);
    }
  }

  v->function_count = (size_t)sec[KIF_SEC_FUNCTIONS].count;
  v->global_count = (size_t)sec[KIF_SEC_GLOBALS].count;
  v->shards = b + sec[KIF_SEC_SHARDS].offset;
  v->shard_count = (size_t)sec[KIF_SEC_SHARDS].count;
  v->shard_tables = b + sec[KIF_SEC_SHARD_TABLES].offset;
  v->indices = (const uint32_t *)(const void *)(b + sec[KIF_SEC_SHARD_INDICES].offset);
  v->index_count = (size_t)sec[KIF_SEC_SHARD_INDICES].count;
  return check_shards(v, &sec[KIF_SEC_SHARD_TABLES], name);
}

/* The directory: names, the function and global name tables, methods. */
static kiln_error_t *check_directory(kiln_image_format_t *v, const section *sec,
                                     const char *name) {
  const uint8_t *b = v->blob;
  kiln_error_t *err = check_text(b, &sec[KIF_SEC_NAMES], "names", name, &v->names, &v->names_size);
  if (err != NULL) return err;
  /* One rank array serves both tables: the functions' ranks are kept for
   * the method check, the globals' are only checked. */
  uint32_t *rank = malloc((v->function_count + v->global_count + 1) * sizeof(uint32_t));
  if (rank == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: image metadata: out of memory", name);
  }
  v->functions = b + sec[KIF_SEC_FUNCTIONS].offset;
  v->globals = b + sec[KIF_SEC_GLOBALS].offset;
  if ((err = check_named_table(v, v->functions, v->function_count, "functions", name, rank)) ||
      (err = check_named_table(v, v->globals, v->global_count, "globals", name,
                               rank + v->function_count))) {
    free(rank);
    return err;
  }
  v->methods = b + sec[KIF_SEC_METHODS].offset;
  v->method_count = (size_t)sec[KIF_SEC_METHODS].count;
  v->calls = (const uint32_t *)(const void *)(b + sec[KIF_SEC_CALLS].offset);
  v->call_count = (size_t)sec[KIF_SEC_CALLS].count;
  v->deps = b + sec[KIF_SEC_DEPS].offset;
  v->dep_count = (size_t)sec[KIF_SEC_DEPS].count;
  v->bitcode = b + sec[KIF_SEC_BITCODE].offset;
  v->bitcode_size = sec[KIF_SEC_BITCODE].size;
  err = check_methods(v, name, rank);
  free(rank);
  return err;
}

static kiln_error_t *check_structure(kiln_image_format_t *v, int directory, const char *name) {
  section sec[KIF_SECTION_COUNT + 1];
  memset(sec, 0, sizeof(sec));
  kiln_error_t *err = check_section_table(v->blob, v->size, v->load_size, name, sec);
  if (err != NULL) return err;
  /* Sizes are inside a blob that is in memory, so counts fit size_t; the
   * 32-bit index fields are checked against them below. */
  for (int i = 1; i <= KIF_SECTION_COUNT; i++) {
    if (kKifEntrySize[i] != 1 && sec[i].count >= KIF_NO_POINTER) {
      return FAIL("%s section: %llu entries, more than 32-bit indices can address",
                  kKifSectionName[i], (unsigned long long)sec[i].count);
    }
  }
  if ((err = check_load(v, sec, name)) != NULL) return err;
  if (!directory) return NULL;
  if ((err = check_directory(v, sec, name)) != NULL) return err;
  v->directory = true;
  return NULL;
}

static kiln_error_t *check_checksum(const char *name, const char *what, uint64_t stored,
                                    uint64_t computed) {
  if (computed == stored) return NULL;
  return FAIL("%schecksum mismatch (stored 0x%016llx, computed 0x%016llx)", what,
              (unsigned long long)stored, (unsigned long long)computed);
}

kiln_error_t *kif_open(const void *data, size_t size, const char *name, int verify_checksum,
                       int directory, kiln_image_format_t **image_out) {
  if (image_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "image_format_open: image_out is NULL");
  }
  *image_out = NULL;
  if (name == NULL) name = "<image>";
  if (data == NULL && size > 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: image metadata: data is NULL", name);
  }
  uint64_t total, stored;
  kiln_error_t *err = check_header(data, size, name, &total, &stored);
  if (err != NULL) return err;
  uint64_t load_size;
  if ((err = check_load_size(data, total, name, &load_size)) != NULL) return err;
  /* A load view needs only the load part in the buffer. */
  uint64_t need = directory ? total : load_size;
  if (need > size) {
    return FAIL("truncated: header says %llu bytes%s, buffer has %zu", (unsigned long long)need,
                directory ? "" : " of load part", size);
  }
  kiln_image_format_t *v = calloc(1, sizeof(*v));
  if (v == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  v->blob = data;
  v->size = total;
  v->load_size = load_size;
  v->checksum = stored;
  if ((uintptr_t)data % 8 != 0) {
    /* The accessors return uint32_t arrays into the blob: keep them aligned. */
    v->owned = malloc((size_t)need);
    if (v->owned == NULL) {
      free(v);
      return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    memcpy(v->owned, data, (size_t)need);
    v->blob = v->owned;
  }
  if (verify_checksum) {
    /* The blob checksum covers everything, so a full open checks it first;
     * the load checksum then only fails for a forged or miswritten field. */
    if (directory) err = check_checksum(name, "", stored, kif_checksum(v->blob, total));
    if (err == NULL) {
      err = check_checksum(name, "load part ", kif_get64(v->blob + KIF_H_LOAD_CHECKSUM),
                           kif_load_checksum(v->blob, load_size));
    }
  }
  if (err == NULL) err = check_structure(v, directory, name);
  if (err != NULL) {
    kiln_image_format_close(v);
    return err;
  }
  *image_out = v;
  return NULL;
}

kiln_error_t *kiln_image_format_open(const void *data, size_t size, const char *name,
                                     kiln_image_format_t **image_out) {
  return kif_open(data, size, name, 1, 1, image_out);
}

kiln_error_t *kiln_image_format_open_load(const void *data, size_t size, const char *name,
                                          kiln_image_format_t **image_out) {
  return kif_open(data, size, name, 1, 0, image_out);
}

kiln_error_t *kiln_image_format_peek_counts(const void *data, size_t size, const char *name,
                                            size_t *functions_out, size_t *globals_out) {
  if (functions_out != NULL) *functions_out = 0;
  if (globals_out != NULL) *globals_out = 0;
  if (name == NULL) name = "<image>";
  uint64_t load_size = 0;
  kiln_error_t *err = kiln_image_format_peek_load_size(data, size, name, &load_size);
  if (err != NULL) return err;
  if (functions_out == NULL || globals_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: image metadata: NULL output", name);
  }
  const uint8_t *b = data;
  uint64_t table = kif_get64(b + KIF_H_SECTION_TABLE);
  uint64_t table_size = (uint64_t)KIF_SECTION_COUNT * KIF_SECTION_ENTRY_SIZE;
  if (kif_get32(b + KIF_H_SECTION_COUNT) != KIF_SECTION_COUNT || table % 8 != 0 ||
      table < KILN_IMAGE_FORMAT_HEADER_SIZE || table > size || size - table < table_size) {
    return FAIL("header: section table at offset %llu is not inside the first %zu bytes",
                (unsigned long long)table, size);
  }
  uint64_t counts[2] = {0, 0};
  const int ids[2] = {KIF_SEC_FUNCTIONS, KIF_SEC_GLOBALS};
  for (int i = 0; i < 2; i++) {
    const uint8_t *e = b + table + (uint64_t)(ids[i] - 1) * KIF_SECTION_ENTRY_SIZE;
    if (kif_get32(e) != (uint32_t)ids[i] || kif_get32(e + 4) != kKifEntrySize[ids[i]]) {
      return FAIL("section table: entry %d is not the %s section", ids[i] - 1,
                  kKifSectionName[ids[i]]);
    }
    counts[i] = kif_get64(e + 16) / kKifEntrySize[ids[i]];
  }
  *functions_out = (size_t)counts[0];
  *globals_out = (size_t)counts[1];
  return NULL;
}

kiln_error_t *kiln_image_format_peek_load_size(const void *data, size_t size, const char *name,
                                               uint64_t *load_size_out) {
  if (load_size_out != NULL) *load_size_out = 0;
  uint64_t total = 0, checksum = 0;
  kiln_error_t *err = kiln_image_format_peek(data, size, name, &total, &checksum);
  if (err == NULL && load_size_out == NULL) {
    err = kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: image metadata: NULL output",
                         name != NULL ? name : "<image>");
  }
  if (err != NULL) return err;
  uint64_t load_size;
  err = check_load_size(data, total, name != NULL ? name : "<image>", &load_size);
  if (err == NULL) *load_size_out = load_size;
  return err;
}

bool kiln_image_format_has_directory(const kiln_image_format_t *v) {
  return v != NULL && v->directory;
}

uint64_t kiln_image_format_load_size(const kiln_image_format_t *v) { return v ? v->load_size : 0; }

void kiln_image_format_close(kiln_image_format_t *image) {
  if (image == NULL) return;
  free(image->owned);
  free(image);
}

/* ---- Accessors ----------------------------------------------------------- */

uint32_t kiln_image_format_version(const kiln_image_format_t *v) {
  return v ? KILN_IMAGE_FORMAT_VERSION : 0;
}
uint64_t kiln_image_format_size(const kiln_image_format_t *v) { return v ? v->size : 0; }
uint64_t kiln_image_format_checksum(const kiln_image_format_t *v) { return v ? v->checksum : 0; }
const char *kiln_image_format_producer(const kiln_image_format_t *v) {
  return v ? v->producer : NULL;
}
const char *kiln_image_format_triple(const kiln_image_format_t *v) { return v ? v->triple : NULL; }
const char *kiln_image_format_name(const kiln_image_format_t *v) { return v ? v->name : NULL; }
kiln_image_format_kind_t kiln_image_format_kind(const kiln_image_format_t *v) {
  return v ? v->kind : KILN_IMAGE_FORMAT_KIND_SYSTEM;
}
uint64_t kiln_image_format_base_checksum(const kiln_image_format_t *v) {
  return v ? v->base_checksum : 0;
}

static const char *str(const kiln_image_format_t *v, const uint8_t *field) {
  return v->strings + kif_get32(field);
}

/* Directory text; only called on a full view (the directory's accessors
 * see no entries in a load view: its counts and pointers are 0/NULL). */
static const char *name_str(const kiln_image_format_t *v, const uint8_t *field) {
  return v->names + kif_get32(field);
}

size_t kiln_image_format_option_count(const kiln_image_format_t *v) {
  return v ? v->option_count : 0;
}
const char *kiln_image_format_option_key(const kiln_image_format_t *v, size_t i) {
  if (v == NULL || i >= v->option_count) return NULL;
  return str(v, v->options + i * 8 + KIF_OPT_KEY);
}
const char *kiln_image_format_option_value(const kiln_image_format_t *v, size_t i) {
  if (v == NULL || i >= v->option_count) return NULL;
  return str(v, v->options + i * 8 + KIF_OPT_VALUE);
}

/* Binary search over `count` entries of `stride` bytes whose string field
 * at `field` (an offset into `text`) is strictly ascending. */
static size_t find_sorted(const char *text, const uint8_t *base, size_t count, size_t stride,
                          size_t field, const char *key) {
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(text + kif_get32(base + mid * stride + field), key);
    if (c == 0) return mid;
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return SIZE_MAX;
}

const char *kiln_image_format_option_find(const kiln_image_format_t *v, const char *key) {
  if (v == NULL || key == NULL) return NULL;
  size_t i = find_sorted(v->strings, v->options, v->option_count, 8, KIF_OPT_KEY, key);
  return i == SIZE_MAX ? NULL : kiln_image_format_option_value(v, i);
}

size_t kiln_image_format_target_count(const kiln_image_format_t *v) {
  return v ? v->target_count : 0;
}
const char *kiln_image_format_target_cpu(const kiln_image_format_t *v, size_t k) {
  if (v == NULL || k >= v->target_count) return NULL;
  return str(v, v->targets + k * 16 + KIF_TGT_CPU);
}
const char *kiln_image_format_target_features(const kiln_image_format_t *v, size_t k) {
  if (v == NULL || k >= v->target_count) return NULL;
  return str(v, v->targets + k * 16 + KIF_TGT_FEATURES);
}
uint32_t kiln_image_format_target_flags(const kiln_image_format_t *v, size_t k) {
  if (v == NULL || k >= v->target_count) return 0;
  return kif_get32(v->targets + k * 16 + KIF_TGT_FLAGS);
}
uint32_t kiln_image_format_target_base(const kiln_image_format_t *v, size_t k) {
  if (v == NULL || k >= v->target_count) return 0;
  return kif_get32(v->targets + k * 16 + KIF_TGT_BASE);
}

size_t kiln_image_format_function_count(const kiln_image_format_t *v) {
  return v ? v->function_count : 0;
}
const char *kiln_image_format_function_name(const kiln_image_format_t *v, size_t i) {
  if (v == NULL || !v->directory || i >= v->function_count) return NULL;
  return name_str(v, v->functions + i * 8 + KIF_SYM_NAME);
}
size_t kiln_image_format_function_by_name(const kiln_image_format_t *v, size_t j) {
  if (v == NULL || !v->directory || j >= v->function_count) return SIZE_MAX;
  return kif_get32(v->functions + j * 8 + KIF_SYM_BY_NAME);
}

/* Binary search over a symbol table's name index (entry j's BY_NAME field
 * is the index of the j-th name). */
static size_t find_by_name(const char *text, const uint8_t *base, size_t count, const char *key) {
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint32_t i = kif_get32(base + mid * 8 + KIF_SYM_BY_NAME);
    int c = strcmp(text + kif_get32(base + (size_t)i * 8 + KIF_SYM_NAME), key);
    if (c == 0) return i;
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return SIZE_MAX;
}

/* Finds `key` in a symbol table (stride 0: through its name index) or in
 * the methods (sorted by key, `stride` bytes per entry). */
static kiln_error_t *find_named(const kiln_image_format_t *v, const uint8_t *base, size_t count,
                                size_t stride, const char *what, const char *key,
                                size_t *index_out) {
  if (index_out != NULL) *index_out = SIZE_MAX;
  if (v == NULL || key == NULL || index_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "image metadata: %s lookup: NULL argument",
                          what);
  }
  if (!v->directory) {
    return kiln_error_new(KILN_ERR_UNSUPPORTED,
                          "image '%s': no %s lookup in a view without the directory "
                          "(kiln_image_format_open_load)",
                          v->name, what);
  }
  size_t i = stride == 0 ? find_by_name(v->names, base, count, key)
                         : find_sorted(v->names, base, count, stride, 0, key);
  if (i == SIZE_MAX) {
    return kiln_error_new(KILN_ERR_NOT_FOUND, "image '%s': no %s '%s'", v->name, what, key);
  }
  *index_out = i;
  return NULL;
}

kiln_error_t *kiln_image_format_function_find(const kiln_image_format_t *v, const char *name,
                                              size_t *index_out) {
  return find_named(v, v ? v->functions : NULL, v ? v->function_count : 0, 0, "function", name,
                    index_out);
}
size_t kiln_image_format_global_count(const kiln_image_format_t *v) {
  return v ? v->global_count : 0;
}
const char *kiln_image_format_global_name(const kiln_image_format_t *v, size_t i) {
  if (v == NULL || !v->directory || i >= v->global_count) return NULL;
  return name_str(v, v->globals + i * 8 + KIF_SYM_NAME);
}
size_t kiln_image_format_global_by_name(const kiln_image_format_t *v, size_t j) {
  if (v == NULL || !v->directory || j >= v->global_count) return SIZE_MAX;
  return kif_get32(v->globals + j * 8 + KIF_SYM_BY_NAME);
}
kiln_error_t *kiln_image_format_global_find(const kiln_image_format_t *v, const char *name,
                                            size_t *index_out) {
  return find_named(v, v ? v->globals : NULL, v ? v->global_count : 0, 0, "global", name,
                    index_out);
}

size_t kiln_image_format_shard_count(const kiln_image_format_t *v) {
  return v ? v->shard_count : 0;
}

static const uint32_t *list(const kiln_image_format_t *v, uint32_t count, uint32_t offset,
                            size_t *count_out) {
  if (count_out != NULL) *count_out = count;
  return count == 0 ? NULL : v->indices + offset;
}

static const uint8_t *shard_table(const kiln_image_format_t *v, size_t s, size_t k) {
  return v->shard_tables + (s * v->target_count + k) * 16;
}

size_t kiln_image_format_shard_first_function(const kiln_image_format_t *v, size_t s,
                                              size_t *count_out) {
  if (count_out != NULL) *count_out = 0;
  if (v == NULL || s >= v->shard_count) return 0;
  const uint8_t *t = shard_table(v, s, 0);
  if (count_out != NULL) *count_out = kif_get32(t + KIF_STB_COUNT);
  return kif_get32(t + KIF_STB_OFFSET);
}
const uint32_t *kiln_image_format_shard_override_mask(const kiln_image_format_t *v, size_t s,
                                                     size_t k, size_t *count_out) {
  if (count_out != NULL) *count_out = 0;
  if (v == NULL || s >= v->shard_count || k == 0 || k >= v->target_count) return NULL;
  const uint8_t *t = shard_table(v, s, k);
  return list(v, kif_get32(t + KIF_STB_COUNT), kif_get32(t + KIF_STB_OFFSET), count_out);
}
size_t kiln_image_format_shard_override_positions(const kiln_image_format_t *v, size_t s,
                                                  size_t k, uint32_t *out, size_t capacity) {
  size_t count = 0, n = 0, written = 0;
  const uint32_t *mask = kiln_image_format_shard_override_mask(v, s, k, &count);
  (void)kiln_image_format_shard_first_function(v, s, &n);
  for (size_t w = 0; mask != NULL && w < (n + 31) / 32; w++) {
    for (uint32_t bits = mask[w]; bits != 0; bits &= bits - 1) {
      if (written < capacity && out != NULL) {
        out[written] = (uint32_t)(w * 32 + (size_t)__builtin_ctz(bits));
      }
      written++;
    }
  }
  return count;
}
const uint32_t *kiln_image_format_shard_slots(const kiln_image_format_t *v, size_t s,
                                              size_t *count_out) {
  if (count_out != NULL) *count_out = 0;
  if (v == NULL || s >= v->shard_count) return NULL;
  const uint8_t *e = v->shards + s * 24;
  return list(v, kif_get32(e + KIF_SHD_SLOT_COUNT), kif_get32(e + KIF_SHD_SLOT_OFFSET),
              count_out);
}
size_t kiln_image_format_shard_first_global(const kiln_image_format_t *v, size_t s,
                                            size_t *count_out) {
  if (count_out != NULL) *count_out = 0;
  if (v == NULL || s >= v->shard_count) return 0;
  const uint8_t *e = v->shards + s * 24;
  if (count_out != NULL) *count_out = kif_get32(e + KIF_SHD_GLOBAL_COUNT);
  return kif_get32(e + KIF_SHD_GLOBAL_FIRST);
}
size_t kiln_image_format_shard_pointer(const kiln_image_format_t *v, size_t s,
                                       kiln_image_format_table_kind_t kind, size_t target) {
  if (v == NULL || s >= v->shard_count) return SIZE_MAX;
  uint32_t p = KIF_NO_POINTER;
  switch (kind) {
    case KILN_IMAGE_FORMAT_TABLE_FUNCTIONS:
      if (target < v->target_count) p = kif_get32(shard_table(v, s, target) + KIF_STB_POINTER);
      break;
    case KILN_IMAGE_FORMAT_TABLE_SLOTS:
      p = kif_get32(v->shards + s * 24 + KIF_SHD_SLOTS_POINTER);
      break;
    case KILN_IMAGE_FORMAT_TABLE_GLOBALS:
      p = kif_get32(v->shards + s * 24 + KIF_SHD_GLOBALS_POINTER);
      break;
  }
  return p == KIF_NO_POINTER ? SIZE_MAX : (size_t)p;
}
size_t kiln_image_format_pointer_count(const kiln_image_format_t *v) {
  return v ? v->pointer_count : 0;
}
uint64_t kiln_image_format_pointer_offset(const kiln_image_format_t *v) {
  return v ? kif_align8(v->size) : 0;
}

size_t kiln_image_format_method_count(const kiln_image_format_t *v) {
  return v ? v->method_count : 0;
}
static const uint8_t *method(const kiln_image_format_t *v, size_t m) {
  return (v == NULL || m >= v->method_count) ? NULL : v->methods + m * 56;
}
const char *kiln_image_format_method_key(const kiln_image_format_t *v, size_t m) {
  const uint8_t *e = method(v, m);
  return e ? name_str(v, e + KIF_MTH_KEY) : NULL;
}
kiln_error_t *kiln_image_format_method_find(const kiln_image_format_t *v, const char *key,
                                            size_t *index_out) {
  return find_named(v, v ? v->methods : NULL, v ? v->method_count : 0, 56, "method", key,
                    index_out);
}
uint32_t kiln_image_format_method_function(const kiln_image_format_t *v, size_t m) {
  const uint8_t *e = method(v, m);
  return e ? kif_get32(e + KIF_MTH_FUNCTION) : 0;
}
uint32_t kiln_image_format_method_flags(const kiln_image_format_t *v, size_t m) {
  const uint8_t *e = method(v, m);
  return e ? kif_get32(e + KIF_MTH_FLAGS) : 0;
}
uint64_t kiln_image_format_method_fingerprint(const kiln_image_format_t *v, size_t m) {
  const uint8_t *e = method(v, m);
  return e ? kif_get64(e + KIF_MTH_FINGERPRINT) : 0;
}
const uint32_t *kiln_image_format_method_calls(const kiln_image_format_t *v, size_t m,
                                               size_t *count_out) {
  if (count_out != NULL) *count_out = 0;
  const uint8_t *e = method(v, m);
  if (e == NULL) return NULL;
  uint32_t n = kif_get32(e + KIF_MTH_CALL_COUNT);
  if (count_out != NULL) *count_out = n;
  return n == 0 ? NULL : v->calls + kif_get32(e + KIF_MTH_CALL_OFFSET);
}
size_t kiln_image_format_method_dep_count(const kiln_image_format_t *v, size_t m) {
  const uint8_t *e = method(v, m);
  return e ? kif_get32(e + KIF_MTH_DEP_COUNT) : 0;
}
static const uint8_t *dep(const kiln_image_format_t *v, size_t m, size_t d) {
  const uint8_t *e = method(v, m);
  if (e == NULL || d >= kif_get32(e + KIF_MTH_DEP_COUNT)) return NULL;
  return v->deps + (kif_get32(e + KIF_MTH_DEP_OFFSET) + d) * 16;
}
const char *kiln_image_format_method_dep_key(const kiln_image_format_t *v, size_t m, size_t d) {
  const uint8_t *e = dep(v, m, d);
  return e ? name_str(v, e + KIF_DEP_KEY) : NULL;
}
uint64_t kiln_image_format_method_dep_fingerprint(const kiln_image_format_t *v, size_t m,
                                                  size_t d) {
  const uint8_t *e = dep(v, m, d);
  return e ? kif_get64(e + KIF_DEP_FINGERPRINT) : 0;
}
const void *kiln_image_format_method_bitcode(const kiln_image_format_t *v, size_t m,
                                             size_t *size_out) {
  if (size_out != NULL) *size_out = 0;
  const uint8_t *e = method(v, m);
  if (e == NULL) return NULL;
  uint64_t n = kif_get64(e + KIF_MTH_BITCODE_SIZE);
  if (n == 0) return NULL;
  if (size_out != NULL) *size_out = (size_t)n;
  return v->bitcode + kif_get64(e + KIF_MTH_BITCODE_OFFSET);
}
