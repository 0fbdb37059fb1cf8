// Target selection on synthetic hosts: the feature rule, the exact-name
// rule, vector width, feature count, ties, forcing, and the explanations.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "components/target/target.h"
#include "gtest/gtest.h"

namespace {

const kiln_target_arch_t kX86 = KILN_TARGET_ARCH_X86_64;

bool Contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

// The full feature list kiln's table gives a CPU, as an image would store it.
std::string CpuFeatures(const char *cpu) {
  kiln_target_features_t set;
  kiln_error_t *err = kiln_target_cpu_features(kX86, cpu, &set);
  EXPECT_EQ(err, nullptr) << kiln_error_message(err);
  kiln_error_free(err);
  char buf[4096];
  kiln_target_features_print(kX86, &set, buf, sizeof(buf));
  return buf;
}

class SelectTest : public ::testing::Test {
 protected:
  void TearDown() override {
    kiln_target_host_free(host_);
    kiln_target_selection_free(sel_);
    kiln_target_select_options_free(opts_);
  }

  void Host(const char *cpu, const std::string &features) {
    kiln_target_host_free(host_);
    host_ = nullptr;
    kiln_error_t *err = kiln_target_host_new(kX86, cpu, features.c_str(), &host_);
    ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  }

  // Adds an image target built for `cpu` with `features` (default: the
  // CPU's table set).
  void Target(const char *cpu, const std::string &features = "") {
    names_.push_back(cpu);
    feats_.push_back(features.empty() ? CpuFeatures(cpu) : features);
  }

  kiln_error_t *Select() {
    specs_.clear();
    for (size_t i = 0; i < names_.size(); i++) {
      specs_.push_back({names_[i].c_str(), feats_[i].c_str(), 0});
    }
    kiln_target_selection_free(sel_);
    sel_ = nullptr;
    return kiln_target_select(host_, specs_.data(), specs_.size(), opts_, &sel_);
  }

  size_t SelectOk() {
    kiln_error_t *err = Select();
    EXPECT_EQ(err, nullptr) << kiln_error_message(err);
    kiln_error_free(err);
    return kiln_target_selection_index(sel_);
  }

  std::string Reason() { return kiln_target_selection_reason(sel_); }
  std::string Report() { return kiln_target_selection_report(sel_); }

  kiln_target_host_t *host_ = nullptr;
  kiln_target_selection_t *sel_ = nullptr;
  kiln_target_select_options_t *opts_ = nullptr;
  std::vector<std::string> names_, feats_;
  std::vector<kiln_target_spec_t> specs_;
};

TEST_F(SelectTest, PicksTheBestRunnableTarget) {
  Host("haswell", CpuFeatures("haswell"));
  Target("generic");
  Target("sandybridge");
  Target("skylake-avx512");
  EXPECT_EQ(SelectOk(), 1u);
  EXPECT_TRUE(Contains(Reason(), "target 1 (sandybridge): widest vector registers (256 bits)"))
      << Reason();
  EXPECT_TRUE(Contains(Report(), "target 0 (generic): runnable; narrower vectors (128 < 256 bits)"))
      << Report();
  EXPECT_TRUE(Contains(Report(), "target 1 (sandybridge): chosen")) << Report();
  EXPECT_TRUE(Contains(Report(), "target 2 (skylake-avx512): host lacks ")) << Report();
  EXPECT_TRUE(Contains(Report(), "avx512f")) << Report();
}

TEST_F(SelectTest, ExactNameMatchWinsOverWiderVectors) {
  // A host named haswell that also has AVX-512 (a synthetic oddity): the
  // haswell target wins over the wider skylake-avx512 one by name.
  Host("haswell", CpuFeatures("skylake-avx512"));
  Target("generic");
  Target("haswell");
  Target("skylake-avx512");
  EXPECT_EQ(SelectOk(), 1u);
  EXPECT_TRUE(Contains(Reason(), "exact CPU name match with the host (haswell)")) << Reason();
  EXPECT_TRUE(Contains(Report(), "target 2 (skylake-avx512): runnable; another target matches "
                                 "the host CPU name"))
      << Report();
}

TEST_F(SelectTest, NameMatchNeedsTheFeatures) {
  // A haswell host with avx2 masked cannot run a haswell target, name or not.
  Host("haswell", CpuFeatures("sandybridge"));
  Target("generic");
  Target("haswell");
  EXPECT_EQ(SelectOk(), 0u);
  EXPECT_TRUE(Contains(Reason(), "the only target this host (haswell) can run")) << Reason();
}

TEST_F(SelectTest, MoreFeaturesBreakEqualWidth) {
  Host("znver3", CpuFeatures("znver3"));
  Target("generic");
  Target("haswell");
  Target("sandybridge");
  EXPECT_EQ(SelectOk(), 1u);
  EXPECT_TRUE(Contains(Reason(), "most features")) << Reason();
  EXPECT_TRUE(Contains(Report(), "target 2 (sandybridge): runnable; fewer features")) << Report();
}

TEST_F(SelectTest, TiesGoToTheLaterTarget) {
  Host("znver3", CpuFeatures("znver3"));
  Target("haswell");
  Target("core-avx2", CpuFeatures("haswell"));  // same set, another spelling
  EXPECT_EQ(SelectOk(), 1u);
  EXPECT_TRUE(Contains(Reason(), "tie on vector width (256 bits)")) << Reason();
  EXPECT_TRUE(Contains(Report(), "target 0 (haswell): runnable; tied")) << Report();
}

TEST_F(SelectTest, TiesAmongNameMatchesGoToTheLaterTarget) {
  Host("haswell", CpuFeatures("haswell"));
  Target("generic");
  Target("haswell", CpuFeatures("haswell"));
  Target("haswell", CpuFeatures("haswell"));
  EXPECT_EQ(SelectOk(), 2u);
  EXPECT_TRUE(Contains(Reason(), "exact CPU name match, then tie")) << Reason();
}

TEST_F(SelectTest, AliasesMatchByCanonicalName) {
  Host("haswell", CpuFeatures("skylake-avx512"));
  Target("core-avx2");
  Target("skylake-avx512");
  EXPECT_EQ(SelectOk(), 0u);
}

TEST_F(SelectTest, FailureListsWhatTheHostLacks) {
  Host("nehalem", CpuFeatures("nehalem"));
  Target("haswell");
  Target("skylake-avx512");
  kiln_error_t *err = Select();
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  std::string msg = kiln_error_message(err);
  EXPECT_TRUE(Contains(msg, "no target in the image can run on this host (host nehalem, x86_64):"))
      << msg;
  EXPECT_TRUE(Contains(msg, "\n  target 0 (haswell): host lacks ")) << msg;
  EXPECT_TRUE(Contains(msg, "\n  target 1 (skylake-avx512): host lacks ")) << msg;
  EXPECT_TRUE(Contains(msg, "avx2")) << msg;
  // One line per target plus the headline.
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 2);
  EXPECT_EQ(sel_, nullptr);
  kiln_error_free(err);
}

TEST_F(SelectTest, SystemOnlyFeaturesAreNotRequired) {
  // An emulated or virtualized Haswell without INVPCID still runs haswell
  // code: user space cannot execute INVPCID anyway.
  std::string host = CpuFeatures("haswell");
  host.erase(host.find(",+invpcid"), 9);
  Host("haswell", host);
  Target("generic");
  Target("haswell");
  EXPECT_EQ(SelectOk(), 1u);
  // A feature user code can execute is still required.
  host.erase(host.find(",+bmi2"), 6);
  Host("haswell", host);
  EXPECT_EQ(SelectOk(), 0u);
  EXPECT_TRUE(Contains(Report(), "target 1 (haswell): host lacks bmi2")) << Report();
}

TEST_F(SelectTest, UnknownFeatureCannotBeChecked) {
  Host("haswell", CpuFeatures("haswell"));
  Target("future", "+avx2,+avx99");
  Target("generic");
  EXPECT_EQ(SelectOk(), 1u);
  EXPECT_TRUE(Contains(Report(), "target 0 (future): cannot be checked: ")) << Report();
  EXPECT_TRUE(Contains(Report(), "'avx99'")) << Report();
}

TEST_F(SelectTest, ForcedIndexByOption) {
  Host("haswell", CpuFeatures("haswell"));
  Target("generic");
  Target("haswell");
  ASSERT_EQ(kiln_target_select_options_new(&opts_), nullptr);
  kiln_target_select_options_set_force_index(opts_, 0);
  EXPECT_EQ(SelectOk(), 0u);
  EXPECT_TRUE(Contains(Reason(), "forced by the caller's option")) << Reason();
}

TEST_F(SelectTest, ForcedIndexByEnvironment) {
  Host("sandybridge", CpuFeatures("sandybridge"));
  Target("generic");
  Target("sandybridge");
  Target("haswell");
  std::map<std::string, std::string> env = {{"KILN_CPU_TARGET_INDEX", "0"}};
  auto lookup = [](void *ctx, const char *name) -> const char * {
    auto *m = static_cast<std::map<std::string, std::string> *>(ctx);
    auto it = m->find(name);
    return it == m->end() ? nullptr : it->second.c_str();
  };
  ASSERT_EQ(kiln_target_select_options_new(&opts_), nullptr);
  kiln_target_select_options_set_env(opts_, lookup, &env);
  EXPECT_EQ(SelectOk(), 0u);
  EXPECT_TRUE(Contains(Reason(), "forced by KILN_CPU_TARGET_INDEX")) << Reason();
  // Forcing a target the host cannot run is refused, with the reason.
  env["KILN_CPU_TARGET_INDEX"] = "2";
  kiln_error_t *err = Select();
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  EXPECT_TRUE(Contains(kiln_error_message(err), "target 2 (haswell), forced by "
                                                "KILN_CPU_TARGET_INDEX, cannot run"))
      << kiln_error_message(err);
  kiln_error_free(err);
  env["KILN_CPU_TARGET_INDEX"] = "7";
  err = Select();
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  EXPECT_TRUE(Contains(kiln_error_message(err), "image has 3 targets"));
  kiln_error_free(err);
  env["KILN_CPU_TARGET_INDEX"] = "one";
  err = Select();
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  // The option overrides the variable.
  env["KILN_CPU_TARGET_INDEX"] = "2";
  kiln_target_select_options_set_force_index(opts_, 1);
  EXPECT_EQ(SelectOk(), 1u);
}

TEST_F(SelectTest, InvalidArguments) {
  Host("haswell", CpuFeatures("haswell"));
  kiln_target_selection_t *sel = reinterpret_cast<kiln_target_selection_t *>(1);
  kiln_error_t *err = kiln_target_select(host_, nullptr, 0, nullptr, &sel);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sel, nullptr);
  kiln_error_free(err);
  kiln_target_spec_t spec = {"generic", "+sse2", 0};
  err = kiln_target_select(nullptr, &spec, 1, nullptr, &sel);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_target_select_options_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  EXPECT_EQ(kiln_target_selection_index(nullptr), SIZE_MAX);
  EXPECT_STREQ(kiln_target_selection_reason(nullptr), "");
  EXPECT_STREQ(kiln_target_selection_report(nullptr), "");
  kiln_target_selection_free(nullptr);
  kiln_target_select_options_free(nullptr);
  kiln_target_select_options_set_force_index(nullptr, 1);
  kiln_target_select_options_set_env(nullptr, nullptr, nullptr);
}

TEST_F(SelectTest, SystemImageDefaultOnSyntheticHosts) {
  // generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1) as the
  // builder would resolve it.
  const std::string generic = CpuFeatures("generic");
  std::string snb = CpuFeatures("sandybridge");
  snb.erase(snb.find(",+xsaveopt"), 10);
  std::string hsw = CpuFeatures("haswell");
  hsw.erase(hsw.find(",+rdrnd"), 7);
  struct Case {
    const char *cpu;
    size_t expect;
  } cases[] = {{"nehalem", 0}, {"westmere", 0}, {"sandybridge", 1}, {"ivybridge", 1},
               {"haswell", 2}, {"skylake", 2},  {"znver4", 2}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.cpu);
    Host(c.cpu, CpuFeatures(c.cpu));
    names_.clear();
    feats_.clear();
    Target("generic", generic);
    Target("sandybridge", snb);
    Target("haswell", hsw);
    EXPECT_EQ(SelectOk(), c.expect) << Report();
  }
}

}  // namespace
