/* Structs passed and returned by value: small (in registers), medium
 * (mixed int/float), and large (in memory), plus arrays of structs. */
#include <stdio.h>

typedef struct { int x, y; } pt;
typedef struct { float re, im; } cpx;
typedef struct { double m[4][4]; } mat4;
typedef struct { char tag; long long big; short small; double d; } odd;

static pt pt_add(pt a, pt b) { return (pt){a.x + b.x, a.y + b.y}; }
static cpx cmul(cpx a, cpx b) { return (cpx){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }

static mat4 mat_mul(mat4 a, mat4 b) {
  mat4 r;
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += a.m[i][k] * b.m[k][j];
      r.m[i][j] = s;
    }
  return r;
}

static odd odd_mix(odd a, odd b) {
  return (odd){(char)(a.tag ^ b.tag), a.big + b.big, (short)(a.small - b.small), a.d * b.d};
}

int kiln_main(void) {
  pt p = {0, 0};
  for (int i = 0; i < 10; i++) p = pt_add(p, (pt){i, -2 * i});
  printf("pt %d %d\n", p.x, p.y);
  cpx z = {1.0f, 0.0f}, w = {0.0f, 1.0f};
  for (int i = 0; i < 5; i++) z = cmul(z, w);
  printf("cpx %.1f %.1f\n", z.re, z.im);
  mat4 m = {{{1, 2, 0, 0}, {0, 1, 3, 0}, {0, 0, 1, 4}, {5, 0, 0, 1}}}, r = m;
  for (int i = 0; i < 3; i++) r = mat_mul(r, m);
  printf("mat %.0f %.0f %.0f\n", r.m[0][0], r.m[1][2], r.m[3][3]);
  odd o = odd_mix((odd){'a', 1LL << 40, 7, 1.5}, (odd){'b', 3, 2, 4.0});
  printf("odd %d %lld %d %.2f\n", o.tag, o.big, o.small, o.d);
  return 0;
}
