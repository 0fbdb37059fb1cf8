// Tests for the CPU topic of llvm_c_ext: resolution of names and features
// through LLVM 22, host detection, and the error paths.
#include <string>

#include "gtest/gtest.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

namespace {

struct Resolved {
  kiln_error_t *err = nullptr;
  std::string cpu, features;
};

Resolved Resolve(const char *triple, const char *cpu, const char *features) {
  Resolved r;
  char *c = nullptr, *f = nullptr;
  r.err = kiln_llvm_cpu_resolve(triple, cpu, features, &c, &f);
  if (r.err == nullptr) {
    r.cpu = c;
    r.features = "," + std::string(f) + ",";
  } else {
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(f, nullptr);
  }
  kiln_llvm_string_free(c);
  kiln_llvm_string_free(f);
  return r;
}

bool Has(const Resolved &r, const char *feature) {
  return r.features.find(std::string(",+") + feature + ",") != std::string::npos;
}

const char kX86[] = "x86_64-unknown-linux-gnu";

TEST(LlvmCpuResolveTest, HaswellImpliesItsFeatures) {
  Resolved r = Resolve(kX86, "haswell", nullptr);
  ASSERT_EQ(r.err, nullptr) << kiln_error_message(r.err);
  EXPECT_EQ(r.cpu, "haswell");
  for (const char *f : {"avx2", "avx", "fma", "bmi2", "sse4.2", "rdrnd", "xsaveopt"})
    EXPECT_TRUE(Has(r, f)) << f;
  EXPECT_FALSE(Has(r, "avx512f"));
}

TEST(LlvmCpuResolveTest, ExplicitFeaturesAddAndRemove) {
  Resolved r = Resolve(kX86, "haswell", "-rdrnd,+avx512f");
  ASSERT_EQ(r.err, nullptr) << kiln_error_message(r.err);
  EXPECT_FALSE(Has(r, "rdrnd"));
  EXPECT_TRUE(Has(r, "avx512f"));
  // Disabling avx disables what depends on it.
  Resolved d = Resolve(kX86, "haswell", "-avx");
  ASSERT_EQ(d.err, nullptr);
  EXPECT_FALSE(Has(d, "avx2"));
  EXPECT_FALSE(Has(d, "fma"));
  EXPECT_TRUE(Has(d, "sse4.2"));
}

TEST(LlvmCpuResolveTest, GenericAndAarch64) {
  Resolved g = Resolve(kX86, "generic", "");
  ASSERT_EQ(g.err, nullptr) << kiln_error_message(g.err);
  EXPECT_TRUE(Has(g, "sse2"));
  EXPECT_FALSE(Has(g, "avx"));
  Resolved a = Resolve("aarch64-unknown-linux-gnu", "neoverse-n1", nullptr);
  ASSERT_EQ(a.err, nullptr) << kiln_error_message(a.err);
  EXPECT_TRUE(Has(a, "neon"));
  EXPECT_TRUE(Has(a, "lse"));
  EXPECT_TRUE(Has(a, "dotprod"));
}

TEST(LlvmCpuResolveTest, NativeIsTheHost) {
  Resolved r = Resolve(kX86, "native", nullptr);
  ASSERT_EQ(r.err, nullptr) << kiln_error_message(r.err);
  EXPECT_FALSE(r.cpu.empty());
  EXPECT_NE(r.cpu, "native");
  EXPECT_TRUE(Has(r, "sse2"));
}

TEST(LlvmCpuResolveTest, UnknownNamesAreErrors) {
  Resolved c = Resolve(kX86, "haswel", nullptr);
  EXPECT_EQ(kiln_error_code(c.err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(std::string(kiln_error_message(c.err)).find("'haswel'"), std::string::npos);
  kiln_error_free(c.err);
  Resolved f = Resolve(kX86, "haswell", "+avx3");
  EXPECT_EQ(kiln_error_code(f.err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(std::string(kiln_error_message(f.err)).find("'avx3'"), std::string::npos);
  kiln_error_free(f.err);
  Resolved t = Resolve("nonsense-triple-xyz", "generic", nullptr);
  EXPECT_EQ(kiln_error_code(t.err), KILN_ERR_NOT_FOUND);
  kiln_error_free(t.err);
}

TEST(LlvmCpuResolveTest, NullArgumentsAreErrors) {
  char *c = reinterpret_cast<char *>(1), *f = reinterpret_cast<char *>(1);
  kiln_error_t *err = kiln_llvm_cpu_resolve(nullptr, "generic", nullptr, &c, &f);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(f, nullptr);
  kiln_error_free(err);
}

TEST(LlvmHostCpuTest, ReportsNameAndFeatures) {
  char *name = nullptr, *features = nullptr;
  kiln_error_t *err = kiln_llvm_host_cpu(&name, &features);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_GT(std::string(name).size(), 0u);
  EXPECT_NE(std::string(features).find("sse2"), std::string::npos);
  kiln_llvm_string_free(name);
  kiln_llvm_string_free(features);
}

TEST(LlvmHostCpuTest, NullOutputsAreErrors) {
  char *name = reinterpret_cast<char *>(1);
  kiln_error_t *err = kiln_llvm_host_cpu(&name, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(name, nullptr);
  kiln_error_free(err);
}

}  // namespace
