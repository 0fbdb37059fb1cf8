// components/codeinst/codeinst_benchmark.cc — what publication costs and what
// a reader pays once code is published, against the floor: one plain acquire
// load of a pointer. Reads run in batches inside C loops
// (codeinst_benchmark_loops.c) so the inline fast path and the baseline are
// compiled alike; the ns_per_op counter is the cost of one read.
//
//   tools/bazelw run -c opt //components/codeinst:codeinst_benchmark
//
// The goal (docs/codeinst.md): the published-read fast path within 2x of the
// acquire load. No assertion here: timing belongs to benchmarks, not tests.
#include <benchmark/benchmark.h>

#include <vector>

#include "components/codeinst/codeinst.h"
#include "components/codeinst/codeinst_benchmark_loops.h"

namespace {

constexpr size_t kBatch = 1000;

template <int N>
int Entry() {
  return N;
}

kiln_codeinst_fn_t InvokeFn() { return reinterpret_cast<kiln_codeinst_fn_t>(&Entry<1>); }
kiln_codeinst_fn_t SpecFn() { return reinterpret_cast<kiln_codeinst_fn_t>(&Entry<2>); }

void SetPerOp(benchmark::State &state, size_t ops_per_iteration) {
  state.counters["ns_per_op"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(ops_per_iteration) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <uintptr_t (*Loop)(const codeinst_bench_cells_t *, size_t)>
void BM_ReadLoop(benchmark::State &state) {
  codeinst_bench_cells_t *cells = codeinst_bench_cells_new(InvokeFn(), SpecFn());
  if (cells == nullptr) {
    state.SkipWithError("could not set up a published instance");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(Loop(cells, kBatch));
  SetPerOp(state, kBatch);
  codeinst_bench_cells_free(cells);
}

// Baseline: one acquire load of a pointer.
void BM_PlainAcquireLoad(benchmark::State &state) {
  BM_ReadLoop<codeinst_bench_acquire_loop>(state);
}
// The published-read fast path, inlined (what a C runtime's call path uses).
void BM_ReadPublishedFastPath(benchmark::State &state) {
  BM_ReadLoop<codeinst_bench_read_fast_loop>(state);
}
// The same read through the out-of-line kiln_codeinst_read() (C++ callers).
void BM_ReadPublishedCall(benchmark::State &state) {
  BM_ReadLoop<codeinst_bench_read_call_loop>(state);
}

// One publication into a fresh instance (init + claim + three stores); the
// instances are reset in batches outside the timed region.
void BM_PublishSpecialized(benchmark::State &state) {
  std::vector<kiln_codeinst_t> cis(kBatch);
  kiln_codeinst_code_t code = {InvokeFn(), SpecFn(), KILN_CODEINST_SPECSIG};
  for (auto _ : state) {
    state.PauseTiming();
    for (auto &ci : cis) kiln_error_free(kiln_codeinst_init(&ci));
    state.ResumeTiming();
    for (auto &ci : cis) {
      kiln_codeinst_view_t view;
      kiln_codeinst_outcome_t outcome;
      kiln_error_free(kiln_codeinst_publish(&ci, &code, 0, &view, &outcome));
      benchmark::DoNotOptimize(outcome);
    }
  }
  SetPerOp(state, kBatch);
}

// A publication that loses to an existing one (failed claim + read).
void BM_PublishAlreadyCompiled(benchmark::State &state) {
  kiln_codeinst_t ci;
  kiln_error_free(kiln_codeinst_init(&ci));
  kiln_codeinst_code_t code = {InvokeFn(), SpecFn(), KILN_CODEINST_SPECSIG};
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  kiln_error_free(kiln_codeinst_publish(&ci, &code, 0, &view, &outcome));
  for (auto _ : state) {
    kiln_error_free(kiln_codeinst_publish(&ci, &code, 0, &view, &outcome));
    benchmark::DoNotOptimize(outcome);
  }
  SetPerOp(state, 1);
}

BENCHMARK(BM_PlainAcquireLoad);
BENCHMARK(BM_ReadPublishedFastPath);
BENCHMARK(BM_ReadPublishedCall);
BENCHMARK(BM_PublishSpecialized);
BENCHMARK(BM_PublishAlreadyCompiled);

}  // namespace
