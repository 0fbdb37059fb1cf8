// Benchmark, side by side in one run:
//  1. run time of a vectorizable kernel (mv_poly: a loop of fma-contractible
//     polynomials) in its generic version vs its haswell and x86-64-v4
//     clones, all from one multiversioned shared object on this host;
//  2. build time (annotate+clone, O2, codegen) with 3 targets vs 1 target,
//     next to the fraction of the module's instructions that is cloned
//     (the expected ratio is about 1 + 2 * fraction).
//
// Usage: multiversion_benchmark CLANG KERNELS_C
//   (tools/bazelw run -c opt //components/multiversion:multiversion_benchmark)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "components/multiversion/testing/mv_build.h"

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CLANG KERNELS_C\n", argv[0]);
    return 2;
  }
  std::string clang = argv[1], src = argv[2];
  const char *tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/kiln_mv_bench";
  kiln_mv_test::Run("mkdir -p " + dir, nullptr);

  // ---- 1. Kernel run time per target --------------------------------------
  kiln_mv_test::Built built;
  std::string err = kiln_mv_test::Build(clang, src, "generic;haswell;x86-64-v4", dir, "mv3", &built);
  if (!err.empty()) {
    std::fprintf(stderr, "build failed: %s\n", err.c_str());
    return 1;
  }
  kiln_mv_test::Image image;
  err = image.Open(built);
  if (!err.empty()) {
    std::fprintf(stderr, "load failed: %s\n", err.c_str());
    return 1;
  }
  const char *cpus[] = {"generic", "haswell", "x86-64-v4"};
  const int n = 4096, reps = 2000, rounds = 9;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; i++) x[i] = 0.001f * (i % 251);
  using PolyFn = void (*)(const float *, float *, int);
  double ns[3] = {0, 0, 0};
  std::printf("kernel mv_poly, n=%d floats, %d calls per round, median of %d rounds\n", n, reps,
              rounds);
  for (size_t k = 0; k < 3; k++) {
    if (!kiln_mv_test::HostRuns(cpus[k])) {
      std::printf("  %-10s skipped (host lacks its features)\n", cpus[k]);
      continue;
    }
    image.Select(k);
    auto poly = reinterpret_cast<PolyFn>(image.Fn("mv_poly", k));
    std::vector<double> times;
    for (int r = 0; r < rounds; r++) {
      double t0 = Now();
      for (int i = 0; i < reps; i++) poly(x.data(), y.data(), n);
      times.push_back((Now() - t0) / reps / n * 1e9);
    }
    ns[k] = Median(times);
    std::printf("  %-10s %.4f ns/element  speedup vs generic %.2fx\n", cpus[k], ns[k],
                ns[0] / ns[k]);
  }

  // ---- 2. Build time, 3 targets vs 1 ----------------------------------------
  std::vector<double> t1, t3;
  kiln_mv_test::Built b1, b3;
  for (int r = 0; r < 5; r++) {
    b1 = kiln_mv_test::Built();
    b3 = kiln_mv_test::Built();
    if (!kiln_mv_test::Build(clang, src, "generic", dir, "b1", &b1).empty() ||
        !kiln_mv_test::Build(clang, src, "generic;haswell;x86-64-v4", dir, "b3", &b3).empty()) {
      std::fprintf(stderr, "build failed\n");
      return 1;
    }
    t1.push_back(b1.times.total());
    t3.push_back(b3.times.total());
  }
  double frac = double(b3.cloned_instructions) / double(b3.total_instructions);
  double m1 = Median(t1), m3 = Median(t3);
  std::printf("build (annotate+clone, O2, codegen; median of 5): 1 target %.1f ms, 3 targets %.1f ms\n",
              m1 * 1e3, m3 * 1e3);
  std::printf("  ratio 3/1 = %.2f; cloned fraction %.2f of %llu instructions (%zu of %zu "
              "functions); 1 + 2*fraction = %.2f\n",
              m3 / m1, frac, (unsigned long long)b3.total_instructions, b3.clone_counts[1],
              b3.defined_functions, 1 + 2 * frac);
  return 0;
}
