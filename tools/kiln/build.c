/*
 * tools/kiln/build.c — `kiln build`: inputs (.c compiled by clang, .bc/.ll)
 * -> one linked module -> the emitter (plan, shards on worker threads,
 * archive in memory) -> the archive in a temporary file beside the output
 * -> the linker -> the image, written atomically. Also the pieces that
 * `kiln split` and `kiln link` share with it: the build options, loading
 * the module, emitter options, and archive -> image.
 *
 * Reproducibility: the linked module's source file name and identifier are
 * set to a fixed string before planning, because clang records the input
 * path there and it would reach the shard objects' STT_FILE symbols; no
 * other path (inputs, output, temporary files) reaches the image bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "components/loader/loader.h"
#include "components/runtime/runtime.h"
#include "llvm-c/Core.h"
#include "tools/kiln/cli.h"

extern char **environ;

/* The fixed name every built module gets (see the file comment). */
#define KILN_MODULE_NAME "kiln-image"

/* ---- Options -------------------------------------------------------------------- */

enum {
  OPT_OUTPUT = 1,
  OPT_CPU_TARGET,
  OPT_OLEVEL,
  OPT_THREADS,
  OPT_SHARDS,
  OPT_EMIT,
  OPT_EMIT_DIR,
  OPT_KIND,
  OPT_BASE,
  OPT_ALLOW_MISMATCH,
  OPT_ROOTS,
  OPT_ROOT,
  OPT_TIME_TRACE,
  OPT_MEMORY_BUDGET,
  OPT_NAME,
  OPT_LIB,
  OPT_LIB_DIR,
  OPT_LINKER,
  OPT_NO_VECTORIZE,
  OPT_CFLAG,
  OPT_QUIET,
  OPT_VERBOSE,
};

static const cli_opt_t kBuildOpts[] = {
    {NULL, 'o', true, OPT_OUTPUT},
    {"output", 0, true, OPT_OUTPUT},
    {"cpu-target", 0, true, OPT_CPU_TARGET},
    {NULL, 'O', true, OPT_OLEVEL},
    {"threads", 0, true, OPT_THREADS},
    {"shards", 0, true, OPT_SHARDS},
    {"emit", 0, true, OPT_EMIT},
    {"emit-dir", 0, true, OPT_EMIT_DIR},
    {"kind", 0, true, OPT_KIND},
    {"base", 0, true, OPT_BASE},
    {"allow-target-mismatch", 0, false, OPT_ALLOW_MISMATCH},
    {"roots", 0, true, OPT_ROOTS},
    {"root", 0, true, OPT_ROOT},
    {"time-trace", 0, true, OPT_TIME_TRACE},
    {"memory-budget", 0, true, OPT_MEMORY_BUDGET},
    {"name", 0, true, OPT_NAME},
    {NULL, 'l', true, OPT_LIB},
    {NULL, 'L', true, OPT_LIB_DIR},
    {"linker", 0, true, OPT_LINKER},
    {"no-vectorize", 0, false, OPT_NO_VECTORIZE},
    {"cflag", 0, true, OPT_CFLAG},
    {"quiet", 'q', false, OPT_QUIET},
    {"verbose", 'v', false, OPT_VERBOSE},
};

void cli_build_init(cli_build_t *b) {
  memset(b, 0, sizeof *b);
  b->opt_level = 2;
  b->kind = KILN_EMITTER_IMAGE_SYSTEM;
  b->linker = KILN_LINKER_DRIVER_LLD;
}

void cli_build_free(cli_build_t *b) {
  cli_strv_free(&b->inputs);
  cli_strv_free(&b->roots);
  cli_strv_free(&b->libs);
  cli_strv_free(&b->lib_dirs);
  cli_strv_free(&b->cflags);
}

bool cli_parse_emit(const char *list, unsigned allowed, unsigned *bits_out) {
  static const struct { const char *name; unsigned bit; } kinds[] = {
      {"obj", KILN_EMITTER_OUTPUT_OBJ},
      {"asm", KILN_EMITTER_OUTPUT_ASM},
      {"bc", KILN_EMITTER_OUTPUT_BC},
      {"unopt-bc", KILN_EMITTER_OUTPUT_UNOPT_BC},
      {"archive", KILN_EMITTER_OUTPUT_ARCHIVE},
  };
  unsigned bits = 0;
  const char *p = list;
  while (*p != '\0') {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    bool found = false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
      if (strlen(kinds[i].name) == len && strncmp(kinds[i].name, p, len) == 0 &&
          (kinds[i].bit & allowed)) {
        bits |= kinds[i].bit;
        found = true;
      }
    }
    if (!found && len > 0) return false;
    if (end == NULL) break;
    p = end + 1;
  }
  *bits_out = bits;
  return true;
}

/* Reads a roots file: one method key per line; '#' starts a comment line;
 * blank lines are ignored; duplicates (several runtimes appending to one
 * trace) are dropped. */
static kiln_error_t *read_roots(const char *path, cli_strv_t *roots) {
  void *data = NULL;
  size_t size = 0;
  kiln_error_t *err = cli_read_file(path, &data, &size);
  if (err != NULL) return err;
  char *text = cli_xrealloc(data, size + 1);
  text[size] = '\0';
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
      line[--n] = '\0';
    while (*line == ' ' || *line == '\t') line++;
    if (*line == '\0' || *line == '#') continue;
    if (!cli_strv_contains(roots, line)) cli_strv_push(roots, line);
  }
  free(text);
  return NULL;
}

int cli_build_parse(cli_build_t *b, const char *cmd, int argc, char **argv) {
  cli_parser_t p;
  cli_parser_init(&p, cmd, argc, argv, kBuildOpts, sizeof kBuildOpts / sizeof kBuildOpts[0]);
  const char *roots_file = NULL;
  for (;;) {
    int id = cli_next(&p);
    uint64_t v = 0;
    switch (id) {
      case CLI_END:
        goto done;
      case CLI_ERROR:
        return CLI_EXIT_USAGE;
      case CLI_OPT_HELP:
        return kiln_print_help(cmd);
      case CLI_OPERAND:
        cli_strv_push(&b->inputs, p.arg);
        break;
      case OPT_OUTPUT:
        b->output = p.arg;
        break;
      case OPT_CPU_TARGET:
        b->cpu_target = p.arg;
        break;
      case OPT_OLEVEL:
        if (!cli_parse_uint(p.arg, 0, 3, &v))
          return cli_usage(cmd, "bad optimization level '-O%s' (use -O0 to -O3)", p.arg);
        b->opt_level = (unsigned)v;
        break;
      case OPT_THREADS:
        if (!cli_parse_uint(p.arg, 1, 4096, &v))
          return cli_usage(cmd, "bad --threads '%s' (1-4096)", p.arg);
        b->threads = (unsigned)v;
        break;
      case OPT_SHARDS:
        if (!cli_parse_uint(p.arg, 1, 65536, &v))
          return cli_usage(cmd, "bad --shards '%s' (1-65536)", p.arg);
        b->shards = (size_t)v;
        break;
      case OPT_EMIT: {
        unsigned bits = 0;
        if (!cli_parse_emit(p.arg, KILN_EMITTER_OUTPUT_ALL, &bits))
          return cli_usage(cmd, "bad --emit '%s' (a comma list of obj,asm,bc,unopt-bc,archive)",
                           p.arg);
        b->emit |= bits;
        break;
      }
      case OPT_EMIT_DIR:
        b->emit_dir = p.arg;
        break;
      case OPT_KIND:
        if (strcmp(p.arg, "system") == 0)
          b->kind = KILN_EMITTER_IMAGE_SYSTEM;
        else if (strcmp(p.arg, "package") == 0)
          b->kind = KILN_EMITTER_IMAGE_PACKAGE;
        else
          return cli_usage(cmd, "bad --kind '%s' (system or package)", p.arg);
        b->kind_given = true;
        break;
      case OPT_BASE:
        b->base = p.arg;
        break;
      case OPT_ALLOW_MISMATCH:
        b->allow_target_mismatch = true;
        break;
      case OPT_ROOTS:
        roots_file = p.arg;
        break;
      case OPT_ROOT:
        if (!cli_strv_contains(&b->roots, p.arg)) cli_strv_push(&b->roots, p.arg);
        break;
      case OPT_TIME_TRACE:
        b->time_trace = p.arg;
        break;
      case OPT_MEMORY_BUDGET:
        if (!cli_parse_size(p.arg, &b->memory_budget))
          return cli_usage(cmd, "bad --memory-budget '%s' (bytes, with optional K/M/G)", p.arg);
        break;
      case OPT_NAME:
        b->name = p.arg;
        break;
      case OPT_LIB:
        cli_strv_push(&b->libs, p.arg);
        break;
      case OPT_LIB_DIR:
        cli_strv_push(&b->lib_dirs, p.arg);
        break;
      case OPT_LINKER:
        if (strcmp(p.arg, "lld") == 0)
          b->linker = KILN_LINKER_DRIVER_LLD;
        else if (strcmp(p.arg, "cc") == 0)
          b->linker = KILN_LINKER_DRIVER_CC;
        else
          return cli_usage(cmd, "bad --linker '%s' (lld or cc)", p.arg);
        break;
      case OPT_NO_VECTORIZE:
        b->no_vectorize = true;
        break;
      case OPT_CFLAG:
        cli_strv_push(&b->cflags, p.arg);
        break;
      case OPT_QUIET:
        b->verbosity = -1;
        break;
      case OPT_VERBOSE:
        b->verbosity = 1;
        break;
      default:
        return cli_usage(cmd, "unexpected option");
    }
  }
done:
  if (b->inputs.n == 0) return cli_usage(cmd, "no input files");
  if (b->output == NULL) return cli_usage(cmd, "missing -o");
  if (b->base != NULL) {
    if (b->kind_given && b->kind != KILN_EMITTER_IMAGE_PACKAGE)
      return cli_usage(cmd, "--base needs --kind=package");
    b->kind = KILN_EMITTER_IMAGE_PACKAGE;
  }
  if (b->cpu_target == NULL) {
    const char *env = getenv("KILN_CPU_TARGET");
    b->cpu_target = env != NULL && env[0] != '\0' ? env : "generic";
  }
  if (roots_file != NULL) {
    kiln_error_t *err = read_roots(roots_file, &b->roots);
    if (err != NULL) return cli_fail(roots_file, err);
  }
  return -1;
}

/* ---- Compiling .c inputs ----------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Runs clang on one C file; on failure the error carries clang's first
 * diagnostic line (which names the file and line). */
static kiln_error_t *compile_c(const cli_build_t *b, const char *input, const char *out,
                               const char *log_path) {
  const char *clang = getenv("KILN_CLANG");
  if (clang == NULL || clang[0] == '\0') clang = "/usr/lib/llvm-22/bin/clang";
  if (access(input, R_OK) != 0) {
    int e = errno;
    return kiln_error_new(e == ENOENT ? KILN_ERR_NOT_FOUND : KILN_ERR_IO, "%s: %s", input,
                          strerror(e));
  }
  char olevel[8];
  snprintf(olevel, sizeof olevel, "-O%u", b->opt_level);
  size_t n = 0;
  char **args = cli_xmalloc((16 + b->cflags.n) * sizeof *args);
  args[n++] = (char *)clang;
  args[n++] = olevel;
  args[n++] = "-Xclang";
  args[n++] = "-disable-llvm-passes";
  args[n++] = "-fPIC";
  args[n++] = "-emit-llvm";
  args[n++] = "-c";
  for (size_t i = 0; i < b->cflags.n; i++) args[n++] = b->cflags.items[i];
  args[n++] = (char *)input;
  args[n++] = "-o";
  args[n++] = (char *)out;
  args[n] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, clang, &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  free(args);
  if (rc != 0)
    return kiln_error_new(KILN_ERR_NOT_FOUND, "%s: cannot run clang '%s': %s", input, clang,
                          strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NULL;
  /* First line with "error" in clang's output, else its first line. */
  void *log = NULL;
  size_t log_size = 0;
  char *first = NULL;
  if (cli_read_file(log_path, &log, &log_size) == NULL && log_size > 0) {
    char *text = cli_xrealloc(log, log_size + 1);
    text[log_size] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
      if (first == NULL || (strstr(line, "error") != NULL && strstr(first, "error") == NULL)) {
        free(first);
        first = cli_strdup(line);
      }
    }
    free(text);
  }
  kiln_error_t *err =
      first != NULL && strncmp(first, input, strlen(input)) == 0
          ? kiln_error_new(KILN_ERR_PARSE, "%s", first)
          : kiln_error_new(KILN_ERR_PARSE, "%s: clang failed: %s", input,
                           first != NULL ? first : "(no output)");
  free(first);
  return err;
}

/* Replaces every occurrence of `from` in the error's message by `to`. */
static kiln_error_t *rename_in_error(kiln_error_t *err, const char *from, const char *to) {
  const char *msg = kiln_error_message(err);
  if (strstr(msg, from) == NULL) return err;
  size_t cap = strlen(msg) * (strlen(to) + 1) + 1;
  char *out = cli_xmalloc(cap), *o = out;
  for (const char *m = msg; *m;) {
    if (strncmp(m, from, strlen(from)) == 0) {
      o += sprintf(o, "%s", to);
      m += strlen(from);
    } else {
      *o++ = *m++;
    }
  }
  *o = '\0';
  kiln_error_t *renamed = kiln_error_new(kiln_error_code(err), "%s", out);
  free(out);
  kiln_error_free(err);
  return renamed;
}

kiln_error_t *cli_load_module(const cli_build_t *b, LLVMContextRef context, const char *tmp_dir,
                              LLVMModuleRef *module_out) {
  *module_out = NULL;
  const char **paths = cli_xmalloc(b->inputs.n * sizeof *paths);
  char **compiled = cli_xmalloc(b->inputs.n * sizeof *compiled);
  kiln_error_t *err = NULL;
  for (size_t i = 0; i < b->inputs.n; i++) {
    const char *in = b->inputs.items[i];
    compiled[i] = NULL;
    paths[i] = in;
    if (err == NULL && ends_with(in, ".c")) {
      compiled[i] = cli_asprintf("%s/input-%zu.bc", tmp_dir, i);
      char *log = cli_asprintf("%s/input-%zu.log", tmp_dir, i);
      err = compile_c(b, in, compiled[i], log);
      free(log);
      paths[i] = compiled[i];
    }
  }
  LLVMModuleRef m = NULL;
  if (err == NULL) err = kiln_emitter_link_inputs(context, paths, b->inputs.n, &m);
  if (err != NULL) {
    /* Messages about a compiled .c input name the temporary .bc: name the .c. */
    for (size_t i = 0; i < b->inputs.n; i++)
      if (compiled[i] != NULL) err = rename_in_error(err, compiled[i], b->inputs.items[i]);
  }
  for (size_t i = 0; i < b->inputs.n; i++) free(compiled[i]);
  free(compiled);
  free(paths);
  if (err != NULL) return err;
  /* No input path may reach the image (see the file comment). */
  LLVMSetSourceFileName(m, KILN_MODULE_NAME, strlen(KILN_MODULE_NAME));
  LLVMSetModuleIdentifier(m, KILN_MODULE_NAME, strlen(KILN_MODULE_NAME));
  *module_out = m;
  return NULL;
}

/* ---- Emitter options -------------------------------------------------------------- */

static bool base_dep(const char *key, uint64_t *fingerprint_out, void *user) {
  const kiln_image_format_t *base = user;
  size_t m = SIZE_MAX;
  kiln_error_t *err = kiln_image_format_method_find(base, key, &m);
  if (err != NULL) {
    kiln_error_free(err);
    return false;
  }
  *fingerprint_out = kiln_image_format_method_fingerprint(base, m);
  return true;
}

static void progress(void *user, size_t shard, size_t done, size_t total) {
  (void)user;
  (void)shard;
  fprintf(stderr, "\rkiln: emitting shards [%zu/%zu]", done, total);
  if (done == total) fputs("\r\033[K", stderr);
  fflush(stderr);
}

kiln_error_t *cli_emitter_options(const cli_build_t *b, const kiln_image_format_t *base_view,
                                  kiln_emitter_options_t **options_out) {
  *options_out = NULL;
  kiln_emitter_options_t *o = NULL;
  kiln_error_t *err = kiln_emitter_options_new(&o);
  if (err == NULL) err = kiln_emitter_options_set_target(o, b->cpu_target);
  if (err == NULL) err = kiln_emitter_options_set_opt_level(o, b->opt_level);
  if (err == NULL) {
    kiln_emitter_options_set_vectorize(o, !b->no_vectorize);
    kiln_emitter_options_set_shard_count(o, b->shards);
    kiln_emitter_options_set_threads(o, b->threads);
    kiln_emitter_options_set_memory_budget(o, b->memory_budget);
    err = kiln_emitter_options_set_image_kind(o, b->kind);
  }
  if (err == NULL) {
    char *stem = b->name == NULL ? cli_stem(b->output) : NULL;
    err = kiln_emitter_options_set_image_name(o, b->name != NULL ? b->name : stem);
    free(stem);
  }
  for (size_t i = 0; err == NULL && i < b->roots.n; i++)
    err = kiln_emitter_options_add_root(o, b->roots.items[i]);
  if (err == NULL && base_view != NULL) {
    kiln_emitter_options_set_base_checksum(o, kiln_image_format_checksum(base_view));
    kiln_emitter_options_set_dep_resolver(o, base_dep, (void *)base_view);
  }
  if (err == NULL && b->verbosity >= 0 && isatty(2))
    kiln_emitter_options_set_progress(o, progress, NULL);
  if (err != NULL) {
    kiln_emitter_options_free(o);
    return err;
  }
  *options_out = o;
  return NULL;
}

/* ---- Archive -> image ----------------------------------------------------------------- */

kiln_error_t *cli_link_archive(const void *archive, size_t size, const char *output,
                               const cli_strv_t *libs, const cli_strv_t *lib_dirs,
                               kiln_linker_driver_t driver, const char *archive_copy,
                               uint64_t *link_ns_out) {
  *link_ns_out = 0;
  kiln_error_t *err = NULL;
  if (archive_copy != NULL) {
    err = cli_write_file_atomic(archive_copy, archive, size);
    if (err != NULL) return err;
  }
  /* The archive goes beside the output: same file system, and removed
   * again whatever happens. Its name never reaches the image. */
  char *tmp = cli_asprintf("%s.kiln-%ld.a", output, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    int e = errno;
    free(tmp);
    char *dir = cli_dirname(output);
    err = kiln_error_new(KILN_ERR_IO, "%s: cannot write in directory '%s': %s", output, dir,
                         strerror(e));
    free(dir);
    return err;
  }
  bool ok = fwrite(archive, 1, size, f) == size;
  ok = (fclose(f) == 0) && ok;
  if (!ok) {
    unlink(tmp);
    free(tmp);
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write the temporary archive", output);
  }
  kiln_linker_options_t *lo = NULL;
  err = kiln_linker_options_new(&lo);
  if (err == NULL) err = kiln_linker_options_set_output(lo, output);
  if (err == NULL) err = kiln_linker_options_add_archive(lo, tmp, true);
  if (err == NULL) err = kiln_linker_options_add_export(lo, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  if (err == NULL) err = kiln_linker_options_set_driver(lo, driver);
  for (size_t i = 0; err == NULL && i < lib_dirs->n; i++)
    err = kiln_linker_options_add_library_path(lo, lib_dirs->items[i]);
  for (size_t i = 0; err == NULL && i < libs->n; i++)
    err = kiln_linker_options_add_library(lo, libs->items[i]);
  kiln_linker_report_t *report = NULL;
  if (err == NULL) err = kiln_linker_link(lo, &report);
  if (err == NULL) *link_ns_out = kiln_linker_report_wall_ns(report);
  kiln_linker_report_free(report);
  kiln_linker_options_free(lo);
  unlink(tmp);
  if (err != NULL) err = rename_in_error(err, tmp, "<archive>");
  free(tmp);
  return err;
}

int cli_link_result(const kiln_emitter_result_t *result, const char *output, unsigned emit,
                    const char *emit_dir, const cli_strv_t *libs, const cli_strv_t *lib_dirs,
                    kiln_linker_driver_t driver, uint64_t *link_ns_out) {
  char *archive_copy = NULL;
  if (emit & KILN_EMITTER_OUTPUT_ARCHIVE) {
    char *stem = cli_stem(output);
    archive_copy = cli_asprintf("%s/%s.a", emit_dir, stem);
    free(stem);
  }
  size_t size = 0;
  const void *archive = kiln_emitter_result_archive(result, &size);
  kiln_error_t *err =
      cli_link_archive(archive, size, output, libs, lib_dirs, driver, archive_copy, link_ns_out);
  free(archive_copy);
  return err != NULL ? cli_fail(output, err) : -1;
}

/* ---- Base image --------------------------------------------------------------------- */

int cli_check_base_targets(const cli_build_t *b, const kiln_image_format_t *base_view,
                           const void *blob, size_t blob_size) {
  kiln_image_format_t *pkg = NULL;
  kiln_error_t *err = kiln_image_format_open(blob, blob_size, b->output, &pkg);
  if (err != NULL) return cli_fail(b->output, err);
  size_t n = kiln_image_format_target_count(pkg);
  kiln_image_format_target_t *t = cli_xmalloc(n * sizeof *t);
  for (size_t k = 0; k < n; k++) {
    t[k].cpu = kiln_image_format_target_cpu(pkg, k);
    t[k].features = kiln_image_format_target_features(pkg, k);
    t[k].flags = kiln_image_format_target_flags(pkg, k);
    t[k].base = kiln_image_format_target_base(pkg, k);
  }
  err = kiln_runtime_check_targets(base_view, t, n);
  free(t);
  kiln_image_format_close(pkg);
  if (err == NULL) return -1;
  if (b->allow_target_mismatch) {
    cli_warn("%s: %s (allowed by --allow-target-mismatch)", b->base, kiln_error_message(err));
    kiln_error_free(err);
    return -1;
  }
  return cli_fail(b->base, err);
}

int cli_open_base(const cli_build_t *b, kiln_loader_info_t **info_out,
                  const kiln_image_format_t **view_out) {
  *info_out = NULL;
  *view_out = NULL;
  if (b->base == NULL) return -1;
  kiln_error_t *err = kiln_loader_inspect(b->base, NULL, info_out);
  if (err != NULL) return cli_fail(b->base, err);
  *view_out = kiln_loader_info_format(*info_out);
  if (kiln_image_format_kind(*view_out) != KILN_IMAGE_FORMAT_KIND_SYSTEM)
    cli_warn("%s: the base image is a package image", b->base);
  return -1;
}

/* ---- kiln build ------------------------------------------------------------------------ */

static void print_summary(const cli_build_t *b, const kiln_emitter_result_t *r,
                          int64_t load_ns, uint64_t link_ns) {
  printf("kiln build: %s\n", b->output);
  printf("  shards:   %zu\n", kiln_emitter_result_shard_count(r));
  printf("  threads:  %u\n", kiln_emitter_result_threads_used(r));
  printf("  functions: %zu\n", kiln_emitter_result_function_count(r));
  printf("  targets:  %s\n", b->cpu_target);
  for (size_t k = 0; k < kiln_emitter_result_target_count(r); k++)
    printf("    target %zu: %zu clones\n", k, kiln_emitter_result_clone_count(r, k));
  printf("  phases:\n");
  printf("    %-9s %9.3f ms\n", "inputs", (double)load_ns / 1e6);
  for (size_t i = 0; i < kiln_emitter_result_phase_count(r); i++)
    printf("    %-9s %9.3f ms  (cpu %.3f ms, peak rss %.1f MiB)\n",
           kiln_emitter_result_phase_name(r, i),
           (double)kiln_emitter_result_phase_wall_ns(r, i) / 1e6,
           (double)kiln_emitter_result_phase_cpu_ns(r, i) / 1e6,
           (double)kiln_emitter_result_phase_peak_rss(r, i) / (1024.0 * 1024.0));
  printf("    %-9s %9.3f ms\n", "link", (double)link_ns / 1e6);
  fflush(stdout);
}

int kiln_cmd_build(int argc, char **argv) {
  cli_build_t b;
  cli_build_init(&b);
  int rc = cli_build_parse(&b, "build", argc, argv);
  if (rc >= 0) {
    cli_build_free(&b);
    return rc;
  }
  kiln_loader_info_t *base_info = NULL;
  const kiln_image_format_t *base_view = NULL;
  char *tmp_dir = NULL, *emit_dir = NULL, *prefix = NULL;
  LLVMContextRef ctx = NULL;
  LLVMModuleRef module = NULL;
  kiln_emitter_options_t *eo = NULL;
  kiln_emitter_result_t *result = NULL;
  kiln_error_t *err = NULL;
  const char *first_input = b.inputs.items[0];

  rc = cli_open_base(&b, &base_info, &base_view);
  if (rc >= 0) goto out;

  /* Inputs: compile .c files, parse and link everything into one module. */
  int64_t t0 = cli_now_ns();
  if ((err = cli_make_temp_dir(&tmp_dir)) != NULL) {
    rc = cli_fail(NULL, err);
    goto out;
  }
  ctx = LLVMContextCreate();
  if ((err = cli_load_module(&b, ctx, tmp_dir, &module)) != NULL) {
    rc = cli_fail(first_input, err);
    goto out;
  }
  int64_t load_ns = cli_now_ns() - t0;

  /* Emitter: plan, shards, archive in memory (+ per-shard extras). */
  if ((err = cli_emitter_options(&b, base_view, &eo)) != NULL) {
    rc = cli_fail(first_input, err);
    goto out;
  }
  emit_dir = cli_strdup(b.emit_dir != NULL ? b.emit_dir : "");
  if (b.emit_dir == NULL) {
    free(emit_dir);
    emit_dir = cli_dirname(b.output);
  }
  unsigned extras = b.emit & ~KILN_EMITTER_OUTPUT_ARCHIVE;
  if (b.emit != 0 && (err = cli_mkdirs(emit_dir)) != NULL) {
    rc = cli_fail(emit_dir, err);
    goto out;
  }
  prefix = cli_asprintf("%s/", emit_dir);
  if ((err = kiln_emitter_options_set_outputs(eo, KILN_EMITTER_OUTPUT_ARCHIVE | extras)) ==
          NULL &&
      (err = kiln_emitter_options_set_output_prefix(eo, prefix)) == NULL && b.time_trace != NULL)
    err = kiln_emitter_options_set_time_trace_path(eo, b.time_trace);
  if (err != NULL) {
    rc = cli_fail(first_input, err);
    goto out;
  }
  if ((err = kiln_emitter_build(eo, module, &result)) != NULL) {
    rc = cli_fail(b.inputs.n == 1 ? first_input : b.output, err);
    goto out;
  }

  /* A package must fit its base's CPU targets. */
  size_t blob_size = 0;
  const void *blob = kiln_emitter_result_blob(result, &blob_size);
  if (base_view != NULL && (rc = cli_check_base_targets(&b, base_view, blob, blob_size)) >= 0)
    goto out;

  /* Archive -> image. */
  uint64_t link_ns = 0;
  if ((rc = cli_link_result(result, b.output, b.emit, emit_dir, &b.libs, &b.lib_dirs, b.linker,
                            &link_ns)) >= 0)
    goto out;
  if (b.verbosity > 0) print_summary(&b, result, load_ns, link_ns);
  rc = CLI_EXIT_OK;

out:
  kiln_emitter_result_free(result);
  kiln_emitter_options_free(eo);
  if (module != NULL) LLVMDisposeModule(module);
  if (ctx != NULL) LLVMContextDispose(ctx);
  if (tmp_dir != NULL) cli_remove_tree(tmp_dir);
  free(tmp_dir);
  free(emit_dir);
  free(prefix);
  kiln_loader_info_free(base_info);
  cli_build_free(&b);
  return rc;
}
