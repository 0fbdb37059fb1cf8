/* integration/testdata/package/pkg.c — the package image of the package
 * image test: pkg_sum depends on base_add, pkg_top calls pkg_sum (an
 * in-image caller), pkg_other depends on base_scale only, pkg_leaf on
 * nothing from the base. */
int base_add(int a, int b);
int base_scale(int x);

int pkg_sum(int a, int b) { return base_add(a, b) * 2; }
int pkg_top(int a) { return pkg_sum(a, 5) + 1; }
int pkg_other(int x) { return base_scale(x) + 7; }
int pkg_leaf(int x) { return x * x - 1; }
