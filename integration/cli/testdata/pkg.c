/* The package image of the CLI package scenario, built against the base
 * image: pkg_sum depends on base_add, pkg_top calls pkg_sum (an in-image
 * caller), pkg_other depends on base_scale and passes a callback to the
 * base image, pkg_leaf depends on nothing. */
#include <stdio.h>

int base_add(int a, int b);
int base_scale(int x);
int base_map_sum(int (*f)(int), int n);

static int square(int x) { return x * x; }

int pkg_sum(int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s = base_add(s, i);
  return s;
}

int pkg_top(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("pkg_top %d\n", pkg_sum(10));
  return 0;
}

int pkg_other(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("pkg_other %d %d\n", base_scale(7), base_map_sum(square, 5));
  return 0;
}

int pkg_leaf(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("pkg_leaf\n");
  return 0;
}
