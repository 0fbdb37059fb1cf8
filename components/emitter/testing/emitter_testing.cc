// components/emitter/testing/emitter_testing.cc — see emitter_testing.h.
#include "components/emitter/testing/emitter_testing.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "components/multiversion/testing/mv_build.h"

namespace kiln_emitter_test {

std::string TmpDir() {
  const char *t = getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

int Shell(const std::string &cmd, std::string *out) { return kiln_mv_test::Run(cmd, out); }

std::string ReadFile(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

std::string Take(kiln_error_t *err) {
  std::string s = err != nullptr ? kiln_error_message(err) : "";
  kiln_error_free(err);
  return s;
}

kiln_error_code_t Code(kiln_error_t *err) {
  kiln_error_code_t c = kiln_error_code(err);
  kiln_error_free(err);
  return c;
}

const char *NoEnv(void *, const char *) { return nullptr; }

std::string CompileToBitcode(const std::string &src, const std::string &bc) {
  std::string log;
  int rc = Shell(std::string(kClang) + " -O2 -Xclang -disable-llvm-passes -fPIC -emit-llvm -c " +
                     src + " -o " + bc,
                 &log);
  EXPECT_EQ(rc, 0) << "clang failed on " << src << ": " << log;
  return bc;
}

int LinkArchive(const std::string &archive, const std::string &so, std::string *log) {
  return Shell(std::string(kLld) + " -shared -o " + so + " --whole-archive " + archive, log);
}

namespace {

// One symbol table's accessors, so functions and globals share the check.
struct SymbolTable {
  const char *what;
  size_t (*count)(const kiln_image_format_t *);
  const char *(*name)(const kiln_image_format_t *, size_t);
  size_t (*by_name)(const kiln_image_format_t *, size_t);
  kiln_error_t *(*find)(const kiln_image_format_t *, const char *, size_t *);
  size_t (*shard_first)(const kiln_image_format_t *, size_t, size_t *);
};

void ExpectShardMajor(const kiln_image_format_t *im, const SymbolTable &t) {
  size_t n = t.count(im), next = 0;
  for (size_t s = 0; s < kiln_image_format_shard_count(im); s++) {
    size_t count = 0;
    size_t first = t.shard_first(im, s, &count);
    EXPECT_EQ(first, next) << t.what << ": shard " << s << " starts at " << first
                           << ", not after the shards before it";
    for (size_t j = 1; j < count && first + j < n; j++) {
      EXPECT_LT(strcmp(t.name(im, first + j - 1), t.name(im, first + j)), 0)
          << t.what << ": shard " << s << ": " << t.name(im, first + j - 1) << " before "
          << t.name(im, first + j);
    }
    next = first + count;
  }
  EXPECT_EQ(next, n) << t.what << ": the shards do not tile the table";
  std::vector<bool> listed(n, false);
  for (size_t j = 0; j < n; j++) {
    size_t i = t.by_name(im, j);
    ASSERT_LT(i, n) << t.what << ": name index entry " << j;
    EXPECT_FALSE(listed[i]) << t.what << ": " << i << " listed twice in the name index";
    listed[i] = true;
    if (j > 0) {
      EXPECT_LT(strcmp(t.name(im, t.by_name(im, j - 1)), t.name(im, i)), 0)
          << t.what << ": name index entry " << j;
    }
  }
  EXPECT_EQ(t.by_name(im, n), SIZE_MAX);
  for (size_t i = 0; i < n; i++) {
    size_t found = SIZE_MAX;
    kiln_error_t *err = t.find(im, t.name(im, i), &found);
    EXPECT_EQ(err, nullptr) << Take(err);
    EXPECT_EQ(found, i) << t.what << ": " << t.name(im, i);
  }
}

}  // namespace

void ExpectShardMajorTables(const kiln_image_format_t *im) {
  ASSERT_NE(im, nullptr);
  ExpectShardMajor(im, {"functions", kiln_image_format_function_count,
                        kiln_image_format_function_name, kiln_image_format_function_by_name,
                        kiln_image_format_function_find,
                        kiln_image_format_shard_first_function});
  ExpectShardMajor(im, {"globals", kiln_image_format_global_count,
                        kiln_image_format_global_name, kiln_image_format_global_by_name,
                        kiln_image_format_global_find, kiln_image_format_shard_first_global});
}

}  // namespace kiln_emitter_test
