/*
 * components/codeinst/codeinst_benchmark_loops.h — the timed loops of
 * codeinst_benchmark.cc, written in C so the published-read fast path
 * (kiln_codeinst_read_compiled, inline and C-only) and the baseline, a plain
 * acquire load of a pointer, are compiled the same way side by side.
 */
#ifndef KILN_CODEINST_BENCHMARK_LOOPS_H
#define KILN_CODEINST_BENCHMARK_LOOPS_H

#include <stddef.h>
#include <stdint.h>

#include "components/codeinst/codeinst.h"

KILN_BEGIN_DECLS

/* A published instance and an atomic pointer holding the same invoke. */
typedef struct codeinst_bench_cells codeinst_bench_cells_t;

/* NULL when out of memory. Release with codeinst_bench_cells_free(). */
codeinst_bench_cells_t *codeinst_bench_cells_new(kiln_codeinst_fn_t invoke,
                                                 kiln_codeinst_fn_t specptr);
void codeinst_bench_cells_free(codeinst_bench_cells_t *cells);

/* n acquire loads of the pointer; returns a sum so nothing is dropped. */
uintptr_t codeinst_bench_acquire_loop(const codeinst_bench_cells_t *cells, size_t n);

/* n inline fast-path reads of the published instance. */
uintptr_t codeinst_bench_read_fast_loop(const codeinst_bench_cells_t *cells, size_t n);

/* n calls of the out-of-line kiln_codeinst_read(). */
uintptr_t codeinst_bench_read_call_loop(const codeinst_bench_cells_t *cells, size_t n);

KILN_END_DECLS

#endif /* KILN_CODEINST_BENCHMARK_LOOPS_H */
