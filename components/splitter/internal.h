/*
 * components/splitter/internal.h — what the splitter's files share: the
 * options, the per-global analysis record ("item") and the partition.
 *
 * Items are every global value of the input module in a fixed order:
 * functions, then global variables, then aliases, then ifuncs, each in module
 * order. LLVMCloneModule keeps that order, so item i of the input is item i
 * of every shard's copy; nothing is ever looked up by address across
 * modules, and nothing is iterated in pointer or hash order.
 */
#ifndef KILN_SPLITTER_INTERNAL_H
#define KILN_SPLITTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/splitter/splitter.h"
#include "llvm-c/Comdat.h"
#include "llvm-c/Core.h"

struct kiln_splitter_options {
  unsigned shard_count; /* 0 = automatic */
  uint64_t shard_weight;
  unsigned max_shards;
  kiln_splitter_multiplier_fn multiplier;
  void *multiplier_user;
  bool copy_inline;
  bool group_internal_variables;
};

typedef enum item_kind { ITEM_FUNCTION, ITEM_VARIABLE, ITEM_ALIAS, ITEM_IFUNC } item_kind_t;

/* How a special appending global is handled. */
typedef enum item_special {
  SPECIAL_NONE = 0,
  SPECIAL_STRUCTORS, /* llvm.global_ctors / llvm.global_dtors: {prio, fn, data} */
  SPECIAL_USED       /* llvm.used / llvm.compiler.used: [ptr] */
} item_special_t;

typedef struct item {
  LLVMValueRef value; /* in the input module */
  item_kind_t kind;
  item_special_t special;
  bool defined;    /* a definition: something a shard owns */
  bool local;      /* internal/private linkage before promotion */
  bool duplicable; /* local unnamed_addr constant of plain data: copied per shard */
  bool cross_ref;  /* referenced from another shard (or an inline copy there) */
  bool inline_ok;  /* may be copied as available_externally */
  uint64_t size;   /* instructions + blocks (functions) */
  uint64_t weight;
  size_t *refs; /* items this one references (deduplicated) */
  size_t nrefs, caprefs;
  size_t parent; /* union-find */
  size_t shard;
} item_t;

typedef struct partition {
  LLVMModuleRef module;
  item_t *items;
  size_t nitems;
  size_t nfunctions, nvariables, naliases, nifuncs;
  size_t nshards;
  uint64_t *shard_weight;
  uint64_t total_weight;
  /* copies[s * nitems + i]: shard s gets an available_externally copy of
   * function i (NULL when inline copies are off). */
  unsigned char *copies;
  /* (from, to) pairs: `from` takes a blockaddress inside function `to`;
   * they must share a shard (a declaration has no blocks). */
  size_t *ties;
  size_t nties, capties;
} partition_t;

/* Analyses `module`, groups, assigns shards and promotes cross-shard
 * internal symbols in place. */
kiln_error_t *splitter_partition(LLVMModuleRef module, const kiln_splitter_options_t *options,
                                 partition_t *p);
void splitter_partition_dispose(partition_t *p);

/* Builds shard `s` from the (promoted) input module: clone, reduce, verify,
 * write bitcode. Calls `defined` for every item the shard ends up defining
 * (owned or a retained local copy), in item order. */
typedef kiln_error_t *(*splitter_defined_fn)(void *ctx, size_t shard, size_t item);
kiln_error_t *splitter_build_shard(const partition_t *p, size_t s, LLVMMemoryBufferRef *bitcode_out,
                                   splitter_defined_fn defined, void *ctx);

/* Pointer -> index lookup (open addressing). Only looked up, never
 * iterated, so its hash order cannot reach any output. */
typedef struct ptrmap {
  const void **keys;
  size_t *vals;
  size_t cap;
} ptrmap_t;
bool ptrmap_init(ptrmap_t *m, size_t expected);
void ptrmap_dispose(ptrmap_t *m);
void ptrmap_put(ptrmap_t *m, const void *key, size_t val);
bool ptrmap_get(const ptrmap_t *m, const void *key, size_t *val_out);

/* The name of a value (borrowed; "" when unnamed). */
const char *splitter_name(LLVMValueRef v);
bool splitter_linkage_is_local(LLVMLinkage l);
/* strdup (not in C11); NULL when out of memory. */
char *splitter_strdup(const char *s);

#endif /* KILN_SPLITTER_INTERNAL_H */
