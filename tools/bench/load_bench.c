/*
 * tools/bench/load_bench.c — image load cost of a kiln-built image, side by
 * side in one run: kiln_loader_open + kiln_loader_close (validate before
 * dlopen, select a target, dlopen, rebuild tables, fill slots) against a
 * plain dlopen(RTLD_NOW | RTLD_LOCAL) + dlclose of the same file,
 * back to back, which one goes first alternating by round, medians of
 * ROUNDS rounds; and a call through the loader's
 * function table against a call through a dlsym-style pointer of the same
 * function in a plain-dlopen'ed copy... which an image does not export, so
 * the baseline is a direct call to an identical function in this binary.
 *
 * Usage: load_bench IMAGE [ROUNDS]     (one options object for all loads,
 * as a runtime loading many images would use)
 * Prints "load: kiln X us, dlopen Y us, ratio R" for the default loader
 * (the metadata's load part validated before dlopen, the directory on first
 * use), "load, eager directory: ..." with the whole metadata validated
 * before dlopen, "directory: ..." for the first-use validation of the
 * directory of a loaded image, and "call: ..." lines.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "components/loader/loader.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return v[n / 2];
}

/* The direct-call baseline: the same body as the image's kiln_bench_leaf. */
__attribute__((noinline)) int64_t bench_leaf_direct(int64_t x);
__attribute__((noinline)) int64_t bench_leaf_direct(int64_t x) { return x * 3 + 1; }

/* The two call loops, each in its own function aligned to a cache line, so
 * where the compiler puts main's code does not move their alignment (a
 * change elsewhere in main once moved the table loop from 2.19 to 2.46 ns
 * per call). The table entry is reloaded on every call. */
__attribute__((noinline, aligned(64))) static int64_t calls_through_table(void *const *table,
                                                                         size_t index,
                                                                         int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t (*volatile fp)(int64_t) = (int64_t (*)(int64_t))table[index];
    sum += fp(i);
  }
  return sum;
}

__attribute__((noinline, aligned(64))) static int64_t calls_direct(int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) sum += bench_leaf_direct(i);
  return sum;
}

/* One round: kiln_loader_open + close with `opts` and dlopen + dlclose of
 * the same file, one right after the other, kiln first in even rounds and
 * dlopen first in odd ones (so neither always runs in the state the other
 * leaves); their times in microseconds. */
static kiln_error_t *time_round(const char *path, const kiln_loader_options_t *opts, int round,
                                double *kiln_us, double *dl_us) {
  kiln_error_t *err = NULL;
  for (int i = 0; i < 2; i++) {
    double t0 = now_us();
    if ((i == 0) == (round % 2 == 0)) {
      kiln_loader_image_t *img = NULL;
      err = kiln_loader_open(path, opts, &img);
      kiln_loader_close(img);
      *kiln_us = now_us() - t0;
    } else {
      void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      if (h != NULL) dlclose(h);
      *dl_us = now_us() - t0;
    }
  }
  return err;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: load_bench IMAGE [ROUNDS]\n");
    return 2;
  }
  const char *path = argv[1];
  int rounds = argc > 2 ? atoi(argv[2]) : 200;
  if (rounds < 3) rounds = 3;
  kiln_loader_options_t *opts = NULL;
  kiln_error_t *err = kiln_loader_options_new(&opts);
  double *kiln_t = calloc((size_t)rounds, sizeof(double));
  double *dl_t = calloc((size_t)rounds, sizeof(double));
  if (err != NULL || kiln_t == NULL || dl_t == NULL) {
    fprintf(stderr, "load_bench: out of memory\n");
    return 1;
  }
  /* Warm up both paths (page cache, host detection cached in opts). */
  for (int i = 0; i < 3; i++) {
    kiln_loader_image_t *img = NULL;
    err = kiln_loader_open(path, opts, &img);
    if (err != NULL) {
      fprintf(stderr, "load_bench: %s\n", kiln_error_message(err));
      return 1;
    }
    kiln_loader_close(img);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
      fprintf(stderr, "load_bench: %s\n", dlerror());
      return 1;
    }
    dlclose(h);
  }
  for (int r = 0; r < rounds && err == NULL; r++) {
    err = time_round(path, opts, r, &kiln_t[r], &dl_t[r]);
  }
  if (err != NULL) {
    fprintf(stderr, "load_bench: %s\n", kiln_error_message(err));
    return 1;
  }
  double k = median(kiln_t, rounds), d = median(dl_t, rounds);
  printf("load: kiln_loader_open+close %.1f us, dlopen+dlclose %.1f us, ratio %.2fx (median of %d)\n",
         k, d, k / d, rounds);

  /* The same with the directory validated before dlopen too, and the cost
   * of validating it on first use in the default mode. */
  kiln_loader_options_t *eager = NULL;
  err = kiln_loader_options_new(&eager);
  if (err != NULL) {
    fprintf(stderr, "load_bench: %s\n", kiln_error_message(err));
    return 1;
  }
  kiln_loader_options_set_eager_directory(eager, true);
  double *verify_t = calloc((size_t)rounds, sizeof(double));
  if (verify_t == NULL) {
    fprintf(stderr, "load_bench: out of memory\n");
    return 1;
  }
  for (int r = 0; r < rounds && err == NULL; r++) {
    err = time_round(path, eager, r, &kiln_t[r], &dl_t[r]);
    kiln_loader_image_t *img = NULL;
    if (err == NULL) err = kiln_loader_open(path, opts, &img);
    double t0 = now_us();
    if (err == NULL) err = kiln_loader_image_verify(img);
    verify_t[r] = now_us() - t0;
    kiln_loader_close(img);
  }
  if (err != NULL) {
    fprintf(stderr, "load_bench: %s\n", kiln_error_message(err));
    return 1;
  }
  double ke = median(kiln_t, rounds), de = median(dl_t, rounds);
  printf("load, eager directory: kiln_loader_open+close %.1f us, dlopen+dlclose %.1f us, ratio "
         "%.2fx\n",
         ke, de, ke / de);
  printf("directory: first kiln_loader_image_verify of a loaded image %.1f us\n",
         median(verify_t, rounds));
  kiln_loader_options_free(eager);
  free(verify_t);

  /* Calls: through the function table vs direct. */
  kiln_loader_image_t *img = NULL;
  err = kiln_loader_open(path, opts, &img);
  size_t index = 0;
  if (err == NULL) err = kiln_loader_function_find(img, "kiln_bench_leaf", &index);
  if (err != NULL) {
    printf("call: skipped (%s)\n", kiln_error_message(err));
    kiln_error_free(err);
  } else {
    void *const *table = kiln_loader_function_table(img);
    const int64_t n = 20000000;
    double t0 = now_us();
    int64_t s1 = calls_through_table(table, index, n);
    double t1 = now_us();
    int64_t s2 = calls_direct(n);
    double t2 = now_us();
    printf("call: through the function table %.2f ns, direct %.2f ns, ratio %.2fx (%s)\n",
           (t1 - t0) * 1e3 / (double)n, (t2 - t1) * 1e3 / (double)n, (t1 - t0) / (t2 - t1),
           s1 == s2 ? "same results" : "RESULTS DIFFER");
  }
  kiln_loader_close(img);
  kiln_loader_options_free(opts);
  free(kiln_t);
  free(dl_t);
  return 0;
}
