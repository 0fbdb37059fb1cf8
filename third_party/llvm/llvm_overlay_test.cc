// Smoke test of the @llvm overlay: the C API headers (including
// llvm/Config), libLLVM-22 and the tools are all reachable from Bazel, and
// they are the LLVM 22.1 that WORKSPACE checked for.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "gtest/gtest.h"
#include "llvm-c/Analysis.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"

namespace {

// argv of the test: the tools, as runfiles paths (see BUILD).
int g_argc;
char **g_argv;

TEST(LlvmOverlayTest, LibraryIsLlvm22_1) {
  unsigned major = 0, minor = 0, patch = 0;
  LLVMGetVersion(&major, &minor, &patch);
  EXPECT_EQ(major, 22u);
  EXPECT_EQ(minor, 1u);
}

TEST(LlvmOverlayTest, ParsesAndVerifiesIR) {
  const char ir[] =
      "define i32 @add(i32 %a, i32 %b) {\n"
      "  %s = add i32 %a, %b\n"
      "  ret i32 %s\n"
      "}\n";
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, strlen(ir), "add.ll");
  LLVMModuleRef mod = nullptr;
  char *msg = nullptr;
  ASSERT_EQ(LLVMParseIRInContext(ctx, buf, &mod, &msg), 0) << msg;
  EXPECT_EQ(LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg), 0) << msg;
  LLVMDisposeMessage(msg);
  EXPECT_NE(LLVMGetNamedFunction(mod, "add"), nullptr);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
}

TEST(LlvmOverlayTest, MalformedIRIsAnErrorNotACrash) {
  const char ir[] = "define i32 @broken( {\n";
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, strlen(ir), "bad.ll");
  LLVMModuleRef mod = nullptr;
  char *msg = nullptr;
  EXPECT_NE(LLVMParseIRInContext(ctx, buf, &mod, &msg), 0);
  ASSERT_NE(msg, nullptr);
  EXPECT_NE(strstr(msg, "bad.ll"), nullptr) << msg;
  LLVMDisposeMessage(msg);
  LLVMContextDispose(ctx);
}

TEST(LlvmOverlayTest, ToolsRunAndReportLlvm22_1) {
  ASSERT_GT(g_argc, 1) << "the BUILD file passes the tools as arguments";
  for (int i = 1; i < g_argc; ++i) {
    std::string cmd = std::string(g_argv[i]) + " --version 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr) << cmd;
    std::string out;
    char chunk[256];
    while (fgets(chunk, sizeof chunk, p) != nullptr) out += chunk;
    EXPECT_EQ(pclose(p), 0) << cmd << "\n" << out;
    EXPECT_NE(out.find("22.1"), std::string::npos) << cmd << "\n" << out;
  }
}

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_argc = argc;
  g_argv = argv;
  return RUN_ALL_TESTS();
}
