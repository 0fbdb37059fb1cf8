/* The program `kiln demo` builds into an image: a few kernels that CPU
 * targets compile differently (vectorizable float loops, a fused
 * multiply-add reduction, integer histogramming) and some plain code,
 * reached from one entry point, kiln_demo_main, which prints results that
 * do not depend on the CPU target the loader picks. */
#include <stdint.h>
#include <stdio.h>

#define N 4096

static float xs[N], ys[N];
static uint32_t counts[16];

void demo_saxpy(float a, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

double demo_dot(const float *x, const float *y, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += (double)x[i] * (double)y[i];
  return s;
}

void demo_histogram(const float *x, int n, uint32_t *bins) {
  for (int i = 0; i < 16; i++) bins[i] = 0;
  for (int i = 0; i < n; i++) bins[((uint32_t)x[i]) & 15u]++;
}

uint64_t demo_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

int kiln_demo_main(void) {
  for (int i = 0; i < N; i++) {
    xs[i] = (float)(i % 100) * 0.125f;
    ys[i] = (float)(i % 7);
  }
  for (int r = 0; r < 8; r++) demo_saxpy(0.5f, xs, ys, N);
  demo_histogram(ys, N, counts);
  printf("dot(x, y)     = %.2f\n", demo_dot(xs, ys, N));
  printf("histogram     =");
  for (int i = 0; i < 16; i++) printf(" %u", counts[i]);
  printf("\nhash(\"kiln\")  = %016llx\n", (unsigned long long)demo_hash("kiln"));
  return 0;
}
