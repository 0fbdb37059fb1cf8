/*
 * components/loader/internal.h — what validate.c (steps 1-2: ELF, metadata,
 * selection, no dlopen) and loader.c (options, steps 3-4: dlopen, tables,
 * slots) share. Private to the loader.
 */
#ifndef KILN_LOADER_INTERNAL_H
#define KILN_LOADER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "components/loader/loader.h"

/* A required codegen option. */
typedef struct kiln_loader_required {
  char *key;
  char *value;
} kiln_loader_required_t;

struct kiln_loader_options {
  kiln_target_env_fn env;
  void *env_ctx;
  const kiln_target_host_t *host; /* borrowed; NULL: detect */
  /* The host detected at the first load with these options, reused by later
   * loads (detection costs hundreds of microseconds of CPUID under a
   * hypervisor). Set once by compare-exchange; owned; freed with the
   * options. NULL in the defaults used for NULL options. */
  _Atomic(kiln_target_host_t *) detected;
  bool cache_host; /* false for the on-stack defaults */
  size_t force_target;            /* SIZE_MAX: none */
  char *expected_triple;          /* NULL: default rule */
  kiln_loader_required_t *required;
  size_t required_count;
  bool accept_any_producer;
  bool eager_directory; /* verify the directory before dlopen too */
};

/* One PT_LOAD segment (addresses relative to the load base). */
typedef struct kiln_loader_segment {
  uint64_t vaddr;
  uint64_t memsz;
  uint64_t offset;
  uint64_t filesz;
  uint32_t flags; /* PF_R | PF_W | PF_X */
} kiln_loader_segment_t;

/* The ELF facts validation found and loading needs again. */
typedef struct kiln_loader_elf {
  uint16_t machine;
  kiln_loader_segment_t *segments;
  size_t segment_count;
  bool has_relro;
  uint64_t relro_vaddr;
  uint64_t relro_memsz;
  uint64_t root_vaddr;  /* st_value of the root symbol */
  uint64_t root_size;   /* st_size */
  uint64_t root_offset; /* file offset of the root */
} kiln_loader_elf_t;

struct kiln_loader_info {
  char *name;
  /* The validated bytes, read from the file (or copied from the buffer)
   * into `blob_copy`: the whole blob, or only its load part when `format`
   * is a load view (kiln_image_format_open_load). blob_size is the blob's
   * declared size either way. */
  const void *blob;
  size_t blob_size;
  void *blob_copy;
  /* Room for the loader's function and global tables in the same
   * allocation, after the blob (read_blob explains why): table_capacity
   * pointers, sized from the counts the header declared. NULL/0 when not
   * reserved; kiln_loader_open allocates its own tables when it is short. */
  void **tables;
  size_t table_capacity;
  kiln_image_format_t *format;
  kiln_loader_elf_t elf;
  size_t selected; /* SIZE_MAX: none runs */
  char *reason;
  char *report;
  char *host_cpu;
  /* The file's identity at validation (to detect replacement before dlopen). */
  dev_t dev;
  ino_t ino;
  off_t file_size;
  int64_t mtime_sec;
  long mtime_nsec;
};

/* Validates the file at `path` (steps 1-2). When `require_target`, "no
 * compatible target" is an error (kiln_loader_open), else it is recorded in
 * the info (kiln_loader_inspect). With `directory` the whole blob is read
 * and validated (info->format is a full view), else only its load part. */
kiln_error_t *kiln_loader_validate_file_(const char *path, const kiln_loader_options_t *options,
                                         bool require_target, bool directory,
                                         kiln_loader_info_t **info_out);

/* The default options (shared by functions given NULL options). */
void kiln_loader_options_init_(kiln_loader_options_t *options);

/* strdup that returns NULL on failure (C11 has no strdup). */
char *kiln_loader_strdup_(const char *s);

#endif /* KILN_LOADER_INTERNAL_H */
