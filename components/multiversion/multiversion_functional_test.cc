// Functional test: real C kernels (testdata/kernels.c) compiled by clang-22,
// multiversioned for generic;haswell;x86-64-v4, optimized, emitted, linked
// into a shared object and loaded. For each target the slots are filled
// from the emitted tables, and every kernel's result is compared with a
// natively built (clang -O2) copy of the same source.
//
// Usage: multiversion_functional_test CLANG KERNELS_C
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <dlfcn.h>

#include "components/multiversion/testing/mv_build.h"
#include "gtest/gtest.h"

namespace {

std::string g_clang, g_src;
const char kTargets[] = "generic;haswell;x86-64-v4";
const char *const kCpus[] = {"generic", "haswell", "x86-64-v4"};

std::string TmpDir() {
  const char *t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

bool Close(double a, double b, double rel) {
  return std::fabs(a - b) <= rel * std::fmax(1.0, std::fmax(std::fabs(a), std::fabs(b)));
}

class MultiversionFunctionalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    built_ = new kiln_mv_test::Built();
    std::string err = kiln_mv_test::Build(g_clang, g_src, kTargets, TmpDir(), "mv", built_);
    ASSERT_EQ(err, "");
    std::string log;
    native_path_ = new std::string(TmpDir() + "/native.so");
    ASSERT_EQ(kiln_mv_test::Run(g_clang + " -O2 -fPIC -shared " + g_src + " -o " +
                                    *native_path_ + " -lm",
                                &log),
              0)
        << log;
  }
  static void TearDownTestSuite() {
    delete built_;
    delete native_path_;
  }
  void SetUp() override {
    ASSERT_NE(built_, nullptr);
    ASSERT_EQ(image_.Open(*built_), "");
    native_ = dlopen(native_path_->c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(native_, nullptr) << dlerror();
  }
  void TearDown() override {
    if (native_ != nullptr) dlclose(native_);
  }
  template <typename F>
  F Mv(const char *name, size_t k) {
    void *p = image_.Fn(name, k);
    EXPECT_NE(p, nullptr) << name;
    return reinterpret_cast<F>(p);
  }
  template <typename F>
  F Native(const char *name) {
    return reinterpret_cast<F>(dlsym(native_, name));
  }
  static kiln_mv_test::Built *built_;
  static std::string *native_path_;
  kiln_mv_test::Image image_;
  void *native_ = nullptr;
};

kiln_mv_test::Built *MultiversionFunctionalTest::built_ = nullptr;
std::string *MultiversionFunctionalTest::native_path_ = nullptr;

TEST_F(MultiversionFunctionalTest, TablesDescribeTheKernels) {
  ASSERT_EQ(built_->targets, 3u);
  // Every kernel with a loop or math is cloned; mv_norm, mv_apply, mv_fib,
  // cube are not; mv_norm's call and mv_ops' entry need slots.
  std::vector<std::string> want = {"mv_dot", "mv_saxpy", "mv_poly", "mv_isum",
                                   "mv_fast_sum", "sq_sum", "mv_rsum"};
  EXPECT_EQ(built_->functions, want);
  EXPECT_EQ(built_->clone_counts[1], want.size());
  EXPECT_EQ(built_->clone_counts[2], want.size());
  EXPECT_EQ(built_->slots, 2u);
  // Target 1's version of a cloned kernel is a different function.
  EXPECT_NE(image_.Fn("mv_dot", 0), image_.Fn("mv_dot", 1));
  EXPECT_NE(image_.Fn("mv_dot", 1), image_.Fn("mv_dot", 2));
  EXPECT_EQ(image_.Fn("mv_fib", 0), image_.Fn("mv_fib", 2));
}

TEST_F(MultiversionFunctionalTest, EveryTargetMatchesNativeBuild) {
  const int n = 1000;
  std::vector<float> a(n), b(n), y0(n), y1(n), p0(n), p1(n);
  std::vector<int> ia(n);
  std::vector<double> d(n);
  for (int i = 0; i < n; i++) {
    a[i] = 0.001f * (i % 97) - 0.03f;
    b[i] = 0.002f * (i % 89) + 0.01f;
    ia[i] = (i * 7919) % 1000 - 500;
    d[i] = 0.25 * (i % 13) - 1.0;
  }
  using DotFn = float (*)(const float *, const float *, int);
  using NormFn = float (*)(const float *, int);
  using SaxpyFn = void (*)(float, const float *, float *, int);
  using PolyFn = void (*)(const float *, float *, int);
  using IsumFn = long (*)(const int *, int);
  using DsumFn = double (*)(const double *, int);
  using ApplyFn = double (*)(int, double);
  using FibFn = long (*)(int);
  for (size_t k = 0; k < 3; k++) {
    if (!kiln_mv_test::HostRuns(kCpus[k])) {
      GTEST_SKIP() << "host cannot run " << kCpus[k];
    }
    SCOPED_TRACE(kCpus[k]);
    image_.Select(k);
    EXPECT_TRUE(Close(Mv<DotFn>("mv_dot", k)(a.data(), b.data(), n),
                      Native<DotFn>("mv_dot")(a.data(), b.data(), n), 1e-5));
    // Non-cloned code calling a cloned kernel through the slot.
    EXPECT_TRUE(Close(Mv<NormFn>("mv_norm", k)(a.data(), n),
                      Native<NormFn>("mv_norm")(a.data(), n), 1e-5));
    y0 = b;
    y1 = b;
    Mv<SaxpyFn>("mv_saxpy", k)(1.25f, a.data(), y0.data(), n);
    Native<SaxpyFn>("mv_saxpy")(1.25f, a.data(), y1.data(), n);
    Mv<PolyFn>("mv_poly", k)(a.data(), p0.data(), n);
    Native<PolyFn>("mv_poly")(a.data(), p1.data(), n);
    for (int i = 0; i < n; i++) {
      ASSERT_TRUE(Close(y0[i], y1[i], 1e-6)) << i;
      ASSERT_TRUE(Close(p0[i], p1[i], 1e-5)) << i;
    }
    EXPECT_EQ(Mv<IsumFn>("mv_isum", k)(ia.data(), n), Native<IsumFn>("mv_isum")(ia.data(), n));
    EXPECT_TRUE(Close(Mv<DsumFn>("mv_fast_sum", k)(d.data(), n),
                      Native<DsumFn>("mv_fast_sum")(d.data(), n), 1e-12));
    EXPECT_TRUE(Close(Mv<DsumFn>("mv_rsum", k)(d.data(), n),
                      Native<DsumFn>("mv_rsum")(d.data(), n), 1e-12));
    // Function pointers in data: mv_ops[0] is a data slot.
    for (int op = 0; op < 2; op++)
      EXPECT_EQ(Mv<ApplyFn>("mv_apply", k)(op, 1.5), Native<ApplyFn>("mv_apply")(op, 1.5));
    EXPECT_EQ(Mv<FibFn>("mv_fib", k)(20), Native<FibFn>("mv_fib")(20));
  }
}

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CLANG KERNELS_C\n", argv[0]);
    return 2;
  }
  g_clang = argv[1];
  g_src = argv[2];
  return RUN_ALL_TESTS();
}
