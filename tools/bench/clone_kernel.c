/* tools/bench/clone_kernel.c — a vector kernel whose speed depends on the
 * CPU target the loader picks: saxpy and an int32 dot product over 4,096
 * elements, repeated, timed inside the image. `kiln run IMAGE clone_main`
 * prints "ns_per_pass <N> checksum <C>"; bench.sh runs it with the host's
 * best target and with KILN_CPU_TARGET_INDEX=0 (generic) and compares. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define N 4096

static float xs[N], ys[N];
static int32_t as[N], bs[N];

void clone_saxpy(float a, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

int64_t clone_dot(const int32_t *a, const int32_t *b, int n) {
  int64_t s = 0;
  for (int i = 0; i < n; i++) s += (int64_t)a[i] * b[i];
  return s;
}

int clone_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  for (int i = 0; i < N; i++) {
    xs[i] = (float)(i % 13);
    ys[i] = 0.0f;
    as[i] = i % 101;
    bs[i] = 7 - i % 17;
  }
  const int passes = 20000;
  int64_t sum = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int p = 0; p < passes; p++) {
    clone_saxpy(0.001f, xs, ys, N);
    sum += clone_dot(as, bs, N);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / passes;
  printf("ns_per_pass %.1f checksum %lld %.3f\n", ns, (long long)sum, (double)ys[N - 1]);
  return 0;
}
