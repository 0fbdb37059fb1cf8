/*
 * components/image_format/encode.c — kiln_image_format_encode: checks a
 * description against the rules the reader enforces, assigns pointer-array
 * indices, lays the sections out and writes the blob.
 *
 * Four stages: check (every rule, with an error naming the description's
 * field and index, since the caller built the description and needs to find
 * the bad entry), the name indices (functions and globals sorted by name,
 * which also finds duplicate names), measure (exact section sizes, so the
 * blob is allocated once, zeroed, and every padding byte stays zero),
 * write. The writer then
 * opens its own output, so an encoder bug surfaces as KILN_ERR_INTERNAL here
 * rather than as an image the loader rejects later. Nothing depends on
 * addresses, time or hashing order: equal descriptions give equal bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "components/image_format/internal.h"

static kiln_error_t *bad(const char *fmt, ...) KILN_PRINTF(1, 2);

static kiln_error_t *bad(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  kiln_error_t *err = kiln_error_newv(KILN_ERR_INVALID_ARGUMENT, fmt, args);
  va_end(args);
  return err;
}

/* Counts stored as u32, with UINT32_MAX reserved for "no table". */
static int too_many(size_t n) { return n >= KIF_NO_POINTER; }

static kiln_error_t *check_str(const char *field, size_t i, const char *sub, const char *s) {
  if (s != NULL) return NULL;
  if (sub == NULL) return bad("%s[%zu]: NULL string", field, i);
  return bad("%s[%zu].%s: NULL string", field, i, sub);
}

/* strictly ascending names/keys: entry i against entry i-1 */
static kiln_error_t *check_order(const char *field, size_t i, const char *sub, const char *prev,
                                 const char *cur) {
  if (i == 0 || strcmp(prev, cur) < 0) return NULL;
  const char *why = strcmp(prev, cur) == 0 ? "duplicate of the previous entry"
                                            : "not after the previous entry";
  if (sub == NULL) {
    return bad("%s[%zu]: '%.80s' is %s '%.80s' (must be strictly ascending)", field, i, cur, why,
               prev);
  }
  return bad("%s[%zu].%s: '%.80s' is %s '%.80s' (must be strictly ascending)", field, i, sub, cur,
             why, prev);
}

static kiln_error_t *check_indices(size_t s, const char *what, const uint32_t *list, size_t n,
                                   size_t limit, const char *limit_what, int ascending) {
  if (n > 0 && list == NULL) return bad("shards[%zu].%s: NULL with %zu entries", s, what, n);
  if (too_many(n)) return bad("shards[%zu].%s: %zu entries, too many", s, what, n);
  for (size_t i = 0; i < n; i++) {
    if (list[i] >= limit) {
      return bad("shards[%zu].%s[%zu]: %u out of range (%zu %s)", s, what, i, list[i], limit,
                 limit_what);
    }
    if (ascending && i > 0 && list[i] <= list[i - 1]) {
      return bad("shards[%zu].%s[%zu]: %u is not after %u (must be strictly ascending)", s, what,
                 i, list[i], list[i - 1]);
    }
  }
  return NULL;
}

static size_t override_count(const kiln_image_format_shard_t *sh, size_t k) {
  return (sh->overrides == NULL || sh->override_counts == NULL) ? 0 : sh->override_counts[k];
}

static const uint32_t *override_list(const kiln_image_format_shard_t *sh, size_t k) {
  return sh->overrides == NULL ? NULL : sh->overrides[k];
}

/* Words of target k's override mask in a shard: one bit per shard
 * function, none when target k overrides nothing there. */
static size_t mask_words(const kiln_image_format_shard_t *sh, size_t k) {
  return override_count(sh, k) == 0 ? 0 : (sh->function_count + 31) / 32;
}

/* The shards take the function and global tables in order, by count: their
 * counts must add up to the tables' sizes. */
static kiln_error_t *check_shards(const kiln_image_format_desc_t *d) {
  if (d->shard_count > 0 && d->shards == NULL) return bad("shards: NULL with %zu shards", d->shard_count);
  if (too_many(d->shard_count)) return bad("shards: %zu shards, too many", d->shard_count);
  kiln_error_t *err = NULL;
  size_t functions = 0, globals = 0;
  for (size_t s = 0; s < d->shard_count; s++) {
    const kiln_image_format_shard_t *sh = &d->shards[s];
    if (sh->function_count > d->function_count - functions) {
      return bad("shards[%zu].function_count: %zu functions after the %zu of the shards before "
                 "it, but the function table has %zu",
                 s, sh->function_count, functions, d->function_count);
    }
    if (sh->global_count > d->global_count - globals) {
      return bad("shards[%zu].global_count: %zu globals after the %zu of the shards before it, "
                 "but the global table has %zu",
                 s, sh->global_count, globals, d->global_count);
    }
    functions += sh->function_count;
    globals += sh->global_count;
    if (sh->overrides != NULL && sh->override_counts == NULL) {
      return bad("shards[%zu].override_counts: NULL while overrides is set", s);
    }
    for (size_t k = 1; k < d->target_count; k++) {
      char what[48];
      snprintf(what, sizeof(what), "overrides[%zu]", k);
      err = check_indices(s, what, override_list(sh, k), override_count(sh, k), sh->function_count,
                          "shard functions", 1);
      if (err != NULL) return err;
    }
    err = check_indices(s, "slot_functions", sh->slot_functions, sh->slot_count,
                        d->function_count, "functions", 0);
    if (err != NULL) return err;
  }
  if (functions != d->function_count) {
    return bad("shards: %zu functions in the shards, but the function table has %zu (each "
               "function must be in exactly one shard)",
               functions, d->function_count);
  }
  if (globals != d->global_count) {
    return bad("shards: %zu globals in the shards, but the global table has %zu (each global "
               "must be in exactly one shard)",
               globals, d->global_count);
  }
  return NULL;
}

/* A symbol name and its index, sorted by name for the name index. */
typedef struct named {
  const char *name;
  uint32_t index;
} named;

/* By name, then by index: a total order even when names repeat, so which
 * duplicate is reported does not depend on how qsort orders equal keys. */
static int cmp_named(const void *a, const void *b) {
  const named *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c != 0) return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* The name index of a symbol table: by_name[j] is the index of the j-th
 * name in strcmp order. Errors name the first duplicate in name order: its
 * two lowest indices.
 * *by_name_out is owned by the caller (free); NULL on failure. */
static kiln_error_t *name_index(const char *field, const char *const *names, size_t count,
                                uint32_t **by_name_out) {
  *by_name_out = NULL;
  named *sorted = malloc((count ? count : 1) * sizeof(named));
  uint32_t *by_name = malloc((count ? count : 1) * sizeof(uint32_t));
  if (sorted == NULL || by_name == NULL) {
    free(sorted);
    free(by_name);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "image_format_encode: out of memory");
  }
  for (size_t i = 0; i < count; i++) sorted[i] = (named){names[i], (uint32_t)i};
  if (count > 1) qsort(sorted, count, sizeof(named), cmp_named);
  kiln_error_t *err = NULL;
  for (size_t j = 0; j < count && err == NULL; j++) {
    if (j > 0 && strcmp(sorted[j - 1].name, sorted[j].name) == 0) {
      uint32_t a = sorted[j - 1].index, b = sorted[j].index;
      err = bad("%s[%u]: '%.80s' is a duplicate of %s[%u] (names must be unique)", field,
                a > b ? a : b, sorted[j].name, field, a > b ? b : a);
    }
    by_name[j] = sorted[j].index;
  }
  free(sorted);
  if (err != NULL) {
    free(by_name);
    return err;
  }
  *by_name_out = by_name;
  return NULL;
}

static kiln_error_t *check_desc(const kiln_image_format_desc_t *d) {
  kiln_error_t *err;
  if (d->producer == NULL) return bad("producer: NULL string");
  if (d->triple == NULL) return bad("triple: NULL string");
  if (d->name == NULL) return bad("name: NULL string");
  if (d->kind != KILN_IMAGE_FORMAT_KIND_SYSTEM && d->kind != KILN_IMAGE_FORMAT_KIND_PACKAGE) {
    return bad("kind: unknown image kind %d", (int)d->kind);
  }
  if (d->kind == KILN_IMAGE_FORMAT_KIND_SYSTEM && d->base_checksum != 0) {
    return bad("base_checksum: 0x%016llx for a system image (must be 0)",
               (unsigned long long)d->base_checksum);
  }
  if (d->option_count > 0 && d->options == NULL) return bad("options: NULL with %zu options", d->option_count);
  if (too_many(d->option_count)) return bad("options: %zu options, too many", d->option_count);
  for (size_t i = 0; i < d->option_count; i++) {
    if ((err = check_str("options", i, "key", d->options[i].key)) ||
        (err = check_str("options", i, "value", d->options[i].value)) ||
        (err = check_order("options", i, "key", i ? d->options[i - 1].key : NULL,
                           d->options[i].key))) {
      return err;
    }
  }
  if (d->target_count == 0 || d->targets == NULL) return bad("targets: at least one target is required");
  if (too_many(d->target_count)) return bad("targets: %zu targets, too many", d->target_count);
  for (size_t k = 0; k < d->target_count; k++) {
    if ((err = check_str("targets", k, "cpu", d->targets[k].cpu)) ||
        (err = check_str("targets", k, "features", d->targets[k].features))) {
      return err;
    }
    if (d->targets[k].base > k) {
      return bad("targets[%zu].base: %u is not an earlier target", k, d->targets[k].base);
    }
  }
  const struct {
    const char *field;
    const char *const *names;
    size_t count;
  } tables[2] = {{"functions", d->functions, d->function_count},
                 {"globals", d->globals, d->global_count}};
  for (int t = 0; t < 2; t++) {
    if (tables[t].count > 0 && tables[t].names == NULL) {
      return bad("%s: NULL with %zu entries", tables[t].field, tables[t].count);
    }
    if (too_many(tables[t].count)) return bad("%s: %zu entries, too many", tables[t].field, tables[t].count);
    for (size_t i = 0; i < tables[t].count; i++) {
      if ((err = check_str(tables[t].field, i, NULL, tables[t].names[i]))) return err;
    }
  }
  if ((err = check_shards(d)) != NULL) return err;
  if (d->method_count > 0 && d->methods == NULL) return bad("methods: NULL with %zu methods", d->method_count);
  if (too_many(d->method_count)) return bad("methods: %zu methods, too many", d->method_count);
  for (size_t m = 0; m < d->method_count; m++) {
    const kiln_image_format_method_t *me = &d->methods[m];
    if ((err = check_str("methods", m, "key", me->key)) ||
        (err = check_order("methods", m, "key", m ? d->methods[m - 1].key : NULL, me->key))) {
      return err;
    }
    if (me->function >= d->function_count) {
      return bad("methods[%zu].function: function %u out of range (%zu functions)", m,
                 me->function, d->function_count);
    }
    if (me->flags & ~(uint32_t)KIF_KNOWN_METHOD_FLAGS) {
      return bad("methods[%zu].flags: unknown flags 0x%x", m, me->flags);
    }
    if (me->call_count > 0 && me->calls == NULL) return bad("methods[%zu].calls: NULL with %zu calls", m, me->call_count);
    for (size_t i = 0; i < me->call_count; i++) {
      if (me->calls[i] >= d->method_count) {
        return bad("methods[%zu].calls[%zu]: method %u out of range (%zu methods)", m, i,
                   me->calls[i], d->method_count);
      }
      if (i > 0 && me->calls[i] <= me->calls[i - 1]) {
        return bad("methods[%zu].calls[%zu]: method %u is not after %u (must be strictly "
                   "ascending)",
                   m, i, me->calls[i], me->calls[i - 1]);
      }
    }
    if (me->dep_count > 0 && me->deps == NULL) return bad("methods[%zu].deps: NULL with %zu deps", m, me->dep_count);
    for (size_t i = 0; i < me->dep_count; i++) {
      char field[48];
      snprintf(field, sizeof(field), "methods[%zu].deps", m);
      if ((err = check_str(field, i, "key", me->deps[i].key)) ||
          (err = check_order(field, i, "key", i ? me->deps[i - 1].key : NULL, me->deps[i].key))) {
        return err;
      }
    }
    if (me->bitcode_size > 0 && me->bitcode == NULL) {
      return bad("methods[%zu].bitcode: NULL with bitcode_size %zu", m, me->bitcode_size);
    }
  }
  return NULL;
}

/* ---- Layout and writing -------------------------------------------------- */

typedef struct writer {
  uint8_t *blob;
  uint64_t off[KIF_SECTION_COUNT + 1];  /* section offsets */
  uint64_t size[KIF_SECTION_COUNT + 1]; /* section sizes */
  uint64_t str_next;                    /* next free byte of the strings section */
  uint64_t name_next;                   /* next free byte of the names section */
} writer;

static uint64_t str_size(const char *s) { return s[0] == '\0' ? 0 : strlen(s) + 1; }

/* Appends `s` to a string section (strings or names) and returns its
 * offset; "" is offset 0. */
static uint32_t append_str(writer *w, int sec, uint64_t *next, const char *s) {
  if (s[0] == '\0') return 0;
  size_t n = strlen(s) + 1;
  uint64_t at = *next;
  memcpy(w->blob + w->off[sec] + at, s, n);
  *next += n;
  return (uint32_t)at;
}

/* Load-part text (producer, triple, options, targets) and directory text
 * (symbol names, method and dependency keys). */
static uint32_t put_str(writer *w, const char *s) {
  return append_str(w, KIF_SEC_STRINGS, &w->str_next, s);
}
static uint32_t put_name(writer *w, const char *s) {
  return append_str(w, KIF_SEC_NAMES, &w->name_next, s);
}

static uint8_t *at(writer *w, int sec, uint64_t index) {
  return w->blob + w->off[sec] + index * kKifEntrySize[sec];
}

/* Measures and writes the blob of a checked description. */
static kiln_error_t *encode(const kiln_image_format_desc_t *d, const uint32_t *fn_by_name,
                            const uint32_t *gl_by_name, void **blob_out, size_t *size_out) {
  kiln_error_t *err = NULL;
  /* Measure. Sums are bounded by the description, which is in memory. */
  size_t T = d->target_count;
  uint64_t strings = 1 + str_size(d->producer) + str_size(d->triple) + str_size(d->name);
  for (size_t i = 0; i < d->option_count; i++) {
    strings += str_size(d->options[i].key) + str_size(d->options[i].value);
  }
  for (size_t k = 0; k < T; k++) {
    strings += str_size(d->targets[k].cpu) + str_size(d->targets[k].features);
  }
  uint64_t names = 1;
  for (size_t i = 0; i < d->function_count; i++) names += str_size(d->functions[i]);
  for (size_t i = 0; i < d->global_count; i++) names += str_size(d->globals[i]);
  uint64_t indices = 0, calls = 0, deps = 0, bitcode = 0;
  for (size_t s = 0; s < d->shard_count; s++) {
    const kiln_image_format_shard_t *sh = &d->shards[s];
    indices += sh->slot_count;
    for (size_t k = 1; k < T; k++) indices += mask_words(sh, k);
  }
  for (size_t m = 0; m < d->method_count; m++) {
    const kiln_image_format_method_t *me = &d->methods[m];
    /* A key equal to its function's name shares that string (the common
     * case: plain C functions are methods named like their symbol). */
    if (strcmp(me->key, d->functions[me->function]) != 0) names += str_size(me->key);
    calls += me->call_count;
    deps += me->dep_count;
    for (size_t i = 0; i < me->dep_count; i++) names += str_size(me->deps[i].key);
    bitcode += kif_align8(me->bitcode_size);
  }
  if (strings > UINT32_MAX || names > UINT32_MAX) {
    return bad("strings: %llu and %llu bytes of text, more than 32-bit offsets address",
               (unsigned long long)strings, (unsigned long long)names);
  }
  if (indices >= KIF_NO_POINTER || calls >= KIF_NO_POINTER || deps >= KIF_NO_POINTER) {
    return bad("shards/methods: more list entries than 32-bit indices address");
  }

  writer w;
  memset(&w, 0, sizeof(w));
  uint64_t counts[KIF_SECTION_COUNT + 1] = {
      0, strings, 1, d->option_count, T, d->function_count, d->global_count, d->shard_count,
      (uint64_t)d->shard_count * T, indices, d->method_count, calls, deps, bitcode, names};
  /* The load part first, then the directory (internal.h, kKifLayoutOrder). */
  uint64_t pos = KILN_IMAGE_FORMAT_HEADER_SIZE + (uint64_t)KIF_SECTION_COUNT * KIF_SECTION_ENTRY_SIZE;
  uint64_t load_size = 0;
  for (int j = 0; j < KIF_SECTION_COUNT; j++) {
    int i = kKifLayoutOrder[j];
    pos = kif_align8(pos);
    if (kKifInDirectory[i] && load_size == 0) load_size = pos;
    w.off[i] = pos;
    w.size[i] = counts[i] * kKifEntrySize[i];
    pos += w.size[i];
  }
  uint64_t total = kif_align8(pos);
  if (total > SIZE_MAX) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "image_format_encode: blob too large");
  w.blob = calloc(1, (size_t)total);
  if (w.blob == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "image_format_encode: out of memory (%llu bytes)",
                          (unsigned long long)total);
  }
  w.str_next = 1;
  w.name_next = 1;

  /* Header and section table; the checksum is filled in last. */
  uint8_t *b = w.blob;
  memcpy(b + KIF_H_MAGIC, KILN_IMAGE_FORMAT_MAGIC, KILN_IMAGE_FORMAT_MAGIC_SIZE);
  kif_put32(b + KIF_H_VERSION, KILN_IMAGE_FORMAT_VERSION);
  kif_put32(b + KIF_H_HEADER_SIZE, KILN_IMAGE_FORMAT_HEADER_SIZE);
  kif_put64(b + KIF_H_TOTAL_SIZE, total);
  kif_put32(b + KIF_H_SECTION_COUNT, KIF_SECTION_COUNT);
  kif_put64(b + KIF_H_SECTION_TABLE, KILN_IMAGE_FORMAT_HEADER_SIZE);
  kif_put64(b + KIF_H_LOAD_SIZE, load_size);
  for (int i = 1; i <= KIF_SECTION_COUNT; i++) {
    uint8_t *e = b + KILN_IMAGE_FORMAT_HEADER_SIZE + (i - 1) * KIF_SECTION_ENTRY_SIZE;
    kif_put32(e, (uint32_t)i);
    kif_put32(e + 4, kKifEntrySize[i]);
    kif_put64(e + 8, w.off[i]);
    kif_put64(e + 16, w.size[i]);
  }

  /* Options, targets, functions, globals. */
  for (size_t i = 0; i < d->option_count; i++) {
    uint8_t *e = at(&w, KIF_SEC_OPTIONS, i);
    kif_put32(e + KIF_OPT_KEY, put_str(&w, d->options[i].key));
    kif_put32(e + KIF_OPT_VALUE, put_str(&w, d->options[i].value));
  }
  for (size_t k = 0; k < T; k++) {
    uint8_t *e = at(&w, KIF_SEC_TARGETS, k);
    kif_put32(e + KIF_TGT_CPU, put_str(&w, d->targets[k].cpu));
    kif_put32(e + KIF_TGT_FEATURES, put_str(&w, d->targets[k].features));
    kif_put32(e + KIF_TGT_FLAGS, d->targets[k].flags);
    kif_put32(e + KIF_TGT_BASE, d->targets[k].base);
  }
  /* Names go into the names section in name order, not index order: the
   * reader's checks, the finds and the methods (sorted by key, most keys
   * their function's name) then walk the text front to back. */
  for (size_t j = 0; j < d->function_count; j++) {
    uint32_t i = fn_by_name[j];
    kif_put32(at(&w, KIF_SEC_FUNCTIONS, i) + KIF_SYM_NAME, put_name(&w, d->functions[i]));
    kif_put32(at(&w, KIF_SEC_FUNCTIONS, j) + KIF_SYM_BY_NAME, i);
  }
  for (size_t j = 0; j < d->global_count; j++) {
    uint32_t i = gl_by_name[j];
    kif_put32(at(&w, KIF_SEC_GLOBALS, i) + KIF_SYM_NAME, put_name(&w, d->globals[i]));
    kif_put32(at(&w, KIF_SEC_GLOBALS, j) + KIF_SYM_BY_NAME, i);
  }

  /* Shards: their first function and global (the counts so far), masks
   * and slot lists back to back in the shard indices section; pointer-array
   * indices shard by shard: function tables of targets 0..T-1, slots,
   * globals, skipping empty tables. */
  uint32_t cursor = 0, pointer = 0, first_fn = 0, first_gl = 0;
#define PUT_LIST(list, n)                                                   \
  do {                                                                      \
    for (size_t i_ = 0; i_ < (n); i_++) {                                   \
      kif_put32(at(&w, KIF_SEC_SHARD_INDICES, cursor + i_), (list)[i_]);    \
    }                                                                       \
    cursor += (uint32_t)(n);                                                \
  } while (0)
  for (size_t s = 0; s < d->shard_count; s++) {
    const kiln_image_format_shard_t *sh = &d->shards[s];
    for (size_t k = 0; k < T; k++) {
      uint8_t *t = at(&w, KIF_SEC_SHARD_TABLES, s * T + k);
      size_t n = k == 0 ? sh->function_count : override_count(sh, k);
      kif_put32(t + KIF_STB_COUNT, (uint32_t)n);
      kif_put32(t + KIF_STB_OFFSET, k == 0 ? first_fn : cursor);
      kif_put32(t + KIF_STB_POINTER, n ? pointer++ : KIF_NO_POINTER);
      if (k > 0) {
        /* The mask: the section is zeroed, so only set bits are written. */
        const uint32_t *ov = override_list(sh, k);
        for (size_t i = 0; i < n; i++) {
          uint8_t *word = at(&w, KIF_SEC_SHARD_INDICES, cursor + ov[i] / 32);
          kif_put32(word, kif_get32(word) | (uint32_t)1 << (ov[i] % 32));
        }
        cursor += (uint32_t)mask_words(sh, k);
      }
    }
    uint8_t *e = at(&w, KIF_SEC_SHARDS, s);
    kif_put32(e + KIF_SHD_SLOT_COUNT, (uint32_t)sh->slot_count);
    kif_put32(e + KIF_SHD_SLOT_OFFSET, cursor);
    PUT_LIST(sh->slot_functions, sh->slot_count);
    kif_put32(e + KIF_SHD_GLOBAL_COUNT, (uint32_t)sh->global_count);
    kif_put32(e + KIF_SHD_GLOBAL_FIRST, first_gl);
    first_fn += (uint32_t)sh->function_count;
    first_gl += (uint32_t)sh->global_count;
    kif_put32(e + KIF_SHD_SLOTS_POINTER, sh->slot_count ? pointer++ : KIF_NO_POINTER);
    kif_put32(e + KIF_SHD_GLOBALS_POINTER, sh->global_count ? pointer++ : KIF_NO_POINTER);
  }
#undef PUT_LIST

  /* Methods, their calls, deps and bitcode. */
  uint32_t call_at = 0, dep_at = 0;
  uint64_t bc_at = 0;
  for (size_t m = 0; m < d->method_count; m++) {
    const kiln_image_format_method_t *me = &d->methods[m];
    uint8_t *e = at(&w, KIF_SEC_METHODS, m);
    kif_put32(e + KIF_MTH_KEY, strcmp(me->key, d->functions[me->function]) == 0
                                   ? kif_get32(at(&w, KIF_SEC_FUNCTIONS, me->function) +
                                               KIF_SYM_NAME)
                                   : put_name(&w, me->key));
    kif_put32(e + KIF_MTH_FUNCTION, me->function);
    kif_put32(e + KIF_MTH_FLAGS, me->flags);
    kif_put32(e + KIF_MTH_CALL_COUNT, (uint32_t)me->call_count);
    kif_put32(e + KIF_MTH_CALL_OFFSET, call_at);
    kif_put32(e + KIF_MTH_DEP_COUNT, (uint32_t)me->dep_count);
    kif_put32(e + KIF_MTH_DEP_OFFSET, dep_at);
    kif_put64(e + KIF_MTH_FINGERPRINT, me->fingerprint);
    for (size_t i = 0; i < me->call_count; i++) kif_put32(at(&w, KIF_SEC_CALLS, call_at++), me->calls[i]);
    for (size_t i = 0; i < me->dep_count; i++) {
      uint8_t *de = at(&w, KIF_SEC_DEPS, dep_at++);
      kif_put32(de + KIF_DEP_KEY, put_name(&w, me->deps[i].key));
      kif_put64(de + KIF_DEP_FINGERPRINT, me->deps[i].fingerprint);
    }
    if (me->bitcode_size > 0) {
      kif_put64(e + KIF_MTH_BITCODE_OFFSET, bc_at);
      kif_put64(e + KIF_MTH_BITCODE_SIZE, me->bitcode_size);
      memcpy(at(&w, KIF_SEC_BITCODE, bc_at), me->bitcode, me->bitcode_size);
      bc_at += kif_align8(me->bitcode_size);
    }
  }

  /* Info last: the pointer count is known now. The strings it names were
   * measured first but are written here, after everything else. */
  uint8_t *info = at(&w, KIF_SEC_INFO, 0);
  kif_put32(info + KIF_INFO_PRODUCER, put_str(&w, d->producer));
  kif_put32(info + KIF_INFO_TRIPLE, put_str(&w, d->triple));
  kif_put32(info + KIF_INFO_NAME, put_str(&w, d->name));
  kif_put32(info + KIF_INFO_KIND, (uint32_t)d->kind);
  kif_put64(info + KIF_INFO_BASE_CHECKSUM, d->base_checksum);
  kif_put32(info + KIF_INFO_POINTER_COUNT, pointer);

  /* The load checksum first: the blob checksum covers its field. */
  kif_put64(b + KIF_H_LOAD_CHECKSUM, kif_load_checksum(b, load_size));
  kif_put64(b + KIF_H_CHECKSUM, kif_checksum(b, total));

  /* Self-check: the reader must accept what the writer wrote. */
  kiln_image_format_t *check = NULL;
  err = kif_open(b, (size_t)total, "encoded blob", 0, 1, &check);
  kiln_image_format_close(check);
  if (err != NULL) {
    kiln_error_t *internal =
        kiln_error_new(KILN_ERR_INTERNAL, "image_format_encode: wrote a blob its reader rejects: %s",
                       kiln_error_message(err));
    kiln_error_free(err);
    free(b);
    return internal;
  }
  *blob_out = b;
  *size_out = (size_t)total;
  return NULL;
}

kiln_error_t *kiln_image_format_encode(const kiln_image_format_desc_t *d, void **blob_out,
                                       size_t *size_out) {
  if (blob_out != NULL) *blob_out = NULL;
  if (size_out != NULL) *size_out = 0;
  if (d == NULL || blob_out == NULL || size_out == NULL) {
    return bad("image_format_encode: NULL %s", d == NULL ? "desc" : "output");
  }
  kiln_error_t *err = check_desc(d);
  if (err != NULL) return err;
  /* The name indices (which also find duplicate names). */
  uint32_t *fn_by_name = NULL, *gl_by_name = NULL;
  if ((err = name_index("functions", d->functions, d->function_count, &fn_by_name)) != NULL) {
    return err;
  }
  if ((err = name_index("globals", d->globals, d->global_count, &gl_by_name)) != NULL) {
    free(fn_by_name);
    return err;
  }
  err = encode(d, fn_by_name, gl_by_name, blob_out, size_out);
  free(fn_by_name);
  free(gl_by_name);
  return err;
}
