/* The system image of the CLI package scenario: a small library. */
int base_add(int a, int b) { return a + b; }
int base_scale(int x) { return 3 * x; }

/* Calls back into whichever image passed `f` (callbacks across images). */
int base_map_sum(int (*f)(int), int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += f(i);
  return s;
}
