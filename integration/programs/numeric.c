/* Numeric kernels: saxpy, dot products, a small matrix multiply and a
 * stencil, written so the vectorizer and the CPU clones have work to do. */
#include <stdio.h>

#define N 1024

static float xs[N], ys[N];
static double a[32][32], b[32][32], c[32][32];

static void saxpy(float alpha, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = alpha * x[i] + y[i];
}

static double dot(const float *x, const float *y, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += (double)x[i] * (double)y[i];
  return s;
}

static void matmul(int n) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0.0;
      for (int k = 0; k < n; k++) s += a[i][k] * b[k][j];
      c[i][j] = s;
    }
}

static void stencil(float *out, const float *in, int n) {
  out[0] = in[0];
  out[n - 1] = in[n - 1];
  for (int i = 1; i < n - 1; i++) out[i] = 0.25f * in[i - 1] + 0.5f * in[i] + 0.25f * in[i + 1];
}

int kiln_main(void) {
  for (int i = 0; i < N; i++) {
    xs[i] = (float)(i % 17) * 0.5f;
    ys[i] = (float)(i % 5) - 2.0f;
  }
  for (int i = 0; i < 32; i++)
    for (int j = 0; j < 32; j++) {
      a[i][j] = (double)((i * 3 + j) % 7) - 3.0;
      b[i][j] = (double)((i + j * 5) % 11) * 0.125;
    }
  saxpy(2.0f, xs, ys, N);
  printf("dot %.1f\n", dot(xs, ys, N));
  matmul(32);
  double trace = 0.0;
  for (int i = 0; i < 32; i++) trace += c[i][i];
  printf("trace %.4f corner %.4f\n", trace, c[31][0]);
  static float tmp[N];
  for (int r = 0; r < 10; r++) {
    stencil(tmp, ys, N);
    for (int i = 0; i < N; i++) ys[i] = tmp[i];
  }
  printf("stencil %.3f %.3f %.3f\n", ys[0], ys[N / 2], ys[N - 1]);
  return 0;
}
