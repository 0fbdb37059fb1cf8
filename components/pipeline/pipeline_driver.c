/*
 * components/pipeline/pipeline_driver.c — a small command-line driver that
 * runs kiln's pipeline on one .ll or .bc file, the way `opt` runs LLVM's.
 * The FileCheck IR tests and the benchmark use it; it is not the kiln CLI.
 *
 *   pipeline_driver [-O0|-O1|-O2|-O3] [--disable=STAGE] [--no-vectorize]
 *                   [--sanitize=address|thread|memory] [--extra=STAGE:PASSES]
 *                   [--print-passes] [--report] [-S | -o OUT.bc] INPUT
 *
 * It builds a target machine for the module's triple (generic CPU; the
 * functions' own target-cpu/target-features attributes refine the cost
 * model, as with opt), so the vectorizers see real vector registers.
 * -S prints the optimized IR on stdout; -o writes bitcode; --report prints
 * the per-stage report on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/pipeline/pipeline.h"
#include "llvm-c/BitWriter.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Target.h"
#include "llvm-c/TargetMachine.h"

static int fail(kiln_error_t *err) {
  fprintf(stderr, "pipeline_driver: %s\n", kiln_error_message(err));
  kiln_error_free(err);
  return 1;
}

static int usage(void) {
  fprintf(stderr,
          "usage: pipeline_driver [-O0..-O3] [--disable=STAGE] [--no-vectorize]\n"
          "       [--sanitize=address|thread|memory] [--extra=STAGE:PASSES]\n"
          "       [--print-passes] [--report] [-S | -o OUT.bc] INPUT\n");
  return 2;
}

static const struct {
  const char *name;
  unsigned bit;
} kSanitizerNames[] = {
    {"address", KILN_PIPELINE_SANITIZE_ADDRESS},
    {"thread", KILN_PIPELINE_SANITIZE_THREAD},
    {"memory", KILN_PIPELINE_SANITIZE_MEMORY},
};

/* Parses the arguments into `opts`; returns the index of the input, or -1. */
static kiln_error_t *parse_args(int argc, char **argv, kiln_pipeline_options_t *opts,
                                const char **input, const char **output, int *print_ir,
                                int *print_passes, int *report) {
  unsigned sanitizers = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    kiln_error_t *err = NULL;
    if (strlen(a) == 3 && a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '9') {
      err = kiln_pipeline_options_set_opt_level(opts, (unsigned)(a[2] - '0'));
    } else if (strncmp(a, "--disable=", 10) == 0) {
      kiln_pipeline_stage_t stage;
      err = kiln_pipeline_stage_from_name(a + 10, &stage);
      if (err == NULL) err = kiln_pipeline_options_set_stage_enabled(opts, stage, false);
    } else if (strcmp(a, "--no-vectorize") == 0) {
      kiln_pipeline_options_set_vectorize(opts, false);
    } else if (strncmp(a, "--sanitize=", 11) == 0) {
      unsigned bit = 0;
      for (size_t k = 0; k < sizeof(kSanitizerNames) / sizeof(kSanitizerNames[0]); k++) {
        if (strcmp(a + 11, kSanitizerNames[k].name) == 0) bit = kSanitizerNames[k].bit;
      }
      if (bit == 0) return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "'%s': unknown sanitizer", a + 11);
      sanitizers |= bit;
      err = kiln_pipeline_options_set_sanitizers(opts, sanitizers);
    } else if (strncmp(a, "--extra=", 8) == 0) {
      const char *colon = strchr(a + 8, ':');
      if (colon == NULL) return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "'%s': want STAGE:PASSES", a);
      char name[64];
      size_t n = (size_t)(colon - (a + 8));
      if (n >= sizeof(name)) return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "'%s': bad stage", a);
      memcpy(name, a + 8, n);
      name[n] = '\0';
      kiln_pipeline_stage_t stage;
      err = kiln_pipeline_stage_from_name(name, &stage);
      if (err == NULL) err = kiln_pipeline_options_set_extra_passes(opts, stage, colon + 1);
    } else if (strcmp(a, "--print-passes") == 0) {
      *print_passes = 1;
    } else if (strcmp(a, "--report") == 0) {
      *report = 1;
    } else if (strcmp(a, "-S") == 0) {
      *print_ir = 1;
    } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
      *output = argv[++i];
    } else if (a[0] != '-' && *input == NULL) {
      *input = a;
    } else {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "'%s': unknown argument", a);
    }
    if (err != NULL) return err;
  }
  return NULL;
}

static kiln_error_t *make_target_machine(LLVMModuleRef m, LLVMTargetMachineRef *tm_out) {
  *tm_out = NULL;
  if (LLVMInitializeNativeTarget() != 0 || LLVMInitializeNativeAsmPrinter() != 0) {
    return kiln_error_new(KILN_ERR_UNSUPPORTED, "no native LLVM target in this build");
  }
  const char *triple = LLVMGetTarget(m);
  char *default_triple = NULL;
  if (triple == NULL || triple[0] == '\0') triple = default_triple = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target = NULL;
  char *msg = NULL;
  kiln_error_t *err = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &msg) != 0) {
    err = kiln_error_new(KILN_ERR_UNSUPPORTED, "triple '%s': %s", triple, msg);
  } else {
    *tm_out = LLVMCreateTargetMachine(target, triple, "", "", LLVMCodeGenLevelDefault,
                                      LLVMRelocPIC, LLVMCodeModelDefault);
  }
  LLVMDisposeMessage(msg);
  LLVMDisposeMessage(default_triple);
  return err;
}

int main(int argc, char **argv) {
  kiln_pipeline_options_t *opts = NULL;
  kiln_error_t *err = kiln_pipeline_options_new(&opts);
  if (err != NULL) return fail(err);
  const char *input = NULL, *output = NULL;
  int print_ir = 0, print_passes = 0, report_wanted = 0;
  err = parse_args(argc, argv, opts, &input, &output, &print_ir, &print_passes, &report_wanted);
  if (err != NULL || input == NULL) {
    kiln_pipeline_options_free(opts);
    return err != NULL ? fail(err) : usage();
  }

  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = NULL;
  LLVMModuleRef m = NULL;
  LLVMTargetMachineRef tm = NULL;
  kiln_pipeline_report_t *report = NULL;
  char *msg = NULL;
  int status = 0;
  if (LLVMCreateMemoryBufferWithContentsOfFile(input, &buf, &msg) != 0) {
    err = kiln_error_new(KILN_ERR_IO, "%s: %s", input, msg);
  } else if (LLVMParseIRInContext(ctx, buf, &m, &msg) != 0) { /* takes buf */
    err = kiln_error_new(KILN_ERR_PARSE, "%s", msg);
  }
  LLVMDisposeMessage(msg);
  if (err == NULL) err = make_target_machine(m, &tm);
  if (err == NULL) {
    kiln_pipeline_options_set_target_machine(opts, tm);
    if (print_passes) {
      for (unsigned s = 0; s < KILN_PIPELINE_STAGE_COUNT && err == NULL; s++) {
        char *passes = NULL;
        err = kiln_pipeline_stage_passes(opts, (kiln_pipeline_stage_t)s, &passes);
        if (err == NULL) printf("%s: %s\n", kiln_pipeline_stage_name((kiln_pipeline_stage_t)s), passes);
        kiln_pipeline_string_free(passes);
      }
    }
  }
  if (err == NULL) err = kiln_pipeline_run(opts, m, &report);
  if (err == NULL && report_wanted) {
    char *text = NULL;
    err = kiln_pipeline_report_format(report, &text);
    if (err == NULL) fputs(text, stderr);
    kiln_pipeline_string_free(text);
  }
  if (err == NULL && print_ir) {
    char *ir = LLVMPrintModuleToString(m);
    fputs(ir, stdout);
    LLVMDisposeMessage(ir);
  }
  if (err == NULL && output != NULL && LLVMWriteBitcodeToFile(m, output) != 0) {
    err = kiln_error_new(KILN_ERR_IO, "%s: cannot write bitcode", output);
  }
  if (err != NULL) status = fail(err);
  kiln_pipeline_report_free(report);
  if (tm != NULL) LLVMDisposeTargetMachine(tm);
  if (m != NULL) LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  kiln_pipeline_options_free(opts);
  return status;
}
