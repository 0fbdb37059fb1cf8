// components/emitter/emitter_thread_test.cc — the worker pool under TSan:
// four workers on four shards of a real C program, each with its own
// LLVMContext, progress reported on the calling thread, and the same archive
// as a single-threaded build.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "components/emitter/emitter.h"
#include "gtest/gtest.h"

namespace {

std::string Take(kiln_error_t *err) {
  std::string s = err != nullptr ? kiln_error_message(err) : "";
  kiln_error_free(err);
  return s;
}

const char *NoEnv(void *, const char *) { return nullptr; }

void Count(void *user, size_t, size_t done, size_t total) {
  static_cast<std::vector<size_t> *>(user)->push_back(done * 10 + total);
}

std::string Build(const std::string &bc, unsigned threads, std::vector<size_t> *progress) {
  kiln_emitter_options_t *o = nullptr;
  kiln_error_t *err = kiln_emitter_options_new(&o);
  EXPECT_EQ(err, nullptr) << Take(err);
  err = kiln_emitter_options_set_target(o, "generic;haswell;x86-64-v4");
  EXPECT_EQ(err, nullptr) << Take(err);
  kiln_emitter_options_set_threads(o, threads);
  kiln_emitter_options_set_shard_count(o, 4);
  err = kiln_emitter_options_set_opt_level(o, 1);
  EXPECT_EQ(err, nullptr) << Take(err);
  kiln_emitter_options_set_env(o, NoEnv, nullptr);
  kiln_emitter_options_set_progress(o, Count, progress);
  const char *inputs[] = {bc.c_str()};
  kiln_emitter_result_t *r = nullptr;
  err = kiln_emitter_build_files(o, inputs, 1, &r);
  EXPECT_EQ(err, nullptr) << Take(err);
  std::string out;
  if (r != nullptr) {
    EXPECT_EQ(kiln_emitter_result_threads_used(r), threads);
    size_t size = 0;
    const void *d = kiln_emitter_result_archive(r, &size);
    out.assign(static_cast<const char *>(d), size);
  }
  kiln_emitter_result_free(r);
  kiln_emitter_options_free(o);
  return out;
}

TEST(EmitterThreadTest, FourWorkersMatchOne) {
  const char *tmp = getenv("TEST_TMPDIR");
  std::string bc = std::string(tmp != nullptr ? tmp : "/tmp") + "/prog_thread.bc";
  std::string cmd = "/usr/lib/llvm-22/bin/clang -O2 -Xclang -disable-llvm-optzns -fPIC "
                    "-emit-llvm -c components/emitter/testdata/prog.c -o " + bc;
  ASSERT_EQ(system(cmd.c_str()), 0);
  std::vector<size_t> p1, p4;
  std::string one = Build(bc, 1, &p1);
  std::string four = Build(bc, 4, &p4);
  ASSERT_FALSE(one.empty());
  EXPECT_TRUE(one == four);
  EXPECT_EQ(p4, (std::vector<size_t>{14, 24, 34, 44}));
}

}  // namespace
