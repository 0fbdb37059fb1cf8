// components/runtime/runtime_test.cc — unit tests of the runtime: method
// table, system and package installs (dependency checks, transitive
// invalidation, exact reasons, import slots), compile on first use with a
// fake compile hook (once under concurrency, callees first, failures),
// tracing, reports and the CPU-target check. Images are real image_format
// blobs whose function tables point at functions of this test binary.
#include "components/runtime/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "components/runtime/runtime_test_util.h"

namespace {

using kiln_runtime_test::Blob;
using kiln_runtime_test::Encode;
using kiln_runtime_test::Image;
using kiln_runtime_test::Method;

extern "C" int base_f(void) { return 1; }
extern "C" int base_g(void) { return 2; }
extern "C" int base_f_v2(void) { return 10; }
extern "C" int pkg_p(void) { return 100; }
extern "C" int pkg_q(void) { return 200; }
extern "C" int pkg_r(void) { return 300; }
extern "C" int pkg_s(void) { return 400; }
extern "C" int pkg_t(void) { return 500; }
extern "C" int compiled_a(void) { return 7; }
extern "C" int compiled_b(void) { return 8; }

typedef int (*int_fn)(void);

int Call(void *code) { return reinterpret_cast<int_fn>(code)(); }

std::string TakeMessage(kiln_error_t *err) {
  std::string message = kiln_error_message(err);
  kiln_error_free(err);
  return message;
}

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    kiln_error_t *assert_ok_err_ = (expr);                           \
    ASSERT_EQ(assert_ok_err_, nullptr) << TakeMessage(assert_ok_err_); \
  } while (0)

std::string TempPath(const std::string &name) {
  const char *dir = getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string ReadFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::map<std::string, void *> kSymbols = {
    {"base_f", reinterpret_cast<void *>(&base_f)}, {"base_g", reinterpret_cast<void *>(&base_g)},
    {"pkg_p", reinterpret_cast<void *>(&pkg_p)},   {"pkg_q", reinterpret_cast<void *>(&pkg_q)},
    {"pkg_r", reinterpret_cast<void *>(&pkg_r)},   {"pkg_s", reinterpret_cast<void *>(&pkg_s)},
    {"pkg_t", reinterpret_cast<void *>(&pkg_t)},
};

// A fake compile hook: counts calls, records the order of keys, optionally
// sleeps (to widen races) or fails, and returns a function of this binary.
struct FakeCompiler {
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> order;
  std::map<std::string, void *> code;  // key -> result; missing: error
  int sleep_ms = 0;

  static kiln_error_t *Hook(void *user, const char *key, const char *symbol, const void *bitcode,
                            size_t size, void **code_out) {
    auto *self = static_cast<FakeCompiler *>(user);
    *code_out = nullptr;
    self->calls++;
    {
      std::lock_guard<std::mutex> lock(self->mu);
      self->order.push_back(std::string(key) + ":" + symbol);
    }
    if (self->sleep_ms) std::this_thread::sleep_for(std::chrono::milliseconds(self->sleep_ms));
    auto it = self->code.find(key);
    if (it == self->code.end() || size == 0 || bitcode == nullptr)
      return kiln_error_new(KILN_ERR_LLVM, "fake compiler: cannot compile %s", key);
    *code_out = it->second;
    return nullptr;
  }
};

class RuntimeFixture : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(kiln_runtime_options_new(&options_)); }
  void TearDown() override {
    kiln_runtime_free(rt_);
    kiln_runtime_options_free(options_);
  }
  void Start() { ASSERT_OK(kiln_runtime_new(options_, &rt_)); }
  void UseCompiler() {
    kiln_runtime_options_set_compile(options_, &FakeCompiler::Hook, &compiler_);
  }
  // Installs a system image with base_f as "f" (fp 0xf1) and base_g as "g" (0x91).
  void InstallBase() {
    Image sys;
    sys.name = "sys";
    sys.methods = {Method{"f", "base_f", 0xf1}, Method{"g", "base_g", 0x91}};
    base_ = Encode(sys);
    ASSERT_NE(base_, nullptr);
    std::vector<void *> functions = base_->FunctionTable(kSymbols);
    ASSERT_OK(kiln_runtime_install_system(rt_, base_->view(), functions.data(), nullptr, "sys",
                                          nullptr));
  }
  int LookupAndCall(const char *key) {
    void *code = nullptr;
    kiln_error_t *err = kiln_runtime_lookup(rt_, key, &code);
    if (err != nullptr) {
      ADD_FAILURE() << TakeMessage(err);
      return -1;
    }
    return Call(code);
  }

  kiln_runtime_options_t *options_ = nullptr;
  kiln_runtime_t *rt_ = nullptr;
  FakeCompiler compiler_;
  std::unique_ptr<Blob> base_;
};

// ---- Method table ------------------------------------------------------

TEST_F(RuntimeFixture, MethodTableInstallReplaceLookup) {
  Start();
  ASSERT_OK(kiln_runtime_install_method(rt_, "f", reinterpret_cast<void *>(&base_f), 11));
  EXPECT_EQ(LookupAndCall("f"), 1);
  uint64_t fp = 0;
  ASSERT_OK(kiln_runtime_fingerprint(rt_, "f", &fp));
  EXPECT_EQ(fp, 11u);
  ASSERT_OK(kiln_runtime_install_method(rt_, "f", reinterpret_cast<void *>(&base_f_v2), 12));
  EXPECT_EQ(LookupAndCall("f"), 10);
  void *code = nullptr;
  ASSERT_OK(kiln_runtime_find(rt_, "f", &code, &fp));
  EXPECT_EQ(code, reinterpret_cast<void *>(&base_f_v2));
  EXPECT_EQ(fp, 12u);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_report(rt_, &report));
  ASSERT_EQ(kiln_runtime_report_installed_count(report), 2u);
  const kiln_runtime_installed_t *second = kiln_runtime_report_installed(report, 1);
  EXPECT_TRUE(second->replaced);
  EXPECT_EQ(second->previous_fingerprint, 11u);
  EXPECT_EQ(kiln_runtime_report_installed(report, 2), nullptr);
  kiln_runtime_report_free(report);
}

TEST_F(RuntimeFixture, MethodTableGrowsPastInitialCapacity) {
  Start();
  for (int i = 0; i < 1000; i++) {
    std::string key = "m" + std::to_string(i);
    ASSERT_OK(kiln_runtime_install_method(rt_, key.c_str(),
                                          reinterpret_cast<void *>(i % 2 ? &base_f : &base_g), i));
  }
  for (int i = 0; i < 1000; i++) {
    std::string key = "m" + std::to_string(i);
    uint64_t fp = 0;
    ASSERT_OK(kiln_runtime_fingerprint(rt_, key.c_str(), &fp));
    EXPECT_EQ(fp, static_cast<uint64_t>(i));
    EXPECT_EQ(LookupAndCall(key.c_str()), i % 2 ? 1 : 2);
  }
}

TEST_F(RuntimeFixture, MethodTableErrors) {
  Start();
  kiln_error_t *err = kiln_runtime_install_method(rt_, "f", nullptr, 1);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_runtime_install_method(rt_, "", reinterpret_cast<void *>(&base_f), 1);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_runtime_install_method(nullptr, "f", reinterpret_cast<void *>(&base_f), 1);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  void *code = reinterpret_cast<void *>(1);
  err = kiln_runtime_lookup(rt_, "nope", &code);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(code, nullptr);
  EXPECT_NE(TakeMessage(err).find("'nope'"), std::string::npos);
  uint64_t fp = 5;
  err = kiln_runtime_fingerprint(rt_, "nope", &fp);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(fp, 0u);
  kiln_error_free(err);
  err = kiln_runtime_find(rt_, nullptr, nullptr, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_runtime_lookup(rt_, "f", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(RuntimeOptionsTest, TraceFileErrors) {
  kiln_runtime_options_t *options = nullptr;
  ASSERT_OK(kiln_runtime_options_new(&options));
  kiln_error_t *err = kiln_runtime_options_set_trace_file(options, "");
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  ASSERT_OK(kiln_runtime_options_set_trace_file(options, "/nonexistent-dir/trace.txt"));
  kiln_runtime_t *rt = reinterpret_cast<kiln_runtime_t *>(1);
  err = kiln_runtime_new(options, &rt);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_IO);
  EXPECT_EQ(rt, nullptr);
  EXPECT_NE(TakeMessage(err).find("/nonexistent-dir/trace.txt"), std::string::npos);
  kiln_runtime_options_free(options);
  err = kiln_runtime_options_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  kiln_runtime_options_free(nullptr);
  kiln_runtime_free(nullptr);
}

// ---- System image --------------------------------------------------------

TEST_F(RuntimeFixture, SystemInstallsEveryMethod) {
  Start();
  Image sys;
  sys.name = "sys";
  sys.methods = {Method{"f", "base_f", 0xf1}, Method{"g", "base_g", 0x91}};
  auto blob = Encode(sys);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_system(rt_, blob->view(), functions.data(), nullptr, "sys",
                                        &report));
  EXPECT_EQ(LookupAndCall("f"), 1);
  EXPECT_EQ(LookupAndCall("g"), 2);
  ASSERT_EQ(kiln_runtime_report_installed_count(report), 2u);
  EXPECT_STREQ(kiln_runtime_report_installed(report, 0)->key, "f");
  EXPECT_STREQ(kiln_runtime_report_installed(report, 0)->image, "sys");
  EXPECT_EQ(kiln_runtime_report_installed(report, 0)->fingerprint, 0xf1u);
  EXPECT_FALSE(kiln_runtime_report_installed(report, 0)->replaced);
  EXPECT_EQ(kiln_runtime_report_invalidated_count(report), 0u);
  kiln_runtime_report_free(report);
}

TEST_F(RuntimeFixture, SystemInstallRejectsBadInputAndInstallsNothing) {
  Start();
  Image sys;
  sys.methods = {Method{"f", "base_f", 1}, Method{"zzz", "missing_symbol", 2}};
  auto blob = Encode(sys);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  kiln_runtime_report_t *report = reinterpret_cast<kiln_runtime_report_t *>(1);
  kiln_error_t *err =
      kiln_runtime_install_system(rt_, blob->view(), functions.data(), nullptr, "sys", &report);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(TakeMessage(err).find("'zzz'"), std::string::npos);
  EXPECT_EQ(report, nullptr);
  err = kiln_runtime_find(rt_, "f", nullptr, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);

  // A package view is not a system image.
  Image pkg;
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {Method{"p", "pkg_p", 1}};
  auto pblob = Encode(pkg);
  ASSERT_NE(pblob, nullptr);
  std::vector<void *> pfunctions = pblob->FunctionTable(kSymbols);
  err = kiln_runtime_install_system(rt_, pblob->view(), pfunctions.data(), nullptr, "pkg", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(TakeMessage(err).find("package image"), std::string::npos);
  err = kiln_runtime_install_package(rt_, blob->view(), functions.data(), nullptr, "sys", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_runtime_install_system(rt_, nullptr, functions.data(), nullptr, "sys", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);

  // A load view (no directory: no names, no methods) is rejected.
  Image ok;
  ok.methods = {Method{"f", "base_f", 1}};
  auto okblob = Encode(ok);
  ASSERT_NE(okblob, nullptr);
  kiln_image_format_t *load_view = nullptr;
  ASSERT_OK(kiln_image_format_open_load(okblob->data_, okblob->size_, "img", &load_view));
  std::vector<void *> okfunctions = okblob->FunctionTable(kSymbols);
  err = kiln_runtime_install_system(rt_, load_view, okfunctions.data(), nullptr, "sys", nullptr);
  kiln_image_format_close(load_view);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(TakeMessage(err).find("no directory"), std::string::npos);
  err = kiln_runtime_find(rt_, "f", nullptr, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);
}

// Format 5 numbers functions and globals shard by shard, in any order within
// a shard: nothing may assume index order is name order. Here the indices
// are in reverse name order; methods reach their own functions, and import
// records still come in key order with the slots' real global indices.
TEST_F(RuntimeFixture, IndicesNeedNotFollowNameOrder) {
  Start();
  Image sys;
  sys.name = "sys";
  sys.methods = {Method{"f", "base_f", 0xf1}, Method{"g", "base_g", 0x91}};
  sys.reverse_index_order = true;
  auto blob = Encode(sys);
  ASSERT_NE(blob, nullptr);
  ASSERT_EQ(kiln_image_format_function_count(blob->view()), 2u);
  EXPECT_STREQ(kiln_image_format_function_name(blob->view(), 0), "base_g");
  EXPECT_EQ(kiln_image_format_function_by_name(blob->view(), 0), 1u);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  ASSERT_OK(kiln_runtime_install_system(rt_, blob->view(), functions.data(), nullptr, "sys",
                                        nullptr));
  EXPECT_EQ(LookupAndCall("f"), 1);
  EXPECT_EQ(LookupAndCall("g"), 2);

  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {Method{"p", "pkg_p", 1, {}, {{"f", 0xf1}}}, Method{"q", "pkg_q", 2, {"p"}, {}}};
  pkg.globals = {"kiln.import.f", "kiln.import.zz", "plain"};
  pkg.reverse_index_order = true;
  auto pblob = Encode(pkg);
  ASSERT_NE(pblob, nullptr);
  EXPECT_STREQ(kiln_image_format_global_name(pblob->view(), 0), "plain");
  EXPECT_STREQ(kiln_image_format_global_name(pblob->view(), 2), "kiln.import.f");
  std::vector<void *> pfunctions = pblob->FunctionTable(kSymbols);
  void *slot_f_rev = nullptr, *slot_zz_rev = reinterpret_cast<void *>(1);
  int plain = 0;
  std::vector<void *> globals = pblob->GlobalTable(
      {{"kiln.import.f", &slot_f_rev}, {"kiln.import.zz", &slot_zz_rev}, {"plain", &plain}});
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_package(rt_, pblob->view(), pfunctions.data(), globals.data(),
                                         "pkg", &report));
  EXPECT_EQ(LookupAndCall("p"), 100);
  EXPECT_EQ(LookupAndCall("q"), 200);
  EXPECT_EQ(slot_f_rev, reinterpret_cast<void *>(&base_f));
  EXPECT_EQ(slot_zz_rev, nullptr);
  EXPECT_EQ(plain, 0);
  ASSERT_EQ(kiln_runtime_report_import_count(report), 2u);
  EXPECT_STREQ(kiln_runtime_report_import(report, 0)->key, "f");
  EXPECT_EQ(kiln_runtime_report_import(report, 0)->global, 2u);
  EXPECT_STREQ(kiln_runtime_report_import(report, 1)->key, "zz");
  EXPECT_EQ(kiln_runtime_report_import(report, 1)->global, 1u);
  ASSERT_EQ(kiln_runtime_report_installed_count(report), 2u);
  EXPECT_STREQ(kiln_runtime_report_installed(report, 0)->key, "p");
  kiln_runtime_report_free(report);

  // The missing-address check names the slot, found through the name index.
  globals[2] = nullptr;  // kiln.import.f
  kiln_error_t *err = kiln_runtime_install_package(rt_, pblob->view(), pfunctions.data(),
                                                   globals.data(), "pkg", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(TakeMessage(err).find("'kiln.import.f' (global 2)"), std::string::npos);
}

// ---- Package image -------------------------------------------------------

TEST_F(RuntimeFixture, PackageValidMissingChangedAndTransitive) {
  Start();
  InstallBase();
  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {
      Method{"p", "pkg_p", 0x10, {}, {{"f", 0xf1}}},               // valid
      Method{"q", "pkg_q", 0x20, {}, {{"f", 0xf1}, {"g", 0x99}}},  // g changed
      Method{"r", "pkg_r", 0x30, {}, {{"h", 0x55}}},               // h missing
      Method{"s", "pkg_s", 0x40, {"p", "q"}, {}},                  // calls q
      Method{"t", "pkg_t", 0x50, {"s"}, {{"f", 0xf1}}},            // calls s
  };
  auto blob = Encode(pkg);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_package(rt_, blob->view(), functions.data(), nullptr, "pkg",
                                         &report));
  ASSERT_EQ(kiln_runtime_report_installed_count(report), 1u);
  EXPECT_STREQ(kiln_runtime_report_installed(report, 0)->key, "p");
  EXPECT_EQ(LookupAndCall("p"), 100);
  ASSERT_EQ(kiln_runtime_report_invalidated_count(report), 4u);

  const kiln_runtime_invalidated_t *q = kiln_runtime_report_find_invalidated(report, "q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->reason, KILN_RUNTIME_DEP_CHANGED);
  EXPECT_STREQ(q->dep_key, "g");
  EXPECT_EQ(q->expected, 0x99u);
  EXPECT_EQ(q->found, 0x91u);
  EXPECT_EQ(q->callee, nullptr);
  EXPECT_STREQ(q->image, "pkg");

  const kiln_runtime_invalidated_t *r = kiln_runtime_report_find_invalidated(report, "r");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->reason, KILN_RUNTIME_DEP_MISSING);
  EXPECT_STREQ(r->dep_key, "h");
  EXPECT_EQ(r->expected, 0x55u);
  EXPECT_EQ(r->found, 0u);

  const kiln_runtime_invalidated_t *s = kiln_runtime_report_find_invalidated(report, "s");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->reason, KILN_RUNTIME_CALLS_INVALID);
  EXPECT_STREQ(s->callee, "q");
  EXPECT_EQ(s->root_reason, KILN_RUNTIME_DEP_CHANGED);
  EXPECT_STREQ(s->dep_key, "g");

  const kiln_runtime_invalidated_t *t = kiln_runtime_report_find_invalidated(report, "t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->reason, KILN_RUNTIME_CALLS_INVALID);
  EXPECT_STREQ(t->callee, "s");
  EXPECT_STREQ(t->dep_key, "g");
  EXPECT_FALSE(t->has_bitcode);

  // Invalid methods are not installed; without bitcode a call says why.
  void *code = nullptr;
  kiln_error_t *err = kiln_runtime_lookup(rt_, "t", &code);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  std::string message = TakeMessage(err);
  EXPECT_NE(message.find("calls invalid 's'"), std::string::npos) << message;
  EXPECT_NE(message.find("dependency 'g' changed"), std::string::npos) << message;
  kiln_runtime_report_free(report);
}

TEST_F(RuntimeFixture, PackageDiamondAndChainReasons) {
  Start();
  InstallBase();
  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  // a -> b -> d, a -> c -> d, d depends on missing "h"; e -> a (chain); x ok.
  pkg.methods = {
      Method{"a", "pkg_p", 1, {"b", "c"}, {}}, Method{"b", "pkg_q", 2, {"d"}, {}},
      Method{"c", "pkg_r", 3, {"d"}, {}},      Method{"d", "pkg_s", 4, {}, {{"h", 9}}},
      Method{"e", "pkg_t", 5, {"a"}, {}},      Method{"x", "pkg_t", 6, {}, {{"g", 0x91}}},
  };
  auto blob = Encode(pkg);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_package(rt_, blob->view(), functions.data(), nullptr, "pkg",
                                         &report));
  ASSERT_EQ(kiln_runtime_report_installed_count(report), 1u);
  EXPECT_STREQ(kiln_runtime_report_installed(report, 0)->key, "x");
  ASSERT_EQ(kiln_runtime_report_invalidated_count(report), 5u);
  struct Want {
    const char *key;
    kiln_runtime_reason_t reason;
    const char *callee;
  };
  for (const Want &want : {Want{"a", KILN_RUNTIME_CALLS_INVALID, "b"},
                           Want{"b", KILN_RUNTIME_CALLS_INVALID, "d"},
                           Want{"c", KILN_RUNTIME_CALLS_INVALID, "d"},
                           Want{"d", KILN_RUNTIME_DEP_MISSING, nullptr},
                           Want{"e", KILN_RUNTIME_CALLS_INVALID, "a"}}) {
    const kiln_runtime_invalidated_t *rec = kiln_runtime_report_find_invalidated(report, want.key);
    ASSERT_NE(rec, nullptr) << want.key;
    EXPECT_EQ(rec->reason, want.reason) << want.key;
    EXPECT_EQ(rec->root_reason, KILN_RUNTIME_DEP_MISSING) << want.key;
    EXPECT_STREQ(rec->dep_key, "h") << want.key;
    if (want.callee)
      EXPECT_STREQ(rec->callee, want.callee) << want.key;
    else
      EXPECT_EQ(rec->callee, nullptr) << want.key;
  }
  // Records come in method-key order.
  EXPECT_STREQ(kiln_runtime_report_invalidated(report, 0)->key, "a");
  EXPECT_STREQ(kiln_runtime_report_invalidated(report, 4)->key, "e");
  kiln_runtime_report_free(report);
}

TEST_F(RuntimeFixture, ChangedBaseFunctionInvalidatesDependents) {
  // The scenario in miniature: base f replaced (new fingerprint)
  // before the package loads; its dependents and their callers are invalid,
  // and calling one compiles it from bitcode, giving the new behaviour.
  UseCompiler();
  compiler_.code["p"] = reinterpret_cast<void *>(&compiled_a);
  compiler_.code["s"] = reinterpret_cast<void *>(&compiled_b);
  Start();
  InstallBase();
  ASSERT_OK(kiln_runtime_install_method(rt_, "f", reinterpret_cast<void *>(&base_f_v2), 0xf2));
  EXPECT_EQ(LookupAndCall("f"), 10);
  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {
      Method{"p", "pkg_p", 0x10, {}, {{"f", 0xf1}}, "BC-p"},
      Method{"q", "pkg_q", 0x20, {}, {{"g", 0x91}}},
      Method{"s", "pkg_s", 0x40, {"p", "q"}, {}, "BC-s"},
  };
  auto blob = Encode(pkg);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_package(rt_, blob->view(), functions.data(), nullptr, "pkg",
                                         &report));
  const kiln_runtime_invalidated_t *p = kiln_runtime_report_find_invalidated(report, "p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->reason, KILN_RUNTIME_DEP_CHANGED);
  EXPECT_EQ(p->expected, 0xf1u);
  EXPECT_EQ(p->found, 0xf2u);
  EXPECT_TRUE(p->has_bitcode);
  const kiln_runtime_invalidated_t *s = kiln_runtime_report_find_invalidated(report, "s");
  ASSERT_NE(s, nullptr);
  EXPECT_STREQ(s->callee, "p");
  EXPECT_EQ(LookupAndCall("q"), 200);  // valid: installed from the image

  // s first compiles its invalid callee p (so the JIT can resolve it).
  EXPECT_EQ(LookupAndCall("s"), 8);
  ASSERT_EQ(compiler_.order.size(), 2u);
  EXPECT_EQ(compiler_.order[0], "p:pkg_p");
  EXPECT_EQ(compiler_.order[1], "s:pkg_s");
  EXPECT_EQ(LookupAndCall("p"), 7);
  EXPECT_EQ(compiler_.calls.load(), 2);
  uint64_t fp = 0;
  ASSERT_OK(kiln_runtime_fingerprint(rt_, "p", &fp));
  EXPECT_EQ(fp, 0x10u);
  kiln_runtime_report_free(report);

  ASSERT_OK(kiln_runtime_report(rt_, &report));
  ASSERT_EQ(kiln_runtime_report_compiled_count(report), 2u);
  EXPECT_STREQ(kiln_runtime_report_compiled(report, 0)->key, "p");
  EXPECT_STREQ(kiln_runtime_report_compiled(report, 0)->origin, "pkg");
  EXPECT_EQ(kiln_runtime_report_compiled(report, 0)->fingerprint, 0x10u);
  kiln_runtime_report_free(report);
}

// Import slots: pointer globals the runtime fills with current code.
void *slot_f = nullptr;
void *slot_missing = reinterpret_cast<void *>(1);
int plain_global = 0;

TEST_F(RuntimeFixture, PackageImportSlotsFilled) {
  Start();
  InstallBase();
  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {Method{"p", "pkg_p", 1, {}, {{"f", 0xf1}}}};
  pkg.globals = {"kiln.import.f", "kiln.import.zz", "plain"};
  auto blob = Encode(pkg);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  std::vector<void *> globals =
      blob->GlobalTable({{"kiln.import.f", &slot_f},
                         {"kiln.import.zz", &slot_missing},
                         {"plain", &plain_global}});
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_install_package(rt_, blob->view(), functions.data(), globals.data(),
                                         "pkg", &report));
  EXPECT_EQ(slot_f, reinterpret_cast<void *>(&base_f));
  EXPECT_EQ(Call(slot_f), 1);
  EXPECT_EQ(slot_missing, nullptr);
  EXPECT_EQ(plain_global, 0);
  ASSERT_EQ(kiln_runtime_report_import_count(report), 2u);
  EXPECT_STREQ(kiln_runtime_report_import(report, 0)->key, "f");
  EXPECT_TRUE(kiln_runtime_report_import(report, 0)->filled);
  EXPECT_EQ(kiln_runtime_report_import(report, 0)->fingerprint, 0xf1u);
  EXPECT_STREQ(kiln_runtime_report_import(report, 1)->key, "zz");
  EXPECT_FALSE(kiln_runtime_report_import(report, 1)->filled);
  kiln_runtime_report_free(report);

  // Without a global table, an image with import slots is rejected.
  kiln_error_t *err =
      kiln_runtime_install_package(rt_, blob->view(), functions.data(), nullptr, "pkg", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(TakeMessage(err).find("kiln.import.f"), std::string::npos);
}

TEST_F(RuntimeFixture, ResolveGivesCodeAndImportCells) {
  Start();
  InstallBase();
  EXPECT_EQ(kiln_runtime_resolve(rt_, "f"), reinterpret_cast<void *>(&base_f));
  EXPECT_EQ(kiln_runtime_resolve(rt_, "nope"), nullptr);
  EXPECT_EQ(kiln_runtime_resolve(rt_, "kiln.import.nope"), nullptr);
  EXPECT_EQ(kiln_runtime_resolve(nullptr, "f"), nullptr);
  void **cell = static_cast<void **>(kiln_runtime_resolve(rt_, "kiln.import.f"));
  ASSERT_NE(cell, nullptr);
  EXPECT_EQ(*cell, reinterpret_cast<void *>(&base_f));
  ASSERT_OK(kiln_runtime_install_method(rt_, "f", reinterpret_cast<void *>(&base_f_v2), 2));
  EXPECT_EQ(*cell, reinterpret_cast<void *>(&base_f_v2));  // the cell follows replacements
}

// ---- Compile on first use -------------------------------------------------

TEST_F(RuntimeFixture, ConcurrentFirstCallsCompileOnce) {
  UseCompiler();
  compiler_.code["k"] = reinterpret_cast<void *>(&compiled_a);
  compiler_.sleep_ms = 50;
  Start();
  ASSERT_OK(kiln_runtime_provide_bitcode(rt_, "k", "k_sym", "BC", 2, 0x77));
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int i = 0; i < 8; i++) {
    threads.emplace_back([&] {
      void *code = nullptr;
      kiln_error_t *err = kiln_runtime_lookup(rt_, "k", &code);
      if (err == nullptr && Call(code) == 7) right++;
      kiln_error_free(err);
    });
  }
  for (std::thread &t : threads) t.join();
  EXPECT_EQ(right.load(), 8);
  EXPECT_EQ(compiler_.calls.load(), 1);
  EXPECT_EQ(compiler_.order[0], "k:k_sym");
}

TEST_F(RuntimeFixture, CompileFailuresAndMissingHook) {
  Start();  // no compile hook
  ASSERT_OK(kiln_runtime_provide_bitcode(rt_, "k", nullptr, "BC", 2, 1));
  void *code = nullptr;
  kiln_error_t *err = kiln_runtime_lookup(rt_, "k", &code);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_UNSUPPORTED);
  kiln_error_free(err);
  err = kiln_runtime_provide_bitcode(rt_, "k", nullptr, nullptr, 0, 1);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_runtime_provide_bitcode(rt_, "", nullptr, "BC", 2, 1);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST_F(RuntimeFixture, CompileFailureIsStickyUntilNewBitcode) {
  UseCompiler();  // knows no key yet: fails
  Start();
  ASSERT_OK(kiln_runtime_provide_bitcode(rt_, "k", nullptr, "BC", 2, 1));
  void *code = nullptr;
  kiln_error_t *err = kiln_runtime_lookup(rt_, "k", &code);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_LLVM);
  std::string first = TakeMessage(err);
  EXPECT_NE(first.find("method 'k': compile on first use failed"), std::string::npos) << first;
  err = kiln_runtime_lookup(rt_, "k", &code);
  EXPECT_EQ(TakeMessage(err), first);
  EXPECT_EQ(compiler_.calls.load(), 1);
  compiler_.code["k"] = reinterpret_cast<void *>(&compiled_b);
  ASSERT_OK(kiln_runtime_provide_bitcode(rt_, "k", nullptr, "BC2", 3, 2));
  EXPECT_EQ(LookupAndCall("k"), 8);
  EXPECT_EQ(compiler_.calls.load(), 2);
}

// ---- Tracing -------------------------------------------------------------

TEST_F(RuntimeFixture, TraceRecordsFirstCallsOnly) {
  std::string path = TempPath("trace_first_calls.txt");
  std::remove(path.c_str());
  ASSERT_OK(kiln_runtime_options_set_trace_file(options_, path.c_str()));
  UseCompiler();
  compiler_.code["b(i64)"] = reinterpret_cast<void *>(&compiled_b);
  compiler_.code["a"] = reinterpret_cast<void *>(&compiled_a);
  Start();
  InstallBase();
  ASSERT_OK(kiln_runtime_provide_bitcode(rt_, "b(i64)", "b", "BC", 2, 1));
  ASSERT_OK(kiln_runtime_provide_bitcode(rt_, "a", nullptr, "BC", 2, 2));
  EXPECT_EQ(LookupAndCall("f"), 1);  // from an image: not traced
  EXPECT_EQ(LookupAndCall("b(i64)"), 8);
  EXPECT_EQ(LookupAndCall("b(i64)"), 8);
  EXPECT_EQ(LookupAndCall("a"), 7);
  EXPECT_EQ(LookupAndCall("b(i64)"), 8);
  EXPECT_EQ(ReadFile(path), "b(i64)\na\n");

  // A second run whose table already has them (as a build from the trace
  // would): nothing new is traced.
  kiln_runtime_free(rt_);
  rt_ = nullptr;
  Start();
  InstallBase();
  ASSERT_OK(kiln_runtime_install_method(rt_, "b(i64)", reinterpret_cast<void *>(&compiled_b), 1));
  ASSERT_OK(kiln_runtime_install_method(rt_, "a", reinterpret_cast<void *>(&compiled_a), 2));
  EXPECT_EQ(LookupAndCall("b(i64)"), 8);
  EXPECT_EQ(LookupAndCall("a"), 7);
  EXPECT_EQ(ReadFile(path), "b(i64)\na\n");
}

// ---- Reports -------------------------------------------------------------

TEST_F(RuntimeFixture, ReportFormatLines) {
  UseCompiler();
  compiler_.code["q"] = reinterpret_cast<void *>(&compiled_a);
  Start();
  InstallBase();
  Image pkg;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.methods = {Method{"p", "pkg_p", 0x10, {"q"}, {}},
                 Method{"q", "pkg_q", 0x20, {}, {{"g", 0x99}}, "BC"},
                 Method{"r", "pkg_r", 0x30, {}, {{"h", 0x55}}}};
  pkg.globals = {"kiln.import.g"};
  auto blob = Encode(pkg);
  ASSERT_NE(blob, nullptr);
  std::vector<void *> functions = blob->FunctionTable(kSymbols);
  void *slot = nullptr;
  std::vector<void *> globals = blob->GlobalTable({{"kiln.import.g", &slot}});
  ASSERT_OK(kiln_runtime_install_package(rt_, blob->view(), functions.data(), globals.data(),
                                         "pkg", nullptr));
  EXPECT_EQ(LookupAndCall("q"), 7);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_OK(kiln_runtime_report(rt_, &report));
  char *text = nullptr;
  ASSERT_OK(kiln_runtime_report_format(report, &text));
  std::string s = text;
  free(text);
  kiln_runtime_report_free(report);
  for (const char *line : {
           "runtime report: 2 installed, 3 invalidated, 1 import slots (0 unfilled), 1 compiled "
           "on first use\n",
           "installed   sys f fingerprint 0x00000000000000f1\n",
           "invalidated pkg p: calls invalid q (dependency g changed (expected 0x0000000000000099, "
           "found 0x0000000000000091)); no bitcode\n",
           "invalidated pkg q: dependency g changed (expected 0x0000000000000099, found "
           "0x0000000000000091); bitcode kept\n",
           "invalidated pkg r: dependency h missing (expected 0x0000000000000055); no bitcode\n",
           "import      pkg g: filled (fingerprint 0x0000000000000091)\n",
           "compiled    q on first use from pkg (fingerprint 0x0000000000000020, ",
       }) {
    EXPECT_NE(s.find(line), std::string::npos) << "missing: " << line << "in:\n" << s;
  }
  EXPECT_STREQ(kiln_runtime_reason_name(KILN_RUNTIME_DEP_MISSING), "dep-missing");
  EXPECT_STREQ(kiln_runtime_reason_name(KILN_RUNTIME_DEP_CHANGED), "dep-changed");
  EXPECT_STREQ(kiln_runtime_reason_name(KILN_RUNTIME_CALLS_INVALID), "calls-invalid");
  EXPECT_STREQ(kiln_runtime_reason_name(static_cast<kiln_runtime_reason_t>(99)), "unknown");
  kiln_error_t *err = kiln_runtime_report_format(nullptr, &text);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(text, nullptr);
  kiln_error_free(err);
  err = kiln_runtime_report(nullptr, &report);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

// ---- CPU targets -----------------------------------------------------------

TEST(RuntimeTargetsTest, MatchingTargetsPass) {
  Image base;
  base.name = "sys";
  base.targets = {{"generic", "+sse2,+cx8"}, {"haswell", "+avx2,+fma,+sse2"}};
  base.methods = {Method{"f", "base_f", 1}};
  auto blob = Encode(base);
  ASSERT_NE(blob, nullptr);
  kiln_image_format_target_t same[] = {{"generic", "+cx8,+sse2", 0, 0},
                                       {"haswell", "+sse2,+fma,+avx2", 0, 0}};
  ASSERT_OK(kiln_runtime_check_targets(blob->view(), same, 2));

  Image pkg = base;
  pkg.name = "pkg";
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.base_checksum = kiln_image_format_checksum(blob->view());
  auto pblob = Encode(pkg);
  ASSERT_NE(pblob, nullptr);
  ASSERT_OK(kiln_runtime_check_package_targets(blob->view(), pblob->view()));
}

TEST(RuntimeTargetsTest, MismatchesAreListed) {
  Image base;
  base.name = "sys";
  base.targets = {{"generic", "+sse2"}, {"haswell", "+avx2,+fma,+sse2"}, {"znver3", "+avx2"}};
  auto blob = Encode(base);
  ASSERT_NE(blob, nullptr);
  kiln_image_format_target_t other[] = {{"generic", "+sse2", 0, 0},
                                        {"haswell", "+avx2,+sse2,+bmi2", 0, 0}};
  kiln_error_t *err = kiln_runtime_check_targets(blob->view(), other, 2);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  std::string message = TakeMessage(err);
  EXPECT_NE(message.find("3 targets in base, 2 in package"), std::string::npos) << message;
  EXPECT_NE(message.find("target 1 (haswell): features differ: only in base: +fma; only in "
                         "package: +bmi2"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("target 2 (znver3): only in base"), std::string::npos) << message;

  kiln_image_format_target_t cpu[] = {{"generic", "+sse2", 0, 0},
                                      {"skylake", "+avx2,+fma,+sse2", 0, 0},
                                      {"znver3", "+avx2", 0, 0}};
  err = kiln_runtime_check_targets(blob->view(), cpu, 3);
  message = TakeMessage(err);
  EXPECT_NE(message.find("target 1: cpu haswell in base, skylake in package"), std::string::npos)
      << message;

  Image pkg = base;
  pkg.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  pkg.base_checksum = 1234;
  auto pblob = Encode(pkg);
  ASSERT_NE(pblob, nullptr);
  err = kiln_runtime_check_package_targets(blob->view(), pblob->view());
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  EXPECT_NE(TakeMessage(err).find("built against base checksum 0x00000000000004d2"),
            std::string::npos);
  err = kiln_runtime_check_targets(nullptr, cpu, 3);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

}  // namespace
