/*
 * components/loader/loader_probe.c — loads an image built from
 * testdata/kernels.c and prints the selected target, which target's code
 * runs, and results of a few kernels. qemu_test.sh runs it under emulated
 * CPUs; loader_deps_test checks that it links without LLVM or C++.
 * KILN_CPU_DISABLE and KILN_CPU_TARGET_INDEX apply.
 * Usage: loader_probe <image.so>
 */
#include <stdio.h>
#include <string.h>

#include "components/loader/loader.h"

static void *fn(const kiln_loader_image_t *image, const char *name) {
  size_t index;
  kiln_error_t *err = kiln_loader_function_find(image, name, &index);
  if (err != NULL) {
    fprintf(stderr, "loader_probe: %s\n", kiln_error_message(err));
    kiln_error_free(err);
    return NULL;
  }
  return kiln_loader_function_address(image, index);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: loader_probe <image.so>\n");
    return 2;
  }
  kiln_loader_image_t *image = NULL;
  kiln_error_t *err = kiln_loader_open(argv[1], NULL, &image);
  if (err != NULL) {
    printf("error: %s: %s\n", kiln_error_code_name(kiln_error_code(err)),
           kiln_error_message(err));
    kiln_error_free(err);
    return 1;
  }
  printf("selected: %zu (%s)\n", kiln_loader_image_target(image),
         kiln_loader_image_target_cpu(image));
  printf("reason: %s\n", kiln_loader_image_target_reason(image));
  int (*which)(void) = (int (*)(void))fn(image, "which_target");
  int (*add)(int, int) = (int (*)(int, int))fn(image, "add");
  int (*via_slot)(int) = (int (*)(int))fn(image, "via_slot");
  long (*sum)(const int *, int) = (long (*)(const int *, int))fn(image, "sum_array");
  double (*dot)(const double *, const double *, int) =
      (double (*)(const double *, const double *, int))fn(image, "dot");
  if (!which || !add || !via_slot || !sum || !dot) return 1;
  int v[1000];
  double a[257], b[257];
  for (int i = 0; i < 1000; i++) v[i] = i * 7 - 300;
  for (int i = 0; i < 257; i++) {
    a[i] = i * 0.5;
    b[i] = 3.0 - i * 0.25;
  }
  printf("which_target: %d\n", which());
  printf("result: add=%d via_slot=%d sum=%ld dot=%.6f\n", add(40, 2), via_slot(9), sum(v, 1000),
         dot(a, b, 257));
  kiln_loader_close(image);
  return 0;
}
