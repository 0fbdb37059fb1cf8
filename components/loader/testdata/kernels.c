/*
 * components/loader/testdata/kernels.c — real C the loader tests build into
 * images (once per CPU target) and compare against a native build. Slot use:
 * via_slot calls square through the relocation slot kiln_slot_square, which
 * the loader fills (the image builder defines the slot word; the native
 * build defines it in native_slot.c).
 */
#ifndef KILN_IMAGE_TARGET
#define KILN_IMAGE_TARGET (-1) /* the native build */
#endif

int counter = 42;
const char greeting[] = "hello from the image";
extern void *kiln_slot_square;

/* Which target's code is running: each target's copy returns its index. */
int which_target(void) { return KILN_IMAGE_TARGET; }

int add(int a, int b) { return a + b; }

int square(int x) { return x * x; }

int via_slot(int x) { return ((int (*)(int))kiln_slot_square)(x) + 1; }

long sum_array(const int *v, int n) {
  long s = 0;
  for (int i = 0; i < n; i++) s += v[i];
  return s;
}

double dot(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

unsigned hash_bytes(const unsigned char *p, int n) {
  unsigned h = 2166136261u;
  for (int i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

void saxpy(float a, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

int bump_counter(int by) { return counter += by; }
