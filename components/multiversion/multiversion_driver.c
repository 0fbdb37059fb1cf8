/*
 * components/multiversion/multiversion_driver.c — annotate and clone one
 * .ll/.bc file and print the result, for the FileCheck tests:
 *
 *   multiversion_driver IN TARGETS [--annotate-only] [--no-tables]
 *
 * Prints the module's IR, then the tables and the verifier's verdict as
 * `; kiln-mv ...` comment lines. Exit status 1 on any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/multiversion/multiversion.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"

static int fail(kiln_error_t *err) {
  fprintf(stderr, "multiversion_driver: %s\n", kiln_error_message(err));
  kiln_error_free(err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s IN TARGETS [--annotate-only] [--no-tables]\n", argv[0]);
    return 2;
  }
  bool annotate_only = false, tables = true;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--annotate-only") == 0) annotate_only = true;
    else if (strcmp(argv[i], "--no-tables") == 0) tables = false;
  }
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = NULL;
  char *msg = NULL;
  LLVMModuleRef m = NULL;
  if (LLVMCreateMemoryBufferWithContentsOfFile(argv[1], &buf, &msg) != 0 ||
      LLVMParseIRInContext(ctx, buf, &m, &msg) != 0) {
    fprintf(stderr, "multiversion_driver: %s: %s\n", argv[1], msg);
    return 1;
  }
  kiln_error_t *err = kiln_multiversion_annotate(m, argv[2]);
  if (err != NULL) return fail(err);
  kiln_multiversion_tables_t *tb = NULL;
  if (!annotate_only) {
    kiln_multiversion_options_t *opts = NULL;
    err = kiln_multiversion_options_new(&opts);
    if (err != NULL) return fail(err);
    kiln_multiversion_options_set_emit_tables(opts, tables);
    err = kiln_multiversion_clone(m, opts, &tb);
    kiln_multiversion_options_free(opts);
    if (err != NULL) return fail(err);
  }
  char *ir = LLVMPrintModuleToString(m);
  fputs(ir, stdout);
  LLVMDisposeMessage(ir);
  if (tb != NULL) {
    size_t nt = kiln_multiversion_tables_target_count(tb);
    for (size_t k = 0; k < nt; k++)
      printf("; kiln-mv target %zu cpu=%s clones=%zu base=%zu\n", k,
             kiln_multiversion_tables_target_cpu(tb, k), kiln_multiversion_tables_clone_count(tb, k),
             kiln_multiversion_tables_target_base(tb, k));
    for (size_t i = 0; i < kiln_multiversion_tables_function_count(tb); i++) {
      printf("; kiln-mv function %zu %s:", i, kiln_multiversion_tables_function_name(tb, i));
      for (size_t k = 0; k < nt; k++) printf(" %s", kiln_multiversion_tables_function_symbol(tb, k, i));
      printf("\n");
    }
    for (size_t j = 0; j < kiln_multiversion_tables_slot_count(tb); j++) {
      const kiln_multiversion_slot_t *s = kiln_multiversion_tables_slot(tb, j);
      printf("; kiln-mv slot %zu function=%zu %s %s+%llu\n", j, s->function,
             s->kind == KILN_MULTIVERSION_SLOT_GLOBAL ? "global" : "data", s->symbol,
             (unsigned long long)s->offset);
    }
    size_t counts[KILN_MULTIVERSION_MAX_TARGETS];
    size_t n = 0;
    err = kiln_multiversion_verify(m, counts, KILN_MULTIVERSION_MAX_TARGETS, &n);
    if (err != NULL) return fail(err);
    printf("; kiln-mv verify ok:");
    for (size_t k = 0; k < n; k++) printf(" %zu", counts[k]);
    printf("\n");
    kiln_multiversion_tables_free(tb);
  }
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  return 0;
}
