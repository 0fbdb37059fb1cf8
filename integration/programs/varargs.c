/* Varargs: a summing function, a formatter that forwards a va_list to
 * vsnprintf, and mixed int/double argument lists. */
#include <stdarg.h>
#include <stdio.h>

static long sum_ints(int n, ...) {
  va_list ap;
  va_start(ap, n);
  long s = 0;
  for (int i = 0; i < n; i++) s += va_arg(ap, int);
  va_end(ap);
  return s;
}

static double mixed(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  double s = 0;
  for (; *fmt; fmt++) {
    if (*fmt == 'i') s += va_arg(ap, int);
    else if (*fmt == 'd') s += va_arg(ap, double);
    else if (*fmt == 'l') s += (double)va_arg(ap, long long);
  }
  va_end(ap);
  return s;
}

static int vformat(char *buf, size_t cap, const char *fmt, va_list ap) {
  return vsnprintf(buf, cap, fmt, ap);
}

static int format(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

int kiln_main(void) {
  printf("sum %ld %ld\n", sum_ints(3, 1, 2, 3), sum_ints(8, 1, 2, 3, 4, 5, 6, 7, 8));
  printf("mixed %.3f\n", mixed("idlid", 1, 2.5, 10LL, 4, 0.125));
  char buf[64];
  int n = format(buf, sizeof buf, "%s-%04d-%.2f", "kiln", 42, 3.14159);
  printf("format %s %d\n", buf, n);
  return 0;
}
