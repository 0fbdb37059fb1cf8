// Tests of kiln_llvm_target_machine_use_init_array: a module with a static
// constructor compiled through the C API lands in .ctors by default and in
// .init_array with the setting (checked in the object's section names).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Target.h"
#include "llvm-c/TargetMachine.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

namespace {

const char kIr[] = R"(
target triple = "x86_64-unknown-linux-gnu"
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
define internal void @init() {
  ret void
}
)";

// Compiles kIr to an object and returns its bytes as a string.
std::string Compile(bool init_array) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(kIr, strlen(kIr), "ctor");
  LLVMModuleRef m = nullptr;
  char *msg = nullptr;
  EXPECT_EQ(LLVMParseIRInContext(ctx, buf, &m, &msg), 0) << msg;
  LLVMTargetRef target = nullptr;
  EXPECT_EQ(LLVMGetTargetFromTriple("x86_64-unknown-linux-gnu", &target, &msg), 0) << msg;
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, "x86_64-unknown-linux-gnu", "generic", "",
                              LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelDefault);
  if (init_array) {
    kiln_error_t *err = kiln_llvm_target_machine_use_init_array(tm);
    EXPECT_EQ(err, nullptr);
    kiln_error_free(err);
  }
  LLVMMemoryBufferRef out = nullptr;
  EXPECT_EQ(LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMObjectFile, &msg, &out), 0) << msg;
  std::string bytes(LLVMGetBufferStart(out), LLVMGetBufferSize(out));
  LLVMDisposeMemoryBuffer(out);
  LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  return bytes;
}

TEST(LlvmTargetMachineTest, InitArrayMovesConstructors) {
  std::string legacy = Compile(false);
  std::string modern = Compile(true);
  EXPECT_NE(legacy.find(".ctors"), std::string::npos);
  EXPECT_EQ(modern.find(".ctors"), std::string::npos);
  EXPECT_NE(modern.find(".init_array"), std::string::npos);
}

TEST(LlvmTargetMachineTest, RejectsNull) {
  kiln_error_t *err = kiln_llvm_target_machine_use_init_array(nullptr);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

}  // namespace
