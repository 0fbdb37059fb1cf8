/*
 * components/codeinst/codeinst_benchmark_loops.h — the timed loops of
 * codeinst_benchmark.cc, written in C so the published-read fast path
 * (kiln_codeinst_read_compiled, inline and C-only) and the baseline, a plain
 * acquire load of a pointer, are compiled the same way side by side.
 *
 * Two shapes of loop, because "cost of a read" has two meanings:
 *   throughput  independent reads of one published instance, back to back
 *               (how many reads a core retires per ns);
 *   latency     a chain where each read yields the pointer the next read
 *               goes through (how long until the pointer a call needs is
 *               known, which is what a call site waits for).
 */
#ifndef KILN_CODEINST_BENCHMARK_LOOPS_H
#define KILN_CODEINST_BENCHMARK_LOOPS_H

#include <stddef.h>
#include <stdint.h>

#include "components/codeinst/codeinst.h"

KILN_BEGIN_DECLS

/* A ring of cells, each holding an atomic pointer and a published instance
 * whose invoke and specptr both point at the next cell (never called: the
 * "code pointers" only drive the latency chain). */
typedef struct codeinst_bench_ring codeinst_bench_ring_t;

/* NULL when out of memory. Release with codeinst_bench_ring_free(). */
codeinst_bench_ring_t *codeinst_bench_ring_new(size_t cells);
void codeinst_bench_ring_free(codeinst_bench_ring_t *ring);

/* Throughput: n reads of the first cell; returns a sum of what was read. */
uintptr_t codeinst_bench_acquire_loop(const codeinst_bench_ring_t *ring, size_t n);
uintptr_t codeinst_bench_read_fast_loop(const codeinst_bench_ring_t *ring, size_t n);
uintptr_t codeinst_bench_read_call_loop(const codeinst_bench_ring_t *ring, size_t n);

/* Latency: n dependent reads around the ring; returns where it stopped. */
uintptr_t codeinst_bench_acquire_chase(const codeinst_bench_ring_t *ring, size_t n);
uintptr_t codeinst_bench_read_fast_chase(const codeinst_bench_ring_t *ring, size_t n);
uintptr_t codeinst_bench_read_call_chase(const codeinst_bench_ring_t *ring, size_t n);

KILN_END_DECLS

#endif /* KILN_CODEINST_BENCHMARK_LOOPS_H */
