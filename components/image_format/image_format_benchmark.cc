// components/image_format/image_format_benchmark.cc — what the loader pays
// per image: hash64 throughput (the checksum runs on every load) and the
// cost of opening a 10,000-function blob (testing.h's Large: 16 shards,
// functions numbered shard by shard as the emitter numbers them), in full
// and as a load view (kiln_image_format_open_load), with and without the
// checksums; encoding it (which sorts the name index); and the finds
// through the name index.
//   tools/bazelw run -c opt //components/image_format:image_format_benchmark
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <vector>

#include "components/image_format/image_format.h"
#include "components/image_format/internal.h"
#include "components/image_format/testing.h"

namespace {

void BM_Hash64(benchmark::State &state) {
  std::vector<uint8_t> buf((size_t)state.range(0));
  for (size_t i = 0; i < buf.size(); i++) buf[i] = (uint8_t)(i * 131 + 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kiln_image_format_hash64(buf.data(), buf.size(), 0));
  }
  state.SetBytesProcessed((int64_t)state.iterations() * state.range(0));
}
BENCHMARK(BM_Hash64)->Arg(64)->Arg(4096)->Arg(1 << 20)->Arg(64 << 20);

// The blob checksum's wide hash (kif_wide_hash64).
void BM_ChecksumHash(benchmark::State &state) {
  std::vector<uint8_t> buf((size_t)state.range(0));
  for (size_t i = 0; i < buf.size(); i++) buf[i] = (uint8_t)(i * 131 + 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kif_wide_hash64(buf.data(), buf.size(), 0));
  }
  state.SetBytesProcessed((int64_t)state.iterations() * state.range(0));
}
BENCHMARK(BM_ChecksumHash)->Arg(64)->Arg(4096)->Arg(1 << 20)->Arg(64 << 20);

std::vector<uint8_t> LargeBlob(size_t functions) {
  kiln_image_format_testing::Desc d = kiln_image_format_testing::Large(functions, 16);
  void *blob = nullptr;
  size_t size = 0;
  kiln_error_t *err = kiln_image_format_encode(&d.desc, &blob, &size);
  if (err != nullptr) abort();
  std::vector<uint8_t> out((uint8_t *)blob, (uint8_t *)blob + size);
  free(blob);
  return out;
}

// Full open: header, checksum, every structural check.
void BM_Open(benchmark::State &state) {
  std::vector<uint8_t> b = LargeBlob((size_t)state.range(0));
  for (auto _ : state) {
    kiln_image_format_t *v = nullptr;
    kiln_error_t *err = kiln_image_format_open(b.data(), b.size(), "bench", &v);
    if (err != nullptr) abort();
    kiln_image_format_close(v);
  }
  state.counters["blob_bytes"] = (double)b.size();
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)b.size());
}
BENCHMARK(BM_Open)->Arg(10000)->Unit(benchmark::kMicrosecond);

// Load view: header, load checksum and the load part's checks only (what a
// loader validates before dlopen); the buffer holds just the load part.
void BM_OpenLoad(benchmark::State &state) {
  std::vector<uint8_t> b = LargeBlob((size_t)state.range(0));
  uint64_t load_size = 0;
  if (kiln_image_format_peek_load_size(b.data(), b.size(), "bench", &load_size) != nullptr) abort();
  b.resize((size_t)load_size);
  for (auto _ : state) {
    kiln_image_format_t *v = nullptr;
    kiln_error_t *err = kiln_image_format_open_load(b.data(), b.size(), "bench", &v);
    if (err != nullptr) abort();
    kiln_image_format_close(v);
  }
  state.counters["load_bytes"] = (double)load_size;
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)load_size);
}
BENCHMARK(BM_OpenLoad)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The load part's structural checks alone (the load checksum skipped).
void BM_OpenLoadStructureOnly(benchmark::State &state) {
  std::vector<uint8_t> b = LargeBlob((size_t)state.range(0));
  for (auto _ : state) {
    kiln_image_format_t *v = nullptr;
    kiln_error_t *err = kif_open(b.data(), b.size(), "bench", 0, 0, &v);
    if (err != nullptr) abort();
    kiln_image_format_close(v);
  }
}
BENCHMARK(BM_OpenLoadStructureOnly)->Arg(10000)->Unit(benchmark::kMicrosecond);

// Structural checks alone (the checksum skipped).
void BM_OpenStructureOnly(benchmark::State &state) {
  std::vector<uint8_t> b = LargeBlob((size_t)state.range(0));
  for (auto _ : state) {
    kiln_image_format_t *v = nullptr;
    kiln_error_t *err = kif_open(b.data(), b.size(), "bench", 0, 1, &v);
    if (err != nullptr) abort();
    kiln_image_format_close(v);
  }
  state.counters["blob_bytes"] = (double)b.size();
}
BENCHMARK(BM_OpenStructureOnly)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_Encode(benchmark::State &state) {
  kiln_image_format_testing::Desc d = kiln_image_format_testing::Large((size_t)state.range(0), 16);
  for (auto _ : state) {
    void *blob = nullptr;
    size_t size = 0;
    kiln_error_t *err = kiln_image_format_encode(&d.desc, &blob, &size);
    if (err != nullptr) abort();
    free(blob);
  }
}
BENCHMARK(BM_Encode)->Arg(10000)->Unit(benchmark::kMicrosecond);

// Binary search over the name index: the table is in shard order, so each
// probe reads the index entry and then the name of the function it names.
void BM_FunctionFind(benchmark::State &state) {
  kiln_image_format_testing::Desc d = kiln_image_format_testing::Large(10000, 16);
  std::vector<uint8_t> b = LargeBlob(10000);
  kiln_image_format_t *v = nullptr;
  if (kiln_image_format_open(b.data(), b.size(), "bench", &v) != nullptr) abort();
  size_t i = 0, idx;
  for (auto _ : state) {
    kiln_error_t *err = kiln_image_format_function_find(v, d.functions[i++ % 10000], &idx);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(idx);
  }
  kiln_image_format_close(v);
}
BENCHMARK(BM_FunctionFind);

// Walking the name index in order (what a consumer listing the symbols by
// name does) against walking the table in index order.
void BM_FunctionsByName(benchmark::State &state) {
  std::vector<uint8_t> b = LargeBlob(10000);
  kiln_image_format_t *v = nullptr;
  if (kiln_image_format_open(b.data(), b.size(), "bench", &v) != nullptr) abort();
  const size_t n = kiln_image_format_function_count(v);
  for (auto _ : state) {
    size_t sum = 0;
    for (size_t j = 0; j < n; j++) {
      sum += (size_t)kiln_image_format_function_name(v, kiln_image_format_function_by_name(v, j))[0];
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)n);
  kiln_image_format_close(v);
}
BENCHMARK(BM_FunctionsByName)->Unit(benchmark::kMicrosecond);

}  // namespace
