/* Recursion: Fibonacci, Ackermann, N-queens, Towers of Hanoi and mutual
 * recursion. */
#include <stdio.h>

static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int ack(int m, int n) {
  if (m == 0) return n + 1;
  if (n == 0) return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

static int queens(int n, int row, unsigned cols, unsigned d1, unsigned d2) {
  if (row == n) return 1;
  int count = 0;
  for (int c = 0; c < n; c++) {
    unsigned cb = 1u << c, a = 1u << (row + c), b = 1u << (row - c + n - 1);
    if ((cols & cb) || (d1 & a) || (d2 & b)) continue;
    count += queens(n, row + 1, cols | cb, d1 | a, d2 | b);
  }
  return count;
}

static long hanoi(int n, int from, int to, int via) {
  if (n == 0) return 0;
  return hanoi(n - 1, from, via, to) + 1 + hanoi(n - 1, via, to, from);
}

static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

int kiln_main(void) {
  printf("fib(27) %ld\n", fib(27));
  printf("ack(2,3) %d ack(3,4) %d\n", ack(2, 3), ack(3, 4));
  printf("queens(8) %d\n", queens(8, 0, 0, 0, 0));
  printf("hanoi(16) %ld\n", hanoi(16, 0, 2, 1));
  printf("even(1001) %d\n", is_even(1001));
  return 0;
}
