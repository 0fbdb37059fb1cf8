// components/jit/jit_test.cc — kiln_jit on real bitcode: C compiled by
// clang-22 -O1 -emit-llvm at test time (under $TEST_TMPDIR), JIT'd and
// called. Covers plain functions, references resolved through the resolver
// (method keys and "kiln.import.<key>" cells), libc through the process,
// recompiling a symbol, concurrent compiles, every error class, and the
// runtime + jit end to end: a package method invalidated because its base
// dependency changed is compiled on first use and shows the new behaviour.
#include "components/jit/jit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "components/runtime/runtime.h"
#include "components/runtime/runtime_test_util.h"

namespace {

const char *kClang = "/usr/lib/llvm-22/bin/clang";

std::string TakeMessage(kiln_error_t *err) {
  std::string message = kiln_error_message(err);
  kiln_error_free(err);
  return message;
}

#define ASSERT_OK(expr)                                                \
  do {                                                                 \
    kiln_error_t *assert_ok_err_ = (expr);                             \
    ASSERT_EQ(assert_ok_err_, nullptr) << TakeMessage(assert_ok_err_); \
  } while (0)

// Compiles C source to bitcode with clang -O1; returns the bytes.
std::string Bitcode(const std::string &name, const std::string &source) {
  const char *dir = getenv("TEST_TMPDIR");
  std::string base = std::string(dir ? dir : "/tmp") + "/" + name;
  {
    std::ofstream out(base + ".c");
    out << source;
  }
  std::string cmd = std::string(kClang) + " -O1 -c -emit-llvm -o " + base + ".bc " + base + ".c";
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "clang failed: " << cmd;
    return "";
  }
  std::ifstream in(base + ".bc", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

extern "C" int host_base_f(void) { return 4; }
extern "C" int host_base_f_v2(void) { return 40; }

typedef int (*int_fn)(void);
typedef int (*int2_fn)(int, int);

class JitFixture : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(kiln_jit_new(&jit_)); }
  void TearDown() override { kiln_jit_free(jit_); }
  kiln_jit_t *jit_ = nullptr;
};

TEST_F(JitFixture, CompilesAndCalls) {
  std::string bc = Bitcode("add", "int add(int a, int b) { return a + b; }\n"
                                  "static int helper(int x) { return x * 3; }\n"
                                  "int triple(int x) { return helper(x); }\n");
  void *addr = nullptr;
  ASSERT_OK(kiln_jit_compile(jit_, bc.data(), bc.size(), "add", &addr));
  ASSERT_NE(addr, nullptr);
  EXPECT_EQ(reinterpret_cast<int2_fn>(addr)(2, 3), 5);
  // The same bitcode again (another version of the same symbol): no clash.
  void *again = nullptr;
  ASSERT_OK(kiln_jit_compile(jit_, bc.data(), bc.size(), "add", &again));
  EXPECT_NE(again, addr);
  EXPECT_EQ(reinterpret_cast<int2_fn>(again)(20, 3), 23);
  void *triple = nullptr;
  ASSERT_OK(kiln_jit_compile(jit_, bc.data(), bc.size(), "triple", &triple));
  EXPECT_EQ(reinterpret_cast<int (*)(int)>(triple)(5), 15);
}

TEST_F(JitFixture, ResolverAndProcessSymbols) {
  std::map<std::string, void *> table = {{"base_f", reinterpret_cast<void *>(&host_base_f)}};
  kiln_jit_set_resolver(
      jit_,
      [](void *user, const char *name) -> void * {
        auto *t = static_cast<std::map<std::string, void *> *>(user);
        auto it = t->find(name);
        return it == t->end() ? nullptr : it->second;
      },
      &table);
  std::string bc = Bitcode("use_f", "#include <string.h>\n"
                                    "int base_f(void);\n"
                                    "int use_f(void) { return base_f() * 10; }\n"
                                    "int use_libc(const char *s) { return (int)strlen(s); }\n");
  void *addr = nullptr;
  ASSERT_OK(kiln_jit_compile(jit_, bc.data(), bc.size(), "use_f", &addr));
  EXPECT_EQ(reinterpret_cast<int_fn>(addr)(), 40);
  ASSERT_OK(kiln_jit_compile(jit_, bc.data(), bc.size(), "use_libc", &addr));
  EXPECT_EQ(reinterpret_cast<int (*)(const char *)>(addr)("kiln"), 4);
}

TEST_F(JitFixture, UnresolvedSymbolIsAnError) {
  std::string bc = Bitcode("needs_g", "int nowhere_to_be_found_g(void);\n"
                                      "int needs_g(void) { return nowhere_to_be_found_g(); }\n");
  void *addr = reinterpret_cast<void *>(1);
  kiln_error_t *err = kiln_jit_compile(jit_, bc.data(), bc.size(), "needs_g", &addr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_LLVM);
  EXPECT_EQ(addr, nullptr);
  std::string message = TakeMessage(err);
  EXPECT_NE(message.find("needs_g"), std::string::npos) << message;
  EXPECT_NE(message.find("nowhere_to_be_found_g"), std::string::npos) << message;
  // The jit still works afterwards.
  std::string ok = Bitcode("ok", "int ok(void) { return 1; }\n");
  ASSERT_OK(kiln_jit_compile(jit_, ok.data(), ok.size(), "ok", &addr));
  EXPECT_EQ(reinterpret_cast<int_fn>(addr)(), 1);
}

TEST_F(JitFixture, BadInputsAreErrors) {
  void *addr = nullptr;
  const char junk[] = "definitely not bitcode";
  kiln_error_t *err = kiln_jit_compile(jit_, junk, sizeof(junk), "f", &addr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_PARSE);
  EXPECT_NE(TakeMessage(err).find("'f'"), std::string::npos);
  // Right magic, corrupt body: LLVM's diagnostic, and no exit.
  std::string bc = Bitcode("trunc", "int trunc_me(void) { return 3; }\n");
  std::string cut = bc.substr(0, bc.size() / 2);
  err = kiln_jit_compile(jit_, cut.data(), cut.size(), "trunc_me", &addr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_PARSE);
  EXPECT_NE(TakeMessage(err).find("invalid LLVM bitcode"), std::string::npos);
  err = kiln_jit_compile(jit_, bc.data(), bc.size(), "not_defined_here", &addr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(TakeMessage(err).find("not_defined_here"), std::string::npos);
  err = kiln_jit_compile(nullptr, bc.data(), bc.size(), "trunc_me", &addr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_jit_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  kiln_jit_free(nullptr);
}

TEST_F(JitFixture, ConcurrentCompiles) {
  constexpr int kThreads = 4;
  std::vector<std::string> bitcode;
  for (int i = 0; i < kThreads; i++)
    bitcode.push_back(Bitcode("conc" + std::to_string(i),
                              "int conc(void) { return " + std::to_string(100 + i) + "; }\n"));
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&, i] {
      void *addr = nullptr;
      kiln_error_t *err = kiln_jit_compile(jit_, bitcode[i].data(), bitcode[i].size(), "conc", &addr);
      if (err == nullptr && reinterpret_cast<int_fn>(addr)() == 100 + i) right++;
      kiln_error_free(err);
    });
  }
  for (std::thread &t : threads) t.join();
  EXPECT_EQ(right.load(), kThreads);
}

// ---- Runtime + jit ----------------------------------------------------------

using kiln_runtime_test::Encode;
using kiln_runtime_test::Image;
using kiln_runtime_test::Method;

extern "C" int pkg_p_image(void) { return -1; }  // the image's (stale) p
extern "C" int pkg_q_image(void) { return -2; }
extern "C" int pkg_r_image(void) { return -3; }

TEST(JitRuntimeTest, InvalidatedMethodCompilesOnFirstUseWithNewBehaviour) {
  kiln_jit_t *jit = nullptr;
  ASSERT_OK(kiln_jit_new(&jit));
  std::string trace = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                      "/jit_runtime_trace.txt";
  std::remove(trace.c_str());
  kiln_runtime_options_t *options = nullptr;
  ASSERT_OK(kiln_runtime_options_new(&options));
  kiln_runtime_options_set_compile(options, kiln_jit_compile_hook, jit);
  ASSERT_OK(kiln_runtime_options_set_trace_file(options, trace.c_str()));
  kiln_runtime_t *rt = nullptr;
  ASSERT_OK(kiln_runtime_new(options, &rt));
  kiln_runtime_options_free(options);
  kiln_jit_set_resolver(jit, kiln_runtime_resolve, rt);

  // Base: base_f (fingerprint 1), then changed to v2 (fingerprint 2).
  Image sys;
  sys.name = "sys";
  sys.methods = {Method{"base_f", "base_f", 1}};
  auto sys_blob = Encode(sys);
  ASSERT_NE(sys_blob, nullptr);
  std::vector<void *> sys_functions =
      sys_blob->FunctionTable({{"base_f", reinterpret_cast<void *>(&host_base_f)}});
  ASSERT_OK(kiln_runtime_install_system(rt, sys_blob->view(), sys_functions.data(), nullptr,
                                        "sys", nullptr));
  ASSERT_OK(kiln_runtime_install_method(rt, "base_f", reinterpret_cast<void *>(&host_base_f_v2), 2));

  // Package built against fingerprint 1: p calls base_f directly, r through
  // its import slot, q calls p inside the image.
  std::string p_bc = Bitcode("pkg_p", "int base_f(void);\n"
                                      "int p(void) { return base_f() + 1; }\n");
  std::string r_bc = Bitcode("pkg_r", "extern int (*slot)(void) __asm__(\"kiln.import.base_f\");\n"
                                      "int r(void) { return slot() + 2; }\n");
  std::string q_bc = Bitcode("pkg_q", "int p(void);\n"
                                      "int q(void) { return p() * 2; }\n");
  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {Method{"p", "p", 10, {}, {{"base_f", 1}}, p_bc},
                 Method{"q", "q", 20, {"p"}, {}, q_bc},
                 Method{"r", "r", 30, {}, {{"base_f", 1}}, r_bc}};
  auto pkg_blob = Encode(pkg);
  ASSERT_NE(pkg_blob, nullptr);
  std::vector<void *> pkg_functions =
      pkg_blob->FunctionTable({{"p", reinterpret_cast<void *>(&pkg_p_image)},
                               {"q", reinterpret_cast<void *>(&pkg_q_image)},
                               {"r", reinterpret_cast<void *>(&pkg_r_image)}});
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_package(rt, pkg_blob->view(), pkg_functions.data(), nullptr,
                                         "pkg", &report));
  EXPECT_EQ(kiln_runtime_report_installed_count(report), 0u);
  EXPECT_EQ(kiln_runtime_report_invalidated_count(report), 3u);
  EXPECT_EQ(kiln_runtime_report_find_invalidated(report, "q")->reason, KILN_RUNTIME_CALLS_INVALID);
  kiln_runtime_report_free(report);

  void *code = nullptr;
  ASSERT_OK(kiln_runtime_lookup(rt, "q", &code));  // compiles p, then q
  EXPECT_EQ(reinterpret_cast<int_fn>(code)(), (40 + 1) * 2);
  ASSERT_OK(kiln_runtime_lookup(rt, "p", &code));
  EXPECT_EQ(reinterpret_cast<int_fn>(code)(), 41);
  ASSERT_OK(kiln_runtime_lookup(rt, "r", &code));
  EXPECT_EQ(reinterpret_cast<int_fn>(code)(), 42);

  ASSERT_OK(kiln_runtime_report(rt, &report));
  EXPECT_EQ(kiln_runtime_report_compiled_count(report), 3u);
  char *text = nullptr;
  ASSERT_OK(kiln_runtime_report_format(report, &text));
  printf("%s", text);
  free(text);
  kiln_runtime_report_free(report);
  std::ifstream in(trace);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "p\nq\nr\n");

  // An error from the JIT names the method.
  ASSERT_OK(kiln_runtime_provide_bitcode(rt, "broken", "broken_sym",
                                         p_bc.data(), p_bc.size(), 5));
  kiln_error_t *err = kiln_runtime_lookup(rt, "broken", &code);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  std::string message = TakeMessage(err);
  EXPECT_NE(message.find("method 'broken'"), std::string::npos) << message;
  EXPECT_NE(message.find("broken_sym"), std::string::npos) << message;

  kiln_runtime_free(rt);
  kiln_jit_free(jit);
}

}  // namespace
