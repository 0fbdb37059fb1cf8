/*
 * components/image_format/image_format.h — the metadata every kiln image
 * carries: what the emitter writes into the image's metadata object and what
 * the loader reads and checks before any image code runs. Pure C, libc only:
 * both sides of the pipeline link it, and the loader must stay free of LLVM.
 *
 * An image is a shared object with ONE exported data symbol, its root
 * (KILN_IMAGE_FORMAT_ROOT_SYMBOL). The root is laid out as
 *
 *     [ metadata blob: `size` bytes, plain data, no relocations ]
 *       (load part first, then the directory: see kiln_image_format_open_load)
 *     [ zero padding to a multiple of 8                          ]
 *     [ pointer array: pointer_count words, relocated by dlopen  ]
 *
 * The blob starts with a fixed header (magic, format version, total size,
 * checksum) and holds everything below; because it has no relocations, its
 * bytes in the file are the bytes in memory, so the loader can read and
 * validate it straight from the ELF file before dlopen, then compare it with
 * the mapped copy. The pointer array is the only part that needs the dynamic
 * linker: each entry is the address of one per-shard table (below), and
 * which entry is which is recorded in the blob. docs/image-format.md
 * describes the encoding field by field.
 *
 * What the blob describes (indices are stable and dense, starting at 0):
 *   - header: producer (kiln version and LLVM version), target triple, the
 *     image kind (system or package), an image name, the key=value options
 *     that change generated code, and for a package image the checksum of
 *     the base image it was built against;
 *   - targets: CPU name, resolved feature string ("+f1,+f2,..."), flags
 *     (KILN_TARGET_* of components/target) and base index, per target;
 *   - functions: the image's function table, numbered shard by shard (the
 *     functions of shard 0 first, then those of shard 1, ...), with a name
 *     index (the function indices in symbol-name order) for the finds.
 *     Target 0's code is the original functions; target k > 0 overrides
 *     some;
 *   - globals: the image's global-variable table, numbered and indexed the
 *     same way;
 *   - shards: per shard, how many functions it defines (so shard s's
 *     functions are a consecutive range of the function table, and its
 *     table of target 0 maps onto that range entry for entry), per target
 *     k > 0 the entries it overrides (a bit mask over positions in the
 *     shard's range), its relocation slots (each naming the function whose
 *     selected version the loader writes into the slot) and how many
 *     globals it defines (again a consecutive range); and for each
 *     non-empty table, the index of the pointer-array entry that holds the
 *     table's address;
 *   - methods: the runtime's view (design.md, "Runtime model"): a key, a
 *     function index, flags, a fingerprint of the code, the in-image methods
 *     it calls, its dependencies outside the image (key + fingerprint it was
 *     compiled against) and optionally its bitcode (for compile-on-first-use).
 *
 * Per-shard tables in the image (defined by the emitter in each shard's
 * object, addressed through the pointer array):
 *   functions(s, 0): [n_s x ptr]  target 0's address of each shard function
 *   functions(s, k): [m_sk x ptr] target k's address of each overridden one
 *   slots(s):        [q_s x ptr]  address of each slot word
 *   globals(s):      [g_s x ptr]  address of each global the shard defines
 * Their symbol names come from kiln_image_format_table_symbol(); an empty
 * table has no symbol and no pointer-array entry.
 *
 * Conventions are kiln's (components/base/base.h): fallible calls return an
 * owned kiln_error_t *, NULL on success, and set every *_out even on failure.
 */
#ifndef KILN_IMAGE_FORMAT_H
#define KILN_IMAGE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"

KILN_BEGIN_DECLS

/* The one exported symbol of every image. */
#define KILN_IMAGE_FORMAT_ROOT_SYMBOL "kiln_image_root"

/* The first 8 bytes of the blob. */
#define KILN_IMAGE_FORMAT_MAGIC "KILNIMG\0"
#define KILN_IMAGE_FORMAT_MAGIC_SIZE 8

/* Bumped on every incompatible change to the encoding. A reader accepts
 * exactly this version. */
#define KILN_IMAGE_FORMAT_VERSION 5u

/* Image kinds. */
typedef enum kiln_image_format_kind {
  KILN_IMAGE_FORMAT_KIND_SYSTEM = 0,  /* trusted against an empty table */
  KILN_IMAGE_FORMAT_KIND_PACKAGE = 1  /* validated method by method */
} kiln_image_format_kind_t;

/* Method flags (kiln_image_format_method_t.flags). */
#define KILN_IMAGE_FORMAT_METHOD_SPECSIG 0x1u /* callable with its native signature */

/* ---- Hashing ------------------------------------------------------------ */

/* A 64-bit hash of `size` bytes: the blob checksum and the fingerprints of
 * code and options use it. Stable across hosts and versions of kiln that
 * share KILN_IMAGE_FORMAT_VERSION; processes 8 bytes per step (it is
 * XXH64, docs/image-format.md). `seed` 0 is the usual choice. Not
 * cryptographic. Thread-safety: pure function. */
KILN_API uint64_t kiln_image_format_hash64(const void *data, size_t size, uint64_t seed);

/* ---- Describing an image (writer side) --------------------------------- */

/* Plain-data description the writer encodes. All strings are NUL-terminated
 * UTF-8 and borrowed for the duration of kiln_image_format_encode(); arrays
 * are borrowed likewise. Index fields refer to the arrays of the enclosing
 * description. */
typedef struct kiln_image_format_target {
  const char *cpu;      /* LLVM CPU name as resolved ("haswell", "generic") */
  const char *features; /* full resolved feature set "+f1,+f2,..." */
  uint32_t flags;       /* KILN_TARGET_* flags of components/target */
  uint32_t base;        /* base target index (<= own index; 0 for target 0) */
} kiln_image_format_target_t;

typedef struct kiln_image_format_option {
  const char *key;   /* e.g. "opt_level", "vectorize", "sanitize" */
  const char *value; /* e.g. "2", "1", "" */
} kiln_image_format_option_t;

/* Shard s defines the `function_count` functions that follow those of
 * shards 0..s-1 in the description's function table (the table is numbered
 * shard by shard), and likewise `global_count` globals. */
typedef struct kiln_image_format_shard {
  size_t function_count;
  /* overrides[k] for k in 1..target_count-1 (overrides[0] is ignored and
   * may be NULL): positions in the shard's range of functions (0 is its
   * first function) whose target-k version differs from target 0's,
   * strictly ascending; override_counts likewise. May be NULL when no
   * target overrides anything in this shard. */
  const uint32_t *const *overrides;
  const size_t *override_counts;
  const uint32_t *slot_functions; /* per slot: the function index it holds */
  size_t slot_count;
  size_t global_count;
} kiln_image_format_shard_t;

typedef struct kiln_image_format_dep {
  const char *key;      /* a method outside this image */
  uint64_t fingerprint; /* the fingerprint it had when this image was built */
} kiln_image_format_dep_t;

typedef struct kiln_image_format_method {
  const char *key;          /* unique within the image, e.g. "f" or "f(i64)" */
  uint32_t function;        /* index into the function table */
  uint32_t flags;           /* KILN_IMAGE_FORMAT_METHOD_* */
  uint64_t fingerprint;     /* hash of the method's code (kiln_image_format_hash64) */
  const uint32_t *calls;    /* in-image methods it calls, strictly ascending */
  size_t call_count;
  const kiln_image_format_dep_t *deps; /* sorted by key, keys unique */
  size_t dep_count;
  const void *bitcode;      /* optional: LLVM bitcode that defines `key` */
  size_t bitcode_size;      /* 0 when absent */
} kiln_image_format_method_t;

typedef struct kiln_image_format_desc {
  const char *producer;  /* e.g. "kiln 0.1.0 (LLVM 22.1.8)" */
  const char *triple;    /* e.g. "x86_64-unknown-linux-gnu" */
  const char *name;      /* image name, e.g. "sys" (may be "") */
  kiln_image_format_kind_t kind;
  uint64_t base_checksum; /* package: the base image's checksum; else 0 */
  const kiln_image_format_option_t *options; /* sorted by key, keys unique */
  size_t option_count;
  const kiln_image_format_target_t *targets; /* at least one */
  size_t target_count;
  const char *const *functions;  /* function table: symbol names, unique,
                                    numbered shard by shard (shards[0]'s
                                    first, in any order within a shard) */
  size_t function_count;
  const char *const *globals;    /* global table: symbol names, unique,
                                    numbered shard by shard likewise */
  size_t global_count;
  const kiln_image_format_shard_t *shards; /* their counts add up to the
                                              function and global counts */
  size_t shard_count;
  const kiln_image_format_method_t *methods; /* sorted by key, keys unique */
  size_t method_count;
} kiln_image_format_desc_t;

/* Encodes `desc` into a blob: header, sections, checksum, and the name
 * indices of functions and globals (sorted by strcmp here). The output
 * depends only on `desc` (no clock, no addresses), so equal descriptions
 * give equal bytes. Checks what the reader would reject (counts, index
 * ranges, sort order, unique names, shard counts that add up to the
 * function and global counts).
 * Ownership: *blob_out is owned by the caller (free()); NULL on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT naming the offending field and index
 * (e.g. "methods[3].calls[1]: method 9 out of range (7 methods)",
 * "functions[7]: 'main' is a duplicate of functions[2]");
 * KILN_ERR_OUT_OF_MEMORY. Thread-safety: reads `desc` only. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_encode(const kiln_image_format_desc_t *desc,
                                                              void **blob_out, size_t *size_out);

/* Kinds of per-shard tables. */
typedef enum kiln_image_format_table_kind {
  KILN_IMAGE_FORMAT_TABLE_FUNCTIONS = 0, /* per target */
  KILN_IMAGE_FORMAT_TABLE_SLOTS = 1,
  KILN_IMAGE_FORMAT_TABLE_GLOBALS = 2
} kiln_image_format_table_kind_t;

/* Writes the symbol name of a per-shard table into buf[0..size) (always
 * NUL-terminated when size > 0): "__kiln_s<shard>_f<target>",
 * "__kiln_s<shard>_slots", "__kiln_s<shard>_globals" (`target` is ignored
 * for slots and globals). Returns the length the full name needs, like
 * snprintf. The emitter defines these (hidden) in shard objects. */
KILN_API size_t kiln_image_format_table_symbol(char *buf, size_t size, size_t shard,
                                               kiln_image_format_table_kind_t kind,
                                               size_t target);

/* ---- Reading and validating (loader side) ------------------------------ */

/* A validated, read-only view of a blob. It borrows the buffer given to
 * kiln_image_format_open(), which must outlive it. */
typedef struct kiln_image_format kiln_image_format_t;

/* Validates `data[0..size)` as a blob and opens a view on it: magic, format
 * version, declared size (may be smaller than `size`: trailing bytes, such
 * as the root's padding and pointer array, are ignored), both checksums, and
 * then every section, offset, count, string and index against the buffer,
 * so no later accessor can read out of bounds. `name` names the input in
 * messages (e.g. the image path).
 * Ownership: *image_out is owned by the caller
 * (kiln_image_format_close); it borrows `data` (when `data` is not 8-byte
 * aligned it keeps one aligned private copy of the blob instead, since the
 * list accessors return uint32_t arrays into it).
 * Errors: KILN_ERR_FORMAT "not a kiln image" (bad magic), "truncated"
 * (buffer shorter than the header or the declared size), "checksum
 * mismatch (stored 0x..., computed 0x...)", or a precise structural problem
 * ("methods section: entry 4: function index 120 out of range (100
 * functions)"); KILN_ERR_VERSION_MISMATCH for another format version (both
 * versions named); KILN_ERR_INVALID_ARGUMENT for NULL; KILN_ERR_OUT_OF_MEMORY.
 * *image_out is NULL on failure. Never reads outside data[0..size).
 * Thread-safety: reads `data` only. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_open(const void *data, size_t size,
                                                            const char *name,
                                                            kiln_image_format_t **image_out);

/* The blob is two parts (docs/image-format.md, "Load part and directory"):
 * the LOAD PART, bytes [0, load size), holds the header, the section table
 * and what loading needs (producer, triple, options, targets, shards with
 * their counts, override masks and slot lists, and the function and global
 * counts), under its own "load checksum"; the DIRECTORY, bytes
 * [load size, size), holds the names of functions and globals with their
 * name indices and the methods with their calls, dependencies and bitcode.
 * The blob checksum covers both.
 *
 * kiln_image_format_open_load validates the load part exactly as
 * kiln_image_format_open does (load checksum, every offset and index) and
 * reads nothing after it: `size` need only reach the load size
 * (kiln_image_format_peek_load_size). The view answers every load-part
 * accessor; the directory's accessors see no entries: function and global
 * names and method_* give NULL/0, *_find give KILN_ERR_UNSUPPORTED.
 * kiln_image_format_has_directory tells which kind a view is. Whatever
 * kiln_image_format_open accepts, kiln_image_format_open_load accepts too.
 * Errors as kiln_image_format_open ("load part checksum mismatch", ...).
 * Ownership and thread-safety as kiln_image_format_open. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_open_load(const void *data, size_t size,
                                                                 const char *name,
                                                                 kiln_image_format_t **image_out);
KILN_API void kiln_image_format_close(kiln_image_format_t *image);

/* Whether `image` was opened with its directory (kiln_image_format_open). */
KILN_API bool kiln_image_format_has_directory(const kiln_image_format_t *image);

/* The size of the load part: the bytes kiln_image_format_open_load reads. */
KILN_API uint64_t kiln_image_format_load_size(const kiln_image_format_t *image);

/* The size of the fixed header: the bytes kiln_image_format_peek() needs. */
#define KILN_IMAGE_FORMAT_HEADER_SIZE 64

/* Reads only the fixed header of data[0..size): checks magic and format
 * version, and returns the blob's declared total size and stored checksum,
 * so a reader can find how many bytes to fetch before calling
 * kiln_image_format_open(). Errors as kiln_image_format_open for the
 * header. Outputs are 0 on failure. Thread-safety: pure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_peek(const void *data, size_t size,
                                                            const char *name,
                                                            uint64_t *blob_size_out,
                                                            uint64_t *checksum_out);

/* Like kiln_image_format_peek, for the load size declared in the header
 * (checked to be a multiple of 8 between the header size and the total
 * size): how many bytes kiln_image_format_open_load needs. 0 on failure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_peek_load_size(const void *data,
                                                                      size_t size,
                                                                      const char *name,
                                                                      uint64_t *load_size_out);

/* The function and global counts declared by the section table in the
 * first `size` bytes of a blob (kiln's encoder puts the table right after
 * the header: KILN_IMAGE_FORMAT_PEEK_COUNTS_SIZE bytes reach past it), so a
 * reader can size its buffers in one allocation before reading the rest.
 * Only the header and the table's place are checked: the counts are a
 * hint until kiln_image_format_open_load accepts the blob. Errors as
 * kiln_image_format_peek_load_size, and KILN_ERR_FORMAT when the section
 * table is not inside data[0..size). Outputs are 0 on failure.
 * Thread-safety: pure. */
#define KILN_IMAGE_FORMAT_PEEK_COUNTS_SIZE 512
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_peek_counts(const void *data, size_t size,
                                                                   const char *name,
                                                                   size_t *functions_out,
                                                                   size_t *globals_out);

/* Accessors. All take a view from kiln_image_format_open; indices out of
 * range give NULL/0. Strings are borrowed from the blob and NUL-terminated.
 * List accessors (shard_override_mask, shard_slots, method_calls) return
 * NULL with *count_out 0 for an empty list or an index out of range.
 * Thread-safety: a view is immutable; any number of threads may read it. */
KILN_API uint32_t kiln_image_format_version(const kiln_image_format_t *image);
KILN_API uint64_t kiln_image_format_size(const kiln_image_format_t *image);
KILN_API uint64_t kiln_image_format_checksum(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_producer(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_triple(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_name(const kiln_image_format_t *image);
KILN_API kiln_image_format_kind_t kiln_image_format_kind(const kiln_image_format_t *image);
KILN_API uint64_t kiln_image_format_base_checksum(const kiln_image_format_t *image);

KILN_API size_t kiln_image_format_option_count(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_option_key(const kiln_image_format_t *image, size_t i);
KILN_API const char *kiln_image_format_option_value(const kiln_image_format_t *image, size_t i);
/* The value of option `key`, or NULL when the image does not record it. */
KILN_API const char *kiln_image_format_option_find(const kiln_image_format_t *image,
                                                   const char *key);

KILN_API size_t kiln_image_format_target_count(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_target_cpu(const kiln_image_format_t *image, size_t k);
KILN_API const char *kiln_image_format_target_features(const kiln_image_format_t *image,
                                                       size_t k);
KILN_API uint32_t kiln_image_format_target_flags(const kiln_image_format_t *image, size_t k);
KILN_API uint32_t kiln_image_format_target_base(const kiln_image_format_t *image, size_t k);

KILN_API size_t kiln_image_format_function_count(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_function_name(const kiln_image_format_t *image, size_t i);
/* The index of the function whose name is the j-th in strcmp order (the
 * name index), or SIZE_MAX when j is out of range or the view has no
 * directory. */
KILN_API size_t kiln_image_format_function_by_name(const kiln_image_format_t *image, size_t j);
/* Function index of symbol `name` (binary search over the name index), or
 * KILN_ERR_NOT_FOUND. *index_out is SIZE_MAX on failure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_function_find(
    const kiln_image_format_t *image, const char *name, size_t *index_out);
KILN_API size_t kiln_image_format_global_count(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_global_name(const kiln_image_format_t *image, size_t i);
/* As kiln_image_format_function_by_name, for globals. */
KILN_API size_t kiln_image_format_global_by_name(const kiln_image_format_t *image, size_t j);
/* Global index of symbol `name`, or KILN_ERR_NOT_FOUND (as above). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_global_find(
    const kiln_image_format_t *image, const char *name, size_t *index_out);

KILN_API size_t kiln_image_format_shard_count(const kiln_image_format_t *image);
/* Shard s's functions: the function indices [first, first + *count_out),
 * where `first` is the return value (the counts of shards 0..s-1 added up).
 * 0 with *count_out 0 when s is out of range. */
KILN_API size_t kiln_image_format_shard_first_function(const kiln_image_format_t *image,
                                                       size_t s, size_t *count_out);
/* Which of shard s's functions target k (k >= 1) overrides, as a mask over
 * positions in the shard's range of functions: bit i % 32 of word i / 32 is
 * set when target k has its own version of shard function i (function
 * first + i). The mask has
 * (n + 31) / 32 words for a shard of n functions, or is NULL when target k
 * overrides none of them. *count_out is the number of set bits, which is
 * the length of table functions(s, k): its j-th entry belongs to the j-th
 * set bit. */
KILN_API const uint32_t *kiln_image_format_shard_override_mask(const kiln_image_format_t *image,
                                                               size_t s, size_t k,
                                                               size_t *count_out);
/* The same as ascending positions: writes min(count, capacity) of them to
 * out[] (out may be NULL when capacity is 0) and returns the count. */
KILN_API size_t kiln_image_format_shard_override_positions(const kiln_image_format_t *image,
                                                           size_t s, size_t k, uint32_t *out,
                                                           size_t capacity);
KILN_API const uint32_t *kiln_image_format_shard_slots(const kiln_image_format_t *image,
                                                       size_t s, size_t *count_out);
/* Shard s's globals: [first, first + *count_out), as for functions. */
KILN_API size_t kiln_image_format_shard_first_global(const kiln_image_format_t *image, size_t s,
                                                     size_t *count_out);
/* The pointer-array index holding the address of table (s, kind, target),
 * or SIZE_MAX when that table is empty (and so absent). */
KILN_API size_t kiln_image_format_shard_pointer(const kiln_image_format_t *image, size_t s,
                                                kiln_image_format_table_kind_t kind,
                                                size_t target);
/* Number of pointer-array entries, and the byte offset of the pointer array
 * from the start of the root (the blob size rounded up to 8). */
KILN_API size_t kiln_image_format_pointer_count(const kiln_image_format_t *image);
KILN_API uint64_t kiln_image_format_pointer_offset(const kiln_image_format_t *image);

KILN_API size_t kiln_image_format_method_count(const kiln_image_format_t *image);
KILN_API const char *kiln_image_format_method_key(const kiln_image_format_t *image, size_t m);
/* Method index of `key` (binary search: methods are sorted by key), or
 * KILN_ERR_NOT_FOUND. *index_out is SIZE_MAX on failure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_method_find(
    const kiln_image_format_t *image, const char *key, size_t *index_out);
KILN_API uint32_t kiln_image_format_method_function(const kiln_image_format_t *image, size_t m);
KILN_API uint32_t kiln_image_format_method_flags(const kiln_image_format_t *image, size_t m);
KILN_API uint64_t kiln_image_format_method_fingerprint(const kiln_image_format_t *image,
                                                       size_t m);
KILN_API const uint32_t *kiln_image_format_method_calls(const kiln_image_format_t *image,
                                                        size_t m, size_t *count_out);
KILN_API size_t kiln_image_format_method_dep_count(const kiln_image_format_t *image, size_t m);
KILN_API const char *kiln_image_format_method_dep_key(const kiln_image_format_t *image, size_t m,
                                                      size_t d);
KILN_API uint64_t kiln_image_format_method_dep_fingerprint(const kiln_image_format_t *image,
                                                           size_t m, size_t d);
/* The method's bitcode, or NULL with *size_out 0 when the image has none. */
KILN_API const void *kiln_image_format_method_bitcode(const kiln_image_format_t *image, size_t m,
                                                      size_t *size_out);

/* ---- The root as LLVM IR (for the emitter's metadata object) ----------- */

/* Renders the image root as LLVM textual IR: a module (with `triple` and no
 * data layout; the caller's target machine sets it) that defines the
 * exported constant KILN_IMAGE_FORMAT_ROOT_SYMBOL as a packed struct
 * { [size x i8] blob, [pad x i8] zeros, [n x ptr] pointer array } aligned to
 * 16, in section ".rodata.kiln" if it has no pointers and
 * ".data.rel.ro.kiln" otherwise, and declares each table symbol the pointer
 * array references as an external hidden global. Pure text generation: the
 * emitter parses and compiles it; tests can feed it to llc/clang.
 * `blob` must be a valid blob (it is opened and validated first).
 * Ownership: *ir_out is owned by the caller (free()).
 * Errors: those of kiln_image_format_open; KILN_ERR_OUT_OF_MEMORY.
 * Thread-safety: pure. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_image_format_root_ir(const void *blob, size_t size,
                                                               char **ir_out);

KILN_END_DECLS

#endif /* KILN_IMAGE_FORMAT_H */
