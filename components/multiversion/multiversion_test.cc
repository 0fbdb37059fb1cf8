// Unit tests of components/multiversion: a success and an error case per
// public function, the annotation surviving bitcode in a new context, and
// the verifier catching deliberately miswired modules.
#include <cstring>
#include <string>

#include "components/multiversion/multiversion.h"
#include "gtest/gtest.h"
#include "llvm-c/Analysis.h"
#include "llvm-c/BitReader.h"
#include "llvm-c/BitWriter.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"

namespace {

const char kTargets[] = "generic;haswell;x86-64-v4";

// @kernel loops (cloned); @caller is not cloned and calls it (slot);
// @helper is neither; @table holds @kernel's address (data slot).
const char kIr[] = R"(
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"
@table = global [1 x ptr] [ptr @kernel]
define i32 @helper(i32 %x) {
  ret i32 %x
}
define i32 @kernel(i32 %n) {
entry:
  br label %l
l:
  %i = phi i32 [ 0, %entry ], [ %i1, %l ]
  %i1 = add i32 %i, 1
  %c = icmp slt i32 %i1, %n
  br i1 %c, label %l, label %e
e:
  %r = call i32 @helper(i32 %i1)
  ret i32 %r
}
define i32 @caller() {
  %r = call i32 @kernel(i32 3)
  ret i32 %r
}
)";

LLVMModuleRef Parse(LLVMContextRef ctx, const char *ir) {
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, strlen(ir), "test");
  LLVMModuleRef m = nullptr;
  char *msg = nullptr;
  if (LLVMParseIRInContext(ctx, buf, &m, &msg) != 0) {
    ADD_FAILURE() << msg;
    LLVMDisposeMessage(msg);
    return nullptr;
  }
  return m;
}

std::string Message(kiln_error_t *err) {
  std::string s = err != nullptr ? kiln_error_message(err) : "";
  kiln_error_free(err);
  return s;
}

class MultiversionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = LLVMContextCreate();
    mod_ = Parse(ctx_, kIr);
    ASSERT_NE(mod_, nullptr);
  }
  void TearDown() override {
    kiln_multiversion_tables_free(tables_);
    LLVMDisposeModule(mod_);
    LLVMContextDispose(ctx_);
  }
  void AnnotateAndClone() {
    kiln_error_t *err = kiln_multiversion_annotate(mod_, kTargets);
    ASSERT_EQ(err, nullptr) << Message(err);
    err = kiln_multiversion_clone(mod_, nullptr, &tables_);
    ASSERT_EQ(err, nullptr) << Message(err);
  }
  LLVMValueRef Fn(const char *name) { return LLVMGetNamedFunction(mod_, name); }
  // The first call instruction in `fn`.
  LLVMValueRef FirstCall(LLVMValueRef fn) {
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
      for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
        if (LLVMIsACallInst(in)) return in;
    return nullptr;
  }
  void SetCallee(LLVMValueRef call, LLVMValueRef callee) {
    LLVMSetOperand(call, LLVMGetNumOperands(call) - 1, callee);
  }
  LLVMContextRef ctx_ = nullptr;
  LLVMModuleRef mod_ = nullptr;
  kiln_multiversion_tables_t *tables_ = nullptr;
};

TEST_F(MultiversionTest, AnnotateRecordsDecision) {
  kiln_error_t *err = kiln_multiversion_annotate(mod_, kTargets);
  ASSERT_EQ(err, nullptr) << Message(err);
  kiln_multiversion_function_info_t info;
  ASSERT_EQ(kiln_multiversion_function_info(mod_, "kernel", &info), nullptr);
  EXPECT_EQ(info.clones, 0x6u);
  EXPECT_EQ(info.reasons, KILN_MULTIVERSION_REASON_LOOP);
  EXPECT_TRUE(info.needs_slot);
  ASSERT_EQ(kiln_multiversion_function_info(mod_, "caller", &info), nullptr);
  EXPECT_EQ(info.clones, 0u);
  EXPECT_FALSE(info.needs_slot);
  char *targets = nullptr;
  ASSERT_EQ(kiln_multiversion_module_targets(mod_, &targets), nullptr);
  EXPECT_STREQ(targets, kTargets);
  free(targets);
}

TEST_F(MultiversionTest, AnnotationSurvivesBitcodeInNewContext) {
  ASSERT_EQ(kiln_multiversion_annotate(mod_, kTargets), nullptr);
  LLVMMemoryBufferRef bc = LLVMWriteBitcodeToMemoryBuffer(mod_);
  LLVMContextRef ctx2 = LLVMContextCreate();
  LLVMModuleRef m2 = nullptr;
  ASSERT_EQ(LLVMParseBitcodeInContext2(ctx2, bc, &m2), 0);
  LLVMDisposeMemoryBuffer(bc);
  for (const char *name : {"helper", "kernel", "caller"}) {
    kiln_multiversion_function_info_t a, b;
    ASSERT_EQ(kiln_multiversion_function_info(mod_, name, &a), nullptr);
    ASSERT_EQ(kiln_multiversion_function_info(m2, name, &b), nullptr);
    EXPECT_EQ(a.clones, b.clones) << name;
    EXPECT_EQ(a.reasons, b.reasons) << name;
    EXPECT_EQ(a.needs_slot, b.needs_slot) << name;
  }
  // And the other process can clone from it alone.
  kiln_multiversion_tables_t *t = nullptr;
  kiln_error_t *err = kiln_multiversion_clone(m2, nullptr, &t);
  ASSERT_EQ(err, nullptr) << Message(err);
  EXPECT_EQ(kiln_multiversion_tables_clone_count(t, 1), 1u);
  EXPECT_EQ(kiln_multiversion_verify(m2, nullptr, 0, nullptr), nullptr);
  kiln_multiversion_tables_free(t);
  LLVMDisposeModule(m2);
  LLVMContextDispose(ctx2);
}

TEST_F(MultiversionTest, AnnotateRejectsBadInput) {
  kiln_error_t *err = kiln_multiversion_annotate(mod_, "generic;haswel");
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(Message(err).find("haswel"), std::string::npos);
  err = kiln_multiversion_annotate(mod_, "generic;haswell,base(5)");
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_PARSE);
  kiln_error_free(err);
  err = kiln_multiversion_annotate(nullptr, kTargets);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  // Nothing was recorded by the failures; a second annotation is refused.
  ASSERT_EQ(kiln_multiversion_annotate(mod_, kTargets), nullptr);
  err = kiln_multiversion_annotate(mod_, kTargets);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST_F(MultiversionTest, AnnotateRejectsModuleWithoutFunctions) {
  LLVMModuleRef empty = LLVMModuleCreateWithNameInContext("empty", ctx_);
  LLVMAddFunction(empty, "decl", LLVMFunctionType(LLVMVoidTypeInContext(ctx_), nullptr, 0, 0));
  kiln_error_t *err = kiln_multiversion_annotate(empty, kTargets);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(Message(err).find("defines no functions"), std::string::npos);
  LLVMDisposeModule(empty);
}

TEST_F(MultiversionTest, FunctionInfoErrors) {
  kiln_multiversion_function_info_t info;
  kiln_error_t *err = kiln_multiversion_function_info(mod_, "kernel", &info);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);  // not annotated
  kiln_error_free(err);
  EXPECT_EQ(info.clones, 0u);
  ASSERT_EQ(kiln_multiversion_annotate(mod_, kTargets), nullptr);
  err = kiln_multiversion_function_info(mod_, "nope", &info);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);
  char *targets = reinterpret_cast<char *>(1);
  err = kiln_multiversion_module_targets(nullptr, &targets);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(targets, nullptr);
  kiln_error_free(err);
}

TEST_F(MultiversionTest, CloneBuildsTables) {
  AnnotateAndClone();
  ASSERT_EQ(kiln_multiversion_tables_target_count(tables_), 3u);
  EXPECT_STREQ(kiln_multiversion_tables_target_cpu(tables_, 1), "haswell");
  EXPECT_NE(std::string(kiln_multiversion_tables_target_features(tables_, 1)).find("+avx2"),
            std::string::npos);
  EXPECT_NE(std::string(kiln_multiversion_tables_target_features(tables_, 2)).find("+avx512f"),
            std::string::npos);
  EXPECT_EQ(std::string(kiln_multiversion_tables_target_features(tables_, 0)).find("+avx"),
            std::string::npos);
  EXPECT_EQ(kiln_multiversion_tables_target_base(tables_, 2), 0u);
  EXPECT_EQ(kiln_multiversion_tables_clone_count(tables_, 0), 0u);
  EXPECT_EQ(kiln_multiversion_tables_clone_count(tables_, 2), 1u);
  ASSERT_EQ(kiln_multiversion_tables_function_count(tables_), 1u);
  EXPECT_STREQ(kiln_multiversion_tables_function_name(tables_, 0), "kernel");
  EXPECT_STREQ(kiln_multiversion_tables_function_symbol(tables_, 0, 0), "kernel");
  EXPECT_STREQ(kiln_multiversion_tables_function_symbol(tables_, 2, 0), "kernel.kiln.2");
  EXPECT_EQ(kiln_multiversion_tables_function_symbol(tables_, 3, 0), nullptr);
  ASSERT_EQ(kiln_multiversion_tables_slot_count(tables_), 2u);
  const kiln_multiversion_slot_t *s = kiln_multiversion_tables_slot(tables_, 0);
  EXPECT_EQ(s->kind, KILN_MULTIVERSION_SLOT_GLOBAL);
  EXPECT_STREQ(s->symbol, "kernel.kiln.slot");
  s = kiln_multiversion_tables_slot(tables_, 1);
  EXPECT_EQ(s->kind, KILN_MULTIVERSION_SLOT_DATA);
  EXPECT_STREQ(s->symbol, "table");
  EXPECT_EQ(s->offset, 0u);
  EXPECT_EQ(kiln_multiversion_tables_slot(tables_, 2), nullptr);
  EXPECT_NE(LLVMGetNamedGlobal(mod_, "kiln_mv_fptrs_2"), nullptr);
  char *msg = nullptr;
  EXPECT_EQ(LLVMVerifyModule(mod_, LLVMReturnStatusAction, &msg), 0) << msg;
  LLVMDisposeMessage(msg);
}

TEST_F(MultiversionTest, CloneIsDeterministic) {
  AnnotateAndClone();
  char *a = LLVMPrintModuleToString(mod_);
  LLVMContextRef ctx2 = LLVMContextCreate();
  LLVMModuleRef m2 = Parse(ctx2, kIr);
  ASSERT_EQ(kiln_multiversion_annotate(m2, kTargets), nullptr);
  kiln_multiversion_tables_t *t = nullptr;
  ASSERT_EQ(kiln_multiversion_clone(m2, nullptr, &t), nullptr);
  char *b = LLVMPrintModuleToString(m2);
  EXPECT_STREQ(a, b);
  LLVMDisposeMessage(a);
  LLVMDisposeMessage(b);
  kiln_multiversion_tables_free(t);
  LLVMDisposeModule(m2);
  LLVMContextDispose(ctx2);
}

TEST_F(MultiversionTest, CloneOptionsSuffixAndNoTables) {
  kiln_multiversion_options_t *o = nullptr;
  ASSERT_EQ(kiln_multiversion_options_new(&o), nullptr);
  ASSERT_EQ(kiln_multiversion_options_set_suffix(o, "_7"), nullptr);
  ASSERT_EQ(kiln_multiversion_annotate(mod_, kTargets), nullptr);
  ASSERT_EQ(kiln_multiversion_clone(mod_, o, &tables_), nullptr);
  EXPECT_NE(LLVMGetNamedGlobal(mod_, "kiln_mv_slot_addrs_7"), nullptr);
  kiln_multiversion_options_free(o);

  LLVMContextRef ctx2 = LLVMContextCreate();
  LLVMModuleRef m2 = Parse(ctx2, kIr);
  ASSERT_EQ(kiln_multiversion_options_new(&o), nullptr);
  kiln_multiversion_options_set_emit_tables(o, false);
  ASSERT_EQ(kiln_multiversion_annotate(m2, kTargets), nullptr);
  kiln_multiversion_tables_t *t = nullptr;
  ASSERT_EQ(kiln_multiversion_clone(m2, o, &t), nullptr);
  EXPECT_EQ(LLVMGetNamedGlobal(m2, "kiln_mv_slot_addrs"), nullptr);
  kiln_multiversion_options_free(o);
  kiln_multiversion_tables_free(t);
  LLVMDisposeModule(m2);
  LLVMContextDispose(ctx2);

  kiln_error_t *err = kiln_multiversion_options_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_multiversion_options_set_suffix(nullptr, "x");
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  kiln_multiversion_options_free(nullptr);
}

TEST_F(MultiversionTest, CloneErrors) {
  kiln_error_t *err = kiln_multiversion_clone(mod_, nullptr, &tables_);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(Message(err).find("not annotated"), std::string::npos);
  EXPECT_EQ(tables_, nullptr);
  AnnotateAndClone();
  kiln_multiversion_tables_t *t = nullptr;
  err = kiln_multiversion_clone(mod_, nullptr, &t);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);  // already cloned
  kiln_error_free(err);
  EXPECT_EQ(t, nullptr);
  err = kiln_multiversion_clone(nullptr, nullptr, &t);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  // Accessors are safe on NULL.
  EXPECT_EQ(kiln_multiversion_tables_target_count(nullptr), 0u);
  EXPECT_EQ(kiln_multiversion_tables_slot(nullptr, 0), nullptr);
  kiln_multiversion_tables_free(nullptr);
}

TEST_F(MultiversionTest, VerifyCountsClones) {
  AnnotateAndClone();
  size_t counts[4] = {9, 9, 9, 9}, n = 0;
  kiln_error_t *err = kiln_multiversion_verify(mod_, counts, 4, &n);
  ASSERT_EQ(err, nullptr) << Message(err);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[1], 1u);
  EXPECT_EQ(counts[2], 1u);
  EXPECT_EQ(counts[3], 0u);
}

TEST_F(MultiversionTest, VerifyRejectsUnversionedModule) {
  kiln_error_t *err = kiln_multiversion_verify(mod_, nullptr, 0, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_multiversion_verify(nullptr, nullptr, 0, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST_F(MultiversionTest, VerifyCatchesDirectCallFromUnclonedCode) {
  AnnotateAndClone();
  // Miswire: @caller calls @kernel directly instead of through its slot,
  // so targets 1 and 2 would silently run generic code.
  SetCallee(FirstCall(Fn("caller")), Fn("kernel"));
  kiln_error_t *err = kiln_multiversion_verify(mod_, nullptr, 0, nullptr);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  std::string m = Message(err);
  EXPECT_NE(m.find("'caller'"), std::string::npos) << m;
  EXPECT_NE(m.find("kernel.kiln.1"), std::string::npos) << m;
  EXPECT_NE(m.find("kernel.kiln.slot"), std::string::npos) << m;
}

TEST_F(MultiversionTest, VerifyCatchesCrossTargetCall) {
  AnnotateAndClone();
  // Miswire: target 2's clone calls target 1's clone of itself.
  LLVMValueRef k2 = Fn("kernel.kiln.2");
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(k2);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx_);
  LLVMPositionBuilderBefore(b, LLVMGetFirstInstruction(entry));
  LLVMValueRef arg = LLVMConstInt(LLVMInt32TypeInContext(ctx_), 1, 0);
  LLVMBuildCall2(b, LLVMGlobalGetValueType(Fn("kernel.kiln.1")), Fn("kernel.kiln.1"), &arg, 1, "");
  LLVMDisposeBuilder(b);
  kiln_error_t *err = kiln_multiversion_verify(mod_, nullptr, 0, nullptr);
  ASSERT_NE(err, nullptr);
  std::string m = Message(err);
  EXPECT_NE(m.find("'kernel.kiln.2' (run by target 2) refers directly to 'kernel.kiln.1' "
                   "(target 1); target 2 uses 'kernel.kiln.2'"),
            std::string::npos)
      << m;
}

TEST_F(MultiversionTest, VerifyCatchesLostCloneAndData) {
  AnnotateAndClone();
  // A clone lost (deleted) and a function address put back into data.
  LLVMValueRef k1 = Fn("kernel.kiln.1");
  LLVMValueRef fptrs1 = LLVMGetNamedGlobal(mod_, "kiln_mv_fptrs_1");
  LLVMDeleteGlobal(fptrs1);
  LLVMReplaceAllUsesWith(k1, LLVMConstPointerNull(LLVMTypeOf(k1)));
  LLVMDeleteFunction(k1);
  LLVMValueRef table = LLVMGetNamedGlobal(mod_, "table");
  LLVMValueRef k = Fn("kernel");
  LLVMSetInitializer(table, LLVMConstArray2(LLVMTypeOf(k), &k, 1));
  kiln_error_t *err = kiln_multiversion_verify(mod_, nullptr, 0, nullptr);
  ASSERT_NE(err, nullptr);
  std::string m = Message(err);
  EXPECT_NE(m.find("2 violations"), std::string::npos) << m;
  EXPECT_NE(m.find("clone 'kernel.kiln.1' is missing"), std::string::npos) << m;
  EXPECT_NE(m.find("data 'table' holds the address of cloned 'kernel'"), std::string::npos) << m;
}

}  // namespace

// A cloned function used as a constructor: llvm.global_ctors keeps its
// shape and refers to target 0's code (constructors run before the loader
// fills slots), and the module stays valid.
TEST(MultiversionSpecialGlobalsTest, ConstructorsKeepTargetZeroCode) {
  const char ir[] = R"(
@counter = global i32 0
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
@llvm.used = appending global [1 x ptr] [ptr @init], section "llvm.metadata"

define void @init() {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %n, %loop ]
  %v = load i32, ptr @counter
  %w = add i32 %v, %i
  store i32 %w, ptr @counter
  %n = add i32 %i, 1
  %c = icmp ult i32 %n, 16
  br i1 %c, label %loop, label %done
done:
  ret void
}
)";
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = Parse(ctx, ir);
  ASSERT_NE(m, nullptr);
  kiln_error_t *err = kiln_multiversion_annotate(m, "generic;haswell");
  ASSERT_EQ(err, nullptr) << Message(err);
  kiln_multiversion_tables_t *tables = nullptr;
  err = kiln_multiversion_clone(m, nullptr, &tables);
  ASSERT_EQ(err, nullptr) << Message(err);
  EXPECT_NE(LLVMGetNamedFunction(m, "init.kiln.1"), nullptr);  // cloned (it loops)
  LLVMValueRef ctors = LLVMGetNamedGlobal(m, "llvm.global_ctors");
  ASSERT_NE(ctors, nullptr);
  EXPECT_FALSE(LLVMIsExternallyInitialized(ctors));
  LLVMValueRef entry = LLVMGetAggregateElement(LLVMGetInitializer(ctors), 0);
  EXPECT_EQ(LLVMGetAggregateElement(entry, 1), LLVMGetNamedFunction(m, "init"));
  char *msg = nullptr;
  EXPECT_EQ(LLVMVerifyModule(m, LLVMReturnStatusAction, &msg), 0) << msg;
  LLVMDisposeMessage(msg);
  err = kiln_multiversion_verify(m, nullptr, 0, nullptr);
  EXPECT_EQ(err, nullptr) << Message(err);
  kiln_multiversion_tables_free(tables);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
}
