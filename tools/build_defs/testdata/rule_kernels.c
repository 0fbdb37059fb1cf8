/* Kernels for the kiln_image rule test: loops the CPU targets compile
 * differently, so the image has clones. */
#include "rule_example.h"

void rule_scale(float *x, int n, float a) {
  for (int i = 0; i < n; i++) x[i] *= a;
}

double rule_sum(const float *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i];
  return s;
}
