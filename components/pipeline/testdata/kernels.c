/*
 * components/pipeline/testdata/kernels.c — real C workloads for the
 * pipeline's functional test and benchmark: numeric loops (dot product,
 * matrix multiply, stencil, Mandelbrot), integer and string kernels
 * (sieve, histogram, CRC-32, hashing, run-length coding, case folding,
 * substring search), recursion (quicksort) and calls through function
 * pointers. clang-22 compiles this to unoptimized bitcode at test time; the
 * pipeline under test optimizes it. Every kernel returns a checksum so the
 * optimized and native builds can be compared, and so no work is dead.
 *
 * Only deterministic, UB-free C11: results must not depend on the
 * optimizer (floating-point sums are rounded to integers before hashing).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

enum { kVec = 4096, kMat = 96, kText = 1 << 15, kSort = 1 << 14 };

/* Deterministic pseudo-random numbers (xorshift32). */
static uint32_t next_random(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

/* ---- numeric ------------------------------------------------------------ */

static float va[kVec], vb[kVec], vc[kVec];

static float dot(const float *a, const float *b, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static void saxpy(float alpha, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = alpha * x[i] + y[i];
}

uint64_t kernel_dot_saxpy(unsigned reps) {
  uint32_t seed = 12345;
  for (int i = 0; i < kVec; i++) {
    va[i] = (float)(next_random(&seed) % 1000) / 1000.0f;
    vb[i] = (float)(next_random(&seed) % 1000) / 1000.0f;
    vc[i] = 0.0f;
  }
  uint64_t h = 0;
  for (unsigned r = 0; r < reps; r++) {
    saxpy(0.5f, va, vc, kVec);
    saxpy(-0.25f, vb, vc, kVec);
    h = mix(h, (uint64_t)(int64_t)(dot(va, vb, kVec)));
  }
  return mix(h, (uint64_t)(int64_t)vc[kVec / 2]);
}

static double ma[kMat][kMat], mb[kMat][kMat], mc[kMat][kMat];

uint64_t kernel_matmul(unsigned reps) {
  for (int i = 0; i < kMat; i++) {
    for (int j = 0; j < kMat; j++) {
      ma[i][j] = (double)((i * 7 + j * 3) % 17) - 8.0;
      mb[i][j] = (double)((i * 5 + j * 11) % 13) - 6.0;
    }
  }
  uint64_t h = 0;
  for (unsigned r = 0; r < reps; r++) {
    for (int i = 0; i < kMat; i++) {
      for (int j = 0; j < kMat; j++) mc[i][j] = 0.0;
      for (int k = 0; k < kMat; k++) {
        double aik = ma[i][k];
        for (int j = 0; j < kMat; j++) mc[i][j] += aik * mb[k][j];
      }
    }
    h = mix(h, (uint64_t)(int64_t)mc[r % kMat][(r * 7) % kMat]);
  }
  return h;
}

uint64_t kernel_stencil(unsigned reps) {
  static float grid[2][kVec];
  for (int i = 0; i < kVec; i++) grid[0][i] = (float)(i % 97);
  int cur = 0;
  for (unsigned r = 0; r < reps * 4; r++) {
    const float *in = grid[cur];
    float *out = grid[1 - cur];
    out[0] = in[0];
    out[kVec - 1] = in[kVec - 1];
    for (int i = 1; i < kVec - 1; i++) out[i] = 0.25f * in[i - 1] + 0.5f * in[i] + 0.25f * in[i + 1];
    cur = 1 - cur;
  }
  uint64_t h = 0;
  for (int i = 0; i < kVec; i += 64) h = mix(h, (uint64_t)(int64_t)(grid[cur][i] * 16.0f));
  return h;
}

uint64_t kernel_mandelbrot(unsigned reps) {
  uint64_t total = 0;
  const int w = 96, hgt = 64;
  for (unsigned r = 0; r < reps; r++) {
    for (int y = 0; y < hgt; y++) {
      for (int x = 0; x < w; x++) {
        double cr = -2.0 + 2.5 * x / w, ci = -1.0 + 2.0 * y / hgt;
        double zr = 0.0, zi = 0.0;
        int it = 0;
        while (it < 64 && zr * zr + zi * zi < 4.0) {
          double t = zr * zr - zi * zi + cr;
          zi = 2.0 * zr * zi + ci;
          zr = t;
          it++;
        }
        total += (uint64_t)it;
      }
    }
  }
  return total;
}

/* ---- integers ----------------------------------------------------------- */

uint64_t kernel_sieve(unsigned reps) {
  enum { kLimit = 1 << 16 };
  static unsigned char composite[kLimit];
  uint64_t h = 0;
  for (unsigned r = 0; r < reps; r++) {
    memset(composite, 0, sizeof(composite));
    unsigned count = 0;
    for (unsigned i = 2; i < kLimit; i++) {
      if (composite[i]) continue;
      count++;
      for (unsigned j = i * 2; j < kLimit; j += i) composite[j] = 1;
    }
    h = mix(h, count);
  }
  return h;
}

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32(const unsigned char *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static unsigned char text[kText];

static void make_text(void) {
  static const char words[][8] = {"kiln ", "loop ", "vector ", "the ", "a ", "Pass ", "LLVM\n"};
  uint32_t seed = 777;
  size_t pos = 0;
  while (pos + 8 < kText) {
    const char *w = words[next_random(&seed) % 7];
    size_t len = strlen(w);
    memcpy(text + pos, w, len);
    pos += len;
  }
  while (pos < kText) text[pos++] = ' ';
}

uint64_t kernel_crc_histogram(unsigned reps) {
  crc_init();
  make_text();
  uint64_t h = 0;
  unsigned hist[256];
  for (unsigned r = 0; r < reps; r++) {
    h = mix(h, crc32(text, kText - r % 16));
    memset(hist, 0, sizeof(hist));
    for (size_t i = 0; i < kText; i++) hist[text[i]]++;
    for (int b = 0; b < 256; b += 8) h = mix(h, hist[b] + hist[b + 1] * 3u);
  }
  return h;
}

/* ---- strings ------------------------------------------------------------ */

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static size_t rle_encode(const unsigned char *in, size_t n, unsigned char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && in[j] == in[i] && j - i < 255) j++;
    out[o++] = (unsigned char)(j - i);
    out[o++] = in[i];
    i = j;
  }
  return o;
}

static void to_upper(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (p[i] >= 'a' && p[i] <= 'z') ? (unsigned char)(p[i] - 32) : p[i];
}

static size_t count_matches(const unsigned char *hay, size_t n, const char *needle) {
  size_t m = strlen(needle), count = 0;
  for (size_t i = 0; i + m <= n; i++) {
    size_t k = 0;
    while (k < m && hay[i + k] == (unsigned char)needle[k]) k++;
    if (k == m) count++;
  }
  return count;
}

uint64_t kernel_strings(unsigned reps) {
  make_text();
  static unsigned char work[kText], rle[2 * kText];
  uint64_t h = 0;
  for (unsigned r = 0; r < reps; r++) {
    memcpy(work, text, kText);
    to_upper(work, kText);
    h = mix(h, fnv1a(work, kText));
    h = mix(h, rle_encode(work, kText, rle));
    h = mix(h, count_matches(text, kText, r % 2 ? "loop" : "vector"));
  }
  return h;
}

/* ---- recursion and function pointers ------------------------------------ */

static void quicksort(int32_t *a, long lo, long hi) {
  while (lo < hi) {
    int32_t pivot = a[lo + (hi - lo) / 2];
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        int32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    /* Recurse into the smaller half, loop on the larger. */
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

uint64_t kernel_quicksort(unsigned reps) {
  static int32_t data[kSort];
  uint64_t h = 0;
  uint32_t seed = 99;
  for (unsigned r = 0; r < reps; r++) {
    for (int i = 0; i < kSort; i++) data[i] = (int32_t)(next_random(&seed) % 100000u);
    quicksort(data, 0, kSort - 1);
    h = mix(h, (uint64_t)data[r % kSort] + (uint64_t)data[kSort / 3]);
  }
  return h;
}

typedef int64_t (*reduce_fn)(int64_t acc, int32_t v);
static int64_t red_sum(int64_t acc, int32_t v) { return acc + v; }
static int64_t red_max(int64_t acc, int32_t v) { return v > acc ? v : acc; }
static int64_t red_xor(int64_t acc, int32_t v) { return acc ^ ((int64_t)v * 2654435761ll); }
static const reduce_fn kReducers[] = {red_sum, red_max, red_xor};

static int64_t reduce(const int32_t *a, int n, reduce_fn f, int64_t init) {
  int64_t acc = init;
  for (int i = 0; i < n; i++) acc = f(acc, a[i]);
  return acc;
}

uint64_t kernel_fnptr(unsigned reps) {
  static int32_t data[kVec];
  uint32_t seed = 4242;
  for (int i = 0; i < kVec; i++) data[i] = (int32_t)(next_random(&seed) % 2001u) - 1000;
  uint64_t h = 0;
  for (unsigned r = 0; r < reps; r++) {
    /* The index depends on run-time data so calls stay indirect. */
    reduce_fn f = kReducers[(r + (unsigned)data[r % kVec]) % 3];
    h = mix(h, (uint64_t)reduce(data, kVec, f, 0));
  }
  return h;
}

const kernel_t kernels[] = {
    {"dot_saxpy", kernel_dot_saxpy, 3000}, {"matmul", kernel_matmul, 80},
    {"stencil", kernel_stencil, 3000},     {"mandelbrot", kernel_mandelbrot, 20},
    {"sieve", kernel_sieve, 30},           {"crc_histogram", kernel_crc_histogram, 150},
    {"strings", kernel_strings, 100},      {"quicksort", kernel_quicksort, 8},
    {"fnptr", kernel_fnptr, 2000},
};
const int kernel_count = (int)(sizeof(kernels) / sizeof(kernels[0]));
