// Target strings: round trips through the canonical printer and one test per
// error the grammar defines, each checking the message names the target
// index and the token.
#include <string>
#include <vector>

#include "components/target/target.h"
#include "gtest/gtest.h"

namespace {

const kiln_target_arch_t kX86 = KILN_TARGET_ARCH_X86_64;
const kiln_target_arch_t kA64 = KILN_TARGET_ARCH_AARCH64;

std::string Print(const kiln_target_list_t *list) {
  size_t n = kiln_target_list_print(list, nullptr, 0);
  std::string out(n + 1, '\0');
  EXPECT_EQ(kiln_target_list_print(list, &out[0], out.size()), n);
  out.resize(n);
  return out;
}

// Parses, expecting success; returns the canonical form.
std::string Canonical(kiln_target_arch_t arch, const std::string &text) {
  kiln_target_list_t *list = nullptr;
  kiln_error_t *err = kiln_target_list_parse(arch, text.c_str(), &list);
  EXPECT_EQ(err, nullptr) << text << ": " << kiln_error_message(err);
  kiln_error_free(err);
  std::string out = Print(list);
  kiln_target_list_free(list);
  return out;
}

struct Failure {
  kiln_error_code_t code;
  std::string message;
};

Failure ParseError(kiln_target_arch_t arch, const std::string &text) {
  kiln_target_list_t *list = reinterpret_cast<kiln_target_list_t *>(1);
  kiln_error_t *err = kiln_target_list_parse(arch, text.c_str(), &list);
  EXPECT_NE(err, nullptr) << text;
  EXPECT_EQ(list, nullptr);
  Failure f{kiln_error_code(err), kiln_error_message(err)};
  kiln_error_free(err);
  return f;
}

bool Contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

TEST(TargetParseTest, SystemImageDefaultRoundTrips) {
  const char *text = "generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1)";
  kiln_target_list_t *list = nullptr;
  kiln_error_t *err = kiln_target_list_parse(kX86, text, &list);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  ASSERT_EQ(kiln_target_list_count(list), 3u);
  EXPECT_STREQ(kiln_target_list_cpu(list, 0), "generic");
  EXPECT_STREQ(kiln_target_list_cpu(list, 1), "sandybridge");
  EXPECT_STREQ(kiln_target_list_cpu(list, 2), "haswell");
  EXPECT_EQ(kiln_target_list_flags(list, 1), KILN_TARGET_CLONE_ALL);
  EXPECT_EQ(kiln_target_list_flags(list, 2), 0u);
  EXPECT_EQ(kiln_target_list_base(list, 2), 1u);
  EXPECT_EQ(kiln_target_list_base(list, 1), 0u);
  ASSERT_EQ(kiln_target_list_feature_count(list, 1), 1u);
  EXPECT_STREQ(kiln_target_list_feature(list, 1, 0), "-xsaveopt");
  EXPECT_STREQ(kiln_target_list_feature(list, 2, 0), "-rdrnd");
  EXPECT_EQ(kiln_target_list_feature(list, 2, 1), nullptr);
  EXPECT_EQ(Print(list), text);
  kiln_target_list_free(list);
}

TEST(TargetParseTest, CanonicalStringsRoundTrip) {
  const std::vector<std::string> canonical = {
      "generic",
      "native",
      "haswell",
      "x86-64-v3,avx512f",
      "generic;haswell",
      "skylake-avx512,-avx512f,clone_all",
      "znver4,-avx512bf16,-clone_all,opt_size",
      "generic;sandybridge,clone_all;haswell,base(1);skylake,min_size,base(1)",
      "generic,sse4.2,popcnt;ivybridge,-rdrnd,-f16c,clone_all;broadwell,base(1)",
      "nehalem;westmere,clone_all;sapphirerapids,amx-tile,base(1)",
      "icelake-server,-avx512vbmi2,-gfni",
      "generic;x86-64-v2;x86-64-v3;x86-64-v4",
      "generic;znver1;znver2;znver3;znver4",
      "cascadelake,-clone_all,min_size",
  };
  for (const std::string &s : canonical) EXPECT_EQ(Canonical(kX86, s), s);
  for (const std::string &s : {"generic", "neoverse-n1,-lse", "cortex-a72;neoverse-v1,sve,clone_all",
                               "generic;apple-m1,clone_all;neoverse-n2,base(1)"}) {
    EXPECT_EQ(Canonical(kA64, s), s);
  }
}

TEST(TargetParseTest, NonCanonicalInputIsNormalized) {
  EXPECT_EQ(Canonical(kX86, "haswell,+avx2,+fma"), "haswell,avx2,fma");
  EXPECT_EQ(Canonical(kX86, "haswell,avx2,avx2"), "haswell,avx2");
  EXPECT_EQ(Canonical(kX86, "generic;haswell,base(0)"), "generic;haswell");
  EXPECT_EQ(Canonical(kX86, "core-avx2"), "haswell");
  EXPECT_EQ(Canonical(kX86, "corei7,opt_size,+clone_all"), "nehalem,clone_all,opt_size");
  EXPECT_EQ(Canonical(kX86, "generic;haswell,base(0),clone_all;skx,base(1)"),
            "generic;haswell,clone_all;skylake-avx512,base(1)");
  // Printing the canonical form and parsing it again gives the same list.
  std::string once = Canonical(kX86, "generic;sandybridge,+xsaveopt,clone_all;haswell,base(1),-rdrnd");
  EXPECT_EQ(Canonical(kX86, once), once);
}

TEST(TargetParseTest, UnknownArchAcceptsAnyNames) {
  EXPECT_EQ(Canonical(KILN_TARGET_ARCH_UNKNOWN, "pwr9,+altivec,-vsx;pwr10,clone_all"),
            "pwr9,altivec,-vsx;pwr10,clone_all");
}

TEST(TargetParseTest, LlvmFeatureString) {
  kiln_target_list_t *list = nullptr;
  ASSERT_EQ(kiln_target_list_parse(kX86, "haswell,-rdrnd,avx512f,clone_all", &list), nullptr);
  char buf[64];
  EXPECT_EQ(kiln_target_list_llvm_features(list, 0, buf, sizeof(buf)), 15u);
  EXPECT_STREQ(buf, "-rdrnd,+avx512f");
  // Truncation works like snprintf.
  char small[5];
  EXPECT_EQ(kiln_target_list_llvm_features(list, 0, small, sizeof(small)), 15u);
  EXPECT_STREQ(small, "-rdr");
  EXPECT_EQ(kiln_target_list_llvm_features(list, 7, buf, sizeof(buf)), 0u);
  EXPECT_STREQ(buf, "");
  kiln_target_list_free(list);
}

TEST(TargetParseTest, AccessorsTolerateBadIndexes) {
  EXPECT_EQ(kiln_target_list_count(nullptr), 0u);
  EXPECT_EQ(kiln_target_list_cpu(nullptr, 0), nullptr);
  EXPECT_EQ(kiln_target_list_flags(nullptr, 0), 0u);
  EXPECT_EQ(kiln_target_list_base(nullptr, 3), 0u);
  EXPECT_EQ(kiln_target_list_feature_count(nullptr, 0), 0u);
  EXPECT_EQ(kiln_target_list_feature(nullptr, 0, 0), nullptr);
  EXPECT_EQ(kiln_target_list_print(nullptr, nullptr, 0), 0u);
  kiln_target_list_free(nullptr);
}

TEST(TargetParseTest, PrintTruncatesLikeSnprintf) {
  kiln_target_list_t *list = nullptr;
  ASSERT_EQ(kiln_target_list_parse(kX86, "generic;haswell", &list), nullptr);
  char buf[6];
  EXPECT_EQ(kiln_target_list_print(list, buf, sizeof(buf)), 15u);
  EXPECT_STREQ(buf, "gener");
  kiln_target_list_free(list);
}

TEST(TargetParseErrorTest, NullArguments) {
  kiln_target_list_t *list = nullptr;
  kiln_error_t *err = kiln_target_list_parse(kX86, nullptr, &list);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_target_list_parse(kX86, "generic", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(TargetParseErrorTest, EmptyString) {
  Failure f = ParseError(kX86, "");
  EXPECT_EQ(f.code, KILN_ERR_PARSE);
  EXPECT_TRUE(Contains(f.message, "target string is empty")) << f.message;
}

TEST(TargetParseErrorTest, EmptyTarget) {
  for (const char *s : {"generic;;haswell", "generic;", ";generic"}) {
    Failure f = ParseError(kX86, s);
    EXPECT_EQ(f.code, KILN_ERR_PARSE);
    EXPECT_TRUE(Contains(f.message, "is empty")) << f.message;
  }
  EXPECT_TRUE(Contains(ParseError(kX86, "generic;;haswell").message, "target 1 is empty"));
  EXPECT_TRUE(Contains(ParseError(kX86, ";generic").message, "target 0 is empty"));
}

TEST(TargetParseErrorTest, EmptyCpuAndEmptyFeature) {
  Failure cpu = ParseError(kX86, "generic;,avx2");
  EXPECT_EQ(cpu.code, KILN_ERR_PARSE);
  EXPECT_TRUE(Contains(cpu.message, "target 1 (',avx2')")) << cpu.message;
  EXPECT_TRUE(Contains(cpu.message, "empty CPU name")) << cpu.message;
  Failure feat = ParseError(kX86, "haswell,,avx2");
  EXPECT_TRUE(Contains(feat.message, "target 0 ('haswell,,avx2')")) << feat.message;
  EXPECT_TRUE(Contains(feat.message, "empty feature")) << feat.message;
  Failure sign = ParseError(kX86, "haswell,-");
  EXPECT_TRUE(Contains(sign.message, "'-': empty feature name")) << sign.message;
}

TEST(TargetParseErrorTest, UnknownSpecialFlag) {
  Failure f = ParseError(kX86, "generic;haswell,clone_al");
  EXPECT_EQ(f.code, KILN_ERR_PARSE);
  EXPECT_TRUE(Contains(f.message, "target 1")) << f.message;
  EXPECT_TRUE(Contains(f.message, "'clone_al': unknown special flag")) << f.message;
  EXPECT_TRUE(Contains(f.message, "did you mean 'clone_all'?")) << f.message;
  EXPECT_TRUE(Contains(ParseError(kX86, "haswell,opt_sz").message, "did you mean 'opt_size'?"));
  EXPECT_TRUE(Contains(ParseError(kX86, "haswell,size(2)").message, "unknown special flag"));
}

TEST(TargetParseErrorTest, MalformedBase) {
  for (const char *tok : {"base(", "base()", "base(x)", "base(1", "base(1)x", "base(-1)",
                          "base( 1)"}) {
    std::string text = std::string("generic;sandybridge,clone_all;haswell,") + tok;
    Failure f = ParseError(kX86, text);
    EXPECT_EQ(f.code, KILN_ERR_PARSE) << tok;
    EXPECT_TRUE(Contains(f.message, "target 2")) << f.message;
    EXPECT_TRUE(Contains(f.message, std::string("'") + tok + "'")) << f.message;
  }
  EXPECT_TRUE(Contains(ParseError(kX86, "generic;haswell,base(x)").message, "malformed base"));
  EXPECT_TRUE(Contains(ParseError(kX86, "generic;haswell,-base(0)").message, "cannot be disabled"));
  EXPECT_TRUE(Contains(ParseError(kX86, "generic;haswell,base(0),base(0)").message, "twice"));
}

TEST(TargetParseErrorTest, BaseOutOfRange) {
  Failure self = ParseError(kX86, "generic;haswell,clone_all,base(1)");
  EXPECT_TRUE(Contains(self.message, "target 1")) << self.message;
  EXPECT_TRUE(Contains(self.message, "'base(1)': base index out of range")) << self.message;
  EXPECT_TRUE(Contains(ParseError(kX86, "generic,base(0)").message, "target 0 has no earlier"));
  EXPECT_TRUE(Contains(ParseError(kX86, "generic;haswell,base(99999999999999)").message,
                       "out of range"));
}

TEST(TargetParseErrorTest, BaseMustBeCloneAll) {
  Failure f = ParseError(kX86, "generic;sandybridge;haswell,base(1)");
  EXPECT_EQ(f.code, KILN_ERR_PARSE);
  EXPECT_TRUE(Contains(f.message, "target 2")) << f.message;
  EXPECT_TRUE(Contains(f.message, "base target 1 is not clone_all")) << f.message;
  // -clone_all is not clone_all either.
  EXPECT_TRUE(Contains(ParseError(kX86, "generic;sandybridge,-clone_all;haswell,base(1)").message,
                       "not clone_all"));
  // Target 0 is always a valid base.
  EXPECT_EQ(Canonical(kX86, "generic;sandybridge;haswell,base(0)"),
            "generic;sandybridge;haswell");
}

TEST(TargetParseErrorTest, FeatureAddedAndRemoved) {
  Failure f = ParseError(kX86, "generic;haswell,avx2,-avx2");
  EXPECT_EQ(f.code, KILN_ERR_PARSE);
  EXPECT_TRUE(Contains(f.message, "target 1")) << f.message;
  EXPECT_TRUE(Contains(f.message, "'-avx2': feature is both added and removed")) << f.message;
  EXPECT_TRUE(Contains(ParseError(kX86, "haswell,clone_all,-clone_all").message,
                       "both added and removed"));
}

TEST(TargetParseErrorTest, OptSizeWithMinSize) {
  Failure f = ParseError(kX86, "haswell,opt_size,min_size");
  EXPECT_EQ(f.code, KILN_ERR_PARSE);
  EXPECT_TRUE(Contains(f.message, "'min_size': opt_size and min_size")) << f.message;
  EXPECT_TRUE(Contains(ParseError(kX86, "haswell,-opt_size").message, "cannot be disabled"));
}

TEST(TargetParseErrorTest, UnknownNamesSuggestNearest) {
  Failure cpu = ParseError(kX86, "generic;haswel");
  EXPECT_EQ(cpu.code, KILN_ERR_NOT_FOUND);
  EXPECT_TRUE(Contains(cpu.message, "target 1")) << cpu.message;
  EXPECT_TRUE(Contains(cpu.message, "'haswel': unknown x86_64 CPU; did you mean 'haswell'?"))
      << cpu.message;
  Failure feat = ParseError(kX86, "haswell,-avx512");
  EXPECT_EQ(feat.code, KILN_ERR_NOT_FOUND);
  EXPECT_TRUE(Contains(feat.message, "did you mean 'avx512f'?")) << feat.message;
  Failure sse = ParseError(kX86, "haswell,sse4_2");
  EXPECT_TRUE(Contains(sse.message, "unknown special flag")) << sse.message;
  Failure a64 = ParseError(kA64, "neoverse-n1,sve22");
  EXPECT_TRUE(Contains(a64.message, "unknown aarch64 feature; did you mean 'sve2'?"))
      << a64.message;
  Failure a64cpu = ParseError(kA64, "neoverse-n9");
  EXPECT_TRUE(Contains(a64cpu.message, "did you mean 'neoverse-n1'?")) << a64cpu.message;
  // An x86 feature is unknown on aarch64.
  EXPECT_EQ(ParseError(kA64, "generic,avx2").code, KILN_ERR_NOT_FOUND);
}

TEST(TargetParseErrorTest, InvalidCharacters) {
  EXPECT_TRUE(Contains(ParseError(kX86, "generic; haswell").message, "invalid character"));
  EXPECT_TRUE(Contains(ParseError(kX86, "haswell,av x2").message, "invalid character"));
  EXPECT_TRUE(Contains(ParseError(KILN_TARGET_ARCH_UNKNOWN, "cpu,f*").message,
                       "invalid character"));
  // Found by parse_fuzzer: "+-" printed as "-", which no longer parsed.
  EXPECT_TRUE(Contains(ParseError(KILN_TARGET_ARCH_UNKNOWN, "corei7,4,2,+-").message,
                       "'+-': empty feature name") ||
              Contains(ParseError(KILN_TARGET_ARCH_UNKNOWN, "corei7,4,2,+-").message,
                       "'+-': invalid character"));
  EXPECT_TRUE(Contains(ParseError(KILN_TARGET_ARCH_UNKNOWN, "cpu,+-x").message,
                       "invalid character"));
  EXPECT_TRUE(Contains(ParseError(KILN_TARGET_ARCH_UNKNOWN, "cpu,-.x").message,
                       "invalid character"));
}

}  // namespace
