/*
 * tools/kiln/cli.c — helpers every kiln command uses: one-line error and
 * usage reports, the option parser, number/size parsing, whole-file I/O,
 * directories and temporary directories, string lists.
 */
#define _GNU_SOURCE /* mkdtemp, vasprintf */
#include "tools/kiln/cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Memory ------------------------------------------------------------------ */

void *cli_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fputs("kiln: out of memory\n", stderr);
    exit(CLI_EXIT_FAIL);
  }
  return p;
}

void *cli_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) {
    fputs("kiln: out of memory\n", stderr);
    exit(CLI_EXIT_FAIL);
  }
  return q;
}

char *cli_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *c = cli_xmalloc(n);
  memcpy(c, s, n);
  return c;
}

char *cli_asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) {
    fputs("kiln: out of memory\n", stderr);
    exit(CLI_EXIT_FAIL);
  }
  return s;
}

/* ---- Reports ------------------------------------------------------------------- */

char *cli_fold(char *s) {
  /* Walk the lines; keep those with text other than blanks, '^' and '~'
   * (LLVM's caret lines), joined by "; ". */
  char *out = s;
  const char *line = s;
  bool first = true;
  while (*line != '\0') {
    const char *end = strchr(line, '\n');
    size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
    bool meaningful = false;
    for (size_t i = 0; i < len; i++) {
      char c = line[i];
      if (c != ' ' && c != '\t' && c != '^' && c != '~' && c != '\r') meaningful = true;
    }
    if (meaningful) {
      /* trim leading blanks of continuation lines and trailing CR/blanks */
      size_t b = 0;
      if (!first)
        while (b < len && (line[b] == ' ' || line[b] == '\t')) b++;
      while (len > b && (line[len - 1] == ' ' || line[len - 1] == '\r' || line[len - 1] == '\t'))
        len--;
      if (!first) {
        /* "...(2 mismatches):" + next line reads best without the ';' */
        if (out[-1] != ':') *out++ = ';';
        *out++ = ' ';
      }
      memmove(out, line + b, len - b);
      out += len - b;
      first = false;
    }
    if (end == NULL) break;
    line = end + 1;
  }
  *out = '\0';
  return s;
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void print_fail_line(const char *input, const char *msg) {
  /* "; " needs 2 bytes for each '\n' (1 byte) at most: leave room. */
  size_t n = strlen(msg);
  char *copy = cli_xmalloc(2 * n + 1);
  memcpy(copy, msg, n + 1);
  cli_fold(copy);
  if (input != NULL && input[0] != '\0' && !starts_with(copy, input))
    fprintf(stderr, "kiln: %s: %s\n", input, copy);
  else
    fprintf(stderr, "kiln: %s\n", copy);
  free(copy);
}

int cli_fail(const char *input, kiln_error_t *err) {
  print_fail_line(input, err != NULL ? kiln_error_message(err) : "unknown error");
  kiln_error_free(err);
  return CLI_EXIT_FAIL;
}

int cli_failf(const char *input, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  print_fail_line(input, s != NULL ? s : fmt);
  free(s);
  return CLI_EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  fprintf(stderr, "kiln: %s%s%s; see 'kiln help%s%s'\n", cmd != NULL ? cmd : "",
          cmd != NULL ? ": " : "", s != NULL ? s : fmt, cmd != NULL ? " " : "",
          cmd != NULL ? cmd : "");
  free(s);
  return CLI_EXIT_USAGE;
}

void cli_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  if (s == NULL) return;
  char *copy = cli_xmalloc(2 * strlen(s) + 1);
  strcpy(copy, s);
  fprintf(stderr, "kiln: warning: %s\n", cli_fold(copy));
  free(copy);
  free(s);
}

/* ---- Option parsing ---------------------------------------------------------- */

void cli_parser_init(cli_parser_t *p, const char *cmd, int argc, char **argv,
                     const cli_opt_t *opts, size_t nopts) {
  memset(p, 0, sizeof *p);
  p->cmd = cmd;
  p->argc = argc;
  p->argv = argv;
  p->i = 1; /* argv[0] is the command */
  p->opts = opts;
  p->nopts = nopts;
}

static int next_short(cli_parser_t *p) {
  char c = *p->cluster++;
  for (size_t k = 0; k < p->nopts; k++) {
    const cli_opt_t *o = &p->opts[k];
    if (o->short_name != c) continue;
    p->opt_text = NULL;
    if (o->has_arg) {
      if (*p->cluster != '\0') {
        p->arg = p->cluster;
      } else if (c == 'O') {
        /* -O alone is ambiguous (clang reads it as -O1): ask for a level. */
        p->cluster = NULL;
        cli_usage(p->cmd, "option '-O' needs a level (-O0, -O1, -O2, -O3)");
        return CLI_ERROR;
      } else if (p->i < p->argc) {
        p->arg = p->argv[p->i++];
      } else {
        p->cluster = NULL;
        cli_usage(p->cmd, "option '-%c' needs an argument", c);
        return CLI_ERROR;
      }
      p->cluster = NULL;
    } else {
      p->arg = NULL;
      if (*p->cluster == '\0') p->cluster = NULL;
    }
    return o->id;
  }
  p->cluster = NULL;
  if (c == 'h') return CLI_OPT_HELP;
  cli_usage(p->cmd, "unknown option '-%c'", c);
  return CLI_ERROR;
}

int cli_next(cli_parser_t *p) {
  if (p->cluster != NULL) return next_short(p);
  if (p->i >= p->argc) return CLI_END;
  const char *a = p->argv[p->i++];
  if (p->no_more_options || a[0] != '-' || a[1] == '\0') {
    p->arg = a;
    return CLI_OPERAND;
  }
  if (strcmp(a, "--") == 0) {
    p->no_more_options = true;
    return cli_next(p);
  }
  if (a[1] != '-') {
    p->cluster = a + 1;
    return next_short(p);
  }
  /* long option, "--name" or "--name=value" */
  const char *name = a + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
  if (len == 4 && strncmp(name, "help", 4) == 0 && eq == NULL) return CLI_OPT_HELP;
  for (size_t k = 0; k < p->nopts; k++) {
    const cli_opt_t *o = &p->opts[k];
    if (o->long_name == NULL || strlen(o->long_name) != len || strncmp(o->long_name, name, len))
      continue;
    p->opt_text = a;
    if (o->has_arg) {
      if (eq != NULL) {
        p->arg = eq + 1;
      } else if (p->i < p->argc) {
        p->arg = p->argv[p->i++];
      } else {
        cli_usage(p->cmd, "option '--%s' needs an argument", o->long_name);
        return CLI_ERROR;
      }
    } else {
      if (eq != NULL) {
        cli_usage(p->cmd, "option '--%s' takes no argument", o->long_name);
        return CLI_ERROR;
      }
      p->arg = NULL;
    }
    return o->id;
  }
  cli_usage(p->cmd, "unknown option '--%.*s'", (int)len, name);
  return CLI_ERROR;
}

/* ---- Values -------------------------------------------------------------------- */

bool cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  *out = 0;
  if (s == NULL || *s == '\0') return false;
  uint64_t v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*c - '0');
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

bool cli_parse_size(const char *s, uint64_t *out) {
  *out = 0;
  if (s == NULL || *s < '0' || *s > '9') return false;
  uint64_t v = 0;
  const char *c = s;
  for (; *c >= '0' && *c <= '9'; c++) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*c - '0');
  }
  static const struct { const char *suffix; unsigned shift; } suffixes[] = {
      {"", 0},    {"B", 0},    {"K", 10},  {"KB", 10}, {"KiB", 10}, {"k", 10},
      {"M", 20},  {"MB", 20},  {"MiB", 20}, {"m", 20}, {"G", 30},   {"GB", 30},
      {"GiB", 30}, {"g", 30},
  };
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    if (strcmp(c, suffixes[i].suffix) != 0) continue;
    unsigned sh = suffixes[i].shift;
    if (sh > 0 && v > (UINT64_MAX >> sh)) return false;
    *out = v << sh;
    return true;
  }
  return false;
}

char *cli_stem(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash != NULL ? slash + 1 : path;
  char *s = cli_strdup(base);
  size_t n = strlen(s);
  while (n > 1 && s[n - 1] == '/') s[--n] = '\0';
  char *dot = strrchr(s, '.');
  if (dot != NULL && dot != s) *dot = '\0';
  return s;
}

char *cli_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) return cli_strdup(".");
  if (slash == path) return cli_strdup("/");
  size_t n = (size_t)(slash - path);
  char *d = cli_xmalloc(n + 1);
  memcpy(d, path, n);
  d[n] = '\0';
  return d;
}

int64_t cli_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Files ------------------------------------------------------------------------ */

kiln_error_t *cli_read_file(const char *path, void **data_out, size_t *size_out) {
  *data_out = NULL;
  *size_out = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    int e = errno;
    return kiln_error_new(e == ENOENT ? KILN_ERR_NOT_FOUND : KILN_ERR_IO, "%s: %s", path,
                          strerror(e));
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = cli_xmalloc(cap);
  for (;;) {
    if (n == cap) buf = cli_xrealloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad) {
    free(buf);
    return kiln_error_new(KILN_ERR_IO, "%s: read failed", path);
  }
  *data_out = buf;
  *size_out = n;
  return NULL;
}

kiln_error_t *cli_write_file_atomic(const char *path, const void *data, size_t size) {
  char *tmp = cli_asprintf("%s.kiln-tmp-%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    int e = errno;
    free(tmp);
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
  }
  bool ok = fwrite(data, 1, size, f) == size;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    free(tmp);
    return kiln_error_new(KILN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
  }
  free(tmp);
  return NULL;
}

kiln_error_t *cli_mkdirs(const char *dir) {
  char *p = cli_strdup(dir);
  for (char *c = p + 1; ; c++) {
    if (*c == '/' || *c == '\0') {
      char saved = *c;
      *c = '\0';
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        kiln_error_t *err = kiln_error_new(KILN_ERR_IO, "%s: cannot create directory: %s", dir,
                                           strerror(e));
        free(p);
        return err;
      }
      *c = saved;
      if (saved == '\0') break;
    }
  }
  struct stat st;
  kiln_error_t *err = NULL;
  if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
    err = kiln_error_new(KILN_ERR_IO, "%s: not a directory", dir);
  free(p);
  return err;
}

kiln_error_t *cli_make_temp_dir(char **dir_out) {
  *dir_out = NULL;
  const char *base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0') base = "/tmp";
  char *t = cli_asprintf("%s/kiln-XXXXXX", base);
  if (mkdtemp(t) == NULL) {
    int e = errno;
    kiln_error_t *err =
        kiln_error_new(KILN_ERR_IO, "%s: cannot create a temporary directory: %s", base,
                       strerror(e));
    free(t);
    return err;
  }
  *dir_out = t;
  return NULL;
}

void cli_remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char *p = cli_asprintf("%s/%s", dir, e->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
        cli_remove_tree(p);
      else
        unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* ---- String lists --------------------------------------------------------------- */

void cli_strv_push(cli_strv_t *v, const char *s) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 8;
    v->items = cli_xrealloc(v->items, v->cap * sizeof *v->items);
  }
  v->items[v->n++] = cli_strdup(s);
}

bool cli_strv_contains(const cli_strv_t *v, const char *s) {
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->items[i], s) == 0) return true;
  return false;
}

void cli_strv_free(cli_strv_t *v) {
  for (size_t i = 0; i < v->n; i++) free(v->items[i]);
  free(v->items);
  memset(v, 0, sizeof *v);
}
