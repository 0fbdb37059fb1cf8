/*
 * components/multiversion/internal.h — what annotate.c, clone.c and
 * verify.c share: the names kiln writes into a module, the target list read
 * back from it, the "which version does target t run" rule, and small
 * helpers over the LLVM C API. Private to the component.
 */
#ifndef KILN_MULTIVERSION_INTERNAL_H
#define KILN_MULTIVERSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "components/multiversion/multiversion.h"
#include "components/target/target.h"
#include "llvm-c/Core.h"

/* Names recorded in the module (docs/multiversioning.md, "Recorded in the
 * module"). Attributes are string function attributes. */
#define MV_ATTR_CLONES "kiln.mv.clones"   /* hex mask of targets cloned for */
#define MV_ATTR_REASONS "kiln.mv.reasons" /* hex KILN_MULTIVERSION_REASON_* */
#define MV_ATTR_SLOT "kiln.mv.slot"       /* "1": reached through a slot */
#define MV_ATTR_TARGET "kiln.mv.target"   /* after cloning: target index */
#define MV_ATTR_ORIGIN "kiln.mv.origin"   /* on clones: the original's name */
#define MV_MD_TARGETS "kiln.mv.targets"   /* !{!"<arch>", !"<target string>"} */
#define MV_MD_CLONED "kiln.mv.cloned"     /* present once cloned */
#define MV_CLONE_INFIX ".kiln."           /* f -> f.kiln.<k> */
#define MV_SLOT_SUFFIX ".kiln.slot"       /* f -> f.kiln.slot */
#define MV_TABLE_PREFIX "kiln_mv_"        /* emitted table globals */

/* The targets a module was annotated with. */
typedef struct mv_targets {
  kiln_target_list_t *list;
  kiln_target_arch_t arch; /* the module's, from its triple */
  size_t count;
  size_t base[KILN_MULTIVERSION_MAX_TARGETS];
  unsigned flags[KILN_MULTIVERSION_MAX_TARGETS];
} mv_targets_t;

/* Parses `text` for the module's architecture into *out. */
kiln_error_t *mv_targets_parse(LLVMModuleRef module, const char *text, mv_targets_t *out);
/* Reads !kiln.mv.targets back; KILN_ERR_INVALID_ARGUMENT when absent. */
kiln_error_t *mv_targets_read(LLVMModuleRef module, mv_targets_t *out);
void mv_targets_release(mv_targets_t *t);

/* The target whose version of a function with clone mask `mask` target t
 * runs: t itself when cloned for t, else its base's choice, down to 0. */
size_t mv_owner(const mv_targets_t *t, uint64_t mask, size_t target);

/* The module's triple, or LLVM's default one when it has none.
 * Ownership: caller frees with LLVMDisposeMessage. */
char *mv_module_triple(LLVMModuleRef module);

/* Resolves target k through kiln_llvm_cpu_resolve. */
kiln_error_t *mv_resolve(const mv_targets_t *t, const char *triple, size_t k, char **cpu_out,
                         char **features_out);

/* String function attribute helpers. mv_attr_get returns a malloc'd copy or
 * NULL when absent. */
char *mv_attr_get(LLVMValueRef fn, const char *key);
void mv_attr_set(LLVMValueRef fn, const char *key, const char *value);
void mv_attr_remove(LLVMValueRef fn, const char *key);
/* The hex value of a string attribute (0 when absent or malformed). */
uint64_t mv_attr_hex(LLVMValueRef fn, const char *key);

bool mv_has_named_md(LLVMModuleRef module, const char *name);

/* A lookup-only map from LLVM handles to indices (sorted array). Iteration
 * order never comes from it: callers iterate in module order. */
typedef struct mv_ptrmap {
  struct mv_ptrmap_entry {
    const void *key;
    size_t value;
  } * entries;
  size_t count, capacity;
  bool sorted;
} mv_ptrmap_t;
bool mv_ptrmap_add(mv_ptrmap_t *m, const void *key, size_t value);
/* Sorts; call once after the adds and before lookups. */
void mv_ptrmap_seal(mv_ptrmap_t *m);
bool mv_ptrmap_find(const mv_ptrmap_t *m, const void *key, size_t *value_out);
void mv_ptrmap_release(mv_ptrmap_t *m);

/* A growable string for messages. */
typedef struct mv_buf {
  char *data;
  size_t len, cap;
} mv_buf_t;
void mv_buf_printf(mv_buf_t *b, const char *fmt, ...) KILN_PRINTF(2, 3);
void mv_buf_release(mv_buf_t *b);

/* Whether `v` is an LLVM intrinsic function ("llvm." prefix). */
bool mv_is_intrinsic(LLVMValueRef fn);

/* Whether global variable `g` is one of LLVM's special "llvm." globals
 * (llvm.global_ctors/dtors, llvm.used, llvm.compiler.used, ...). Their
 * initializers must keep their shape, so they keep referring to target 0's
 * code, which runs on every CPU the image supports: constructors run before
 * the loader fills any slot. */
bool mv_is_special_global(LLVMValueRef g);

#endif /* KILN_MULTIVERSION_INTERNAL_H */
