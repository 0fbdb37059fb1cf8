// Tests for the function-cloning topic of llvm_c_ext: a body is copied, a
// declaration stays one, and bad arguments are errors, not aborts.
#include <string>

#include "gtest/gtest.h"
#include "llvm-c/Analysis.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

namespace {

const char kIr[] = R"(
declare i32 @ext(i32)
define i32 @f(i32 %x) #0 {
entry:
  %y = call i32 @ext(i32 %x)
  %z = add i32 %y, 1
  ret i32 %z
}
attributes #0 = { nounwind "kiln-test"="1" }
)";

class LlvmCloneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = LLVMContextCreate();
    LLVMMemoryBufferRef buf =
        LLVMCreateMemoryBufferWithMemoryRangeCopy(kIr, sizeof(kIr) - 1, "clone_test");
    char *msg = nullptr;
    ASSERT_EQ(LLVMParseIRInContext(ctx_, buf, &mod_, &msg), 0) << msg;
  }
  void TearDown() override {
    LLVMDisposeModule(mod_);
    LLVMContextDispose(ctx_);
  }
  LLVMContextRef ctx_ = nullptr;
  LLVMModuleRef mod_ = nullptr;
};

TEST_F(LlvmCloneTest, CopiesBodyAndAttributes) {
  LLVMValueRef clone = nullptr;
  kiln_error_t *err = kiln_llvm_function_clone(LLVMGetNamedFunction(mod_, "f"), "f.copy", &clone);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  ASSERT_NE(clone, nullptr);
  EXPECT_EQ(LLVMGetNamedFunction(mod_, "f.copy"), clone);
  EXPECT_EQ(LLVMCountBasicBlocks(clone), 1u);
  LLVMAttributeRef a =
      LLVMGetStringAttributeAtIndex(clone, LLVMAttributeFunctionIndex, "kiln-test", 9);
  ASSERT_NE(a, nullptr);
  // The call in the copy still targets @ext.
  LLVMValueRef call = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(clone));
  EXPECT_EQ(LLVMGetCalledValue(call), LLVMGetNamedFunction(mod_, "ext"));
  char *msg = nullptr;
  EXPECT_EQ(LLVMVerifyModule(mod_, LLVMReturnStatusAction, &msg), 0) << msg;
  LLVMDisposeMessage(msg);
}

TEST_F(LlvmCloneTest, DeclarationStaysDeclaration) {
  LLVMValueRef clone = nullptr;
  kiln_error_t *err =
      kiln_llvm_function_clone(LLVMGetNamedFunction(mod_, "ext"), "ext.copy", &clone);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_TRUE(LLVMIsDeclaration(clone));
}

TEST_F(LlvmCloneTest, RejectsBadArguments) {
  LLVMValueRef clone = reinterpret_cast<LLVMValueRef>(1);
  kiln_error_t *err = kiln_llvm_function_clone(nullptr, "x", &clone);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(clone, nullptr);
  kiln_error_free(err);
  // A name that is taken.
  err = kiln_llvm_function_clone(LLVMGetNamedFunction(mod_, "f"), "ext", &clone);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_error_message(err)).find("ext"), std::string::npos);
  kiln_error_free(err);
  // Not a function.
  LLVMValueRef g = LLVMAddGlobal(mod_, LLVMInt32TypeInContext(ctx_), "g");
  err = kiln_llvm_function_clone(g, "g2", &clone);
  ASSERT_NE(err, nullptr);
  kiln_error_free(err);
}

}  // namespace
