/*
 * components/linker/linker.c — one link: options in, an ELF shared object
 * out, written atomically.
 *
 * A link reads top to bottom as stages: check the options and inputs, find
 * libc's directory, create the temporary output and version script beside
 * the output, build the argument list for the chosen driver, run it, rename
 * the result into place. Every failure path removes the temporary files, so
 * the previous output stays as it was. The fixed flags live in one table per
 * driver; docs/linker.md explains each.
 */
#define _POSIX_C_SOURCE 200809L

#include "components/linker/linker.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "third_party/llvm_c_ext/lld.h"

extern char **environ;

/* ---- Small helpers ------------------------------------------------------ */

/* A growable list of owned strings (NULL-terminated for execve). */
typedef struct strlist {
  char **items;
  size_t count, cap;
} strlist_t;

static bool strlist_push_owned(strlist_t *list, char *s) {
  if (s == NULL) return false;
  if (list->count + 2 > list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 16;
    char **items = realloc(list->items, cap * sizeof(*items));
    if (items == NULL) {
      free(s);
      return false;
    }
    list->items = items;
    list->cap = cap;
  }
  list->items[list->count++] = s;
  list->items[list->count] = NULL;
  return true;
}

static char *copy_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *out = malloc(n);
  if (out != NULL) memcpy(out, s, n);
  return out;
}

static bool strlist_push(strlist_t *list, const char *s) {
  return strlist_push_owned(list, copy_string(s));
}

static void strlist_free(strlist_t *list) {
  for (size_t i = 0; i < list->count; i++) free(list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = list->cap = 0;
}

static char *format_string(const char *fmt, ...) KILN_PRINTF(1, 2);
static char *format_string(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  if (n < 0) return NULL;
  char *out = malloc((size_t)n + 1);
  if (out == NULL) return NULL;
  va_start(args, fmt);
  vsnprintf(out, (size_t)n + 1, fmt, args);
  va_end(args);
  return out;
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- Options ------------------------------------------------------------ */

typedef enum input_kind { INPUT_OBJECT, INPUT_ARCHIVE, INPUT_WHOLE_ARCHIVE } input_kind_t;

typedef struct input {
  input_kind_t kind;
  char *path;
} input_t;

struct kiln_linker_options {
  char *output;
  input_t *inputs;
  size_t input_count, input_cap;
  strlist_t libraries;
  strlist_t library_paths;
  strlist_t exports;
  strlist_t extra_args;
  bool no_undefined;
  kiln_linker_driver_t driver;
  char *cc;
  char *soname;
  char *triple; /* NULL: the architecture kiln was built for */
  bool link_libc;
};

struct kiln_linker_report {
  kiln_linker_driver_t driver;
  uint64_t wall_ns;
  char *diagnostics;
};

const char *kiln_linker_driver_name(kiln_linker_driver_t driver) {
  switch (driver) {
    case KILN_LINKER_DRIVER_LLD:
      return "lld";
    case KILN_LINKER_DRIVER_CC:
      return "cc";
  }
  return NULL;
}

static kiln_error_t *oom(const char *what) {
  return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "linker options: out of memory (%s)", what);
}

static kiln_error_t *check_string(const kiln_linker_options_t *options, const char *value,
                                  const char *setter) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: options is NULL", setter);
  }
  if (value == NULL || value[0] == '\0') {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: value is NULL or empty", setter);
  }
  return NULL;
}

static kiln_error_t *replace_string(char **slot, const char *value, const char *what) {
  char *copy = copy_string(value);
  if (copy == NULL) return oom(what);
  free(*slot);
  *slot = copy;
  return NULL;
}

kiln_error_t *kiln_linker_options_new(kiln_linker_options_t **options_out) {
  if (options_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_linker_options_new: NULL options_out");
  }
  *options_out = NULL;
  kiln_linker_options_t *o = calloc(1, sizeof(*o));
  if (o == NULL) return oom("options");
  o->driver = KILN_LINKER_DRIVER_LLD;
  o->link_libc = true;
  o->cc = copy_string("cc");
  if (o->cc == NULL) {
    free(o);
    return oom("cc");
  }
  *options_out = o;
  return NULL;
}

void kiln_linker_options_free(kiln_linker_options_t *options) {
  if (options == NULL) return;
  free(options->output);
  for (size_t i = 0; i < options->input_count; i++) free(options->inputs[i].path);
  free(options->inputs);
  strlist_free(&options->libraries);
  strlist_free(&options->library_paths);
  strlist_free(&options->exports);
  strlist_free(&options->extra_args);
  free(options->cc);
  free(options->soname);
  free(options->triple);
  free(options);
}

kiln_error_t *kiln_linker_options_set_output(kiln_linker_options_t *options, const char *path) {
  kiln_error_t *err = check_string(options, path, "kiln_linker_options_set_output");
  if (err != NULL) return err;
  size_t n = strlen(path);
  if (path[n - 1] == '/') {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_set_output: '%s' names a directory", path);
  }
  return replace_string(&options->output, path, "output");
}

static kiln_error_t *add_input(kiln_linker_options_t *options, const char *path, input_kind_t kind,
                               const char *setter) {
  kiln_error_t *err = check_string(options, path, setter);
  if (err != NULL) return err;
  if (options->input_count == options->input_cap) {
    size_t cap = options->input_cap ? options->input_cap * 2 : 8;
    input_t *inputs = realloc(options->inputs, cap * sizeof(*inputs));
    if (inputs == NULL) return oom("inputs");
    options->inputs = inputs;
    options->input_cap = cap;
  }
  char *copy = copy_string(path);
  if (copy == NULL) return oom("inputs");
  options->inputs[options->input_count].kind = kind;
  options->inputs[options->input_count].path = copy;
  options->input_count++;
  return NULL;
}

kiln_error_t *kiln_linker_options_add_archive(kiln_linker_options_t *options, const char *path,
                                              bool whole_archive) {
  return add_input(options, path, whole_archive ? INPUT_WHOLE_ARCHIVE : INPUT_ARCHIVE,
                   "kiln_linker_options_add_archive");
}

kiln_error_t *kiln_linker_options_add_object(kiln_linker_options_t *options, const char *path) {
  return add_input(options, path, INPUT_OBJECT, "kiln_linker_options_add_object");
}

static kiln_error_t *push_checked(kiln_linker_options_t *options, strlist_t *list,
                                  const char *value, const char *setter) {
  kiln_error_t *err = check_string(options, value, setter);
  if (err != NULL) return err;
  return strlist_push(list, value) ? NULL : oom(setter);
}

kiln_error_t *kiln_linker_options_add_library(kiln_linker_options_t *options, const char *name) {
  if (options != NULL && name != NULL && strchr(name, '/') != NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_add_library: '%s' is a path; pass a name (\"m\") "
                          "or add it with kiln_linker_options_add_object/_add_archive",
                          name);
  }
  return push_checked(options, options ? &options->libraries : NULL, name,
                      "kiln_linker_options_add_library");
}

kiln_error_t *kiln_linker_options_add_library_path(kiln_linker_options_t *options,
                                                   const char *dir) {
  return push_checked(options, options ? &options->library_paths : NULL, dir,
                      "kiln_linker_options_add_library_path");
}

/* Export names go into the version script verbatim, so they are restricted
 * to characters that cannot change its meaning. */
static bool is_symbol_name(const char *s) {
  for (const char *p = s; *p != '\0'; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '$';
    if (!ok) return false;
  }
  return true;
}

kiln_error_t *kiln_linker_options_add_export(kiln_linker_options_t *options, const char *symbol) {
  if (options != NULL && symbol != NULL && symbol[0] != '\0' && !is_symbol_name(symbol)) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_add_export: '%s' is not a symbol name "
                          "([A-Za-z0-9_.$] only)",
                          symbol);
  }
  return push_checked(options, options ? &options->exports : NULL, symbol,
                      "kiln_linker_options_add_export");
}

kiln_error_t *kiln_linker_options_set_no_undefined(kiln_linker_options_t *options,
                                                   bool no_undefined) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_set_no_undefined: options is NULL");
  }
  options->no_undefined = no_undefined;
  return NULL;
}

kiln_error_t *kiln_linker_options_set_driver(kiln_linker_options_t *options,
                                             kiln_linker_driver_t driver) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_set_driver: options is NULL");
  }
  if (kiln_linker_driver_name(driver) == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_set_driver: %d is not a driver", (int)driver);
  }
  options->driver = driver;
  return NULL;
}

kiln_error_t *kiln_linker_options_set_cc(kiln_linker_options_t *options, const char *cc) {
  kiln_error_t *err = check_string(options, cc, "kiln_linker_options_set_cc");
  return err != NULL ? err : replace_string(&options->cc, cc, "cc");
}

kiln_error_t *kiln_linker_options_set_soname(kiln_linker_options_t *options, const char *soname) {
  kiln_error_t *err = check_string(options, soname, "kiln_linker_options_set_soname");
  if (err != NULL) return err;
  if (strchr(soname, '/') != NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_set_soname: '%s' contains '/' (a build path "
                          "would end up in the image)",
                          soname);
  }
  return replace_string(&options->soname, soname, "soname");
}

kiln_error_t *kiln_linker_options_set_triple(kiln_linker_options_t *options, const char *triple) {
  kiln_error_t *err = check_string(options, triple, "kiln_linker_options_set_triple");
  return err != NULL ? err : replace_string(&options->triple, triple, "triple");
}

kiln_error_t *kiln_linker_options_set_link_libc(kiln_linker_options_t *options, bool link_libc) {
  if (options == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_linker_options_set_link_libc: options is NULL");
  }
  options->link_libc = link_libc;
  return NULL;
}

kiln_error_t *kiln_linker_options_add_arg(kiln_linker_options_t *options, const char *arg) {
  return push_checked(options, options ? &options->extra_args : NULL, arg,
                      "kiln_linker_options_add_arg");
}

/* ---- Report ------------------------------------------------------------- */

kiln_linker_driver_t kiln_linker_report_driver(const kiln_linker_report_t *report) {
  return report != NULL ? report->driver : KILN_LINKER_DRIVER_LLD;
}

uint64_t kiln_linker_report_wall_ns(const kiln_linker_report_t *report) {
  return report != NULL ? report->wall_ns : 0;
}

const char *kiln_linker_report_diagnostics(const kiln_linker_report_t *report) {
  return report != NULL && report->diagnostics != NULL ? report->diagnostics : "";
}

void kiln_linker_report_free(kiln_linker_report_t *report) {
  if (report == NULL) return;
  free(report->diagnostics);
  free(report);
}

/* ---- libc --------------------------------------------------------------- */

/* Architecture names as triples spell them, and the Debian/Ubuntu multiarch
 * tuple whose library directory holds that architecture's libc.so (a linker
 * script naming libc.so.6). */
typedef struct arch_entry {
  const char *arch;
  const char *multiarch;
} arch_entry_t;

static const arch_entry_t kArchTable[] = {
    {"x86_64", "x86_64-linux-gnu"},     {"amd64", "x86_64-linux-gnu"},
    {"aarch64", "aarch64-linux-gnu"},   {"arm64", "aarch64-linux-gnu"},
    {"i386", "i386-linux-gnu"},         {"i686", "i386-linux-gnu"},
    {"riscv64", "riscv64-linux-gnu"},   {"powerpc64le", "powerpc64le-linux-gnu"},
    {"ppc64le", "powerpc64le-linux-gnu"}, {"s390x", "s390x-linux-gnu"},
};

/* The architecture kiln itself was compiled for: the default target. */
#if defined(__x86_64__)
#define KILN_LINKER_HOST_ARCH "x86_64"
#elif defined(__aarch64__)
#define KILN_LINKER_HOST_ARCH "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define KILN_LINKER_HOST_ARCH "riscv64"
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define KILN_LINKER_HOST_ARCH "powerpc64le"
#elif defined(__s390x__)
#define KILN_LINKER_HOST_ARCH "s390x"
#elif defined(__i386__)
#define KILN_LINKER_HOST_ARCH "i386"
#else
#define KILN_LINKER_HOST_ARCH ""
#endif

/* Finds the directory holding libc.so for `triple`'s architecture (NULL:
 * the host's). Candidates, first hit wins: /usr/lib/<multiarch>,
 * /lib/<multiarch> and, for the host only, /usr/lib64 and /usr/lib (for
 * distributions without multiarch directories). */
static kiln_error_t *find_libc_dir(const char *output, const char *triple, char **dir_out) {
  *dir_out = NULL;
  const char *arch_text = triple != NULL ? triple : KILN_LINKER_HOST_ARCH;
  size_t arch_len = strcspn(arch_text, "-");
  const char *multiarch = NULL;
  for (size_t i = 0; i < sizeof(kArchTable) / sizeof(kArchTable[0]); i++) {
    if (strlen(kArchTable[i].arch) == arch_len &&
        strncmp(kArchTable[i].arch, arch_text, arch_len) == 0) {
      multiarch = kArchTable[i].multiarch;
      break;
    }
  }
  if (multiarch == NULL) {
    return kiln_error_new(KILN_ERR_UNSUPPORTED,
                          "%s: no libc directory known for architecture '%.*s' (triple '%s'); "
                          "turn off linking libc or add its directory",
                          output, (int)arch_len, arch_text, triple != NULL ? triple : "host");
  }
  char *candidates[4] = {format_string("/usr/lib/%s", multiarch),
                         format_string("/lib/%s", multiarch),
                         triple == NULL ? copy_string("/usr/lib64") : NULL,
                         triple == NULL ? copy_string("/usr/lib") : NULL};
  kiln_error_t *err = NULL;
  for (size_t i = 0; i < 4 && *dir_out == NULL; i++) {
    if (candidates[i] == NULL) continue;
    char *libc = format_string("%s/libc.so", candidates[i]);
    if (libc == NULL) break;
    if (access(libc, R_OK) == 0) {
      *dir_out = candidates[i];
      candidates[i] = NULL;
    }
    free(libc);
  }
  if (*dir_out == NULL) {
    err = kiln_error_new(KILN_ERR_NOT_FOUND,
                         "%s: libc.so for %s not found in /usr/lib/%s or /lib/%s (is libc6-dev "
                         "installed?)",
                         output, multiarch, multiarch, multiarch);
  }
  for (size_t i = 0; i < 4; i++) free(candidates[i]);
  return err;
}

/* ---- Temporary files ---------------------------------------------------- */

/* Creates an empty file "<dir>/.<base>.<tag>.XXXXXX" beside `output` and
 * returns its path: beside, so the final rename stays on one file system. */
static kiln_error_t *make_temp_beside(const char *output, const char *tag, char **path_out) {
  *path_out = NULL;
  const char *slash = strrchr(output, '/');
  int dir_len = slash != NULL ? (int)(slash - output) : 1;
  const char *dir = slash != NULL ? output : ".";
  const char *base = slash != NULL ? slash + 1 : output;
  if (slash == output) dir_len = 0; /* "/name": the root directory */
  char *path = format_string("%.*s/.%s.%s.XXXXXX", dir_len, dir, base, tag);
  if (path == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", output);
  int fd = mkstemp(path);
  if (fd < 0) {
    int e = errno;
    kiln_error_t *err = kiln_error_new(
        KILN_ERR_IO, "%s: cannot create a temporary file in '%.*s': %s", output,
        dir_len > 0 ? dir_len : 1, dir_len > 0 ? dir : "/", strerror(e));
    free(path);
    return err;
  }
  close(fd);
  *path_out = path;
  return NULL;
}

static kiln_error_t *write_version_script(const kiln_linker_options_t *o, const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write version script '%s': %s", o->output,
                          path, strerror(errno));
  }
  fputs("{\n  global:\n", f);
  for (size_t i = 0; i < o->exports.count; i++) fprintf(f, "    %s;\n", o->exports.items[i]);
  fputs("  local: *;\n};\n", f);
  if (fclose(f) != 0) {
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write version script '%s': %s", o->output,
                          path, strerror(errno));
  }
  return NULL;
}

/* ---- Arguments ---------------------------------------------------------- */

/* Flags every link passes (docs/linker.md says why, one by one). */
static const char *const kFixedFlags[] = {
    "-shared",           /* an image is a shared object */
    "--build-id=sha1",   /* content-derived: identifies the image, deterministic */
    "--hash-style=gnu",  /* DT_GNU_HASH only: faster dlsym, smaller */
    "--eh-frame-hdr",    /* unwinders find FDEs by binary search */
    "-z", "now",         /* bind everything at load: no lazy PLT writes */
    "-z", "relro",       /* GOT and relocated data read-only after load */
    "-z", "noexecstack", /* no executable stack, whatever the inputs say */
};

/* Appends `arg` for the chosen driver: as is for LLD, through -Xlinker for
 * the C compiler (which handles commas inside, unlike -Wl,). */
static bool push_linker_arg(strlist_t *argv, kiln_linker_driver_t driver, const char *arg) {
  if (driver == KILN_LINKER_DRIVER_CC && !strlist_push(argv, "-Xlinker")) return false;
  return strlist_push(argv, arg);
}

/* Builds the argument list (for LLD without argv[0], for cc with it). */
static bool build_args(const kiln_linker_options_t *o, const char *temp_output,
                       const char *version_script, const char *libc_dir, strlist_t *argv) {
  kiln_linker_driver_t d = o->driver;
  bool ok = true;
  if (d == KILN_LINKER_DRIVER_CC) {
    ok = ok && strlist_push(argv, o->cc);
    ok = ok && strlist_push(argv, "-shared");
    /* The compiler's own -lc comes last; without --as-needed it is always
     * recorded as DT_NEEDED, as with LLD. */
    ok = ok && push_linker_arg(argv, d, "--no-as-needed");
  }
  for (size_t i = 0; i < sizeof(kFixedFlags) / sizeof(kFixedFlags[0]); i++) {
    if (d == KILN_LINKER_DRIVER_CC && strcmp(kFixedFlags[i], "-shared") == 0) continue;
    ok = ok && push_linker_arg(argv, d, kFixedFlags[i]);
  }
  ok = ok && strlist_push(argv, "-o") && strlist_push(argv, temp_output);
  ok = ok && push_linker_arg(argv, d, "--version-script") &&
       push_linker_arg(argv, d, version_script);
  if (o->soname != NULL) {
    ok = ok && push_linker_arg(argv, d, "-soname") && push_linker_arg(argv, d, o->soname);
  }
  if (o->no_undefined) ok = ok && push_linker_arg(argv, d, "--no-undefined");
  for (size_t i = 0; i < o->extra_args.count; i++) {
    ok = ok && push_linker_arg(argv, d, o->extra_args.items[i]);
  }
  for (size_t i = 0; i < o->library_paths.count; i++) {
    ok = ok && strlist_push_owned(argv, format_string("-L%s", o->library_paths.items[i]));
  }
  for (size_t i = 0; i < o->input_count; i++) {
    const input_t *in = &o->inputs[i];
    bool whole = in->kind == INPUT_WHOLE_ARCHIVE;
    if (whole) ok = ok && push_linker_arg(argv, d, "--whole-archive");
    ok = ok && strlist_push(argv, in->path);
    if (whole) ok = ok && push_linker_arg(argv, d, "--no-whole-archive");
  }
  for (size_t i = 0; i < o->libraries.count; i++) {
    ok = ok && strlist_push_owned(argv, format_string("-l%s", o->libraries.items[i]));
  }
  if (libc_dir != NULL && d == KILN_LINKER_DRIVER_LLD) {
    ok = ok && strlist_push_owned(argv, format_string("-L%s", libc_dir));
    ok = ok && strlist_push(argv, "-lc");
  }
  return ok;
}

/* ---- Drivers ------------------------------------------------------------ */

static kiln_error_t *run_lld(const strlist_t *argv, char **diagnostics_out) {
  return kiln_llvm_lld_link_elf((const char *const *)argv->items, argv->count, diagnostics_out);
}

/* Runs the C compiler with stdin from /dev/null and stdout+stderr captured
 * through a pipe, and waits for it. */
static kiln_error_t *run_cc(const strlist_t *argv, char **diagnostics_out) {
  *diagnostics_out = NULL;
  const char *cc = argv->items[0];
  int fds[2];
  if (pipe(fds) != 0) {
    return kiln_error_new(KILN_ERR_IO, "%s: cannot create a pipe: %s", cc, strerror(errno));
  }
  /* The parent's ends must not leak into other children spawned meanwhile. */
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  pid_t pid;
  int rc = strchr(cc, '/') != NULL
               ? posix_spawn(&pid, cc, &actions, NULL, argv->items, environ)
               : posix_spawnp(&pid, cc, &actions, NULL, argv->items, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return kiln_error_new(rc == ENOENT ? KILN_ERR_NOT_FOUND : KILN_ERR_IO,
                          "cannot run C compiler '%s': %s", cc, strerror(rc));
  }

  size_t size = 0, cap = 4096;
  char *text = malloc(cap);
  bool out_of_memory = text == NULL;
  for (;;) {
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out_of_memory) continue; /* drain, so the child does not block */
    if (size + (size_t)n + 1 > cap) {
      while (size + (size_t)n + 1 > cap) cap *= 2;
      char *grown = realloc(text, cap);
      if (grown == NULL) {
        out_of_memory = true;
        continue;
      }
      text = grown;
    }
    memcpy(text + size, buf, (size_t)n);
    size += (size_t)n;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out_of_memory) {
    free(text);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory reading its output", cc);
  }
  text[size] = '\0';
  *diagnostics_out = text;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NULL;
  while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == ' ')) size--;
  if (WIFEXITED(status)) {
    return kiln_error_new(KILN_ERR_LINK, "%s failed (exit code %d): %.*s", cc,
                          WEXITSTATUS(status), (int)size, size > 0 ? text : "no diagnostics");
  }
  return kiln_error_new(KILN_ERR_LINK, "%s ended by signal %d: %.*s", cc,
                        WIFSIGNALED(status) ? WTERMSIG(status) : 0, (int)size, text);
}

/* ---- Link --------------------------------------------------------------- */

/* An input whose first bytes are not what its kind promises is rejected
 * here, as KILN_ERR_FORMAT: LLD treats some malformed inputs as fatal errors,
 * after which it cannot run again in this process (lld.h), so garbage should
 * not reach it. Damage past the first bytes still goes to the linker. */
static kiln_error_t *check_magic(const char *output, const input_t *in) {
  static const char kElf[4] = {0x7f, 'E', 'L', 'F'};
  static const char kArchive[8] = {'!', '<', 'a', 'r', 'c', 'h', '>', '\n'};
  const char *want = in->kind == INPUT_OBJECT ? kElf : kArchive;
  size_t want_len = in->kind == INPUT_OBJECT ? sizeof(kElf) : sizeof(kArchive);
  char head[8] = {0};
  FILE *f = fopen(in->path, "rb");
  if (f == NULL) {
    return kiln_error_new(KILN_ERR_NOT_FOUND, "%s: input '%s': %s", output, in->path,
                          strerror(errno));
  }
  size_t got = fread(head, 1, want_len, f);
  fclose(f);
  if (got != want_len || memcmp(head, want, want_len) != 0) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: input '%s' is not %s", output, in->path,
                          in->kind == INPUT_OBJECT ? "an ELF object file (bad magic)"
                                                   : "an archive (no !<arch> header)");
  }
  return NULL;
}

static kiln_error_t *check_options(const kiln_linker_options_t *o) {
  if (o == NULL) return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_linker_link: options is NULL");
  if (o->output == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_linker_link: no output set");
  }
  if (o->input_count == 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: no inputs (objects or archives)",
                          o->output);
  }
  if (o->exports.count == 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "%s: no exported symbols (an image exports at least its root symbol)",
                          o->output);
  }
  /* Checked here rather than left to the linker so the code is stable
   * (NOT_FOUND) and the message names the input plainly. */
  for (size_t i = 0; i < o->input_count; i++) {
    struct stat st;
    const char *path = o->inputs[i].path;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
      return kiln_error_new(KILN_ERR_NOT_FOUND, "%s: input '%s': %s", o->output, path,
                            strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return kiln_error_new(KILN_ERR_NOT_FOUND, "%s: input '%s' is not a regular file",
                            o->output, path);
    }
    kiln_error_t *err = check_magic(o->output, &o->inputs[i]);
    if (err != NULL) return err;
  }
  return NULL;
}

kiln_error_t *kiln_linker_link(const kiln_linker_options_t *options,
                               kiln_linker_report_t **report_out) {
  uint64_t start = monotonic_ns();
  if (report_out != NULL) *report_out = NULL;
  const kiln_linker_options_t *o = options;

  /* Options and inputs: fail before touching the file system. */
  kiln_error_t *err = check_options(o);
  if (err != NULL) return err;
  /* Allocated up front, so nothing can fail after the rename. */
  kiln_linker_report_t *report = NULL;
  if (report_out != NULL) {
    report = calloc(1, sizeof(*report));
    if (report == NULL) {
      return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory for the report", o->output);
    }
  }

  /* libc's directory: its libc.so script makes the image need libc.so.6. */
  char *libc_dir = NULL;
  if (o->link_libc && o->driver == KILN_LINKER_DRIVER_LLD) {
    err = find_libc_dir(o->output, o->triple, &libc_dir);
    if (err != NULL) {
      kiln_linker_report_free(report);
      return err;
    }
  }

  /* Temporary output and version script beside the output. */
  char *temp_output = NULL, *version_script = NULL;
  err = make_temp_beside(o->output, "kiln-link", &temp_output);
  if (err == NULL) err = make_temp_beside(o->output, "kiln-exports", &version_script);
  if (err == NULL) err = write_version_script(o, version_script);

  /* Run the driver into the temporary output. */
  strlist_t argv = {0};
  char *diagnostics = NULL;
  if (err == NULL && !build_args(o, temp_output, version_script, libc_dir, &argv)) {
    err = kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory building arguments",
                         o->output);
  }
  if (err == NULL) {
    err = o->driver == KILN_LINKER_DRIVER_LLD ? run_lld(&argv, &diagnostics)
                                              : run_cc(&argv, &diagnostics);
    if (err != NULL) err = kiln_error_prefix(err, "%s: link failed", o->output);
  }

  /* Into place: rename is atomic within the directory. */
  if (err == NULL && rename(temp_output, o->output) != 0) {
    err = kiln_error_new(KILN_ERR_IO, "%s: cannot rename '%s' into place: %s", o->output,
                         temp_output, strerror(errno));
  }
  if (err != NULL && temp_output != NULL) unlink(temp_output);
  if (version_script != NULL) unlink(version_script);

  if (err == NULL && report != NULL) {
    report->driver = o->driver;
    report->diagnostics = diagnostics;
    diagnostics = NULL;
    report->wall_ns = monotonic_ns() - start;
    *report_out = report;
    report = NULL;
  }
  kiln_linker_report_free(report);
  free(diagnostics);
  strlist_free(&argv);
  free(temp_output);
  free(version_script);
  free(libc_dir);
  return err;
}
