/* Globals with initializers and constructors: tables of pointers to data
 * and functions, a constructor that fills a table before kiln_main runs,
 * and a destructor-free counter. */
#include <stdio.h>
#include <string.h>

static int squares[16];
static int ctor_ran;
int kiln_global_counter = 41;
const char *const kiln_names[] = {"alpha", "beta", "gamma", "delta"};
static const char *const *name_table = kiln_names;
static int *const square_ptr = &squares[3];

__attribute__((constructor)) static void fill_squares(void) {
  for (int i = 0; i < 16; i++) squares[i] = i * i;
  ctor_ran = 1;
}

struct config {
  const char *label;
  int values[4];
  int *counter;
};
static struct config cfg = {"cfg", {1, 2, 3, 4}, &kiln_global_counter};

int kiln_main(void) {
  printf("ctor %d square %d last %d\n", ctor_ran, *square_ptr, squares[15]);
  (*cfg.counter)++;
  printf("counter %d label %s sum %d\n", kiln_global_counter, cfg.label,
         cfg.values[0] + cfg.values[1] + cfg.values[2] + cfg.values[3]);
  size_t total = 0;
  for (int i = 0; i < 4; i++) total += strlen(name_table[i]);
  printf("names %s..%s %zu\n", name_table[0], name_table[3], total);
  return 0;
}
