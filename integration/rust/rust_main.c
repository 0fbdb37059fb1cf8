/* The C side of the Rust integration test: calls the Rust kernels in
 * kernels.rs (including a callback from Rust into C) and prints results. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { int32_t x, y; } rs_point;
double rs_sum_squares(const double *x, size_t n);
uint64_t rs_fnv1a(const unsigned char *p, size_t n);
uint64_t rs_collatz_total(uint64_t limit);
rs_point rs_point_mix(rs_point a, rs_point b);
int64_t rs_apply(int64_t (*f)(int64_t), int64_t n);

static int64_t square_plus_one(int64_t v) { return v * v + 1; }

int kiln_main(void) {
  double xs[100];
  for (int i = 0; i < 100; i++) xs[i] = i * 0.5;
  const char *msg = "kiln runs rust";
  printf("sum_squares %.2f\n", rs_sum_squares(xs, 100));
  printf("fnv1a %016llx\n", (unsigned long long)rs_fnv1a((const unsigned char *)msg, strlen(msg)));
  printf("collatz %llu\n", (unsigned long long)rs_collatz_total(10000));
  rs_point p = rs_point_mix((rs_point){7, -3}, (rs_point){2, 9});
  printf("point %d %d\n", p.x, p.y);
  printf("apply %lld\n", (long long)rs_apply(square_plus_one, 20));
  return 0;
}
