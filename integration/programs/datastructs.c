/* Heap data structures: a binary search tree, a chained hash map and a
 * growable vector, all malloc'd and freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node { int key; struct node *l, *r; } node;

static node *insert(node *t, int k) {
  if (!t) {
    node *n = calloc(1, sizeof *n);
    n->key = k;
    return n;
  }
  if (k < t->key) t->l = insert(t->l, k);
  else if (k > t->key) t->r = insert(t->r, k);
  return t;
}
static int height(const node *t) {
  if (!t) return 0;
  int a = height(t->l), b = height(t->r);
  return 1 + (a > b ? a : b);
}
static long sum_inorder(const node *t) { return t ? sum_inorder(t->l) + t->key + sum_inorder(t->r) : 0; }
static void free_tree(node *t) {
  if (t) free_tree(t->l), free_tree(t->r), free(t);
}

typedef struct entry { char key[16]; int value; struct entry *next; } entry;
typedef struct { entry *b[64]; } map;
static unsigned hash(const char *s) {
  unsigned h = 2166136261u;
  while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}
static void map_add(map *m, const char *k, int v) {
  entry **p = &m->b[hash(k) % 64];
  for (entry *e = *p; e; e = e->next)
    if (strcmp(e->key, k) == 0) { e->value += v; return; }
  entry *e = calloc(1, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", k);
  e->value = v;
  e->next = *p;
  *p = e;
}
static int map_get(const map *m, const char *k) {
  for (entry *e = m->b[hash(k) % 64]; e; e = e->next)
    if (strcmp(e->key, k) == 0) return e->value;
  return -1;
}

int kiln_main(void) {
  node *t = NULL;
  for (int i = 0; i < 200; i++) t = insert(t, (i * 37) % 211);
  printf("tree height %d sum %ld\n", height(t), sum_inorder(t));
  free_tree(t);
  map m = {{0}};
  char k[16];
  for (int i = 0; i < 300; i++) {
    snprintf(k, sizeof k, "k%d", i % 50);
    map_add(&m, k, i);
  }
  printf("map k7 %d k49 %d missing %d\n", map_get(&m, "k7"), map_get(&m, "k49"), map_get(&m, "zz"));
  for (int i = 0; i < 64; i++)
    for (entry *e = m.b[i], *n; e; e = n) n = e->next, free(e);
  int *v = NULL;
  size_t len = 0, cap = 0;
  for (int i = 0; i < 1000; i++) {
    if (len == cap) v = realloc(v, (cap = cap ? cap * 2 : 4) * sizeof *v);
    v[len++] = i * i % 1000;
  }
  long s = 0;
  for (size_t i = 0; i < len; i++) s += v[i];
  printf("vector len %zu cap %zu sum %ld\n", len, cap, s);
  free(v);
  return 0;
}
