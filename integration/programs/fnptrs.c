/* Function pointers: a dispatch table, qsort with comparators, a state
 * machine of handler pointers and pointers stored in structs. */
#include <stdio.h>
#include <stdlib.h>

typedef int (*binop_t)(int, int);
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int maxi(int a, int b) { return a > b ? a : b; }
static const binop_t ops[] = {add, sub, mul, maxi};

static int cmp_asc(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int cmp_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

typedef struct shape {
  const char *name;
  double (*area)(const struct shape *);
  double w, h;
} shape;
static double rect_area(const shape *s) { return s->w * s->h; }
static double tri_area(const shape *s) { return 0.5 * s->w * s->h; }

typedef int (*state_fn)(int *acc, int input);
static int st_add(int *acc, int in) { *acc += in; return in % 3; }
static int st_xor(int *acc, int in) { *acc ^= in; return (in + 1) % 3; }
static int st_shl(int *acc, int in) { *acc = (*acc << 1) + (in & 1); return (in + 2) % 3; }
static const state_fn states[3] = {st_add, st_xor, st_shl};

int kiln_main(void) {
  int acc = 1;
  for (int i = 0; i < 20; i++) acc = ops[i % 4](acc, i + 1) % 100003;
  printf("ops %d\n", acc);
  int v[10] = {5, 3, 9, 1, 7, 2, 8, 6, 4, 0};
  qsort(v, 10, sizeof v[0], cmp_asc);
  printf("asc %d %d %d\n", v[0], v[5], v[9]);
  qsort(v, 10, sizeof v[0], cmp_desc);
  printf("desc %d %d %d\n", v[0], v[5], v[9]);
  shape shapes[] = {{"rect", rect_area, 3, 4}, {"tri", tri_area, 6, 5}};
  for (int i = 0; i < 2; i++) printf("%s %.1f\n", shapes[i].name, shapes[i].area(&shapes[i]));
  int s = 0, m = 0;
  for (int i = 0; i < 50; i++) s = states[s](&m, i);
  printf("machine %d %d\n", s, m);
  return 0;
}
