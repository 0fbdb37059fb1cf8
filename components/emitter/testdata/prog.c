/*
 * components/emitter/testdata/prog.c — a small real program for the
 * emitter's tests: loops, structs, function pointers (in code and in a
 * constant table, which becomes data slots), globals with initializers,
 * and vector-friendly loops so the wider targets get clones. prog_run()
 * folds every result into one checksum the tests compare with a native
 * build. Float values stay small integers so every target's results are
 * exact and equal.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct point {
  float x, y, z;
} point_t;

typedef struct account {
  const char *name;
  long balance;
  int kind;
} account_t;

float prog_xs[256];
float prog_ys[256];
int prog_counter = 7;
const char *prog_greeting = "kiln emitter test";

static account_t accounts[] = {
    {"alice", 100, 1}, {"bob", 250, 2}, {"carol", -40, 1}, {"dave", 75, 3},
};

static long op_add(long a, long b) { return a + b; }
static long op_sub(long a, long b) { return a - b; }
static long op_mul(long a, long b) { return a * b; }
long prog_op_xor(long a, long b) { return a ^ b; }

/* Function addresses in data: multiversioning turns these into slots. */
static long (*const ops[])(long, long) = {op_add, op_sub, op_mul, prog_op_xor};

void prog_saxpy(float a, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

float prog_dot(const float *x, const float *y, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

void prog_scale_points(point_t *p, int n, float k) {
  for (int i = 0; i < n; i++) {
    p[i].x *= k;
    p[i].y *= k;
    p[i].z *= k;
  }
}

uint32_t prog_crc32(const unsigned char *data, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    crc ^= data[i];
    for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

int prog_sieve(int limit) {
  static unsigned char composite[4096];
  if (limit > 4096) limit = 4096;
  int count = 0;
  for (int i = 0; i < limit; i++) composite[i] = 0;
  for (int i = 2; i < limit; i++) {
    if (composite[i]) continue;
    count++;
    for (int j = i * 2; j < limit; j += i) composite[j] = 1;
  }
  return count;
}

static void insertion_sort(int *a, int n) {
  for (int i = 1; i < n; i++) {
    int v = a[i], j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

long prog_apply(long (*f)(long, long), long a, long b) { return f(a, b); }

long prog_fold_ops(long seed) {
  long acc = seed;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) acc = prog_apply(ops[i], acc, (long)i + 3);
  return acc;
}

long prog_accounts(void) {
  long total = 0;
  for (size_t i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++)
    total += accounts[i].balance * accounts[i].kind + (long)accounts[i].name[0];
  return total;
}

void prog_matmul(const int *a, const int *b, int *c, int n) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      int s = 0;
      for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
      c[i * n + j] = s;
    }
}

/* Not cloned (no loop) and called by no cloned function, yet it calls a
 * cloned function directly and through a table: both become slots. */
static float (*const reducers[])(const float *, const float *, int) = {prog_dot};

long prog_slots(void) {
  float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  return (long)prog_dot(v, v, 8) * 1000 + (long)reducers[0](v, v, 4);
}

long prog_run(void) {
  for (int i = 0; i < 256; i++) {
    prog_xs[i] = (float)(i % 17);
    prog_ys[i] = (float)(i % 5);
  }
  prog_saxpy(2.0f, prog_xs, prog_ys, 256);
  long h = (long)prog_dot(prog_xs, prog_ys, 256);
  point_t pts[16];
  for (int i = 0; i < 16; i++) pts[i] = (point_t){(float)i, (float)(i * 2), (float)(i * 3)};
  prog_scale_points(pts, 16, 3.0f);
  for (int i = 0; i < 16; i++) h = h * 31 + (long)(pts[i].x + pts[i].y + pts[i].z);
  const char *g = prog_greeting;
  size_t len = 0;
  while (g[len]) len++;
  h = h * 31 + prog_crc32((const unsigned char *)g, len);
  h = h * 31 + prog_sieve(1000);
  int arr[32];
  for (int i = 0; i < 32; i++) arr[i] = (i * 7919) % 101;
  insertion_sort(arr, 32);
  for (int i = 0; i < 32; i++) h = h * 3 + arr[i];
  h = h * 31 + prog_fold_ops(prog_counter);
  h = h * 31 + prog_accounts();
  int a[36], b[36], c[36];
  for (int i = 0; i < 36; i++) {
    a[i] = i % 7;
    b[i] = i % 5;
  }
  prog_matmul(a, b, c, 6);
  for (int i = 0; i < 36; i++) h = h * 7 + c[i];
  return h;
}
