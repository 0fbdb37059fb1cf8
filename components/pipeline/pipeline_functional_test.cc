// components/pipeline/pipeline_functional_test.cc — real C end to end: the
// kernels in testdata/ are compiled by clang-22 to unoptimized bitcode at
// test time, optimized in-process by the pipeline at O1-O3 (with the host
// target machine, so the vectorizers work), turned into an object with
// LLVMTargetMachineEmitToFile, linked by clang with the native driver, run,
// and their output compared with a program built natively by clang -O2.
// Writes only under $TEST_TMPDIR.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "components/pipeline/pipeline.h"
#include "gtest/gtest.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Target.h"
#include "llvm-c/TargetMachine.h"

namespace {

// argv of the test (see BUILD): clang, kernels.c, kernels_main.c.
std::string g_clang, g_kernels, g_main;

std::string TmpDir() {
  const char *d = getenv("TEST_TMPDIR");
  return d != nullptr ? d : "/tmp";
}

// Runs a shell command; returns its stdout, or "" and fails on a non-zero exit.
std::string Shell(const std::string &cmd) {
  std::string out;
  FILE *p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen: " << cmd;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  EXPECT_EQ(status, 0) << cmd << "\n" << out;
  return out;
}

std::string Dirname(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

class PipelineFunctionalTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(PipelineFunctionalTest, OptimizedKernelsMatchNativeBuild) {
  const unsigned level = GetParam();
  const std::string dir = TmpDir();
  const std::string tag = "O" + std::to_string(level);
  const std::string bc = dir + "/kernels_" + tag + ".bc";
  const std::string obj = dir + "/kernels_" + tag + ".o";
  const std::string exe = dir + "/kernels_" + tag;
  const std::string native = dir + "/kernels_native_" + tag;
  const std::string inc = " -I" + Dirname(g_kernels);

  Shell(g_clang + " -O0 -Xclang -disable-O0-optnone -emit-llvm -c " + g_kernels + inc + " -o " + bc);
  Shell(g_clang + " -O2" + inc + " " + g_kernels + " " + g_main + " -o " + native);

  ASSERT_EQ(LLVMInitializeNativeTarget(), 0);
  ASSERT_EQ(LLVMInitializeNativeAsmPrinter(), 0);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = nullptr;
  LLVMModuleRef m = nullptr;
  char *msg = nullptr;
  ASSERT_EQ(LLVMCreateMemoryBufferWithContentsOfFile(bc.c_str(), &buf, &msg), 0) << msg;
  ASSERT_EQ(LLVMParseIRInContext(ctx, buf, &m, &msg), 0) << msg;

  char *triple = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target = nullptr;
  ASSERT_EQ(LLVMGetTargetFromTriple(triple, &target, &msg), 0) << msg;
  char *cpu = LLVMGetHostCPUName();
  char *features = LLVMGetHostCPUFeatures();
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features,
                                                    LLVMCodeGenLevelDefault, LLVMRelocPIC,
                                                    LLVMCodeModelDefault);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
  LLVMDisposeMessage(triple);
  ASSERT_NE(tm, nullptr);

  kiln_pipeline_options_t *opts = nullptr;
  ASSERT_EQ(kiln_pipeline_options_new(&opts), nullptr);
  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts, level), nullptr);
  kiln_pipeline_options_set_target_machine(opts, tm);
  kiln_pipeline_report_t *report = nullptr;
  kiln_error_t *err = kiln_pipeline_run(opts, m, &report);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  char *text = nullptr;
  ASSERT_EQ(kiln_pipeline_report_format(report, &text), nullptr);
  printf("%s report:\n%s", tag.c_str(), text);
  kiln_pipeline_string_free(text);
  // clang -O0 code is mostly stack traffic that stage 1 removes.
  EXPECT_LT(kiln_pipeline_report_instructions_after(report, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION),
            kiln_pipeline_report_instructions_before(report, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION));

  char *path = strdup(obj.c_str());
  ASSERT_EQ(LLVMTargetMachineEmitToFile(tm, m, path, LLVMObjectFile, &msg), 0) << msg;
  free(path);

  kiln_pipeline_report_free(report);
  kiln_pipeline_options_free(opts);
  LLVMDisposeModule(m);
  LLVMDisposeTargetMachine(tm);
  LLVMContextDispose(ctx);

  Shell(g_clang + " -O2" + inc + " " + obj + " " + g_main + " -o " + exe);
  std::string expected = Shell(native + " check");
  std::string actual = Shell(exe + " check");
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(actual, expected);
}

INSTANTIATE_TEST_SUITE_P(Levels, PipelineFunctionalTest, ::testing::Values(1u, 2u, 3u));

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 4) {
    fprintf(stderr, "usage: %s CLANG KERNELS.C KERNELS_MAIN.C\n", argv[0]);
    return 2;
  }
  g_clang = argv[1];
  g_kernels = argv[2];
  g_main = argv[3];
  return RUN_ALL_TESTS();
}
