/* Callbacks: a generic visitor that takes a function pointer and a user
 * pointer, closures emulated with context structs, and callbacks that call
 * back into the visitor (re-entrancy). */
#include <stdio.h>

typedef void (*visit_fn)(int value, void *ctx);

static void for_each(const int *v, int n, visit_fn fn, void *ctx) {
  for (int i = 0; i < n; i++) fn(v[i], ctx);
}

struct stats { long sum; int min, max, count; };
static void collect(int v, void *ctx) {
  struct stats *s = ctx;
  s->sum += v;
  if (s->count == 0 || v < s->min) s->min = v;
  if (s->count == 0 || v > s->max) s->max = v;
  s->count++;
}

struct nested { const int *inner; int n; long total; };
static void add_value(int v, void *ctx) { *(long *)ctx += v; }
static void outer(int v, void *ctx) {
  struct nested *n = ctx;
  long inner = 0;
  for_each(n->inner, n->n, add_value, &inner);
  n->total += v * inner;
}

int kiln_main(void) {
  int data[12] = {4, -2, 9, 15, 0, 3, -7, 8, 1, 6, 2, 5};
  struct stats s = {0, 0, 0, 0};
  for_each(data, 12, collect, &s);
  printf("stats sum %ld min %d max %d count %d\n", s.sum, s.min, s.max, s.count);
  int small[3] = {1, 2, 3};
  struct nested n = {small, 3, 0};
  for_each(data, 12, outer, &n);
  printf("nested %ld\n", n.total);
  return 0;
}
