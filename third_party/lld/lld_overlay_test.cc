// Smoke test of the @lld overlay: LLD's ELF driver, linked as a library, turns
// an object compiled by clang-22 into a shared object in this process, and
// that object loads with dlopen and runs. The linker component's adapter
// builds on exactly this entry point.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "lld/Common/Driver.h"
#include "llvm/Support/raw_ostream.h"

LLD_HAS_DRIVER(elf)

namespace {

const char *g_clang;

std::string TmpDir() {
  const char *dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

TEST(LldOverlayTest, LinksASharedObjectInProcess) {
  ASSERT_NE(g_clang, nullptr);
  std::string dir = TmpDir();
  std::string src = dir + "/square.c", obj = dir + "/square.o", so = dir + "/libsquare.so";
  std::ofstream(src) << "int kiln_square(int x) { return x * x; }\n";
  std::string compile = std::string(g_clang) + " -c -fPIC -O2 -o " + obj + " " + src;
  ASSERT_EQ(system(compile.c_str()), 0) << compile;

  const char *args[] = {"ld.lld", "-shared", "-z", "now", "-o", so.c_str(), obj.c_str()};
  std::string out, err;
  llvm::raw_string_ostream out_stream(out), err_stream(err);
  lld::Result result = lld::lldMain(args, out_stream, err_stream, {{lld::Gnu, &lld::elf::link}});
  ASSERT_EQ(result.retCode, 0) << err_stream.str();
  EXPECT_TRUE(result.canRunAgain);

  void *handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto square = reinterpret_cast<int (*)(int)>(dlsym(handle, "kiln_square"));
  ASSERT_NE(square, nullptr) << dlerror();
  EXPECT_EQ(square(12), 144);
  dlclose(handle);
}

TEST(LldOverlayTest, MissingInputIsReportedNotFatal) {
  std::string so = TmpDir() + "/libmissing.so";
  const char *args[] = {"ld.lld", "-shared", "-o", so.c_str(), "/nonexistent/kiln-input.o"};
  std::string out, err;
  llvm::raw_string_ostream out_stream(out), err_stream(err);
  lld::Result result = lld::lldMain(args, out_stream, err_stream, {{lld::Gnu, &lld::elf::link}});
  EXPECT_NE(result.retCode, 0);
  EXPECT_NE(err_stream.str().find("/nonexistent/kiln-input.o"), std::string::npos)
      << err_stream.str();
}

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_clang = argc > 1 ? argv[1] : nullptr;
  return RUN_ALL_TESTS();
}
