// components/emitter/testing/emitter_testing.cc — see emitter_testing.h.
#include "components/emitter/testing/emitter_testing.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

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

}  // namespace kiln_emitter_test
