/* Entry point of the kiln_image rule test image. */
#include <stdio.h>

#include "rule_example.h"

int rule_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  float v[256];
  for (int i = 0; i < 256; i++) v[i] = (float)(i % 10);
  rule_scale(v, 256, 0.5f);
  printf("rule sum %.2f\n", rule_sum(v, 256));
  return 0;
}
