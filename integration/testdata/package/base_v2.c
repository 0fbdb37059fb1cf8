/* integration/testdata/package/base_v2.c — base.c with base_add changed (so
 * its fingerprint changes); base_scale and base_unused are identical. */
int base_add(int a, int b) { return a + b + 100; }
int base_scale(int x) { return x * 3; }
int base_unused(void) { return 42; }
