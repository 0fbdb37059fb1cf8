/* Kernels for the functional test and the benchmark: loops, reductions,
 * fast-math, fma contraction, function pointers in data, recursion, and a
 * non-cloned caller of a cloned function. Compiled by clang-22 at test time. */
#include <math.h>

float mv_dot(const float *a, const float *b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* No loop: not cloned; its call to mv_dot goes through a slot. */
float mv_norm(const float *a, int n) { return sqrtf(mv_dot(a, a, n)); }

void mv_saxpy(float a, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

/* fma contraction (llvm.fmuladd) in a loop: the benchmark kernel. */
void mv_poly(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) {
    float v = x[i];
    y[i] = ((((1.5f * v + 2.0f) * v - 3.0f) * v + 0.5f) * v - 1.0f) * v + 4.0f;
  }
}

long mv_isum(const int *a, int n) {
  long s = 0;
  for (int i = 0; i < n; i++) s += a[i] * 3 + (a[i] >> 2);
  return s;
}

double mv_fast_sum(const double *a, int n) {
#pragma clang fp reassociate(on)
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * 0.5;
  return s;
}

static double sq_sum(double x) {
  double r = 0;
  for (int i = 0; i < 4; i++) r += x;
  return r * x;
}
static double cube(double x) { return x * x * x; }

/* Function addresses in data: sq_sum is cloned, so its entry is a slot. */
double (*const mv_ops[2])(double) = {sq_sum, cube};

double mv_apply(int i, double x) { return mv_ops[i](x); }

/* Recursion without a loop (not cloned) and with one (cloned: the clone's
 * recursive calls stay inside the same target's clone). */
long mv_fib(int n) { return n < 2 ? n : mv_fib(n - 1) + mv_fib(n - 2); }

double mv_rsum(const double *a, int n) {
  if (n <= 16) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
  }
  return mv_rsum(a, n / 2) + mv_rsum(a + n / 2, n - n / 2);
}
