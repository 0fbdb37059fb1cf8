/*
 * components/codeinst/codeinst_benchmark_loops.c — see
 * codeinst_benchmark_loops.h. Each loop folds what it read into a sum that
 * it returns, so the compiler must perform every load; atomic loads are never
 * merged or hoisted out of the loop, so each iteration costs one real read.
 */
#include "components/codeinst/codeinst_benchmark_loops.h"

#include <stdatomic.h>
#include <stdlib.h>

struct codeinst_bench_cells {
  _Atomic(kiln_codeinst_fn_t) plain;
  kiln_codeinst_t ci;
};

codeinst_bench_cells_t *codeinst_bench_cells_new(kiln_codeinst_fn_t invoke,
                                                 kiln_codeinst_fn_t specptr) {
  codeinst_bench_cells_t *cells = malloc(sizeof *cells);
  if (cells == NULL) return NULL;
  atomic_init(&cells->plain, invoke);
  kiln_error_t *err = kiln_codeinst_init(&cells->ci);
  if (err == NULL) {
    kiln_codeinst_code_t code = {invoke, specptr, KILN_CODEINST_SPECSIG};
    kiln_codeinst_view_t view;
    kiln_codeinst_outcome_t outcome;
    err = kiln_codeinst_publish(&cells->ci, &code, 0, &view, &outcome);
  }
  if (err != NULL) {
    kiln_error_free(err);
    free(cells);
    return NULL;
  }
  return cells;
}

void codeinst_bench_cells_free(codeinst_bench_cells_t *cells) { free(cells); }

uintptr_t codeinst_bench_acquire_loop(const codeinst_bench_cells_t *cells, size_t n) {
  uintptr_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += (uintptr_t)atomic_load_explicit(&cells->plain, memory_order_acquire);
  }
  return sum;
}

uintptr_t codeinst_bench_read_fast_loop(const codeinst_bench_cells_t *cells, size_t n) {
  uintptr_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    kiln_codeinst_view_t view;
    if (kiln_codeinst_read_compiled(&cells->ci, &view)) {
      /* What a caller would call: specptr for a specialized signature. */
      sum += (uintptr_t)((view.flags & KILN_CODEINST_SPECSIG) ? view.specptr : view.invoke);
    } else {
      kiln_error_free(kiln_codeinst_read(&cells->ci, KILN_CODEINST_WAIT_FOREVER, &view));
      sum += (uintptr_t)view.invoke;
    }
  }
  return sum;
}

uintptr_t codeinst_bench_read_call_loop(const codeinst_bench_cells_t *cells, size_t n) {
  uintptr_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    kiln_codeinst_view_t view;
    kiln_error_free(kiln_codeinst_read(&cells->ci, KILN_CODEINST_WAIT_FOREVER, &view));
    sum += (uintptr_t)((view.flags & KILN_CODEINST_SPECSIG) ? view.specptr : view.invoke);
  }
  return sum;
}
