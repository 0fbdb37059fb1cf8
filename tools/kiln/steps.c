/*
 * tools/kiln/steps.c — the build as separate steps, so a build system can
 * run each shard as its own action:
 *
 *   kiln split [build options] INPUT... -o DIR    plan -> DIR/kiln-plan.bin, DIR/shard-<i>.bc
 *   kiln emit-shard DIR INDEX -o PREFIX           one shard -> PREFIX.o, PREFIX.slots
 *   kiln link DIR PREFIX... -o IMAGE.so           finish -> archive -> linker
 *
 * The plan carries everything that changes code (targets, opt level,
 * vectorize, name, kind), so `split` + `emit-shard` x N + `link` gives the
 * same image bytes as `kiln build` with the same inputs and options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llvm-c/Core.h"
#include "tools/kiln/cli.h"

/* ---- kiln split ---------------------------------------------------------------- */

/* The metadata blob inside a plan file ("blob <n>\n" then n bytes,
 * docs/emitter.md), for the base-target check. */
static kiln_error_t *plan_file_blob(const char *dir, void **file_out, const void **blob_out,
                                    size_t *size_out) {
  *blob_out = NULL;
  *size_out = 0;
  char *path = cli_asprintf("%s/%s", dir, KILN_EMITTER_PLAN_FILE);
  void *data = NULL;
  size_t size = 0;
  kiln_error_t *err = cli_read_file(path, &data, &size);
  *file_out = data;
  if (err == NULL) {
    const char *p = data;
    const char *end = p + size;
    const char *hit = NULL;
    for (const char *c = p; c + 6 <= end; c++)
      if (memcmp(c, "\nblob ", 6) == 0) {
        hit = c + 6;
        break;
      }
    size_t n = 0;
    const char *c = hit;
    while (c != NULL && c < end && *c >= '0' && *c <= '9') n = n * 10 + (size_t)(*c++ - '0');
    if (hit == NULL || c >= end || *c != '\n' || (size_t)(end - c - 1) < n) {
      err = kiln_error_new(KILN_ERR_FORMAT, "%s: no metadata blob in the plan file", path);
    } else {
      *blob_out = c + 1;
      *size_out = n;
    }
  }
  free(path);
  return err;
}

int kiln_cmd_split(int argc, char **argv) {
  cli_build_t b;
  cli_build_init(&b);
  int rc = cli_build_parse(&b, "split", argc, argv);
  if (rc >= 0) {
    cli_build_free(&b);
    return rc;
  }
  kiln_loader_info_t *base_info = NULL;
  const kiln_image_format_t *base_view = NULL;
  char *tmp_dir = NULL;
  LLVMContextRef ctx = NULL;
  LLVMModuleRef module = NULL;
  kiln_emitter_options_t *eo = NULL;
  kiln_emitter_plan_t *plan = NULL;
  void *plan_file = NULL;
  kiln_error_t *err = NULL;
  const char *first_input = b.inputs.items[0];

  if ((rc = cli_open_base(&b, &base_info, &base_view)) >= 0) goto out;
  if ((err = cli_make_temp_dir(&tmp_dir)) != NULL) {
    rc = cli_fail(NULL, err);
    goto out;
  }
  ctx = LLVMContextCreate();
  if ((err = cli_load_module(&b, ctx, tmp_dir, &module)) != NULL) {
    rc = cli_fail(first_input, err);
    goto out;
  }
  if ((err = cli_emitter_options(&b, base_view, &eo)) != NULL ||
      (err = kiln_emitter_plan(eo, module, &plan)) != NULL) {
    rc = cli_fail(b.inputs.n == 1 ? first_input : b.output, err);
    goto out;
  }
  if ((err = cli_mkdirs(b.output)) != NULL || (err = kiln_emitter_plan_write(plan, b.output)) != NULL) {
    rc = cli_fail(b.output, err);
    goto out;
  }
  if (base_view != NULL) {
    const void *blob = NULL;
    size_t size = 0;
    if ((err = plan_file_blob(b.output, &plan_file, &blob, &size)) != NULL) {
      rc = cli_fail(b.output, err);
      goto out;
    }
    if ((rc = cli_check_base_targets(&b, base_view, blob, size)) >= 0) goto out;
  }
  if (b.verbosity > 0) {
    printf("kiln split: %s\n  shards: %zu\n  functions: %zu\n  methods: %zu\n", b.output,
           kiln_emitter_plan_shard_count(plan), kiln_emitter_plan_function_count(plan),
           kiln_emitter_plan_method_count(plan));
    for (size_t k = 0; k < kiln_emitter_plan_target_count(plan); k++)
      printf("    target %zu: %zu clones\n", k, kiln_emitter_plan_clone_count(plan, k));
    for (size_t s = 0; s < kiln_emitter_plan_shard_count(plan); s++)
      printf("    shard %zu: %zu functions, weight %llu\n", s,
             kiln_emitter_plan_shard_function_count(plan, s),
             (unsigned long long)kiln_emitter_plan_shard_weight(plan, s));
  }
  rc = CLI_EXIT_OK;
out:
  free(plan_file);
  kiln_emitter_plan_free(plan);
  kiln_emitter_options_free(eo);
  if (module != NULL) LLVMDisposeModule(module);
  if (ctx != NULL) LLVMContextDispose(ctx);
  if (tmp_dir != NULL) cli_remove_tree(tmp_dir);
  free(tmp_dir);
  kiln_loader_info_free(base_info);
  cli_build_free(&b);
  return rc;
}

/* ---- kiln emit-shard -------------------------------------------------------------- */

enum { STEP_OUTPUT = 1, STEP_EMIT, STEP_EMIT_DIR, STEP_LIB, STEP_LIB_DIR, STEP_LINKER, STEP_QUIET, STEP_VERBOSE };

static const cli_opt_t kStepOpts[] = {
    {NULL, 'o', true, STEP_OUTPUT},      {"output", 0, true, STEP_OUTPUT},
    {"emit", 0, true, STEP_EMIT},        {"emit-dir", 0, true, STEP_EMIT_DIR},
    {NULL, 'l', true, STEP_LIB},         {NULL, 'L', true, STEP_LIB_DIR},
    {"linker", 0, true, STEP_LINKER},    {"quiet", 'q', false, STEP_QUIET},
    {"verbose", 'v', false, STEP_VERBOSE},
};

typedef struct step_args {
  cli_strv_t operands, libs, lib_dirs;
  const char *output, *emit_dir;
  unsigned emit;
  kiln_linker_driver_t linker;
  int verbosity;
} step_args_t;

/* Parses emit-shard/link arguments; `link` allows the link options.
 * Returns -1 to go on, else the exit code. */
static int parse_step(step_args_t *a, const char *cmd, bool link, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  cli_parser_t p;
  cli_parser_init(&p, cmd, argc, argv, kStepOpts, sizeof kStepOpts / sizeof kStepOpts[0]);
  for (;;) {
    int id = cli_next(&p);
    switch (id) {
      case CLI_END:
        return -1;
      case CLI_ERROR:
        return CLI_EXIT_USAGE;
      case CLI_OPT_HELP:
        return kiln_print_help(cmd);
      case CLI_OPERAND:
        cli_strv_push(&a->operands, p.arg);
        break;
      case STEP_OUTPUT:
        a->output = p.arg;
        break;
      case STEP_EMIT: {
        unsigned allowed = link ? KILN_EMITTER_OUTPUT_ARCHIVE
                                : (KILN_EMITTER_OUTPUT_ASM | KILN_EMITTER_OUTPUT_BC |
                                   KILN_EMITTER_OUTPUT_UNOPT_BC | KILN_EMITTER_OUTPUT_OBJ);
        unsigned bits = 0;
        if (!cli_parse_emit(p.arg, allowed, &bits))
          return cli_usage(cmd, "bad --emit '%s' (%s)", p.arg,
                           link ? "archive" : "a comma list of asm,bc,unopt-bc");
        a->emit |= bits;
        break;
      }
      case STEP_EMIT_DIR:
        if (!link) return cli_usage(cmd, "unknown option '--emit-dir'");
        a->emit_dir = p.arg;
        break;
      case STEP_LIB:
      case STEP_LIB_DIR:
      case STEP_LINKER:
        if (!link) return cli_usage(cmd, "unknown option '%s'", id == STEP_LINKER ? "--linker" : id == STEP_LIB ? "-l" : "-L");
        if (id == STEP_LIB) cli_strv_push(&a->libs, p.arg);
        if (id == STEP_LIB_DIR) cli_strv_push(&a->lib_dirs, p.arg);
        if (id == STEP_LINKER) {
          if (strcmp(p.arg, "lld") == 0)
            a->linker = KILN_LINKER_DRIVER_LLD;
          else if (strcmp(p.arg, "cc") == 0)
            a->linker = KILN_LINKER_DRIVER_CC;
          else
            return cli_usage(cmd, "bad --linker '%s' (lld or cc)", p.arg);
        }
        break;
      case STEP_QUIET:
        a->verbosity = -1;
        break;
      case STEP_VERBOSE:
        a->verbosity = 1;
        break;
      default:
        return cli_usage(cmd, "unexpected option");
    }
  }
}

static void step_free(step_args_t *a) {
  cli_strv_free(&a->operands);
  cli_strv_free(&a->libs);
  cli_strv_free(&a->lib_dirs);
}

int kiln_cmd_emit_shard(int argc, char **argv) {
  step_args_t a;
  int rc = parse_step(&a, "emit-shard", false, argc, argv);
  if (rc >= 0) {
    step_free(&a);
    return rc;
  }
  uint64_t index = 0;
  if (a.operands.n != 2) {
    rc = cli_usage("emit-shard", "expected PLAN_DIR INDEX");
  } else if (a.output == NULL) {
    rc = cli_usage("emit-shard", "missing -o");
  } else if (!cli_parse_uint(a.operands.items[1], 0, SIZE_MAX, &index)) {
    rc = cli_usage("emit-shard", "bad shard index '%s'", a.operands.items[1]);
  }
  if (rc >= 0) {
    step_free(&a);
    return rc;
  }
  const char *dir = a.operands.items[0];
  kiln_emitter_plan_t *plan = NULL;
  kiln_emitter_options_t *eo = NULL;
  kiln_emitter_shard_t *shard = NULL;
  kiln_error_t *err = kiln_emitter_plan_read(dir, &plan);
  if (err != NULL) {
    rc = cli_fail(dir, err);
    goto out;
  }
  if (index >= kiln_emitter_plan_shard_count(plan)) {
    rc = cli_failf(dir, "shard %llu out of range (the plan has %zu shards)",
                   (unsigned long long)index, kiln_emitter_plan_shard_count(plan));
    goto out;
  }
  if ((err = kiln_emitter_options_new(&eo)) == NULL)
    err = kiln_emitter_options_set_outputs(eo, KILN_EMITTER_OUTPUT_OBJ | a.emit);
  if (err == NULL) err = kiln_emitter_emit_shard(eo, plan, (size_t)index, &shard);
  if (err != NULL) {
    rc = cli_fail(dir, err);
    goto out;
  }
  char *parent = cli_dirname(a.output);
  err = cli_mkdirs(parent);
  free(parent);
  if (err == NULL) err = kiln_emitter_shard_write(shard, a.output);
  if (err != NULL) {
    rc = cli_fail(a.output, err);
    goto out;
  }
  if (a.verbosity > 0)
    printf("kiln emit-shard: shard %llu: %zu slots, %.3f ms\n", (unsigned long long)index,
           kiln_emitter_shard_slot_count(shard),
           (double)kiln_emitter_shard_wall_ns(shard) / 1e6);
  rc = CLI_EXIT_OK;
out:
  kiln_emitter_shard_free(shard);
  kiln_emitter_options_free(eo);
  kiln_emitter_plan_free(plan);
  step_free(&a);
  return rc;
}

/* ---- kiln link --------------------------------------------------------------------- */

int kiln_cmd_link(int argc, char **argv) {
  step_args_t a;
  int rc = parse_step(&a, "link", true, argc, argv);
  if (rc >= 0) {
    step_free(&a);
    return rc;
  }
  if (a.operands.n < 2)
    rc = cli_usage("link", "expected PLAN_DIR SHARD_PREFIX...");
  else if (a.output == NULL)
    rc = cli_usage("link", "missing -o");
  if (rc >= 0) {
    step_free(&a);
    return rc;
  }
  const char *dir = a.operands.items[0];
  size_t n = a.operands.n - 1;
  kiln_emitter_plan_t *plan = NULL;
  kiln_emitter_options_t *eo = NULL;
  kiln_emitter_result_t *result = NULL;
  kiln_emitter_shard_t **shards = calloc(n, sizeof *shards);
  char *emit_dir = NULL;
  kiln_error_t *err = kiln_emitter_plan_read(dir, &plan);
  if (err != NULL) {
    rc = cli_fail(dir, err);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if ((err = kiln_emitter_shard_read(a.operands.items[i + 1], &shards[i])) != NULL) {
      rc = cli_fail(a.operands.items[i + 1], err);
      goto out;
    }
  }
  if ((err = kiln_emitter_options_new(&eo)) == NULL)
    err = kiln_emitter_options_set_outputs(eo, KILN_EMITTER_OUTPUT_ARCHIVE);
  if (err == NULL) err = kiln_emitter_finish(eo, plan, shards, n, &result);
  if (err != NULL) {
    rc = cli_fail(dir, err);
    goto out;
  }
  if (a.emit & KILN_EMITTER_OUTPUT_ARCHIVE) {
    emit_dir = a.emit_dir != NULL ? cli_strdup(a.emit_dir) : cli_dirname(a.output);
    if ((err = cli_mkdirs(emit_dir)) != NULL) {
      rc = cli_fail(emit_dir, err);
      goto out;
    }
  }
  uint64_t link_ns = 0;
  if ((rc = cli_link_result(result, a.output, a.emit, emit_dir, &a.libs, &a.lib_dirs, a.linker,
                            &link_ns)) >= 0)
    goto out;
  if (a.verbosity > 0)
    printf("kiln link: %s: %zu shards, link %.3f ms\n", a.output,
           kiln_emitter_result_shard_count(result), (double)link_ns / 1e6);
  rc = CLI_EXIT_OK;
out:
  for (size_t i = 0; shards != NULL && i < n; i++) kiln_emitter_shard_free(shards[i]);
  free(shards);
  kiln_emitter_result_free(result);
  kiln_emitter_options_free(eo);
  kiln_emitter_plan_free(plan);
  free(emit_dir);
  step_free(&a);
  return rc;
}
