/*
 * tools/kiln/run.c — `kiln run IMAGE SYMBOL [ARGS...]`: loads an image
 * (components/loader: validate, select the CPU target, dlopen, tables) and
 * calls SYMBOL as `int SYMBOL(int argc, char **argv)`.
 *
 * With --base, --trace, --report or a package image, a kiln_runtime holds
 * the methods: the base (if any) is installed as the system image, the
 * image as a package (dependencies checked, import slots filled), and
 * SYMBOL is found through kiln_runtime_lookup, so an invalidated method
 * that carries bitcode is compiled on first use by components/jit. Without
 * a runtime SYMBOL is a method key, else a function name of the image.
 * The exit code is the function's return value & 255.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/jit/jit.h"
#include "components/loader/loader.h"
#include "components/runtime/runtime.h"
#include "tools/kiln/cli.h"

typedef int (*entry_fn)(int argc, char **argv);

static bool has_bitcode(const kiln_loader_image_t *img) {
  if (img == NULL) return false;
  const kiln_image_format_t *v = kiln_loader_image_format(img); /* NULL: 0 methods */
  for (size_t m = 0; m < kiln_image_format_method_count(v); m++) {
    size_t size = 0;
    (void)kiln_image_format_method_bitcode(v, m, &size);
    if (size > 0) return true;
  }
  return false;
}

/* Installs a loaded image into the runtime (system or package). */
static kiln_error_t *install(kiln_runtime_t *rt, const kiln_loader_image_t *img, bool as_package,
                             const char *name) {
  const kiln_image_format_t *v = kiln_loader_image_format(img);
  if (v == NULL) return kiln_loader_image_verify(img); /* says why */
  size_t ng = kiln_loader_global_count(img);
  void **globals = cli_xmalloc((ng ? ng : 1) * sizeof *globals);
  for (size_t i = 0; i < ng; i++) globals[i] = kiln_loader_global_address(img, i);
  void *const *functions = kiln_loader_function_table(img);
  kiln_error_t *err =
      as_package ? kiln_runtime_install_package(rt, v, functions, globals, name, NULL)
                 : kiln_runtime_install_system(rt, v, functions, globals, name, NULL);
  free(globals);
  return err;
}

/* Image name for reports: the recorded name, else the path. */
static const char *image_label(const kiln_loader_image_t *img) {
  const char *n = kiln_image_format_name(kiln_loader_image_format(img));
  return n != NULL && n[0] != '\0' ? n : kiln_loader_image_path(img);
}

int kiln_cmd_run(int argc, char **argv) {
  const char *image_path = NULL, *symbol = NULL, *base_path = NULL, *trace = NULL;
  bool report = false;
  cli_strv_t args = {0};
  /* kiln's own options are recognized anywhere before "--"; after SYMBOL,
   * anything else (also "-x") is an argument of the called function. */
  bool rest = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    if (!rest && strcmp(a, "--") == 0) {
      rest = true;
      continue;
    }
    if (!rest && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
      cli_strv_free(&args);
      return kiln_print_help("run");
    }
    if (!rest && strcmp(a, "--report") == 0) {
      report = true;
      continue;
    }
    if (!rest && (strcmp(a, "--base") == 0 || strcmp(a, "--trace") == 0)) {
      if (i + 1 >= argc) {
        cli_strv_free(&args);
        return cli_usage("run", "option '%s' needs an argument", a);
      }
      val = argv[++i];
    } else if (!rest && (strncmp(a, "--base=", 7) == 0 || strncmp(a, "--trace=", 8) == 0)) {
      val = strchr(a, '=') + 1;
    }
    if (val != NULL) {
      if (a[2] == 'b') base_path = val;
      else trace = val;
      continue;
    }
    if (!rest && a[0] == '-' && a[1] != '\0' && symbol == NULL) {
      cli_strv_free(&args);
      return cli_usage("run", "unknown option '%s'", a);
    }
    if (image_path == NULL)
      image_path = a;
    else if (symbol == NULL)
      symbol = a;
    else
      cli_strv_push(&args, a);
  }
  if (image_path == NULL || symbol == NULL) {
    cli_strv_free(&args);
    return cli_usage("run", "expected IMAGE SYMBOL [ARGS...]");
  }

  int rc = CLI_EXIT_FAIL;
  kiln_loader_image_t *base = NULL, *img = NULL;
  kiln_runtime_options_t *ro = NULL;
  kiln_runtime_t *rt = NULL;
  kiln_jit_t *jit = NULL;
  kiln_error_t *err = NULL;
  void *code = NULL;

  /* kiln_loader_open validates before dlopen what loading needs; the
   * directory (names, methods), which run uses throughout, is validated
   * here, so a corrupt one is a load error and every view below is
   * non-NULL. */
  if (base_path != NULL && ((err = kiln_loader_open(base_path, NULL, &base)) != NULL ||
                            (err = kiln_loader_image_verify(base)) != NULL)) {
    rc = cli_fail(base_path, err);
    goto out;
  }
  if ((err = kiln_loader_open(image_path, NULL, &img)) != NULL ||
      (err = kiln_loader_image_verify(img)) != NULL) {
    rc = cli_fail(image_path, err);
    goto out;
  }
  const kiln_image_format_t *view = kiln_loader_image_format(img);
  if (view == NULL) { /* not after a successful verify; never dereferenced */
    rc = cli_failf(image_path, "image directory unavailable");
    goto out;
  }
  bool package = kiln_image_format_kind(view) == KILN_IMAGE_FORMAT_KIND_PACKAGE;
  bool use_runtime = base != NULL || trace != NULL || report || package;

  if (use_runtime) {
    err = kiln_runtime_options_new(&ro);
    if (err == NULL && trace != NULL) err = kiln_runtime_options_set_trace_file(ro, trace);
    if (err == NULL && (has_bitcode(img) || has_bitcode(base))) {
      if ((err = kiln_jit_new(&jit)) == NULL)
        kiln_runtime_options_set_compile(ro, kiln_jit_compile_hook, jit);
    }
    if (err == NULL) err = kiln_runtime_new(ro, &rt);
    if (err != NULL) {
      rc = cli_fail(trace != NULL ? trace : image_path, err);
      goto out;
    }
    if (jit != NULL) kiln_jit_set_resolver(jit, kiln_runtime_resolve, rt);
    if (base != NULL && (err = install(rt, base, false, image_label(base))) != NULL) {
      rc = cli_fail(base_path, err);
      goto out;
    }
    if ((err = install(rt, img, package, image_label(img))) != NULL) {
      rc = cli_fail(image_path, err);
      goto out;
    }
    err = kiln_runtime_lookup(rt, symbol, &code);
    if (err != NULL) {
      size_t m = SIZE_MAX;
      kiln_error_t *not_method = kiln_image_format_method_find(view, symbol, &m);
      bool is_method = not_method == NULL;
      kiln_error_free(not_method);
      if (kiln_error_code(err) != KILN_ERR_NOT_FOUND || is_method) {
        rc = cli_fail(image_path, err);
        goto out;
      }
      kiln_error_free(err);
      err = NULL;
    }
  } else {
    size_t m = SIZE_MAX;
    err = kiln_loader_method_find(img, symbol, &m);
    if (err == NULL) code = kiln_loader_method_address(img, m);
    kiln_error_free(err);
    err = NULL;
  }
  if (code == NULL) {
    /* Not a method: a function of the image by name. */
    size_t f = SIZE_MAX;
    err = kiln_loader_function_find(img, symbol, &f);
    if (err != NULL) {
      kiln_error_free(err);
      err = NULL;
      rc = cli_failf(image_path, "symbol '%s' is neither a method nor a function of the image",
                     symbol);
      goto out;
    }
    code = kiln_loader_function_address(img, f);
  }

  /* argv = {SYMBOL, ARGS..., NULL} */
  char **call_argv = cli_xmalloc((args.n + 2) * sizeof *call_argv);
  call_argv[0] = (char *)symbol;
  for (size_t i = 0; i < args.n; i++) call_argv[i + 1] = args.items[i];
  call_argv[args.n + 1] = NULL;
  entry_fn fn;
  memcpy(&fn, &code, sizeof fn); /* object pointer -> function pointer (POSIX) */
  int ret = fn((int)args.n + 1, call_argv);
  free(call_argv);
  fflush(stdout);
  rc = ret & 255;

out:
  if (report && rt != NULL) {
    kiln_runtime_report_t *r = NULL;
    char *text = NULL;
    kiln_error_t *e = kiln_runtime_report(rt, &r);
    if (e == NULL) e = kiln_runtime_report_format(r, &text);
    if (e == NULL) {
      fputs(text, stderr);
      if (text[0] != '\0' && text[strlen(text) - 1] != '\n') fputc('\n', stderr);
    } else {
      kiln_error_free(e);
    }
    free(text);
    kiln_runtime_report_free(r);
  }
  kiln_runtime_free(rt);
  kiln_runtime_options_free(ro);
  kiln_jit_free(jit);
  kiln_loader_close(img);
  kiln_loader_close(base);
  cli_strv_free(&args);
  return rc;
}
