/*
 * components/loader/loader.c — options, and steps 3-4 of loading: after
 * validate.c has checked the file and chosen a target, dlopen the image,
 * confirm that what the dynamic linker mapped is what was validated, then
 * rebuild the per-shard tables into one function table and one global table
 * for the chosen target and write the chosen code addresses into the
 * image's relocation slots.
 *
 * Every address taken from the image's pointer array is checked to lie
 * inside the image's own PT_LOAD segments (tables) and, for slot words, in a
 * writable segment outside PT_GNU_RELRO, before it is read or written.
 */
#define _GNU_SOURCE 1 /* dlinfo, RTLD_DI_LINKMAP */

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "components/loader/internal.h"

char *kiln_loader_strdup_(const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  if (copy != NULL) memcpy(copy, s, n);
  return copy;
}

/* ---- Options --------------------------------------------------------------- */

void kiln_loader_options_init_(kiln_loader_options_t *options) {
  memset(options, 0, sizeof(*options));
  atomic_init(&options->detected, NULL);
  options->env = kiln_target_env_process;
  options->force_target = SIZE_MAX;
}

kiln_error_t *kiln_loader_options_new(kiln_loader_options_t **options_out) {
  if (options_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_options_new: NULL options_out");
  }
  *options_out = malloc(sizeof(**options_out));
  if (*options_out == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_loader_options_new: out of memory");
  }
  kiln_loader_options_init_(*options_out);
  (*options_out)->cache_host = true;
  return NULL;
}

void kiln_loader_options_free(kiln_loader_options_t *options) {
  if (options == NULL) return;
  for (size_t i = 0; i < options->required_count; i++) {
    free(options->required[i].key);
    free(options->required[i].value);
  }
  free(options->required);
  free(options->expected_triple);
  kiln_target_host_free(atomic_load(&options->detected));
  free(options);
}

void kiln_loader_options_set_env(kiln_loader_options_t *options, kiln_target_env_fn env,
                                 void *env_ctx) {
  if (options == NULL) return;
  options->env = env;
  options->env_ctx = env_ctx;
  /* KILN_CPU_DISABLE may read differently now: detect again. */
  kiln_target_host_free(atomic_exchange(&options->detected, NULL));
}

void kiln_loader_options_set_host(kiln_loader_options_t *options,
                                  const kiln_target_host_t *host) {
  if (options != NULL) options->host = host;
}

void kiln_loader_options_set_force_target(kiln_loader_options_t *options, size_t index) {
  if (options != NULL) options->force_target = index;
}

kiln_error_t *kiln_loader_options_set_expected_triple(kiln_loader_options_t *options,
                                                      const char *triple) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_loader_options_set_expected_triple: NULL options");
  }
  char *copy = NULL;
  if (triple != NULL && (copy = kiln_loader_strdup_(triple)) == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "expected triple '%s': out of memory", triple);
  }
  free(options->expected_triple);
  options->expected_triple = copy;
  return NULL;
}

kiln_error_t *kiln_loader_options_require(kiln_loader_options_t *options, const char *key,
                                          const char *value) {
  if (options == NULL || key == NULL || value == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_options_require: NULL %s",
                          options == NULL ? "options" : key == NULL ? "key" : "value");
  }
  char *value_copy = kiln_loader_strdup_(value);
  if (value_copy == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "required option '%s': out of memory", key);
  }
  for (size_t i = 0; i < options->required_count; i++) {
    if (strcmp(options->required[i].key, key) == 0) {
      free(options->required[i].value);
      options->required[i].value = value_copy;
      return NULL;
    }
  }
  char *key_copy = kiln_loader_strdup_(key);
  kiln_loader_required_t *grown =
      realloc(options->required, (options->required_count + 1) * sizeof(*grown));
  if (key_copy == NULL || grown == NULL) {
    free(key_copy);
    free(value_copy);
    if (grown != NULL) options->required = grown;
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "required option '%s': out of memory", key);
  }
  options->required = grown;
  options->required[options->required_count].key = key_copy;
  options->required[options->required_count].value = value_copy;
  options->required_count++;
  return NULL;
}

void kiln_loader_options_accept_any_producer(kiln_loader_options_t *options, bool accept) {
  if (options != NULL) options->accept_any_producer = accept;
}

void kiln_loader_options_set_eager_directory(kiln_loader_options_t *options, bool eager) {
  if (options != NULL) options->eager_directory = eager;
}

/* ---- Loading ----------------------------------------------------------------- */

struct kiln_loader_image {
  kiln_loader_info_t *info; /* validation result; info->format views info->blob */
  void *handle;             /* dlopen's */
  uintptr_t base;           /* load bias (link_map l_addr) */
  const unsigned char *root; /* the mapped root */
  /* The full view (with the directory): info->format when it is one (eager
   * directory), else opened over the mapped root on first use, published
   * by compare-exchange and owned by the image. */
  _Atomic(kiln_image_format_t *) directory;
  /* When that validation failed: its message ("<path>: image directory
   * (names and methods): image metadata: ...") and code, published once, so
   * later uses report it without validating again. Owned. */
  _Atomic(char *) directory_error;
  _Atomic int directory_error_code;
  size_t target;
  void **functions;
  size_t function_count;
  void **globals;
  size_t global_count;
};

/* Whether [addr, addr + bytes) lies inside one PT_LOAD segment of the image;
 * `writable` also requires PF_W and no overlap with PT_GNU_RELRO. */
static bool in_image(const kiln_loader_image_t *image, uintptr_t addr, uint64_t bytes,
                     bool writable) {
  if (addr < image->base) return false;
  uint64_t vaddr = (uint64_t)(addr - image->base);
  const kiln_loader_elf_t *elf = &image->info->elf;
  for (size_t i = 0; i < elf->segment_count; i++) {
    const kiln_loader_segment_t *seg = &elf->segments[i];
    if (vaddr < seg->vaddr || vaddr - seg->vaddr > seg->memsz ||
        bytes > seg->memsz - (vaddr - seg->vaddr)) {
      continue;
    }
    if (!writable) return true;
    if ((seg->flags & PF_W) == 0) return false;
    if (elf->has_relro && vaddr < elf->relro_vaddr + elf->relro_memsz &&
        vaddr + bytes > elf->relro_vaddr) {
      return false;
    }
    return true;
  }
  return false;
}

/* The largest range [*lo, *hi) around `addr` in which every word passes
 * in_image(..., writable = true): its writable PT_LOAD segment minus
 * PT_GNU_RELRO. False when the word at `addr` itself does not pass. */
static bool writable_range(const kiln_loader_image_t *image, uintptr_t addr, uintptr_t *lo,
                           uintptr_t *hi) {
  if (addr < image->base) return false;
  uint64_t vaddr = (uint64_t)(addr - image->base);
  const kiln_loader_elf_t *elf = &image->info->elf;
  for (size_t i = 0; i < elf->segment_count; i++) {
    const kiln_loader_segment_t *seg = &elf->segments[i];
    if (vaddr < seg->vaddr || vaddr - seg->vaddr >= seg->memsz) continue;
    if ((seg->flags & PF_W) == 0) return false;
    uint64_t l = seg->vaddr, h = seg->vaddr + seg->memsz;
    if (elf->has_relro) {
      uint64_t rl = elf->relro_vaddr, rh = elf->relro_vaddr + elf->relro_memsz;
      if (vaddr >= rl && vaddr < rh) return false;
      if (rh <= vaddr && rh > l) l = rh;
      if (rl > vaddr && rl < h) h = rl;
    }
    if (h - vaddr < sizeof(void *)) return false;
    *lo = image->base + (uintptr_t)l;
    *hi = image->base + (uintptr_t)h;
    return true;
  }
  return false;
}

/* "function 12 ('name')" when the view has names, else "function 12". */
static void function_label(char *buf, size_t size, const kiln_image_format_t *format, size_t f) {
  const char *name = kiln_image_format_function_name(format, f);
  if (name != NULL) {
    snprintf(buf, size, "function %zu ('%.80s')", f, name);
  } else {
    snprintf(buf, size, "function %zu", f);
  }
}

/* The address of per-shard table (s, kind, target) with `count` entries, or
 * NULL with an error when it lies outside the image. */
static kiln_error_t *table_at(const kiln_loader_image_t *image, void *const *pointers, size_t s,
                              kiln_image_format_table_kind_t kind, size_t target, size_t count,
                              void *const **table_out) {
  *table_out = NULL;
  if (count == 0) return NULL;
  const kiln_image_format_t *format = image->info->format;
  size_t p = kiln_image_format_shard_pointer(format, s, kind, target);
  void *const *table = p < kiln_image_format_pointer_count(format) ? (void *const *)pointers[p]
                                                                   : NULL;
  if (table != NULL && in_image(image, (uintptr_t)table, (uint64_t)count * sizeof(void *), false)) {
    *table_out = table;
    return NULL;
  }
  /* Errors only: the symbol name is formatted off the load path. */
  char symbol[64];
  kiln_image_format_table_symbol(symbol, sizeof(symbol), s, kind, target);
  if (p >= kiln_image_format_pointer_count(format)) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: table %s has %zu entries but no pointer",
                          image->info->name, symbol, count);
  }
  return kiln_error_new(KILN_ERR_FORMAT, "%s: table %s (%zu entries at %p) lies outside the image",
                        image->info->name, symbol, count, (const void *)table);
}

static kiln_error_t *build_tables(kiln_loader_image_t *image, const unsigned char *root) {
  const kiln_image_format_t *format = image->info->format;
  const char *name = image->info->name;
  void *const *pointers = (void *const *)(root + kiln_image_format_pointer_offset(format));
  size_t t = image->target;
  image->function_count = kiln_image_format_function_count(format);
  image->global_count = kiln_image_format_global_count(format);
  /* Every entry is written below: the shards' ranges tile the function
   * and global tables (image_format checks it). The room validation
   * reserved is used when the validated counts fit it. */
  size_t need = image->function_count + 1 + image->global_count + 1;
  if (image->info->tables != NULL && need <= image->info->table_capacity) {
    image->functions = image->info->tables;
    image->globals = image->info->tables + image->function_count + 1;
  } else {
    image->functions = malloc((image->function_count + 1) * sizeof(void *));
    image->globals = malloc((image->global_count + 1) * sizeof(void *));
    if (image->functions == NULL || image->globals == NULL) {
      return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory for the tables", name);
    }
  }
  /* Locals, not image->...: stores through the tables could alias the
   * image struct, which would reload these on every iteration. */
  void **functions = image->functions, **globals = image->globals;
  size_t shards = kiln_image_format_shard_count(format);
  kiln_error_t *err = NULL;
  /* Per shard, each function's address for the chosen target, into the
   * shard's range of the table (functions are numbered shard by shard):
   * the override mask says, 32 functions at a time, which come from target
   * 0's table (clear bits: the same position) and which from the chosen
   * target's (set bits: the next entry; overrides are relative to target 0,
   * so no base chain is followed); then the globals, likewise. When the
   * target overrides at least a quarter of the shard, the clear and the set
   * bits of each word are walked separately, so each entry is written once
   * with no branch per entry; when it overrides fewer, target 0's table is
   * copied whole and the overrides written over it (measured on the
   * benchmark images: the walk is 2 us faster at 80% overrides, the copy
   * 2 us faster at 10%). A null address anywhere is an error. */
  uintptr_t null_seen = 0;
  for (size_t s = 0; s < shards; s++) {
    size_t n, m, g;
    void **dst = functions + kiln_image_format_shard_first_function(format, s, &n);
    void *const *table;
    err = table_at(image, pointers, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, 0, n, &table);
    if (err != NULL) return err;
    const uint32_t *mask = NULL;
    void *const *over = NULL;
    m = 0;
    if (t > 0) {
      mask = kiln_image_format_shard_override_mask(format, s, t, &m);
      err = table_at(image, pointers, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, t, m, &over);
      if (err != NULL) return err;
    }
    if (m == 0 || m < n / 4) {
      for (size_t i = 0; i < n; i++) {
        null_seen |= table[i] == NULL;
        dst[i] = table[i];
      }
      size_t j = 0;
      for (size_t w = 0; j < m; w++) {
        for (uint32_t bits = mask[w]; bits != 0; bits &= bits - 1) {
          null_seen |= over[j] == NULL;
          dst[w * 32 + (size_t)__builtin_ctz(bits)] = over[j++];
        }
      }
    } else {
      size_t j = 0;
      for (size_t w = 0; w < (n + 31) / 32; w++) {
        size_t base = w * 32;
        uint32_t valid = n - base >= 32 ? UINT32_MAX : ((uint32_t)1 << (n - base)) - 1;
        for (uint32_t bits = ~mask[w] & valid; bits != 0; bits &= bits - 1) {
          size_t i = base + (size_t)__builtin_ctz(bits);
          null_seen |= table[i] == NULL;
          dst[i] = table[i];
        }
        for (uint32_t bits = mask[w]; bits != 0; bits &= bits - 1) {
          size_t i = base + (size_t)__builtin_ctz(bits);
          null_seen |= over[j] == NULL;
          dst[i] = over[j++];
        }
      }
    }
    dst = globals + kiln_image_format_shard_first_global(format, s, &g);
    err = table_at(image, pointers, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0, g, &table);
    if (err != NULL) return err;
    for (size_t i = 0; i < g; i++) {
      null_seen |= table[i] == NULL;
      dst[i] = table[i];
    }
  }
  for (size_t i = 0; null_seen && i < image->function_count; i++) {
    if (image->functions[i] == NULL) {
      char label[128];
      function_label(label, sizeof(label), format, i);
      return kiln_error_new(KILN_ERR_FORMAT, "%s: %s has a null address", name, label);
    }
  }
  for (size_t i = 0; null_seen && i < image->global_count; i++) {
    if (image->globals[i] == NULL) {
      return kiln_error_new(KILN_ERR_FORMAT, "%s: global %zu has a null address", name, i);
    }
  }
  /* Slots last: they hold entries of the finished function table. Slot
   * words sit together in one data segment: each is checked against the
   * writable range found for an earlier one, and only a slot outside it
   * looks the segments up again. */
  /* [lo, lo + span] is the range of aligned slot addresses known good: one
   * unsigned compare per slot (an address below lo wraps above span). */
  uintptr_t lo = 1, span = 0;
  for (size_t s = 0; s < shards; s++) {
    size_t q;
    const uint32_t *slot_fns = kiln_image_format_shard_slots(format, s, &q);
    void *const *table;
    err = table_at(image, pointers, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0, q, &table);
    if (err != NULL) return err;
    for (size_t j = 0; j < q; j++) {
      uintptr_t slot = (uintptr_t)table[j];
      if (slot - lo > span || slot % sizeof(void *) != 0) {
        uintptr_t l, h;
        if (slot % sizeof(void *) != 0 || !writable_range(image, slot, &l, &h)) {
          char label[128];
          function_label(label, sizeof(label), format, slot_fns[j]);
          return kiln_error_new(KILN_ERR_FORMAT,
                                "%s: slot %zu of shard %zu (for %s) at %p is not an aligned word of "
                                "writable image memory (outside the image, read-only or RELRO)",
                                name, j, s, label, (void *)slot);
        }
        lo = l;
        span = h - l - sizeof(void *); /* h - l >= 8: slot itself fits */
      }
      *(void **)slot = functions[slot_fns[j]];
    }
  }
  return NULL;
}

/* Whether `path` still names the file that was validated. */
static bool same_file(const char *path, const kiln_loader_info_t *info) {
  struct stat st;
  return stat(path, &st) == 0 && st.st_dev == info->dev && st.st_ino == info->ino &&
         st.st_size == info->file_size && (int64_t)st.st_mtim.tv_sec == info->mtime_sec &&
         st.st_mtim.tv_nsec == info->mtime_nsec;
}

kiln_error_t *kiln_loader_open(const char *path, const kiln_loader_options_t *options,
                               kiln_loader_image_t **image_out) {
  if (image_out != NULL) *image_out = NULL;
  if (path == NULL || image_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_open: NULL %s",
                          path == NULL ? "path" : "image_out");
  }
  kiln_loader_image_t *image = calloc(1, sizeof(*image));
  if (image == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);

  /* Steps 1-2: validate the file (its load part, or the whole metadata with
   * an eager directory) and select a target; no image code runs. */
  bool eager = options != NULL && options->eager_directory;
  kiln_error_t *err = kiln_loader_validate_file_(path, options, true, eager, &image->info);
  if (err != NULL) goto fail;
  image->target = image->info->selected;
  if (eager) atomic_init(&image->directory, image->info->format);

  /* Step 3: map it. A path without '/' would make dlopen search the library
   * path and could load another file than the one validated. */
  const char *dl_path = path;
  char *dotted = NULL;
  if (strchr(path, '/') == NULL) {
    size_t n = strlen(path);
    dotted = malloc(n + 3);
    if (dotted == NULL) {
      err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
      goto fail;
    }
    memcpy(dotted, "./", 2);
    memcpy(dotted + 2, path, n + 1);
    dl_path = dotted;
  }
  image->handle = dlopen(dl_path, RTLD_NOW | RTLD_LOCAL);
  free(dotted);
  if (image->handle == NULL) {
    const char *why = dlerror();
    err = kiln_error_new(KILN_ERR_LINK, "%s: dlopen failed: %s", path, why ? why : "unknown");
    goto fail;
  }
  if (!same_file(path, image->info)) {
    err = kiln_error_new(KILN_ERR_IO, "%s: the file changed between validation and dlopen", path);
    goto fail;
  }
  struct link_map *map = NULL;
  if (dlinfo(image->handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL) {
    err = kiln_error_new(KILN_ERR_LINK, "%s: dlinfo failed: %s", path, dlerror());
    goto fail;
  }
  image->base = (uintptr_t)map->l_addr;
  dlerror();
  const unsigned char *root = dlsym(image->handle, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  if (root == NULL) {
    err = kiln_error_new(KILN_ERR_NOT_FOUND, "%s: root symbol %s missing after dlopen", path,
                         KILN_IMAGE_FORMAT_ROOT_SYMBOL);
    goto fail;
  }
  if ((uintptr_t)root != image->base + image->info->elf.root_vaddr) {
    err = kiln_error_new(KILN_ERR_FORMAT,
                         "%s: root symbol %s resolved to %p, not to the validated one at %p",
                         path, KILN_IMAGE_FORMAT_ROOT_SYMBOL, (const void *)root,
                         (void *)(image->base + image->info->elf.root_vaddr));
    goto fail;
  }
  /* The file is the validated one (same_file), and the blob has no
   * relocations, so the mapped blob is the validated bytes; the header (magic,
   * version, size and the checksum of everything else) must still be equal
   * after the constructors ran. The loader itself reads only the validated
   * view and the relocated pointer array, whose every address is checked
   * below (docs/loader.md, "dlopen"). */
  if (memcmp(root, image->info->blob, KILN_IMAGE_FORMAT_HEADER_SIZE) != 0) {
    err = kiln_error_new(KILN_ERR_FORMAT,
                         "%s: mapped image metadata differs from the validated file", path);
    goto fail;
  }

  image->root = root;

  /* Step 4: tables and slots. */
  err = build_tables(image, root);
  if (err != NULL) goto fail;
  *image_out = image;
  return NULL;

fail:
  kiln_loader_close(image);
  return err;
}

void kiln_loader_close(kiln_loader_image_t *image) {
  if (image == NULL) return;
  /* A directory opened over the mapped root goes before the mapping. */
  kiln_image_format_t *directory = atomic_load(&image->directory);
  if (image->info == NULL || directory != image->info->format) {
    kiln_image_format_close(directory);
  }
  free(atomic_load(&image->directory_error));
  if (image->handle != NULL) dlclose(image->handle);
  /* Tables in the room validation reserved go with the info. */
  if (image->info == NULL || image->functions != image->info->tables) {
    free(image->functions);
    free(image->globals);
  }
  kiln_loader_info_free(image->info);
  free(image);
}

/* ---- Accessors ----------------------------------------------------------- */

const char *kiln_loader_image_path(const kiln_loader_image_t *image) {
  return image != NULL ? image->info->name : "";
}

/* The full view, validating the directory on first use: a full
 * kiln_image_format_open of the mapped root (both checksums, every check).
 * Concurrent first uses may both validate; one view is published, the
 * other freed. */
static kiln_error_t *directory_view(const kiln_loader_image_t *image,
                                    const kiln_image_format_t **view_out) {
  *view_out = NULL;
  kiln_loader_image_t *mut = (kiln_loader_image_t *)image;
  kiln_image_format_t *view = atomic_load_explicit(&mut->directory, memory_order_acquire);
  if (view == NULL) {
    char *failed = atomic_load_explicit(&mut->directory_error, memory_order_acquire);
    if (failed != NULL) {
      return kiln_error_new((kiln_error_code_t)atomic_load(&mut->directory_error_code), "%s",
                            failed);
    }
    const char *path = image->info->name;
    size_t n = strlen(path) + 48;
    char *label = malloc(n);
    if (label == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    snprintf(label, n, "%s: image directory (names and methods)", path);
    kiln_error_t *err = kiln_image_format_open(image->root, image->info->blob_size, label, &view);
    free(label);
    if (err != NULL) {
      /* Remember it; if another thread stored one first, keep that. */
      char *copy = kiln_loader_strdup_(kiln_error_message(err));
      char *none = NULL;
      if (copy != NULL) {
        atomic_store(&mut->directory_error_code, (int)kiln_error_code(err));
        if (!atomic_compare_exchange_strong_explicit(&mut->directory_error, &none, copy,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire)) {
          free(copy);
        }
      }
      return err;
    }
    kiln_image_format_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&mut->directory, &expected, view,
                                                 memory_order_acq_rel, memory_order_acquire)) {
      kiln_image_format_close(view);
      view = expected;
    }
  }
  *view_out = view;
  return NULL;
}

kiln_error_t *kiln_loader_image_verify(const kiln_loader_image_t *image) {
  if (image == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_image_verify: NULL image");
  }
  const kiln_image_format_t *view;
  return directory_view(image, &view);
}

/* The full view, or NULL when the directory fails validation. */
static const kiln_image_format_t *full_view(const kiln_loader_image_t *image) {
  const kiln_image_format_t *view = NULL;
  if (image != NULL) kiln_error_free(directory_view(image, &view));
  return view;
}

const kiln_image_format_t *kiln_loader_image_format(const kiln_loader_image_t *image) {
  return full_view(image);
}

size_t kiln_loader_image_target(const kiln_loader_image_t *image) {
  return image != NULL ? image->target : SIZE_MAX;
}

const char *kiln_loader_image_target_cpu(const kiln_loader_image_t *image) {
  if (image == NULL) return "";
  const char *cpu = kiln_image_format_target_cpu(image->info->format, image->target);
  return cpu != NULL ? cpu : "";
}

const char *kiln_loader_image_target_reason(const kiln_loader_image_t *image) {
  return image != NULL ? kiln_loader_info_reason(image->info) : "";
}

const char *kiln_loader_image_target_report(const kiln_loader_image_t *image) {
  return image != NULL ? kiln_loader_info_report(image->info) : "";
}

size_t kiln_loader_function_count(const kiln_loader_image_t *image) {
  return image != NULL ? image->function_count : 0;
}

void *kiln_loader_function_address(const kiln_loader_image_t *image, size_t index) {
  return image != NULL && index < image->function_count ? image->functions[index] : NULL;
}

void *const *kiln_loader_function_table(const kiln_loader_image_t *image) {
  return image != NULL ? image->functions : NULL;
}

typedef kiln_error_t *(*find_fn)(const kiln_image_format_t *, const char *, size_t *);

static kiln_error_t *find(const kiln_loader_image_t *image, const char *name, size_t *index_out,
                          find_fn fn, const char *what) {
  if (index_out != NULL) *index_out = SIZE_MAX;
  if (image == NULL || name == NULL || index_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_%s_find: NULL argument", what);
  }
  const kiln_image_format_t *view;
  kiln_error_t *err = directory_view(image, &view);
  if (err != NULL) return err;
  err = fn(view, name, index_out);
  if (err != NULL) {
    kiln_error_free(err);
    *index_out = SIZE_MAX;
    return kiln_error_new(KILN_ERR_NOT_FOUND, "%s: no %s '%s' in the image", image->info->name,
                          what, name);
  }
  return NULL;
}

kiln_error_t *kiln_loader_function_find(const kiln_loader_image_t *image, const char *name,
                                        size_t *index_out) {
  return find(image, name, index_out, kiln_image_format_function_find, "function");
}

size_t kiln_loader_global_count(const kiln_loader_image_t *image) {
  return image != NULL ? image->global_count : 0;
}

void *kiln_loader_global_address(const kiln_loader_image_t *image, size_t index) {
  return image != NULL && index < image->global_count ? image->globals[index] : NULL;
}

kiln_error_t *kiln_loader_global_find(const kiln_loader_image_t *image, const char *name,
                                      size_t *index_out) {
  return find(image, name, index_out, kiln_image_format_global_find, "global");
}

size_t kiln_loader_method_count(const kiln_loader_image_t *image) {
  return kiln_image_format_method_count(full_view(image));
}

const char *kiln_loader_method_key(const kiln_loader_image_t *image, size_t m) {
  return kiln_image_format_method_key(full_view(image), m);
}

size_t kiln_loader_method_function(const kiln_loader_image_t *image, size_t m) {
  const kiln_image_format_t *view = full_view(image);
  if (view == NULL || m >= kiln_image_format_method_count(view)) return SIZE_MAX;
  return kiln_image_format_method_function(view, m);
}

void *kiln_loader_method_address(const kiln_loader_image_t *image, size_t m) {
  return kiln_loader_function_address(image, kiln_loader_method_function(image, m));
}

kiln_error_t *kiln_loader_method_find(const kiln_loader_image_t *image, const char *key,
                                      size_t *index_out) {
  return find(image, key, index_out, kiln_image_format_method_find, "method");
}
