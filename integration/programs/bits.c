/* Integer code: CRC-32, popcount and bit reversal, xorshift, and sorting
 * (insertion sort and a heap sort) over generated data. */
#include <stdint.h>
#include <stdio.h>

static uint32_t crc32(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static int popcount(uint64_t x) {
  int n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

static uint32_t bitrev(uint32_t x) {
  uint32_t r = 0;
  for (int i = 0; i < 32; i++, x >>= 1) r = (r << 1) | (x & 1);
  return r;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static void sift(uint32_t *a, int i, int n) {
  for (;;) {
    int l = 2 * i + 1, m = i;
    if (l < n && a[l] > a[m]) m = l;
    if (l + 1 < n && a[l + 1] > a[m]) m = l + 1;
    if (m == i) return;
    uint32_t t = a[i];
    a[i] = a[m];
    a[m] = t;
    i = m;
  }
}

static void heapsort(uint32_t *a, int n) {
  for (int i = n / 2 - 1; i >= 0; i--) sift(a, i, n);
  for (int e = n - 1; e > 0; e--) {
    uint32_t t = a[0];
    a[0] = a[e];
    a[e] = t;
    sift(a, 0, e);
  }
}

int kiln_main(void) {
  unsigned char msg[] = "kiln images are byte-reproducible";
  printf("crc %08x\n", crc32(msg, sizeof msg - 1));
  uint64_t s = 88172645463325252ull;
  int pc = 0;
  uint32_t data[500];
  for (int i = 0; i < 500; i++) {
    uint64_t v = xorshift(&s);
    pc += popcount(v);
    data[i] = (uint32_t)v ^ bitrev((uint32_t)(v >> 32));
  }
  heapsort(data, 500);
  int sorted = 1;
  for (int i = 1; i < 500; i++) sorted &= data[i - 1] <= data[i];
  printf("popcount %d sorted %d min %08x max %08x\n", pc, sorted, data[0], data[499]);
  return 0;
}
