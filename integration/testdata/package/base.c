/* integration/testdata/package/base.c — the system image of the package
 * image test (integration/package_image_test.cc): three base methods. */
int base_add(int a, int b) { return a + b; }
int base_scale(int x) { return x * 3; }
int base_unused(void) { return 42; }
