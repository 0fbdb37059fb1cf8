/*
 * components/loader/validate.c — steps 1 and 2 of loading, with no dlopen:
 * read the ELF structures of an image with bounded reads (pread on a file,
 * or a memory buffer for the fuzzer), find the dynamic symbol
 * kiln_image_root the way the dynamic linker would (PT_DYNAMIC, then
 * DT_GNU_HASH or DT_HASH, DT_SYMTAB, DT_STRTAB), map it to a file offset
 * through its PT_LOAD segment, read and validate the metadata blob, check
 * producer, triple and codegen options, then select a CPU target.
 *
 * Every offset, size and index read from the file is checked against the
 * file's size before use, with overflow-safe arithmetic, so a hostile file
 * can make validation fail but never read out of bounds.
 */
#define _GNU_SOURCE 1 /* pread, fstat's st_mtim */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "components/loader/internal.h"

/* ---- Bounded reads --------------------------------------------------------- */

/* The input: a file descriptor or a memory buffer, and its size. */
typedef struct src {
  const char *name;
  int fd; /* -1 for a buffer */
  const unsigned char *buf;
  uint64_t size;
  /* For a file: its first bytes, read once. The ELF header, the program
   * headers and (in images LLD links) the dynamic symbol, hash and string
   * tables all lie there, so most of the small reads need no system call. */
  unsigned char head[4096];
  uint64_t head_size;
} src_t;

/* Whether [off, off + len) lies within [0, size), without overflow. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

/* Reads exactly `len` bytes at `off`; `what` names the structure in the
 * message when the range is outside the file. */
static kiln_error_t *src_read(const src_t *src, uint64_t off, uint64_t len, void *dst,
                              const char *what) {
  if (!in_bounds(off, len, src->size)) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: truncated or malformed ELF: %s (bytes %llu..%llu) lies outside "
                          "the file (%llu bytes)",
                          src->name, what, (unsigned long long)off,
                          (unsigned long long)(off + len), (unsigned long long)src->size);
  }
  if (src->fd < 0) {
    memcpy(dst, src->buf + off, (size_t)len);
    return NULL;
  }
  if (len <= src->head_size && off <= src->head_size - len) {
    memcpy(dst, src->head + off, (size_t)len);
    return NULL;
  }
  unsigned char *out = dst;
  while (len > 0) {
    ssize_t got = pread(src->fd, out, (size_t)len, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return kiln_error_new(KILN_ERR_IO, "%s: reading %s at byte %llu failed: %s", src->name,
                            what, (unsigned long long)off,
                            got < 0 ? strerror(errno) : "unexpected end of file");
    }
    out += got;
    off += (uint64_t)got;
    len -= (uint64_t)got;
  }
  return NULL;
}

static kiln_error_t *read_u32(const src_t *src, uint64_t off, uint32_t *out, const char *what) {
  return src_read(src, off, 4, out, what);
}

/* ---- ELF ------------------------------------------------------------------- */

/* The file offset of virtual range [vaddr, vaddr + len), which must lie in
 * the file-backed part of one PT_LOAD segment. */
static bool vaddr_to_offset(const kiln_loader_elf_t *elf, uint64_t vaddr, uint64_t len,
                            uint64_t *off_out) {
  for (size_t i = 0; i < elf->segment_count; i++) {
    const kiln_loader_segment_t *seg = &elf->segments[i];
    if (vaddr >= seg->vaddr && in_bounds(vaddr - seg->vaddr, len, seg->filesz)) {
      *off_out = seg->offset + (vaddr - seg->vaddr);
      return true;
    }
  }
  return false;
}

/* What the dynamic section tells us. */
typedef struct dynamic {
  uint64_t symtab, strtab, strsz, syment, gnu_hash, hash;
  bool has_symtab, has_strtab, has_strsz, has_gnu_hash, has_hash;
} dynamic_t;

static kiln_error_t *read_header(const src_t *src, Elf64_Ehdr *eh) {
  unsigned char ident[EI_NIDENT];
  memset(ident, 0, sizeof(ident));
  uint64_t n = src->size < EI_NIDENT ? src->size : EI_NIDENT;
  kiln_error_t *err = src_read(src, 0, n, ident, "ELF identification");
  if (err != NULL) return err;
  if (n < SELFMAG || memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: not an ELF file", src->name);
  }
  if (n < EI_NIDENT || src->size < sizeof(Elf64_Ehdr)) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: truncated ELF header (%llu bytes)", src->name,
                          (unsigned long long)src->size);
  }
  if (ident[EI_CLASS] != ELFCLASS64) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: not a 64-bit ELF file (class %u)", src->name,
                          ident[EI_CLASS]);
  }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  const unsigned char host_data = ELFDATA2MSB;
#else
  const unsigned char host_data = ELFDATA2LSB;
#endif
  if (ident[EI_DATA] != host_data) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: ELF byte order %u differs from this host's",
                          src->name, ident[EI_DATA]);
  }
  err = src_read(src, 0, sizeof(*eh), eh, "ELF header");
  if (err != NULL) return err;
  if (eh->e_type != ET_DYN) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: not a shared object (ELF type %u)", src->name,
                          (unsigned)eh->e_type);
  }
  if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: malformed ELF: %u program headers of %u bytes (expected %zu)",
                          src->name, (unsigned)eh->e_phnum, (unsigned)eh->e_phentsize,
                          sizeof(Elf64_Phdr));
  }
  /* The dynamic linker never reads section headers, but a file cut short
   * usually loses them first (they come last): report it as truncation. */
  if (eh->e_shnum > 0 &&
      !in_bounds(eh->e_shoff, (uint64_t)eh->e_shnum * eh->e_shentsize, src->size)) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: truncated: the section header table (%u entries at byte %llu) "
                          "extends past the end of the file (%llu bytes)",
                          src->name, (unsigned)eh->e_shnum, (unsigned long long)eh->e_shoff,
                          (unsigned long long)src->size);
  }
  return NULL;
}

/* Program headers: PT_LOAD segments, PT_GNU_RELRO, PT_DYNAMIC. */
static kiln_error_t *read_segments(const src_t *src, const Elf64_Ehdr *eh, kiln_loader_elf_t *elf,
                                   Elf64_Phdr *dynamic_out) {
  size_t count = eh->e_phnum;
  Elf64_Phdr *ph = malloc(count * sizeof(*ph));
  elf->segments = calloc(count, sizeof(*elf->segments));
  if (ph == NULL || elf->segments == NULL) {
    free(ph);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", src->name);
  }
  kiln_error_t *err =
      src_read(src, eh->e_phoff, (uint64_t)count * sizeof(*ph), ph, "program header table");
  bool have_dynamic = false;
  for (size_t i = 0; err == NULL && i < count; i++) {
    const Elf64_Phdr *p = &ph[i];
    if (p->p_type == PT_LOAD) {
      if (!in_bounds(p->p_offset, p->p_filesz, src->size)) {
        err = kiln_error_new(KILN_ERR_FORMAT,
                             "%s: truncated: PT_LOAD segment %zu (bytes %llu..%llu) extends "
                             "past the end of the file (%llu bytes)",
                             src->name, i, (unsigned long long)p->p_offset,
                             (unsigned long long)(p->p_offset + p->p_filesz),
                             (unsigned long long)src->size);
      } else if (p->p_filesz > p->p_memsz || p->p_vaddr + p->p_memsz < p->p_vaddr) {
        err = kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: PT_LOAD segment %zu has bad sizes",
                             src->name, i);
      } else {
        kiln_loader_segment_t *seg = &elf->segments[elf->segment_count++];
        seg->vaddr = p->p_vaddr;
        seg->memsz = p->p_memsz;
        seg->offset = p->p_offset;
        seg->filesz = p->p_filesz;
        seg->flags = p->p_flags;
      }
    } else if (p->p_type == PT_GNU_RELRO) {
      elf->has_relro = true;
      elf->relro_vaddr = p->p_vaddr;
      elf->relro_memsz = p->p_memsz;
    } else if (p->p_type == PT_DYNAMIC) {
      if (have_dynamic) {
        err = kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: two PT_DYNAMIC headers",
                             src->name);
      }
      have_dynamic = true;
      *dynamic_out = *p;
    }
  }
  free(ph);
  if (err == NULL && !have_dynamic) {
    err = kiln_error_new(KILN_ERR_FORMAT,
                         "%s: not a kiln image (no dynamic section, so no dynamic symbol %s)",
                         src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  }
  if (err == NULL && elf->segment_count == 0) {
    err = kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: no PT_LOAD segment", src->name);
  }
  return err;
}

static kiln_error_t *read_dynamic(const src_t *src, const Elf64_Phdr *dyn, dynamic_t *out) {
  memset(out, 0, sizeof(*out));
  uint64_t count = dyn->p_filesz / sizeof(Elf64_Dyn);
  /* Read in batches: one pread for a typical dynamic section. */
  Elf64_Dyn batch[64];
  uint64_t have = 0, first = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (i >= first + have) {
      first = i;
      have = count - i < 64 ? count - i : 64;
      kiln_error_t *err = src_read(src, dyn->p_offset + i * sizeof(Elf64_Dyn),
                                   have * sizeof(Elf64_Dyn), batch, "dynamic section");
      if (err != NULL) return err;
    }
    const Elf64_Dyn d = batch[i - first];
    if (d.d_tag == DT_NULL) break;
    uint64_t v = d.d_un.d_val;
    switch (d.d_tag) {
      case DT_SYMTAB: out->symtab = v; out->has_symtab = true; break;
      case DT_STRTAB: out->strtab = v; out->has_strtab = true; break;
      case DT_STRSZ: out->strsz = v; out->has_strsz = true; break;
      case DT_SYMENT: out->syment = v; break;
      case DT_GNU_HASH: out->gnu_hash = v; out->has_gnu_hash = true; break;
      case DT_HASH: out->hash = v; out->has_hash = true; break;
      default: break;
    }
  }
  if (!out->has_symtab || !out->has_strtab || !out->has_strsz) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: not a kiln image (no dynamic symbol table, so no dynamic symbol %s)",
                          src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  }
  if (out->syment != 0 && out->syment != sizeof(Elf64_Sym)) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: DT_SYMENT %llu (expected %zu)",
                          src->name, (unsigned long long)out->syment, sizeof(Elf64_Sym));
  }
  return NULL;
}

/* A view of the dynamic symbol and string tables as file offsets. */
typedef struct symtab {
  uint64_t sym_off;  /* file offset of symbol 0 */
  uint64_t str_off;  /* file offset of the string table */
  uint64_t str_size; /* its size */
} symtab_t;

/* Whether symbol `index` is named `name`; its entry goes to *sym. */
static kiln_error_t *symbol_matches(const src_t *src, const symtab_t *st, uint64_t index,
                                    const char *name, Elf64_Sym *sym, bool *match) {
  *match = false;
  if (index > (UINT64_MAX - st->sym_off) / sizeof(Elf64_Sym)) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: symbol index %llu out of range",
                          src->name, (unsigned long long)index);
  }
  kiln_error_t *err =
      src_read(src, st->sym_off + index * sizeof(Elf64_Sym), sizeof(*sym), sym, "dynamic symbol");
  if (err != NULL) return err;
  size_t len = strlen(name) + 1;
  if (sym->st_name >= st->str_size || len > st->str_size - sym->st_name) return NULL;
  char buf[64];
  if (len > sizeof(buf)) return NULL;
  err = src_read(src, st->str_off + sym->st_name, len, buf, "dynamic string table");
  if (err != NULL) return err;
  *match = memcmp(buf, name, len) == 0;
  return NULL;
}

static uint32_t gnu_hash(const char *name) {
  uint32_t h = 5381;
  for (const unsigned char *p = (const unsigned char *)name; *p != 0; p++) h = h * 33 + *p;
  return h;
}

static uint32_t sysv_hash(const char *name) {
  uint32_t h = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p != 0; p++) {
    h = (h << 4) + *p;
    uint32_t g = h & 0xf0000000u;
    if (g != 0) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

/* Looks `name` up through DT_GNU_HASH, as glibc's dynamic linker does. */
static kiln_error_t *lookup_gnu(const src_t *src, const kiln_loader_elf_t *elf,
                                const dynamic_t *dyn, const symtab_t *st, const char *name,
                                Elf64_Sym *sym, bool *found) {
  *found = false;
  uint64_t off;
  uint32_t head[4];
  if (!vaddr_to_offset(elf, dyn->gnu_hash, sizeof(head), &off)) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: DT_GNU_HASH outside the file",
                          src->name);
  }
  kiln_error_t *err = src_read(src, off, sizeof(head), head, "GNU hash table");
  if (err != NULL) return err;
  uint32_t nbuckets = head[0], symoffset = head[1], bloom_size = head[2];
  if (nbuckets == 0) return NULL;
  uint64_t buckets = off + 16 + (uint64_t)bloom_size * 8;
  uint64_t chains = buckets + (uint64_t)nbuckets * 4;
  uint32_t h = gnu_hash(name);
  uint32_t index;
  err = read_u32(src, buckets + (uint64_t)(h % nbuckets) * 4, &index, "GNU hash bucket");
  if (err != NULL) return err;
  if (index < symoffset) return NULL; /* empty bucket */
  /* The chain ends at an entry with bit 0 set; every read is bounded by the
   * file, so a chain without an end stops at the end of the file. */
  for (uint64_t i = index;; i++) {
    uint32_t hv;
    err = read_u32(src, chains + (i - symoffset) * 4, &hv, "GNU hash chain");
    if (err != NULL) return err;
    if ((hv | 1u) == (h | 1u)) {
      bool match;
      err = symbol_matches(src, st, i, name, sym, &match);
      if (err != NULL) return err;
      if (match) {
        *found = true;
        return NULL;
      }
    }
    if (hv & 1u) return NULL;
  }
}

/* Looks `name` up through DT_HASH (System V). */
static kiln_error_t *lookup_sysv(const src_t *src, const kiln_loader_elf_t *elf,
                                 const dynamic_t *dyn, const symtab_t *st, const char *name,
                                 Elf64_Sym *sym, bool *found) {
  *found = false;
  uint64_t off;
  uint32_t head[2];
  if (!vaddr_to_offset(elf, dyn->hash, sizeof(head), &off)) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: DT_HASH outside the file",
                          src->name);
  }
  kiln_error_t *err = src_read(src, off, sizeof(head), head, "hash table");
  if (err != NULL) return err;
  uint32_t nbucket = head[0], nchain = head[1];
  /* The whole table must be in the file: that bounds nchain (and so the
   * walk below) by the file's size, not by 2^32. */
  if (!in_bounds(off, 8 + ((uint64_t)nbucket + nchain) * 4, src->size)) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: truncated or malformed ELF: DT_HASH with %u buckets and %u chains "
                          "extends past the end of the file",
                          src->name, nbucket, nchain);
  }
  if (nbucket == 0) return NULL;
  uint32_t i;
  err = read_u32(src, off + 8 + (uint64_t)(sysv_hash(name) % nbucket) * 4, &i, "hash bucket");
  /* At most nchain steps: a cycle in a corrupt chain cannot loop forever. */
  for (uint32_t steps = 0; err == NULL && i != STN_UNDEF && steps <= nchain; steps++) {
    if (i >= nchain) {
      return kiln_error_new(KILN_ERR_FORMAT, "%s: malformed ELF: hash chain index %u >= %u",
                            src->name, i, nchain);
    }
    bool match;
    err = symbol_matches(src, st, i, name, sym, &match);
    if (err != NULL) return err;
    if (match) {
      *found = true;
      return NULL;
    }
    err = read_u32(src, off + 8 + (uint64_t)nbucket * 4 + (uint64_t)i * 4, &i, "hash chain");
  }
  return err;
}

/* Finds the root symbol and records where its bytes are in the file. */
static kiln_error_t *find_root(const src_t *src, kiln_loader_elf_t *elf, const dynamic_t *dyn) {
  symtab_t st;
  if (!vaddr_to_offset(elf, dyn->symtab, sizeof(Elf64_Sym), &st.sym_off) ||
      !vaddr_to_offset(elf, dyn->strtab, dyn->strsz, &st.str_off)) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: malformed ELF: dynamic symbol or string table outside the file",
                          src->name);
  }
  st.str_size = dyn->strsz;
  Elf64_Sym sym;
  bool found = false;
  kiln_error_t *err;
  if (dyn->has_gnu_hash) {
    err = lookup_gnu(src, elf, dyn, &st, KILN_IMAGE_FORMAT_ROOT_SYMBOL, &sym, &found);
  } else if (dyn->has_hash) {
    err = lookup_sysv(src, elf, dyn, &st, KILN_IMAGE_FORMAT_ROOT_SYMBOL, &sym, &found);
  } else {
    err = kiln_error_new(KILN_ERR_FORMAT,
                         "%s: not a kiln image (no DT_GNU_HASH or DT_HASH, so no dynamic symbol "
                         "%s can be found)",
                         src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  }
  if (err != NULL) return err;
  unsigned bind = found ? ELF64_ST_BIND(sym.st_info) : 0;
  if (!found || sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) ||
      ELF64_ST_VISIBILITY(sym.st_other) == STV_HIDDEN ||
      ELF64_ST_VISIBILITY(sym.st_other) == STV_INTERNAL) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: not a kiln image (no dynamic symbol %s)",
                          src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  }
  if (ELF64_ST_TYPE(sym.st_info) != STT_OBJECT) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: not a kiln image (%s is not a data object)",
                          src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  }
  if (sym.st_size < KILN_IMAGE_FORMAT_HEADER_SIZE) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: image metadata truncated (%s has %llu bytes, the header needs %d)",
                          src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL,
                          (unsigned long long)sym.st_size, KILN_IMAGE_FORMAT_HEADER_SIZE);
  }
  if (!vaddr_to_offset(elf, sym.st_value, sym.st_size, &elf->root_offset)) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: image metadata truncated or misplaced (%s at 0x%llx, %llu bytes, "
                          "is not inside the file-backed part of a PT_LOAD segment)",
                          src->name, KILN_IMAGE_FORMAT_ROOT_SYMBOL,
                          (unsigned long long)sym.st_value, (unsigned long long)sym.st_size);
  }
  elf->root_vaddr = sym.st_value;
  elf->root_size = sym.st_size;
  return NULL;
}

/* ---- Metadata -------------------------------------------------------------- */

/* The triple's architecture and the ELF machine must agree. */
static kiln_target_arch_t machine_arch(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return KILN_TARGET_ARCH_X86_64;
    case EM_AARCH64: return KILN_TARGET_ARCH_AARCH64;
    default: return KILN_TARGET_ARCH_UNKNOWN;
  }
}

/* Reads a decimal number of at most 9 digits at *p and moves past it. */
static bool read_number(const char **p, unsigned *value_out) {
  unsigned v = 0;
  int digits = 0;
  for (; **p >= '0' && **p <= '9'; (*p)++) {
    if (++digits > 9) return false;
    v = v * 10 + (unsigned)(**p - '0');
  }
  *value_out = v;
  return digits > 0;
}

/* Producer rule: "kiln <major>.<minor>[.<patch>]..." with this loader's
 * major and minor; the patch level may differ. Parsed by hand, not with
 * sscanf: this runs on every load, and sscanf cost more than the rest of
 * the metadata checks. */
static bool producer_matches(const char *producer) {
  unsigned major, minor;
  if (strncmp(producer, "kiln ", 5) != 0) return false;
  const char *p = producer + 5;
  if (!read_number(&p, &major) || *p++ != '.' || !read_number(&p, &minor)) return false;
  return major == KILN_VERSION_MAJOR && minor == KILN_VERSION_MINOR;
}

static kiln_error_t *check_metadata(const char *name, const kiln_loader_options_t *options,
                                    const kiln_image_format_t *format, uint16_t machine) {
  const char *producer = kiln_image_format_producer(format);
  if (!options->accept_any_producer && !producer_matches(producer)) {
    return kiln_error_new(KILN_ERR_VERSION_MISMATCH,
                          "%s: producer '%s' is not kiln %d.%d (this loader is kiln %s; images "
                          "must come from the same major.minor)",
                          name, producer, KILN_VERSION_MAJOR, KILN_VERSION_MINOR,
                          KILN_VERSION_STRING);
  }
  const char *triple = kiln_image_format_triple(format);
  if (options->expected_triple != NULL) {
    if (strcmp(triple, options->expected_triple) != 0) {
      return kiln_error_new(KILN_ERR_INCOMPATIBLE, "%s: wrong triple '%s' (expected '%s')", name,
                            triple, options->expected_triple);
    }
  } else {
    kiln_target_arch_t arch = KILN_TARGET_ARCH_UNKNOWN;
    kiln_error_free(kiln_target_arch_from_name(triple, &arch));
    if (arch != kiln_target_arch_host() || strstr(triple, "-linux") == NULL) {
      return kiln_error_new(KILN_ERR_INCOMPATIBLE,
                            "%s: wrong triple '%s' (this host runs %s-*-linux-*)", name, triple,
                            kiln_target_arch_name(kiln_target_arch_host()));
    }
  }
  kiln_target_arch_t triple_arch = KILN_TARGET_ARCH_UNKNOWN;
  kiln_error_free(kiln_target_arch_from_name(triple, &triple_arch));
  if (machine_arch(machine) != triple_arch) {
    return kiln_error_new(KILN_ERR_INCOMPATIBLE,
                          "%s: ELF machine %u does not match the image's triple '%s'", name,
                          (unsigned)machine, triple);
  }
  for (size_t i = 0; i < options->required_count; i++) {
    const kiln_loader_required_t *req = &options->required[i];
    const char *value = kiln_image_format_option_find(format, req->key);
    if (value == NULL) {
      return kiln_error_new(KILN_ERR_INCOMPATIBLE,
                            "%s: codegen option '%s' is not recorded (required '%s')", name,
                            req->key, req->value);
    }
    if (strcmp(value, req->value) != 0) {
      return kiln_error_new(KILN_ERR_INCOMPATIBLE,
                            "%s: codegen option '%s' is '%s' (required '%s')", name, req->key,
                            value, req->value);
    }
  }
  return NULL;
}

/* Reads the root: header and section table first (to learn the blob's
 * size, load size and table sizes), then the whole blob (`directory`) or
 * only its load part, with pread into one buffer; mapping the pages instead
 * costs more (page-table setup and teardown per load) than copying them
 * from the page cache.
 *
 * With `reserve_tables` the same allocation gets room after the blob for
 * the function and global tables kiln_loader_open builds (info->tables).
 * One allocation instead of two matters to glibc's malloc: two chunks each
 * under its mmap threshold (128 KiB at first) but together over its trim
 * threshold are taken from the heap top, and freeing them at close trims
 * the heap, so the next load faults every page in again; one chunk over
 * the threshold is mapped once, and freeing it raises both thresholds. */
static kiln_error_t *read_blob(const src_t *src, bool directory, bool reserve_tables,
                               kiln_loader_info_t *info) {
  const kiln_loader_elf_t *elf = &info->elf;
  unsigned char header[KILN_IMAGE_FORMAT_PEEK_COUNTS_SIZE];
  size_t head = KILN_IMAGE_FORMAT_HEADER_SIZE;
  if (reserve_tables && elf->root_size > head) {
    head = elf->root_size < sizeof(header) ? (size_t)elf->root_size : sizeof(header);
  }
  kiln_error_t *err = src_read(src, elf->root_offset, head, header, "image metadata");
  if (err != NULL) return err;
  uint64_t blob_size = 0, checksum = 0, load_size = 0;
  err = kiln_image_format_peek(header, head, src->name, &blob_size, &checksum);
  if (err != NULL) return err;
  if (blob_size < KILN_IMAGE_FORMAT_HEADER_SIZE || blob_size > elf->root_size) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: image metadata truncated (header declares %llu bytes, %s has %llu)",
                          src->name, (unsigned long long)blob_size,
                          KILN_IMAGE_FORMAT_ROOT_SYMBOL, (unsigned long long)elf->root_size);
  }
  if (!directory) {
    err = kiln_image_format_peek_load_size(header, head, src->name, &load_size);
    if (err != NULL) return err;
  }
  uint64_t read_size = directory ? blob_size : load_size;
  info->blob_size = (size_t)blob_size;
  /* A table entry per function and global, plus one each (never empty).
   * A blob that validates has an 8-byte entry for each of them in its
   * functions and globals sections, which bounds the counts peeked here by
   * the blob size (itself bounded by the file). */
  size_t functions = 0, globals = 0, capacity = 0;
  if (reserve_tables) {
    kiln_error_free(kiln_image_format_peek_counts(header, head, src->name, &functions, &globals));
    if (functions <= blob_size / 8 && globals <= blob_size / 8 - functions) {
      capacity = functions + 1 + globals + 1;
    }
  }
  size_t blob_room = (size_t)((read_size + 7) & ~(uint64_t)7);
  info->blob_copy = malloc(blob_room + capacity * sizeof(void *));
  if (info->blob_copy == NULL) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory for %llu bytes of metadata",
                          src->name, (unsigned long long)read_size);
  }
  info->blob = info->blob_copy;
  if (capacity > 0) {
    info->tables = (void **)(void *)((unsigned char *)info->blob_copy + blob_room);
    info->table_capacity = capacity;
  }
  /* In the file: find_root checked the root's bytes lie in it. */
  err = src_read(src, elf->root_offset, read_size, info->blob_copy, "image metadata");
  if (err != NULL) return err;
  err = directory ? kiln_image_format_open(info->blob, (size_t)read_size, src->name, &info->format)
                  : kiln_image_format_open_load(info->blob, (size_t)read_size, src->name,
                                                &info->format);
  if (err != NULL) return err;
  /* The pointer array must lie inside the root symbol too. */
  uint64_t pointer_offset = kiln_image_format_pointer_offset(info->format);
  uint64_t pointer_count = kiln_image_format_pointer_count(info->format);
  if (pointer_count > elf->root_size / sizeof(void *) ||
      !in_bounds(pointer_offset, pointer_count * sizeof(void *), elf->root_size)) {
    return kiln_error_new(KILN_ERR_FORMAT,
                          "%s: image metadata truncated (pointer array of %llu entries at byte "
                          "%llu does not fit in %s's %llu bytes)",
                          src->name, (unsigned long long)pointer_count,
                          (unsigned long long)pointer_offset, KILN_IMAGE_FORMAT_ROOT_SYMBOL,
                          (unsigned long long)elf->root_size);
  }
  return NULL;
}

/* ---- Selection ------------------------------------------------------------- */

static char *dup_or_empty(const char *s) { return kiln_loader_strdup_(s != NULL ? s : ""); }

static kiln_error_t *select_target(const char *name, const kiln_loader_options_t *options,
                                   kiln_loader_info_t *info) {
  kiln_target_host_t *detected = NULL;
  const kiln_target_host_t *host = options->host;
  kiln_error_t *err = NULL;
  if (host == NULL && options->cache_host) {
    host = atomic_load_explicit(&((kiln_loader_options_t *)options)->detected,
                                memory_order_acquire);
  }
  if (host == NULL) {
    err = kiln_target_host_detect(options->env, options->env_ctx, &detected);
    if (err != NULL) return kiln_error_prefix(err, "%s: host CPU detection", name);
    host = detected;
    if (options->cache_host) {
      /* Publish for later loads; if another thread won, keep using ours for
       * this load and free it below. */
      kiln_target_host_t *expected = NULL;
      if (atomic_compare_exchange_strong_explicit(
              &((kiln_loader_options_t *)options)->detected, &expected, detected,
              memory_order_acq_rel, memory_order_acquire)) {
        detected = NULL; /* now owned by the options */
      }
    }
  }
  size_t count = kiln_image_format_target_count(info->format);
  kiln_target_spec_t *specs = calloc(count, sizeof(*specs));
  kiln_target_select_options_t *sel_options = NULL;
  kiln_target_selection_t *selection = NULL;
  if (specs == NULL) {
    err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    goto done;
  }
  for (size_t k = 0; k < count; k++) {
    specs[k].cpu = kiln_image_format_target_cpu(info->format, k);
    specs[k].features = kiln_image_format_target_features(info->format, k);
    specs[k].flags = kiln_image_format_target_flags(info->format, k);
  }
  err = kiln_target_select_options_new(&sel_options);
  if (err != NULL) goto done;
  kiln_target_select_options_set_env(sel_options, options->env, options->env_ctx);
  kiln_target_select_options_set_force_index(sel_options, options->force_target);
  info->host_cpu = dup_or_empty(kiln_target_host_cpu(host));
  err = kiln_target_select(host, specs, count, sel_options, &selection);
  if (err != NULL && kiln_error_code(err) == KILN_ERR_INCOMPATIBLE) {
    /* Not a failure of validation: inspect reports it, open turns it into
     * its error. */
    info->selected = SIZE_MAX;
    size_t len = strlen(name) + strlen(kiln_error_message(err)) + 64;
    info->reason = malloc(len);
    if (info->reason != NULL) {
      snprintf(info->reason, len, "%s: no compatible CPU target: %s", name,
               kiln_error_message(err));
    }
    info->report = dup_or_empty(kiln_error_message(err));
    kiln_error_free(err);
    err = NULL;
  } else if (err != NULL) {
    err = kiln_error_prefix(err, "%s: target selection", name);
    goto done;
  } else {
    info->selected = kiln_target_selection_index(selection);
    info->reason = dup_or_empty(kiln_target_selection_reason(selection));
    info->report = dup_or_empty(kiln_target_selection_report(selection));
  }
  if (info->reason == NULL || info->report == NULL || info->host_cpu == NULL) {
    err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  }
done:
  kiln_target_selection_free(selection);
  kiln_target_select_options_free(sel_options);
  free(specs);
  kiln_target_host_free(detected);
  return err;
}

/* ---- Driver ---------------------------------------------------------------- */

static kiln_error_t *validate(const src_t *src, const kiln_loader_options_t *options,
                              bool require_target, bool directory, kiln_loader_info_t *info) {
  /* 1a. ELF header, program headers, dynamic section, root symbol. */
  Elf64_Ehdr eh;
  kiln_error_t *err = read_header(src, &eh);
  if (err != NULL) return err;
  info->elf.machine = eh.e_machine;
  Elf64_Phdr dynamic_ph;
  memset(&dynamic_ph, 0, sizeof(dynamic_ph));
  err = read_segments(src, &eh, &info->elf, &dynamic_ph);
  if (err != NULL) return err;
  dynamic_t dyn;
  err = read_dynamic(src, &dynamic_ph, &dyn);
  if (err != NULL) return err;
  err = find_root(src, &info->elf, &dyn);
  if (err != NULL) return err;
  /* 1b. The blob (or its load part): magic, format version, sizes,
   * checksum, structure. */
  err = read_blob(src, directory, require_target, info);
  if (err != NULL) return err;
  /* 1c. Producer, triple, codegen options. */
  err = check_metadata(src->name, options, info->format, info->elf.machine);
  if (err != NULL) return err;
  /* 2. Host and target. */
  err = select_target(src->name, options, info);
  if (err != NULL) return err;
  if (require_target && info->selected == SIZE_MAX) {
    return kiln_error_new(KILN_ERR_INCOMPATIBLE, "%s", info->reason);
  }
  return NULL;
}

static kiln_error_t *new_info(const char *name, kiln_loader_info_t **info_out) {
  kiln_loader_info_t *info = calloc(1, sizeof(*info));
  if (info == NULL || (info->name = kiln_loader_strdup_(name)) == NULL) {
    free(info);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  }
  info->selected = SIZE_MAX;
  *info_out = info;
  return NULL;
}

kiln_error_t *kiln_loader_validate_file_(const char *path, const kiln_loader_options_t *options,
                                         bool require_target, bool directory,
                                         kiln_loader_info_t **info_out) {
  *info_out = NULL;
  kiln_loader_options_t defaults;
  if (options == NULL) {
    kiln_loader_options_init_(&defaults);
    options = &defaults;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return kiln_error_new(e == ENOENT ? KILN_ERR_NOT_FOUND : KILN_ERR_IO, "%s: cannot open: %s",
                          path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return kiln_error_new(KILN_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return kiln_error_new(KILN_ERR_IO, "%s: not a regular file", path);
  }
  kiln_loader_info_t *info = NULL;
  kiln_error_t *err = new_info(path, &info);
  if (err == NULL) {
    info->dev = st.st_dev;
    info->ino = st.st_ino;
    info->file_size = st.st_size;
    info->mtime_sec = (int64_t)st.st_mtim.tv_sec;
    info->mtime_nsec = st.st_mtim.tv_nsec;
    src_t src = {.name = info->name, .fd = fd, .size = (uint64_t)st.st_size};
    uint64_t want = src.size < sizeof(src.head) ? src.size : sizeof(src.head);
    /* A short or failed read just leaves more to pread later. */
    ssize_t got = want > 0 ? pread(fd, src.head, (size_t)want, 0) : 0;
    src.head_size = got > 0 ? (uint64_t)got : 0;
    err = validate(&src, options, require_target, directory, info);
  }
  close(fd);
  if (err != NULL) {
    kiln_loader_info_free(info);
    return err;
  }
  *info_out = info;
  return NULL;
}

kiln_error_t *kiln_loader_inspect(const char *path, const kiln_loader_options_t *options,
                                  kiln_loader_info_t **info_out) {
  if (info_out != NULL) *info_out = NULL;
  if (path == NULL || info_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_inspect: NULL %s",
                          path == NULL ? "path" : "info_out");
  }
  return kiln_loader_validate_file_(path, options, false, true, info_out);
}

kiln_error_t *kiln_loader_validate_buffer(const void *data, size_t size, const char *name,
                                          const kiln_loader_options_t *options,
                                          kiln_loader_info_t **info_out) {
  if (info_out != NULL) *info_out = NULL;
  if ((data == NULL && size > 0) || info_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_loader_validate_buffer: NULL %s",
                          info_out == NULL ? "info_out" : "data");
  }
  if (name == NULL) name = "<buffer>";
  kiln_loader_options_t defaults;
  if (options == NULL) {
    kiln_loader_options_init_(&defaults);
    options = &defaults;
  }
  kiln_loader_info_t *info = NULL;
  kiln_error_t *err = new_info(name, &info);
  if (err != NULL) return err;
  src_t src = {.name = info->name, .fd = -1, .buf = data, .size = size};
  err = validate(&src, options, false, true, info);
  if (err != NULL) {
    kiln_loader_info_free(info);
    return err;
  }
  *info_out = info;
  return NULL;
}

void kiln_loader_info_free(kiln_loader_info_t *info) {
  if (info == NULL) return;
  kiln_image_format_close(info->format);
  free(info->blob_copy);
  free(info->elf.segments);
  free(info->reason);
  free(info->report);
  free(info->host_cpu);
  free(info->name);
  free(info);
}

const kiln_image_format_t *kiln_loader_info_format(const kiln_loader_info_t *info) {
  return info != NULL ? info->format : NULL;
}

size_t kiln_loader_info_selected(const kiln_loader_info_t *info) {
  return info != NULL ? info->selected : SIZE_MAX;
}

const char *kiln_loader_info_reason(const kiln_loader_info_t *info) {
  return info != NULL && info->reason != NULL ? info->reason : "";
}

const char *kiln_loader_info_report(const kiln_loader_info_t *info) {
  return info != NULL && info->report != NULL ? info->report : "";
}

const char *kiln_loader_info_host_cpu(const kiln_loader_info_t *info) {
  return info != NULL && info->host_cpu != NULL ? info->host_cpu : "";
}
