// Feature sets, architectures, the CPU table and host detection (with an
// injected environment): one success and one error test per function at
// least.
#include <map>
#include <string>
#include <thread>

#include "components/target/target.h"
#include "gtest/gtest.h"

namespace {

const kiln_target_arch_t kX86 = KILN_TARGET_ARCH_X86_64;
const kiln_target_arch_t kA64 = KILN_TARGET_ARCH_AARCH64;

bool Contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

size_t Index(kiln_target_arch_t arch, const char *name) {
  size_t i = SIZE_MAX;
  kiln_error_t *err = kiln_target_feature_index(arch, name, &i);
  EXPECT_EQ(err, nullptr) << kiln_error_message(err);
  kiln_error_free(err);
  return i;
}

kiln_target_features_t Parse(kiln_target_arch_t arch, const char *list) {
  kiln_target_features_t set;
  kiln_error_t *err = kiln_target_features_parse(arch, list, 0, &set);
  EXPECT_EQ(err, nullptr) << kiln_error_message(err);
  kiln_error_free(err);
  return set;
}

std::string Print(kiln_target_arch_t arch, const kiln_target_features_t &set) {
  char buf[4096];
  kiln_target_features_print(arch, &set, buf, sizeof(buf));
  return buf;
}

TEST(TargetArchTest, Names) {
  EXPECT_STREQ(kiln_target_arch_name(kX86), "x86_64");
  EXPECT_STREQ(kiln_target_arch_name(kA64), "aarch64");
  EXPECT_STREQ(kiln_target_arch_name(KILN_TARGET_ARCH_UNKNOWN), "unknown");
#if defined(__x86_64__)
  EXPECT_EQ(kiln_target_arch_host(), kX86);
#endif
  kiln_target_arch_t arch;
  for (const char *s : {"x86_64", "x86-64", "amd64", "x86_64-unknown-linux-gnu"}) {
    ASSERT_EQ(kiln_target_arch_from_name(s, &arch), nullptr) << s;
    EXPECT_EQ(arch, kX86);
  }
  for (const char *s : {"aarch64", "arm64", "aarch64-linux-gnu"}) {
    ASSERT_EQ(kiln_target_arch_from_name(s, &arch), nullptr) << s;
    EXPECT_EQ(arch, kA64);
  }
}

TEST(TargetArchTest, UnknownNames) {
  kiln_target_arch_t arch = kX86;
  kiln_error_t *err = kiln_target_arch_from_name("riscv64", &arch);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(arch, KILN_TARGET_ARCH_UNKNOWN);
  EXPECT_TRUE(Contains(kiln_error_message(err), "'riscv64'"));
  kiln_error_free(err);
  err = kiln_target_arch_from_name("x86_645", &arch);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);
  err = kiln_target_arch_from_name(nullptr, &arch);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(TargetFeatureTest, TableLookups) {
  EXPECT_GT(kiln_target_feature_count(kX86), 100u);
  EXPECT_GT(kiln_target_feature_count(kA64), 20u);
  EXPECT_EQ(kiln_target_feature_count(KILN_TARGET_ARCH_UNKNOWN), 0u);
  size_t i = Index(kX86, "avx2");
  EXPECT_STREQ(kiln_target_feature_name(kX86, i), "avx2");
  EXPECT_EQ(Index(kX86, "+avx2"), i);
  EXPECT_EQ(kiln_target_feature_name(kX86, 100000), nullptr);
  EXPECT_STREQ(kiln_target_feature_name(kA64, Index(kA64, "neon")), "neon");
}

// kt_feature_find searches a name order built once per architecture:
// every table name must come back at its own index, from any thread, and
// prefixes, extensions and case variants of a name must not match.
TEST(TargetFeatureTest, EveryTableNameIsFoundAtItsIndex) {
  for (kiln_target_arch_t arch : {kX86, kA64}) {
    std::vector<std::thread> threads;
    std::vector<int> wrong(4, 0);
    for (int t = 0; t < 4; t++) {
      threads.emplace_back([arch, t, &wrong] {
        for (size_t i = 0; i < kiln_target_feature_count(arch); i++) {
          size_t got = SIZE_MAX;
          kiln_error_t *err = kiln_target_feature_index(arch, kiln_target_feature_name(arch, i), &got);
          wrong[t] += err != nullptr || got != i;
          kiln_error_free(err);
        }
      });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(wrong, std::vector<int>(4, 0)) << kiln_target_arch_name(arch);
    for (size_t i = 0; i < kiln_target_feature_count(arch); i++) {
      std::string name = kiln_target_feature_name(arch, i);
      for (const std::string &miss : {name.substr(0, name.size() - 1), name + "x", name + "-",
                                      std::string("A") + name}) {
        size_t got = SIZE_MAX;
        kiln_error_t *err = kiln_target_feature_index(arch, miss.c_str(), &got);
        bool other_name = err == nullptr && got != i &&
                          miss == kiln_target_feature_name(arch, got);
        EXPECT_TRUE(err != nullptr || other_name) << name << " matched '" << miss << "'";
        kiln_error_free(err);
      }
    }
  }
}

TEST(TargetFeatureTest, UnknownFeatureSuggestsNearest) {
  size_t i = 0;
  kiln_error_t *err = kiln_target_feature_index(kX86, "avx3", &i);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(i, SIZE_MAX);
  EXPECT_TRUE(Contains(kiln_error_message(err), "'avx3': unknown x86_64 feature; did you mean"))
      << kiln_error_message(err);
  kiln_error_free(err);
  err = kiln_target_feature_index(kX86, "sse4.3", &i);
  EXPECT_TRUE(Contains(kiln_error_message(err), "did you mean 'sse4.1'?") ||
              Contains(kiln_error_message(err), "did you mean 'sse4.2'?"));
  kiln_error_free(err);
  err = kiln_target_feature_index(KILN_TARGET_ARCH_UNKNOWN, "avx", &i);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(TargetFeatureTest, ImplicationsClose) {
  kiln_target_features_t set = Parse(kX86, "avx2");
  for (const char *f : {"avx2", "avx", "sse4.2", "sse4.1", "ssse3", "sse3", "sse2", "sse"}) {
    EXPECT_TRUE(kiln_target_features_has(&set, Index(kX86, f))) << f;
  }
  EXPECT_FALSE(kiln_target_features_has(&set, Index(kX86, "fma")));
  kiln_target_features_t big = Parse(kX86, "+avx512bw");
  for (const char *f : {"avx512f", "avx2", "fma", "f16c"}) {
    EXPECT_TRUE(kiln_target_features_has(&big, Index(kX86, f))) << f;
  }
  kiln_target_features_t a = Parse(kA64, "sve2");
  for (const char *f : {"sve", "neon", "fp-armv8", "fullfp16"}) {
    EXPECT_TRUE(kiln_target_features_has(&a, Index(kA64, f))) << f;
  }
}

TEST(TargetFeatureTest, ParseSkipsDisabledAndUnknownOnRequest) {
  kiln_target_features_t set = Parse(kX86, "+sse2,-avx,+cx8");
  EXPECT_EQ(Print(kX86, set), "+cx8,+sse,+sse2");
  kiln_target_features_t lenient;
  kiln_error_t *err = kiln_target_features_parse(
      kX86, "+64bit,+slow-3ops-lea,+sse2,+x87", KILN_TARGET_FEATURES_IGNORE_UNKNOWN, &lenient);
  ASSERT_EQ(err, nullptr);
  EXPECT_EQ(Print(kX86, lenient), "+sse,+sse2,+64bit");
  EXPECT_EQ(kiln_target_features_popcount(&lenient), 3u);
  kiln_target_features_t empty = Parse(kX86, "");
  EXPECT_EQ(kiln_target_features_popcount(&empty), 0u);
}

TEST(TargetFeatureTest, ParseErrors) {
  kiln_target_features_t set;
  kiln_error_t *err = kiln_target_features_parse(kX86, "+sse2,+slow-3ops-lea", 0, &set);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_TRUE(Contains(kiln_error_message(err), "entry 1: 'slow-3ops-lea'"))
      << kiln_error_message(err);
  EXPECT_EQ(kiln_target_features_popcount(&set), 0u);
  kiln_error_free(err);
  err = kiln_target_features_parse(kX86, "sse2,,avx", 0, &set);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_PARSE);
  kiln_error_free(err);
  err = kiln_target_features_parse(KILN_TARGET_ARCH_UNKNOWN, "sse2", 0, &set);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(TargetFeatureTest, VectorBits) {
  EXPECT_EQ(kiln_target_features_vector_bits(kX86, nullptr), 0u);
  kiln_target_features_t none = Parse(kX86, "cx8");
  EXPECT_EQ(kiln_target_features_vector_bits(kX86, &none), 0u);
  kiln_target_features_t sse = Parse(kX86, "sse4.2");
  EXPECT_EQ(kiln_target_features_vector_bits(kX86, &sse), 128u);
  kiln_target_features_t avx = Parse(kX86, "fma");
  EXPECT_EQ(kiln_target_features_vector_bits(kX86, &avx), 256u);
  kiln_target_features_t zmm = Parse(kX86, "avx512vl");
  EXPECT_EQ(kiln_target_features_vector_bits(kX86, &zmm), 512u);
  kiln_target_features_t neon = Parse(kA64, "neon");
  EXPECT_EQ(kiln_target_features_vector_bits(kA64, &neon), 128u);
}

TEST(TargetFeatureTest, MissingAndPrintTruncation) {
  kiln_target_features_t need = Parse(kX86, "avx2,bmi2");
  kiln_target_features_t have = Parse(kX86, "sse4.2");
  char buf[256];
  kiln_target_features_missing(kX86, &need, &have, buf, sizeof(buf));
  EXPECT_STREQ(buf, "avx, avx2, bmi2");
  kiln_target_features_missing(kX86, &have, &need, buf, sizeof(buf));
  EXPECT_STREQ(buf, "");
  char small[4];
  size_t n = kiln_target_features_print(kX86, &have, small, sizeof(small));
  EXPECT_GT(n, 3u);
  EXPECT_STREQ(small, "+ss");
  EXPECT_EQ(kiln_target_features_print(kX86, nullptr, nullptr, 0), 0u);
}

TEST(TargetCpuTest, TableSets) {
  kiln_target_features_t hsw;
  ASSERT_EQ(kiln_target_cpu_features(kX86, "haswell", &hsw), nullptr);
  for (const char *f : {"avx2", "fma", "bmi2", "movbe", "rdrnd", "xsaveopt"}) {
    EXPECT_TRUE(kiln_target_features_has(&hsw, Index(kX86, f))) << f;
  }
  EXPECT_FALSE(kiln_target_features_has(&hsw, Index(kX86, "avx512f")));
  kiln_target_features_t alias;
  ASSERT_EQ(kiln_target_cpu_features(kX86, "core-avx2", &alias), nullptr);
  EXPECT_EQ(Print(kX86, alias), Print(kX86, hsw));
  kiln_target_features_t v4;
  ASSERT_EQ(kiln_target_cpu_features(kX86, "x86-64-v4", &v4), nullptr);
  EXPECT_EQ(kiln_target_features_vector_bits(kX86, &v4), 512u);
  kiln_target_features_t n1;
  ASSERT_EQ(kiln_target_cpu_features(kA64, "neoverse-n1", &n1), nullptr);
  EXPECT_TRUE(kiln_target_features_has(&n1, Index(kA64, "lse")));
}

TEST(TargetCpuTest, UnknownCpu) {
  kiln_target_features_t set;
  kiln_error_t *err = kiln_target_cpu_features(kX86, "skylake-avx", &set);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_TRUE(Contains(kiln_error_message(err), "did you mean 'skylake'?") ||
              Contains(kiln_error_message(err), "did you mean 'skylake-avx512'?"))
      << kiln_error_message(err);
  kiln_error_free(err);
  err = kiln_target_cpu_features(kX86, nullptr, &set);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

// ---- Host ------------------------------------------------------------------

const char *MapEnv(void *ctx, const char *name) {
  auto *m = static_cast<std::map<std::string, std::string> *>(ctx);
  auto it = m->find(name);
  return it == m->end() ? nullptr : it->second.c_str();
}

TEST(TargetHostTest, DetectsTheHost) {
  kiln_target_host_t *host = nullptr;
  kiln_error_t *err = kiln_target_host_detect(nullptr, nullptr, &host);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(kiln_target_host_arch(host), kiln_target_arch_host());
  EXPECT_GT(std::string(kiln_target_host_cpu(host)).size(), 0u);
#if defined(__x86_64__)
  const kiln_target_features_t *f = kiln_target_host_features(host);
  for (const char *name : {"64bit", "sse", "sse2", "cx8", "fxsr", "mmx", "cmov"}) {
    EXPECT_TRUE(kiln_target_features_has(f, Index(kX86, name))) << name;
  }
#endif
  EXPECT_EQ(kiln_target_features_popcount(kiln_target_host_masked(host)), 0u);
  kiln_target_host_free(host);
}

TEST(TargetHostTest, DisableMasksDependents) {
  std::map<std::string, std::string> env = {{"KILN_CPU_DISABLE", "avx, sse4.2"}};
  kiln_target_host_t *host = nullptr;
  kiln_error_t *err = kiln_target_host_detect(MapEnv, &env, &host);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
#if defined(__x86_64__)
  const kiln_target_features_t *f = kiln_target_host_features(host);
  for (const char *name : {"avx", "avx2", "fma", "avx512f", "sse4.2"}) {
    EXPECT_FALSE(kiln_target_features_has(f, Index(kX86, name))) << name;
  }
  EXPECT_TRUE(kiln_target_features_has(f, Index(kX86, "sse2")));
  // crc32 does not depend on sse4.2 in LLVM 22, so it stays.
  EXPECT_TRUE(kiln_target_features_has(kiln_target_host_masked(host), Index(kX86, "avx")));
  EXPECT_LE(kiln_target_features_vector_bits(kX86, f), 128u);
#endif
  kiln_target_host_free(host);
}

TEST(TargetHostTest, DisableRejectsUnknownNames) {
  std::map<std::string, std::string> env = {{"KILN_CPU_DISABLE", "avx512f,avx22"}};
  kiln_target_host_t *host = reinterpret_cast<kiln_target_host_t *>(1);
  kiln_error_t *err = kiln_target_host_detect(MapEnv, &env, &host);
  EXPECT_EQ(host, nullptr);
#if defined(__x86_64__)
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(kiln_error_message(err), "KILN_CPU_DISABLE='avx512f,avx22': 'avx22': "
                                                "unknown x86_64 feature; did you mean 'avx2'?"))
      << kiln_error_message(err);
#endif
  kiln_error_free(err);
  err = kiln_target_host_detect(nullptr, nullptr, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(TargetHostTest, SyntheticHost) {
  kiln_target_host_t *host = nullptr;
  ASSERT_EQ(kiln_target_host_new(kX86, "core-avx2", "+avx2,+bmi2", &host), nullptr);
  EXPECT_STREQ(kiln_target_host_cpu(host), "haswell");
  EXPECT_TRUE(kiln_target_features_has(kiln_target_host_features(host), Index(kX86, "sse4.2")));
  kiln_target_host_free(host);
  kiln_error_t *err = kiln_target_host_new(kX86, "haswell", "+avx9", &host);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(host, nullptr);
  EXPECT_TRUE(Contains(kiln_error_message(err), "host 'haswell'"));
  kiln_error_free(err);
  err = kiln_target_host_new(KILN_TARGET_ARCH_UNKNOWN, "x", "", &host);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  EXPECT_STREQ(kiln_target_host_cpu(nullptr), "");
  EXPECT_EQ(kiln_target_host_features(nullptr), nullptr);
  EXPECT_EQ(kiln_target_host_arch(nullptr), KILN_TARGET_ARCH_UNKNOWN);
  kiln_target_host_free(nullptr);
}

TEST(TargetEnvTest, ProcessEnvironment) {
  setenv("KILN_TARGET_TEST_VAR", "x", 1);
  EXPECT_STREQ(kiln_target_env_process(nullptr, "KILN_TARGET_TEST_VAR"), "x");
  EXPECT_EQ(kiln_target_env_process(nullptr, "KILN_TARGET_TEST_UNSET_VAR"), nullptr);
  EXPECT_EQ(kiln_target_env_process(nullptr, nullptr), nullptr);
}

}  // namespace
