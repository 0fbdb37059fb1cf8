// components/codeinst/codeinst_benchmark.cc — what publication costs and what
// a reader pays once code is published, against the floor: one plain acquire
// load of a pointer. Reads run in batches inside C loops
// (codeinst_benchmark_loops.c) so the inline fast path and the baseline are
// compiled alike, in two shapes (throughput and latency, see the loops'
// header); the ns_per_op counter is the cost of one read or publication.
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

// ns_per_op: seconds per op scaled by 1e9 (a rate of ops*1e-9, inverted).
// Google Benchmark prints it with an "s" suffix; the number is nanoseconds.

void SetPerOp(benchmark::State &state, size_t ops_per_iteration) {
  state.counters["ns_per_op"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(ops_per_iteration) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

constexpr size_t kRingCells = 64;  // 64 x 32 bytes: stays in L1

template <uintptr_t (*Loop)(const codeinst_bench_ring_t *, size_t)>
void BM_Reads(benchmark::State &state) {
  codeinst_bench_ring_t *ring = codeinst_bench_ring_new(kRingCells);
  if (ring == nullptr) {
    state.SkipWithError("could not set up published instances");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(Loop(ring, kBatch));
  SetPerOp(state, kBatch);
  codeinst_bench_ring_free(ring);
}

// Throughput. Baseline: one acquire load of a pointer.
void BM_Throughput_PlainAcquireLoad(benchmark::State &state) {
  BM_Reads<codeinst_bench_acquire_loop>(state);
}
// The published-read fast path, inlined (what a C runtime's call path uses).
void BM_Throughput_ReadFastPath(benchmark::State &state) {
  BM_Reads<codeinst_bench_read_fast_loop>(state);
}
// The same read through the out-of-line kiln_codeinst_read() (C++ callers).
void BM_Throughput_ReadCall(benchmark::State &state) {
  BM_Reads<codeinst_bench_read_call_loop>(state);
}

// Latency: each read finds the next instance to read.
void BM_Latency_PlainAcquireLoad(benchmark::State &state) {
  BM_Reads<codeinst_bench_acquire_chase>(state);
}
void BM_Latency_ReadFastPath(benchmark::State &state) {
  BM_Reads<codeinst_bench_read_fast_chase>(state);
}
void BM_Latency_ReadCall(benchmark::State &state) {
  BM_Reads<codeinst_bench_read_call_chase>(state);
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

BENCHMARK(BM_Throughput_PlainAcquireLoad);
BENCHMARK(BM_Throughput_ReadFastPath);
BENCHMARK(BM_Throughput_ReadCall);
BENCHMARK(BM_Latency_PlainAcquireLoad);
BENCHMARK(BM_Latency_ReadFastPath);
BENCHMARK(BM_Latency_ReadCall);
BENCHMARK(BM_PublishSpecialized);
BENCHMARK(BM_PublishAlreadyCompiled);

}  // namespace
