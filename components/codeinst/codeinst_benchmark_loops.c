/*
 * components/codeinst/codeinst_benchmark_loops.c — see
 * codeinst_benchmark_loops.h. Each loop folds what it read into its result,
 * so every load is performed; atomic loads are never merged or hoisted out of
 * a loop, so each iteration costs one real read.
 */
#include "components/codeinst/codeinst_benchmark_loops.h"

#include <stdatomic.h>
#include <stdlib.h>

typedef struct codeinst_bench_cell {
  _Atomic(const struct codeinst_bench_cell *) plain;
  kiln_codeinst_t ci;
} codeinst_bench_cell_t;

struct codeinst_bench_ring {
  size_t count;
  codeinst_bench_cell_t *cells;
};

/* The cell a code pointer stands for. The pointers are never called, only
 * followed, so the round trip through an integer is all that is needed. */
static kiln_codeinst_fn_t cell_as_fn(const codeinst_bench_cell_t *cell) {
  return (kiln_codeinst_fn_t)(uintptr_t)cell;
}

static const codeinst_bench_cell_t *fn_as_cell(kiln_codeinst_fn_t fn) {
  return (const codeinst_bench_cell_t *)(uintptr_t)fn;
}

codeinst_bench_ring_t *codeinst_bench_ring_new(size_t count) {
  codeinst_bench_ring_t *ring = malloc(sizeof *ring);
  codeinst_bench_cell_t *cells = count > 0 ? calloc(count, sizeof *cells) : NULL;
  if (ring == NULL || cells == NULL) {
    free(ring);
    free(cells);
    return NULL;
  }
  ring->count = count;
  ring->cells = cells;
  for (size_t i = 0; i < count; ++i) {
    const codeinst_bench_cell_t *next = &cells[(i + 1) % count];
    atomic_init(&cells[i].plain, next);
    kiln_error_t *err = kiln_codeinst_init(&cells[i].ci);
    if (err == NULL) {
      kiln_codeinst_code_t code = {cell_as_fn(next), cell_as_fn(next), KILN_CODEINST_SPECSIG};
      kiln_codeinst_view_t view;
      kiln_codeinst_outcome_t outcome;
      err = kiln_codeinst_publish(&cells[i].ci, &code, 0, &view, &outcome);
    }
    if (err != NULL) {
      kiln_error_free(err);
      codeinst_bench_ring_free(ring);
      return NULL;
    }
  }
  return ring;
}

void codeinst_bench_ring_free(codeinst_bench_ring_t *ring) {
  if (ring == NULL) return;
  free(ring->cells);
  free(ring);
}

/* The pointer a caller would call: specptr for a specialized signature. */
static kiln_codeinst_fn_t callee(const kiln_codeinst_view_t *view) {
  return (view->flags & KILN_CODEINST_SPECSIG) ? view->specptr : view->invoke;
}

/* Out of line so the fast loops keep their view in registers. */
static kiln_codeinst_fn_t slow_read(const kiln_codeinst_t *ci) {
  kiln_codeinst_view_t view;
  kiln_error_free(kiln_codeinst_read(ci, KILN_CODEINST_WAIT_FOREVER, &view));
  return callee(&view);
}

static kiln_codeinst_fn_t fast_read(const kiln_codeinst_t *ci) {
  kiln_codeinst_view_t view;
  if (kiln_codeinst_read_compiled(ci, &view)) return callee(&view);
  return slow_read(ci);
}

uintptr_t codeinst_bench_acquire_loop(const codeinst_bench_ring_t *ring, size_t n) {
  const codeinst_bench_cell_t *cell = &ring->cells[0];
  uintptr_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += (uintptr_t)atomic_load_explicit(&cell->plain, memory_order_acquire);
  }
  return sum;
}

uintptr_t codeinst_bench_read_fast_loop(const codeinst_bench_ring_t *ring, size_t n) {
  const kiln_codeinst_t *ci = &ring->cells[0].ci;
  uintptr_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (uintptr_t)fast_read(ci);
  return sum;
}

uintptr_t codeinst_bench_read_call_loop(const codeinst_bench_ring_t *ring, size_t n) {
  const kiln_codeinst_t *ci = &ring->cells[0].ci;
  uintptr_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (uintptr_t)slow_read(ci);
  return sum;
}

uintptr_t codeinst_bench_acquire_chase(const codeinst_bench_ring_t *ring, size_t n) {
  const codeinst_bench_cell_t *cell = &ring->cells[0];
  for (size_t i = 0; i < n; ++i) cell = atomic_load_explicit(&cell->plain, memory_order_acquire);
  return (uintptr_t)cell;
}

uintptr_t codeinst_bench_read_fast_chase(const codeinst_bench_ring_t *ring, size_t n) {
  const codeinst_bench_cell_t *cell = &ring->cells[0];
  for (size_t i = 0; i < n; ++i) cell = fn_as_cell(fast_read(&cell->ci));
  return (uintptr_t)cell;
}

uintptr_t codeinst_bench_read_call_chase(const codeinst_bench_ring_t *ring, size_t n) {
  const codeinst_bench_cell_t *cell = &ring->cells[0];
  for (size_t i = 0; i < n; ++i) cell = fn_as_cell(slow_read(&cell->ci));
  return (uintptr_t)cell;
}
