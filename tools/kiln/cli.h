/*
 * tools/kiln/cli.h — what the kiln commands share: exit codes, the one-line
 * error and usage reports, a small option parser (long and short options,
 * "--opt=value", options after operands), size and number parsing, whole
 * files in and out, directories and temporary directories, and the build
 * options that `kiln build` and `kiln split` have in common.
 *
 * The CLI is the only part of kiln that prints or exits; everything it
 * calls returns kiln_error_t. Each command is one file (build.c, steps.c,
 * inspect.c, run.c, demo.c) with an entry point `int kiln_cmd_<name>(argc,
 * argv)` that returns the process exit code.
 */
#ifndef KILN_TOOLS_KILN_CLI_H
#define KILN_TOOLS_KILN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"
#include "components/emitter/emitter.h"
#include "components/image_format/image_format.h"
#include "components/linker/linker.h"
#include "components/loader/loader.h"
#include "llvm-c/Types.h"

/* ---- Exit codes ----------------------------------------------------------- */

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* the command failed: bad input, build/link/load error */
#define CLI_EXIT_USAGE 2 /* unknown option, missing argument... */

/* ---- Reports (stderr) ------------------------------------------------------- */

/* Prints ONE line "kiln: <input>: <problem>" from `err` (its message, with
 * line breaks folded; `input` is prepended unless the message already
 * starts with it; input may be NULL), frees `err`, returns CLI_EXIT_FAIL. */
int cli_fail(const char *input, kiln_error_t *err);
/* As cli_fail with a message of our own. */
int cli_failf(const char *input, const char *fmt, ...) KILN_PRINTF(2, 3);
/* Prints "kiln: <message>; see 'kiln help <cmd>'" and returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) KILN_PRINTF(2, 3);
/* "kiln: warning: <message>" on stderr (one line, folded). */
void cli_warn(const char *fmt, ...) KILN_PRINTF(1, 2);
/* Folds a message onto one line (in place): line breaks become "; ",
 * caret and blank lines are dropped. Returns `s`. */
char *cli_fold(char *s);

/* ---- Option parsing ------------------------------------------------------- */

typedef struct cli_opt {
  const char *long_name; /* "cpu-target" (without dashes), or NULL */
  char short_name;       /* 'o', or 0 */
  bool has_arg;
  int id;                /* returned by cli_next */
} cli_opt_t;

typedef struct cli_parser {
  const char *cmd;        /* for usage messages */
  int argc;
  char **argv;
  int i;                  /* next argv index */
  const cli_opt_t *opts;
  size_t nopts;
  bool no_more_options;   /* after "--" */
  const char *arg;        /* argument of the last option / operand */
  const char *opt_text;   /* spelling of the last option, for messages */
  /* short option cluster being parsed ("-qv"), or NULL */
  const char *cluster;
} cli_parser_t;

#define CLI_OPERAND 0    /* cli_next: an operand in p->arg */
#define CLI_END (-1)     /* cli_next: done */
#define CLI_ERROR (-2)   /* cli_next: usage error already printed */
#define CLI_OPT_HELP (-3) /* --help / -h */

void cli_parser_init(cli_parser_t *p, const char *cmd, int argc, char **argv,
                     const cli_opt_t *opts, size_t nopts);
/* The next option id (p->arg holds its argument), CLI_OPERAND, CLI_END,
 * CLI_OPT_HELP or CLI_ERROR (message printed). */
int cli_next(cli_parser_t *p);

/* ---- Values ------------------------------------------------------------------ */

/* Decimal unsigned integer within [min, max]. */
bool cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Bytes with an optional K/M/G suffix (1024-based, also KiB/MB...). */
bool cli_parse_size(const char *s, uint64_t *out);
/* A copy of the file name's stem: "out/libfoo.so" -> "libfoo". */
char *cli_stem(const char *path);
/* A copy of the directory part: "out/x.so" -> "out", "x.so" -> ".". */
char *cli_dirname(const char *path);
/* malloc'd printf. NULL only when out of memory. */
char *cli_asprintf(const char *fmt, ...) KILN_PRINTF(1, 2);
/* malloc'd copy, aborting on no memory (a CLI may). */
char *cli_strdup(const char *s);
void *cli_xmalloc(size_t n);
void *cli_xrealloc(void *p, size_t n);

/* ---- Files ------------------------------------------------------------------- */

/* Reads a whole file. Errors: NOT_FOUND / IO naming the path. */
kiln_error_t *cli_read_file(const char *path, void **data_out, size_t *size_out);
/* Writes a file atomically (temp file beside it + rename). */
kiln_error_t *cli_write_file_atomic(const char *path, const void *data, size_t size);
/* mkdir -p. Errors: IO naming the directory. */
kiln_error_t *cli_mkdirs(const char *dir);
/* A fresh private directory under $TMPDIR (or /tmp). */
kiln_error_t *cli_make_temp_dir(char **dir_out);
/* rm -r of a directory this process made (regular files and dirs). */
void cli_remove_tree(const char *dir);

/* ---- String lists ------------------------------------------------------------ */

typedef struct cli_strv {
  char **items;
  size_t n, cap;
} cli_strv_t;
void cli_strv_push(cli_strv_t *v, const char *s);
bool cli_strv_contains(const cli_strv_t *v, const char *s);
void cli_strv_free(cli_strv_t *v);

/* ---- Build options (kiln build / kiln split) --------------------------------- */

typedef struct cli_build {
  cli_strv_t inputs;
  const char *output;        /* -o */
  const char *cpu_target;    /* --cpu-target, else $KILN_CPU_TARGET, else generic */
  unsigned opt_level;        /* -O<n>, default 2 */
  unsigned threads;          /* 0: the emitter's rule */
  size_t shards;             /* 0: from weight */
  unsigned emit;             /* KILN_EMITTER_OUTPUT_* extras */
  const char *emit_dir;
  unsigned kind;             /* KILN_EMITTER_IMAGE_* */
  bool kind_given;
  const char *base;          /* --base */
  bool allow_target_mismatch;
  cli_strv_t roots;          /* --root and --roots lines */
  const char *time_trace;
  uint64_t memory_budget;
  const char *name;
  cli_strv_t libs, lib_dirs;
  kiln_linker_driver_t linker;
  bool no_vectorize;
  cli_strv_t cflags;
  int verbosity;             /* -1 quiet, 0 normal, 1 verbose */
} cli_build_t;

void cli_build_init(cli_build_t *b);
void cli_build_free(cli_build_t *b);

/* Parses `kiln build`/`kiln split` arguments (argv[0] is the command name).
 * Returns -1 to go on, else an exit code (help printed, usage error...). */
int cli_build_parse(cli_build_t *b, const char *cmd, int argc, char **argv);

/* Parses an --emit list into KILN_EMITTER_OUTPUT_* bits; `allowed` masks
 * what this command accepts. false on an unknown or disallowed name. */
bool cli_parse_emit(const char *list, unsigned allowed, unsigned *bits_out);

/* The module of a build: .c inputs compiled with clang (into `tmp_dir`),
 * every input parsed and linked into one module in `context`; its source
 * file name and identifier are set to a fixed string so no input path
 * reaches the image. Errors name the input. */
kiln_error_t *cli_load_module(const cli_build_t *b, LLVMContextRef context, const char *tmp_dir,
                              LLVMModuleRef *module_out);

/* Emitter options from the build options (not the per-build outputs).
 * `base_view` (may be NULL) is the base image's metadata: its checksum and
 * its methods' fingerprints (dependency resolver) are used. */
kiln_error_t *cli_emitter_options(const cli_build_t *b, const kiln_image_format_t *base_view,
                                  kiln_emitter_options_t **options_out);

/* Archive bytes -> temp file beside `output` -> linker -> `output`
 * (atomically; the temp file is removed). With --emit archive, the archive
 * is also written to `archive_copy` (may be NULL). */
kiln_error_t *cli_link_archive(const void *archive, size_t size, const char *output,
                               const cli_strv_t *libs, const cli_strv_t *lib_dirs,
                               kiln_linker_driver_t driver, const char *archive_copy,
                               uint64_t *link_ns_out);
/* The result's archive -> `output` (cli_link_archive); with
 * KILN_EMITTER_OUTPUT_ARCHIVE in `emit`, a copy also goes to
 * <emit_dir>/<stem of output>.a. Reports a failure naming `output`
 * (cli_fail). Returns an exit code to stop with, or -1. */
int cli_link_result(const kiln_emitter_result_t *result, const char *output, unsigned emit,
                    const char *emit_dir, const cli_strv_t *libs, const cli_strv_t *lib_dirs,
                    kiln_linker_driver_t driver, uint64_t *link_ns_out);

/* --base: opens the base image's metadata without running it
 * (kiln_loader_inspect). Returns an exit code to stop with, or -1. */
int cli_open_base(const cli_build_t *b, kiln_loader_info_t **info_out,
                  const kiln_image_format_t **view_out);
/* Checks that the package (its metadata blob) fits the base's CPU targets
 * (kiln_runtime_check_targets): an error, or a warning with
 * --allow-target-mismatch. Returns an exit code to stop with, or -1. */
int cli_check_base_targets(const cli_build_t *b, const kiln_image_format_t *base_view,
                           const void *blob, size_t blob_size);

/* Monotonic clock in ns. */
int64_t cli_now_ns(void);

/* ---- Commands ------------------------------------------------------------------ */

int kiln_cmd_build(int argc, char **argv);
int kiln_cmd_split(int argc, char **argv);
int kiln_cmd_emit_shard(int argc, char **argv);
int kiln_cmd_link(int argc, char **argv);
int kiln_cmd_inspect(int argc, char **argv);
int kiln_cmd_run(int argc, char **argv);
int kiln_cmd_demo(int argc, char **argv);

/* Help text of a command (NULL for an unknown one); "" for the overview. */
const char *kiln_help_text(const char *cmd);
/* Prints help for `cmd` to stdout; returns 0. */
int kiln_print_help(const char *cmd);

#endif /* KILN_TOOLS_KILN_CLI_H */
