// components/target against LLVM 22 (linked in this test only; the library
// never links LLVM): host detection agrees with LLVMGetHostCPUFeatures for
// every feature in the x86-64 table, every feature LLVM reports is in the
// table, and every CPU set and implication in the tables is what LLVM
// resolves through third_party/llvm_c_ext.
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "components/target/target.h"
#include "gtest/gtest.h"
#include "llvm-c/Core.h"
#include "llvm-c/TargetMachine.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

namespace {

std::set<std::string> Split(const std::string &list, char sign) {
  std::set<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty() && item[0] == sign) out.insert(item.substr(1));
  }
  return out;
}

std::set<std::string> TableNames(const kiln_target_features_t &set, kiln_target_arch_t arch) {
  std::set<std::string> out;
  for (size_t i = 0; i < kiln_target_feature_count(arch); i++) {
    if (kiln_target_features_has(&set, i)) out.insert(kiln_target_feature_name(arch, i));
  }
  return out;
}

std::string Join(const std::set<std::string> &s) {
  std::string out;
  for (const std::string &x : s) out += (out.empty() ? "" : " ") + x;
  return out;
}

// LLVM's resolution of cpu+features, restricted to kiln's table.
std::set<std::string> LlvmSet(kiln_target_arch_t arch, const char *cpu, const char *features) {
  const char *triple =
      arch == KILN_TARGET_ARCH_X86_64 ? "x86_64-unknown-linux-gnu" : "aarch64-unknown-linux-gnu";
  char *c = nullptr, *f = nullptr;
  kiln_error_t *err = kiln_llvm_cpu_resolve(triple, cpu, features, &c, &f);
  EXPECT_EQ(err, nullptr) << cpu << ": " << kiln_error_message(err);
  kiln_error_free(err);
  kiln_target_features_t set;
  err = kiln_target_features_parse(arch, f != nullptr ? f : "", KILN_TARGET_FEATURES_IGNORE_UNKNOWN,
                                   &set);
  EXPECT_EQ(err, nullptr);
  kiln_error_free(err);
  kiln_llvm_string_free(c);
  kiln_llvm_string_free(f);
  return TableNames(set, arch);
}

#if defined(__x86_64__)
TEST(TargetLlvmHostTest, DetectionAgreesWithLlvmForEveryTableFeature) {
  char *llvm_features = LLVMGetHostCPUFeatures();
  std::set<std::string> llvm_on = Split(llvm_features, '+');
  std::set<std::string> llvm_off = Split(llvm_features, '-');
  LLVMDisposeMessage(llvm_features);

  kiln_target_host_t *host = nullptr;
  kiln_error_t *err = kiln_target_host_detect(nullptr, nullptr, &host);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  const kiln_target_arch_t arch = KILN_TARGET_ARCH_X86_64;
  std::set<std::string> kiln_on = TableNames(*kiln_target_host_features(host), arch);
  for (size_t i = 0; i < kiln_target_feature_count(arch); i++) {
    std::string name = kiln_target_feature_name(arch, i);
    EXPECT_TRUE(llvm_on.count(name) || llvm_off.count(name))
        << name << " is in kiln's table but LLVM's host detection does not report it";
    EXPECT_EQ(kiln_on.count(name), llvm_on.count(name))
        << name << ": kiln " << (kiln_on.count(name) ? "has" : "lacks") << " it, LLVM "
        << (llvm_on.count(name) ? "has" : "lacks") << " it";
  }
  // Every feature LLVM's host detection knows is in kiln's table.
  for (const std::set<std::string> *s : {&llvm_on, &llvm_off}) {
    for (const std::string &name : *s) {
      size_t idx;
      kiln_error_t *e = kiln_target_feature_index(arch, name.c_str(), &idx);
      EXPECT_EQ(e, nullptr) << name << " is reported by LLVM but missing from kiln's table";
      kiln_error_free(e);
    }
  }
  char *llvm_name = LLVMGetHostCPUName();
  std::cout << "host CPU: kiln " << kiln_target_host_cpu(host) << ", LLVM " << llvm_name << "\n"
            << "host features (kiln): " << Join(kiln_on) << "\n";
  EXPECT_STREQ(kiln_target_host_cpu(host), llvm_name);
  LLVMDisposeMessage(llvm_name);
  kiln_target_host_free(host);
}
#endif

TEST(TargetLlvmTableTest, CpuSetsMatchLlvm) {
  for (kiln_target_arch_t arch : {KILN_TARGET_ARCH_X86_64, KILN_TARGET_ARCH_AARCH64}) {
    // Every CPU name kiln accepts; the table's names are reachable through
    // kiln_target_list_parse's suggestions, so probe via a known list.
    const char *x86[] = {"generic", "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "core2",
                         "penryn", "nehalem", "westmere", "sandybridge", "ivybridge", "haswell",
                         "broadwell", "skylake", "skylake-avx512", "cascadelake", "cooperlake",
                         "cannonlake", "icelake-client", "icelake-server", "tigerlake",
                         "rocketlake", "alderlake", "raptorlake", "meteorlake", "sapphirerapids",
                         "emeraldrapids", "graniterapids", "bonnell", "silvermont", "goldmont",
                         "goldmont-plus", "tremont", "knl", "knm", "k8", "amdfam10", "btver1",
                         "btver2", "bdver1", "bdver2", "bdver3", "bdver4", "znver1", "znver2",
                         "znver3", "znver4", "znver5", "corei7", "core-avx2", "skx", nullptr};
    const char *a64[] = {"generic", "cortex-a53", "cortex-a55", "cortex-a72", "cortex-a76",
                         "cortex-a78", "cortex-x1", "neoverse-n1", "neoverse-v1", "neoverse-n2",
                         "neoverse-v2", "neoverse-v3", "apple-m1", "apple-m2", "apple-m3",
                         "apple-m4", "a64fx", "ampere1", "thunderx2t99", "grace", nullptr};
    for (const char *const *cpu = arch == KILN_TARGET_ARCH_X86_64 ? x86 : a64; *cpu; cpu++) {
      kiln_target_features_t set;
      kiln_error_t *err = kiln_target_cpu_features(arch, *cpu, &set);
      ASSERT_EQ(err, nullptr) << *cpu << ": " << kiln_error_message(err);
      EXPECT_EQ(Join(TableNames(set, arch)), Join(LlvmSet(arch, *cpu, nullptr))) << *cpu;
    }
  }
}

TEST(TargetLlvmTableTest, ImplicationsMatchLlvm) {
  for (kiln_target_arch_t arch : {KILN_TARGET_ARCH_X86_64, KILN_TARGET_ARCH_AARCH64}) {
    std::set<std::string> base = LlvmSet(arch, "generic", nullptr);
    for (size_t i = 0; i < kiln_target_feature_count(arch); i++) {
      std::string name = kiln_target_feature_name(arch, i);
      kiln_target_features_t set;
      kiln_error_t *err = kiln_target_features_parse(arch, name.c_str(), 0, &set);
      ASSERT_EQ(err, nullptr);
      // LLVM's closure of +name over the generic CPU, minus the baseline;
      // kiln's closure minus the same baseline must be equal.
      std::set<std::string> llvm = LlvmSet(arch, "generic", ("+" + name).c_str());
      std::set<std::string> ours = TableNames(set, arch);
      for (const std::string &b : base) {
        llvm.erase(b);
        ours.erase(b);
      }
      llvm.erase(name);
      ours.erase(name);
      EXPECT_EQ(Join(ours), Join(llvm)) << "implications of " << name;
    }
  }
}

TEST(TargetLlvmTableTest, ParsedTargetsResolve) {
  // The builder's path: parse, hand each target to LLVM, keep the ISA part.
  kiln_target_list_t *list = nullptr;
  ASSERT_EQ(kiln_target_list_parse(KILN_TARGET_ARCH_X86_64,
                                   "generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1)",
                                   &list),
            nullptr);
  char feats[256];
  kiln_target_list_llvm_features(list, 2, feats, sizeof(feats));
  std::set<std::string> hsw = LlvmSet(KILN_TARGET_ARCH_X86_64, kiln_target_list_cpu(list, 2), feats);
  EXPECT_TRUE(hsw.count("avx2"));
  EXPECT_FALSE(hsw.count("rdrnd"));
  kiln_target_list_llvm_features(list, 1, feats, sizeof(feats));
  std::set<std::string> snb = LlvmSet(KILN_TARGET_ARCH_X86_64, kiln_target_list_cpu(list, 1), feats);
  EXPECT_TRUE(snb.count("avx"));
  EXPECT_FALSE(snb.count("xsaveopt"));
  kiln_target_list_free(list);
}

}  // namespace
