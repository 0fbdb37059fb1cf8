// components/runtime/runtime_stress_test.cc — concurrency tests, meant to
// run under ThreadSanitizer (--config=tsan): reader threads call through
// kiln_runtime_lookup while a writer keeps replacing the method with one of
// two real functions; every call must run one of them (never a torn or NULL
// pointer, never a fingerprint from the other version). Also many threads
// racing on first calls of many compile-on-first-use methods, each compiled
// once, while other methods are installed (the table grows under readers).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "components/runtime/runtime.h"

namespace {

extern "C" int version_old(void) { return 1111; }
extern "C" int version_new(void) { return 2222; }

typedef int (*int_fn)(void);

TEST(RuntimeStressTest, ReadersSeeOldOrNewDuringReplacement) {
  kiln_runtime_t *rt = nullptr;
  ASSERT_EQ(kiln_runtime_new(nullptr, &rt), nullptr);
  ASSERT_EQ(kiln_runtime_install_method(rt, "m", reinterpret_cast<void *>(&version_old), 1),
            nullptr);
  constexpr int kReaders = 4;
  constexpr int kReplacements = 20000;
  std::atomic<bool> done{false};
  std::atomic<long> calls{0}, bad{0}, seen_old{0}, seen_new{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; r++) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        void *code = nullptr;
        kiln_error_t *err = kiln_runtime_lookup(rt, "m", &code);
        if (err != nullptr || code == nullptr) {
          kiln_error_free(err);
          bad++;
          continue;
        }
        int v = reinterpret_cast<int_fn>(code)();
        if (v == 1111)
          seen_old++;
        else if (v == 2222)
          seen_new++;
        else
          bad++;
        // find() returns code and fingerprint of one version.
        uint64_t fp = 0;
        err = kiln_runtime_find(rt, "m", &code, &fp);
        if (err != nullptr || (code == reinterpret_cast<void *>(&version_old)) != (fp == 1)) bad++;
        kiln_error_free(err);
        calls++;
      }
    });
  }
  for (int i = 0; i < kReplacements; i++) {
    bool odd = i % 2;
    ASSERT_EQ(kiln_runtime_install_method(
                  rt, "m", reinterpret_cast<void *>(odd ? &version_old : &version_new), odd ? 1 : 2),
              nullptr);
  }
  done.store(true, std::memory_order_release);
  for (std::thread &t : readers) t.join();
  printf("runtime stress: %d replacements, %ld calls (old %ld, new %ld), %ld bad\n",
         kReplacements, calls.load(), seen_old.load(), seen_new.load(), bad.load());
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(calls.load(), 0);
  kiln_runtime_free(rt);
}

struct CountingCompiler {
  std::atomic<int> compiles{0};
  static kiln_error_t *Hook(void *user, const char *key, const char *symbol, const void *bitcode,
                            size_t size, void **code_out) {
    auto *self = static_cast<CountingCompiler *>(user);
    self->compiles++;
    std::this_thread::yield();
    *code_out = reinterpret_cast<void *>(key[1] % 2 ? &version_old : &version_new);
    return nullptr;
  }
};

TEST(RuntimeStressTest, ConcurrentFirstUseCompilesOncePerMethod) {
  CountingCompiler compiler;
  kiln_runtime_options_t *options = nullptr;
  ASSERT_EQ(kiln_runtime_options_new(&options), nullptr);
  kiln_runtime_options_set_compile(options, &CountingCompiler::Hook, &compiler);
  kiln_runtime_t *rt = nullptr;
  ASSERT_EQ(kiln_runtime_new(options, &rt), nullptr);
  kiln_runtime_options_free(options);
  constexpr int kMethods = 200;
  constexpr int kThreads = 8;
  for (int m = 0; m < kMethods; m++) {
    std::string key = "k" + std::string(1, static_cast<char>('0' + m % 10)) + std::to_string(m);
    ASSERT_EQ(kiln_runtime_provide_bitcode(rt, key.c_str(), nullptr, "BC", 2, m), nullptr);
  }
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int m = 0; m < kMethods; m++) {
        int mm = (m + t * 7) % kMethods;  // different orders per thread
        std::string key =
            "k" + std::string(1, static_cast<char>('0' + mm % 10)) + std::to_string(mm);
        void *code = nullptr;
        kiln_error_t *err = kiln_runtime_lookup(rt, key.c_str(), &code);
        int want = (key[1] % 2) ? 1111 : 2222;
        if (err != nullptr || reinterpret_cast<int_fn>(code)() != want) bad++;
        kiln_error_free(err);
      }
    });
  }
  // Meanwhile the table grows (new entries while readers probe it).
  std::thread writer([&] {
    for (int i = 0; i < 2000; i++) {
      std::string key = "w" + std::to_string(i);
      kiln_error_t *err =
          kiln_runtime_install_method(rt, key.c_str(), reinterpret_cast<void *>(&version_old), i);
      if (err != nullptr) bad++;
      kiln_error_free(err);
    }
  });
  for (std::thread &t : threads) t.join();
  writer.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(compiler.compiles.load(), kMethods);
  kiln_runtime_report_t *report = nullptr;
  ASSERT_EQ(kiln_runtime_report(rt, &report), nullptr);
  EXPECT_EQ(kiln_runtime_report_compiled_count(report), static_cast<size_t>(kMethods));
  kiln_runtime_report_free(report);
  kiln_runtime_free(rt);
}

}  // namespace
