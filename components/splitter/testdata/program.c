/* A small C program with the features the splitter must keep working when
 * the module is cut into shards: static functions and variables, string
 * literals, a table of static function pointers, constructors and
 * destructors, an alias, an ifunc, thread-locals, top-level asm and
 * __attribute__((used)). Built whole and from shards; outputs must match. */
#include <stdio.h>
#include <string.h>

__asm__(".text\n.globl asm_seven\nasm_seven:\n  movl $7, %eax\n  ret\n");
int asm_seven(void);

static int counter;
static _Thread_local int tls_calls;
_Thread_local int tls_public = 3;
static int init_order;

__attribute__((constructor(101))) static void early(void) { init_order = init_order * 10 + 1; }
__attribute__((constructor)) static void late(void) { init_order = init_order * 10 + 2; }
__attribute__((destructor)) static void bye(void) { printf("bye %d\n", counter); }

__attribute__((used)) static int keep_me = 12;

static int add(int a, int b) { counter++; tls_calls++; return a + b; }
static int sub(int a, int b) { counter++; tls_calls++; return a - b; }
static int mul(int a, int b) { counter++; tls_calls++; return a * b; }
static int (*const ops[])(int, int) = {add, sub, mul};

int apply(int op, int a, int b) { return ops[op % 3](a, b); }

static __attribute__((always_inline)) inline int clamp(int x) { return x < 0 ? 0 : x > 100 ? 100 : x; }

int real_square(int x) { return x * x; }
int alias_square(int x) __attribute__((alias("real_square")));

static int impl_fast(void) { return 40; }
static int (*resolve_pick(void))(void) { return impl_fast; }
int pick(void) __attribute__((ifunc("resolve_pick")));

static const char *names[] = {"zero", "one", "two", "three"};
const char *name_of(int i) { return names[i & 3]; }

static unsigned hash(const char *s) {
  unsigned h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

unsigned fold(int n) {
  unsigned acc = 0;
  for (int i = 0; i < n; i++) acc ^= hash(name_of(i)) + (unsigned)clamp(i * 13);
  return acc;
}

int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

struct point { int x, y; };
static struct point origin = {1, 2};
int manhattan(struct point p) { return (p.x > origin.x ? p.x - origin.x : origin.x - p.x) + (p.y > origin.y ? p.y - origin.y : origin.y - p.y); }

int main(void) {
  printf("init %d\n", init_order);
  printf("apply %d %d %d\n", apply(0, 3, 4), apply(1, 3, 4), apply(2, 3, 4));
  printf("alias %d pick %d asm %d\n", alias_square(9), pick(), asm_seven());
  printf("fold %u fib %d\n", fold(40), fib(15));
  printf("name %s len %zu\n", name_of(2), strlen(name_of(3)));
  tls_public += clamp(250);
  printf("tls %d %d keep %d\n", tls_calls, tls_public, keep_me);
  struct point p = {7, -3};
  printf("manhattan %d\n", manhattan(p));
  return 0;
}
