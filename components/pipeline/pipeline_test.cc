// components/pipeline/pipeline_test.cc — unit tests of the staged optimizer:
// options and their errors, each stage switched on alone (it does its job)
// and off (the job is not done), O0 leaving code alone, the per-stage
// report, the intrinsic-lowering hook, sanitizers, and bad input (invalid
// module, unknown pass) coming back as errors with LLVM's message.
#include "components/pipeline/pipeline.h"

#include <string.h>

#include <string>

#include "gtest/gtest.h"
#include "llvm-c/Analysis.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Target.h"
#include "llvm-c/TargetMachine.h"

namespace {

const char kTriple[] = "x86_64-unknown-linux-gnu";

// Header of every test module: x86-64, so TTI and sanitizers have a target.
const char kPrelude[] =
    "target datalayout = "
    "\"e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128\"\n"
    "target triple = \"x86_64-unknown-linux-gnu\"\n";

// One function per stage's characteristic job.
const char kStageModule[] = R"(
; early simplification: allocas to SSA, llvm.expect lowered.
define i32 @slots(i32 %a) {
  %slot = alloca i32, align 4
  store i32 %a, ptr %slot, align 4
  %v = load i32, ptr %slot, align 4
  %cmp = icmp sgt i32 %a, 0
  %c = zext i1 %cmp to i64
  %e = call i64 @llvm.expect.i64(i64 %c, i64 1)
  %t = trunc i64 %e to i32
  %r = add i32 %v, %t
  ret i32 %r
}

; early optimization: the inliner.
define internal i32 @callee(i32 %x) noinline {
  %m = mul i32 %x, 3
  ret i32 %m
}
define internal i32 @small(i32 %x) {
  %m = mul i32 %x, 5
  ret i32 %m
}
define i32 @caller(i32 %x) {
  %r = call i32 @small(i32 %x)
  %s = call i32 @callee(i32 %r)
  ret i32 %s
}

; loop optimization: a zeroing loop is recognized as memset.
define void @zero(ptr %p, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %exit, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %q = getelementptr inbounds i8, ptr %p, i64 %i
  store i8 0, ptr %q, align 1
  %i.next = add nuw i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; scalar optimization: GVN removes the load in %join, redundant with the
; one in %entry across blocks (the call cannot reach the noalias %p);
; block-local folds (InstCombine) cannot.
declare void @opaque()
define i32 @twice(ptr noalias %p, i1 %c) {
entry:
  %a = load i32, ptr %p, align 4
  br i1 %c, label %then, label %join
then:
  call void @opaque()
  br label %join
join:
  %b = load i32, ptr %p, align 4
  %s = add i32 %a, %b
  ret i32 %s
}

; vectorization: an element-wise loop.
define void @add_arrays(ptr noalias %a, ptr noalias %b, ptr noalias %c) #0 {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %pb = getelementptr inbounds float, ptr %b, i64 %i
  %pc = getelementptr inbounds float, ptr %c, i64 %i
  %vb = load float, ptr %pb, align 4
  %vc = load float, ptr %pc, align 4
  %s = fadd float %vb, %vc
  %pa = getelementptr inbounds float, ptr %a, i64 %i
  store float %s, ptr %pa, align 4
  %i.next = add nuw nsw i64 %i, 1
  %done = icmp eq i64 %i.next, 1024
  br i1 %done, label %exit, label %loop
exit:
  ret void
}

; cleanup: FMA formation.
define double @mul_add(double %x, double %y, double %z) {
  %p = fmul contract double %x, %y
  %s = fadd contract double %p, %z
  ret double %s
}

declare i64 @llvm.expect.i64(i64, i64)
attributes #0 = { nounwind "target-cpu"="x86-64-v3" }
)";

// A caller-defined intrinsic: @test.square(x) means x * x.
const char kIntrinsicModule[] = R"(
declare i32 @test.square(i32)
define i32 @sum_of_squares(i32 %a, i32 %b) {
  %x = call i32 @test.square(i32 %a)
  %y = call i32 @test.square(i32 %b)
  %s = add i32 %x, %y
  ret i32 %s
}
)";

std::string ModuleText(LLVMModuleRef m) {
  char *s = LLVMPrintModuleToString(m);
  std::string text(s);
  LLVMDisposeMessage(s);
  return text;
}

std::string FunctionText(LLVMModuleRef m, const char *name) {
  LLVMValueRef f = LLVMGetNamedFunction(m, name);
  if (f == nullptr) return "";
  char *s = LLVMPrintValueToString(f);
  std::string text(s);
  LLVMDisposeMessage(s);
  return text;
}

bool Contains(const std::string &haystack, const char *needle) {
  return haystack.find(needle) != std::string::npos;
}

// Owns a context, a module, options, a target machine and the last report.
class PipelineFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = LLVMContextCreate();
    ASSERT_EQ(kiln_pipeline_options_new(&opts_), nullptr);
  }
  void TearDown() override {
    kiln_pipeline_report_free(report_);
    kiln_pipeline_options_free(opts_);
    if (module_ != nullptr) LLVMDisposeModule(module_);
    if (tm_ != nullptr) LLVMDisposeTargetMachine(tm_);
    LLVMContextDispose(ctx_);
  }

  // Parses `body` after kPrelude, replacing the current module.
  void Parse(const char *body, const char *name = "test.ll") {
    if (module_ != nullptr) LLVMDisposeModule(module_);
    module_ = nullptr;
    std::string ir = std::string(kPrelude) + body;
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir.data(), ir.size(), name);
    char *msg = nullptr;
    ASSERT_EQ(LLVMParseIRInContext(ctx_, buf, &module_, &msg), 0) << msg;
  }

  void UseTargetMachine() {
    ASSERT_EQ(LLVMInitializeNativeTarget(), 0);
    LLVMTargetRef target = nullptr;
    char *msg = nullptr;
    ASSERT_EQ(LLVMGetTargetFromTriple(kTriple, &target, &msg), 0) << msg;
    tm_ = LLVMCreateTargetMachine(target, kTriple, "", "", LLVMCodeGenLevelDefault, LLVMRelocPIC,
                                  LLVMCodeModelDefault);
    ASSERT_NE(tm_, nullptr);
    kiln_pipeline_options_set_target_machine(opts_, tm_);
  }

  // Runs with only `stage` enabled (or all but it, when `only` is false).
  void RunStage(kiln_pipeline_stage_t stage, bool only) {
    for (int s = 0; s < KILN_PIPELINE_STAGE_COUNT; s++) {
      bool on = only ? s == stage : s != stage;
      ASSERT_EQ(kiln_pipeline_options_set_stage_enabled(opts_, (kiln_pipeline_stage_t)s, on), nullptr);
    }
    Run();
  }

  void Run() {
    kiln_pipeline_report_free(report_);
    report_ = nullptr;
    kiln_error_t *err = kiln_pipeline_run(opts_, module_, &report_);
    ASSERT_EQ(err, nullptr) << kiln_error_message(err);
    ASSERT_NE(report_, nullptr);
  }

  // Runs expecting failure; returns the message and checks the code.
  std::string RunFails(kiln_error_code_t code) {
    kiln_pipeline_report_t *report = reinterpret_cast<kiln_pipeline_report_t *>(1);
    kiln_error_t *err = kiln_pipeline_run(opts_, module_, &report);
    EXPECT_EQ(report, nullptr);
    EXPECT_EQ(kiln_error_code(err), code) << kiln_error_message(err);
    std::string msg = kiln_error_message(err);
    kiln_error_free(err);
    return msg;
  }

  std::string Passes(kiln_pipeline_stage_t stage) {
    char *text = nullptr;
    kiln_error_t *err = kiln_pipeline_stage_passes(opts_, stage, &text);
    EXPECT_EQ(err, nullptr) << kiln_error_message(err);
    kiln_error_free(err);
    std::string s = text != nullptr ? text : "";
    kiln_pipeline_string_free(text);
    return s;
  }

  LLVMContextRef ctx_ = nullptr;
  LLVMModuleRef module_ = nullptr;
  LLVMTargetMachineRef tm_ = nullptr;
  kiln_pipeline_options_t *opts_ = nullptr;
  kiln_pipeline_report_t *report_ = nullptr;
};

// ---- options --------------------------------------------------------------

TEST(PipelineOptionsTest, NewRejectsNull) {
  kiln_error_t *err = kiln_pipeline_options_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  kiln_pipeline_options_free(nullptr);  // accepted
}

TEST(PipelineOptionsTest, StageNamesRoundTrip) {
  for (int s = 0; s < KILN_PIPELINE_STAGE_COUNT; s++) {
    const char *name = kiln_pipeline_stage_name((kiln_pipeline_stage_t)s);
    ASSERT_NE(name, nullptr);
    kiln_pipeline_stage_t back = KILN_PIPELINE_STAGE_COUNT;
    ASSERT_EQ(kiln_pipeline_stage_from_name(name, &back), nullptr);
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(kiln_pipeline_stage_name(KILN_PIPELINE_STAGE_COUNT), nullptr);
  EXPECT_STREQ(kiln_pipeline_stage_name(KILN_PIPELINE_STAGE_LOOP_OPTIMIZATION), "loop-optimization");
}

TEST(PipelineOptionsTest, UnknownStageNameIsNotFound) {
  kiln_pipeline_stage_t stage = KILN_PIPELINE_STAGE_CLEANUP;
  kiln_error_t *err = kiln_pipeline_stage_from_name("loop-optimisation", &stage);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_TRUE(Contains(kiln_error_message(err), "loop-optimisation"));
  EXPECT_EQ(stage, KILN_PIPELINE_STAGE_COUNT);
  kiln_error_free(err);
}

TEST_F(PipelineFixture, OptLevelAboveThreeIsRejected) {
  EXPECT_EQ(kiln_pipeline_options_set_opt_level(opts_, 3), nullptr);
  kiln_error_t *err = kiln_pipeline_options_set_opt_level(opts_, 4);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(kiln_error_message(err), "4"));
  kiln_error_free(err);
  // Unchanged: O3 unswitches non-trivially.
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_LOOP_OPTIMIZATION), "<nontrivial;"));
}

TEST_F(PipelineFixture, BadStageNumberIsRejected) {
  kiln_error_t *err = kiln_pipeline_options_set_stage_enabled(opts_, KILN_PIPELINE_STAGE_COUNT, false);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_pipeline_options_set_extra_passes(opts_, (kiln_pipeline_stage_t)-1, "dce");
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  char *text = reinterpret_cast<char *>(1);
  err = kiln_pipeline_stage_passes(opts_, KILN_PIPELINE_STAGE_COUNT, &text);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(text, nullptr);
  kiln_error_free(err);
}

TEST_F(PipelineFixture, SanitizerSetsAreChecked) {
  EXPECT_EQ(kiln_pipeline_options_set_sanitizers(opts_, KILN_PIPELINE_SANITIZE_ADDRESS), nullptr);
  const unsigned bad[] = {
      1u << 7,
      KILN_PIPELINE_SANITIZE_THREAD | KILN_PIPELINE_SANITIZE_ADDRESS,
      KILN_PIPELINE_SANITIZE_ADDRESS | KILN_PIPELINE_SANITIZE_MEMORY,
  };
  for (unsigned set : bad) {
    kiln_error_t *err = kiln_pipeline_options_set_sanitizers(opts_, set);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT) << set;
    kiln_error_free(err);
  }
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_CLEANUP), "asan"));
}

TEST_F(PipelineFixture, StagePassesFollowLevelAndVectorization) {
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_VECTORIZATION), "slp-vectorizer"));
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_VECTORIZATION),
                       "loop-vectorize<no-interleave-forced-only;no-vectorize-forced-only>"));
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_CLEANUP), "div-rem-pairs"));
  // Without a hook, stage 6 has nothing to do.
  EXPECT_EQ(Passes(KILN_PIPELINE_STAGE_INTRINSIC_LOWERING), "");

  kiln_pipeline_options_set_vectorize(opts_, false);
  EXPECT_FALSE(Contains(Passes(KILN_PIPELINE_STAGE_VECTORIZATION), "slp-vectorizer"));
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_VECTORIZATION), "vectorize-forced-only>"));
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_VECTORIZATION), "loop-unroll<O2>"));

  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 1), nullptr);
  EXPECT_EQ(Passes(KILN_PIPELINE_STAGE_VECTORIZATION), "");
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_SCALAR_OPTIMIZATION), "sccp"));
  EXPECT_FALSE(Contains(Passes(KILN_PIPELINE_STAGE_SCALAR_OPTIMIZATION), "gvn"));

  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 0), nullptr);
  for (int s = 0; s < KILN_PIPELINE_STAGE_COUNT; s++) {
    EXPECT_EQ(Passes((kiln_pipeline_stage_t)s), "") << s;
  }
}

TEST_F(PipelineFixture, ExtraPassesAreAppendedAndCanBeRemoved) {
  ASSERT_EQ(kiln_pipeline_options_set_extra_passes(opts_, KILN_PIPELINE_STAGE_CLEANUP,
                                                   "function(instsimplify)"),
            nullptr);
  std::string text = Passes(KILN_PIPELINE_STAGE_CLEANUP);
  EXPECT_EQ(text.substr(text.size() - strlen(",function(instsimplify)")), ",function(instsimplify)");
  ASSERT_EQ(kiln_pipeline_options_set_extra_passes(opts_, KILN_PIPELINE_STAGE_CLEANUP, nullptr), nullptr);
  EXPECT_FALSE(Contains(Passes(KILN_PIPELINE_STAGE_CLEANUP), "instsimplify"));
}

// ---- each stage on and off ------------------------------------------------

TEST_F(PipelineFixture, EarlySimplificationPromotesAllocasAndLowersExpect) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION, true);
  std::string f = FunctionText(module_, "slots");
  EXPECT_FALSE(Contains(f, "alloca")) << f;
  EXPECT_FALSE(Contains(f, "llvm.expect")) << f;
  EXPECT_TRUE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION));
  EXPECT_FALSE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_EARLY_OPTIMIZATION));
}

TEST_F(PipelineFixture, WithoutEarlySimplificationExpectStays) {
  // Later stages promote the allocas too (SROA, InstCombine), but only
  // stage 1 lowers llvm.expect.
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION, false);
  std::string f = FunctionText(module_, "slots");
  EXPECT_TRUE(Contains(f, "llvm.expect")) << f;
  EXPECT_FALSE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION));
  EXPECT_EQ(kiln_pipeline_report_instructions_before(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION),
            kiln_pipeline_report_instructions_after(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION));
}

TEST_F(PipelineFixture, EarlyOptimizationInlines) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_EARLY_OPTIMIZATION, true);
  std::string f = FunctionText(module_, "caller");
  EXPECT_FALSE(Contains(f, "@small")) << f;
  EXPECT_TRUE(Contains(f, "@callee")) << f;  // noinline is respected
  EXPECT_EQ(LLVMGetNamedFunction(module_, "small"), nullptr) << "dead after inlining";
}

TEST_F(PipelineFixture, WithoutEarlyOptimizationNothingIsInlined) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_EARLY_OPTIMIZATION, false);
  EXPECT_TRUE(Contains(FunctionText(module_, "caller"), "@small(i32 %x)")) << ModuleText(module_);
}

TEST_F(PipelineFixture, LoopOptimizationRecognizesMemset) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_LOOP_OPTIMIZATION, true);
  EXPECT_TRUE(Contains(FunctionText(module_, "zero"), "llvm.memset")) << FunctionText(module_, "zero");
}

TEST_F(PipelineFixture, WithoutLoopOptimizationNoMemset) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_LOOP_OPTIMIZATION, false);
  EXPECT_FALSE(Contains(FunctionText(module_, "zero"), "llvm.memset")) << FunctionText(module_, "zero");
}

TEST_F(PipelineFixture, ScalarOptimizationRemovesRedundantLoad) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_SCALAR_OPTIMIZATION, true);
  std::string f = FunctionText(module_, "twice");
  EXPECT_EQ(f.find("load"), f.rfind("load")) << f;  // exactly one load
  EXPECT_TRUE(Contains(f, "load")) << f;
}

TEST_F(PipelineFixture, WithoutScalarOptimizationBothLoadsStay) {
  Parse(kStageModule);
  // EarlyCSE over MemorySSA in stage 2 can also see through the call; the
  // other stages (loop, vectorization, cleanup) must not.
  RunStage(KILN_PIPELINE_STAGE_SCALAR_OPTIMIZATION, false);
  Parse(kStageModule, "fresh.ll");
  ASSERT_EQ(kiln_pipeline_options_set_stage_enabled(opts_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION, false),
            nullptr);
  ASSERT_EQ(kiln_pipeline_options_set_stage_enabled(opts_, KILN_PIPELINE_STAGE_EARLY_OPTIMIZATION, false),
            nullptr);
  Run();
  std::string f = FunctionText(module_, "twice");
  EXPECT_NE(f.find("load"), f.rfind("load")) << f;
}

TEST_F(PipelineFixture, VectorizationUsesVectorTypesWithTargetMachine) {
  Parse(kStageModule);
  UseTargetMachine();
  RunStage(KILN_PIPELINE_STAGE_VECTORIZATION, true);
  std::string f = FunctionText(module_, "add_arrays");
  EXPECT_TRUE(Contains(f, "x float>")) << f;
}

TEST_F(PipelineFixture, VectorizationOffKeepsLoopScalar) {
  Parse(kStageModule);
  UseTargetMachine();
  kiln_pipeline_options_set_vectorize(opts_, false);
  Run();
  std::string f = FunctionText(module_, "add_arrays");
  EXPECT_FALSE(Contains(f, "x float>")) << f;
  EXPECT_TRUE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_VECTORIZATION));
}

TEST_F(PipelineFixture, VectorizationStageOffOrO1KeepsLoopScalar) {
  Parse(kStageModule);
  UseTargetMachine();
  RunStage(KILN_PIPELINE_STAGE_VECTORIZATION, false);
  EXPECT_FALSE(Contains(FunctionText(module_, "add_arrays"), "x float>"));

  LLVMDisposeModule(module_);
  module_ = nullptr;
  Parse(kStageModule);
  ASSERT_EQ(kiln_pipeline_options_set_stage_enabled(opts_, KILN_PIPELINE_STAGE_VECTORIZATION, true),
            nullptr);
  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 1), nullptr);
  Run();
  EXPECT_FALSE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_VECTORIZATION));
  EXPECT_FALSE(Contains(FunctionText(module_, "add_arrays"), "x float>"));
}

TEST_F(PipelineFixture, CleanupFormsFma) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_CLEANUP, true);
  std::string f = FunctionText(module_, "mul_add");
  EXPECT_TRUE(Contains(f, "@llvm.fmuladd.f64(double %x, double %y, double %z)")) << f;
  EXPECT_FALSE(Contains(f, "fmul contract")) << f;
}

TEST_F(PipelineFixture, WithoutCleanupNoFma) {
  Parse(kStageModule);
  RunStage(KILN_PIPELINE_STAGE_CLEANUP, false);
  EXPECT_FALSE(Contains(FunctionText(module_, "mul_add"), "fmuladd"));
}

// ---- levels and the report ------------------------------------------------

TEST_F(PipelineFixture, O0LeavesCodeAlone) {
  Parse(kStageModule);
  std::string before = ModuleText(module_);
  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 0), nullptr);
  Run();
  EXPECT_EQ(ModuleText(module_), before);
  for (int s = 0; s < KILN_PIPELINE_STAGE_COUNT; s++) {
    EXPECT_FALSE(kiln_pipeline_report_stage_ran(report_, (kiln_pipeline_stage_t)s)) << s;
  }
}

TEST_F(PipelineFixture, ReportChainsInstructionCounts) {
  Parse(kStageModule);
  UseTargetMachine();
  Run();
  uint64_t prev = kiln_pipeline_report_instructions_before(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION);
  EXPECT_GT(prev, 40u);
  for (int s = 0; s < KILN_PIPELINE_STAGE_COUNT; s++) {
    kiln_pipeline_stage_t stage = (kiln_pipeline_stage_t)s;
    EXPECT_EQ(kiln_pipeline_report_instructions_before(report_, stage), prev) << s;
    uint64_t after = kiln_pipeline_report_instructions_after(report_, stage);
    bool ran = kiln_pipeline_report_stage_ran(report_, stage);
    EXPECT_EQ(ran, stage != KILN_PIPELINE_STAGE_INTRINSIC_LOWERING) << s;
    if (ran) {
      EXPECT_GT(kiln_pipeline_report_stage_wall_ns(report_, stage), 0) << s;
    } else {
      EXPECT_EQ(kiln_pipeline_report_stage_wall_ns(report_, stage), 0) << s;
      EXPECT_EQ(after, prev) << s;
    }
    prev = after;
  }
  // Early simplification deletes the allocas, loads, stores and expect.
  EXPECT_LT(kiln_pipeline_report_instructions_after(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION),
            kiln_pipeline_report_instructions_before(report_, KILN_PIPELINE_STAGE_EARLY_SIMPLIFICATION));
  // Vectorization adds vector bodies and remainder loops.
  EXPECT_GT(kiln_pipeline_report_instructions_after(report_, KILN_PIPELINE_STAGE_VECTORIZATION),
            kiln_pipeline_report_instructions_before(report_, KILN_PIPELINE_STAGE_VECTORIZATION));
  EXPECT_GE(kiln_pipeline_report_total_wall_ns(report_),
            kiln_pipeline_report_stage_wall_ns(report_, KILN_PIPELINE_STAGE_VECTORIZATION));
  // Out-of-range stages read as nothing.
  EXPECT_FALSE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_COUNT));
  EXPECT_EQ(kiln_pipeline_report_instructions_after(report_, KILN_PIPELINE_STAGE_COUNT), 0u);
  EXPECT_EQ(kiln_pipeline_report_stage_wall_ns(nullptr, KILN_PIPELINE_STAGE_CLEANUP), 0);

  char *text = nullptr;
  ASSERT_EQ(kiln_pipeline_report_format(report_, &text), nullptr);
  std::string t = text;
  kiln_pipeline_string_free(text);
  EXPECT_TRUE(Contains(t, "early-simplification   ran")) << t;
  EXPECT_TRUE(Contains(t, "intrinsic-lowering     skipped")) << t;
  EXPECT_TRUE(Contains(t, "cleanup")) << t;
}

TEST_F(PipelineFixture, ReportFormatRejectsNull) {
  char *text = reinterpret_cast<char *>(1);
  kiln_error_t *err = kiln_pipeline_report_format(nullptr, &text);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(text, nullptr);
  kiln_error_free(err);
  kiln_pipeline_report_free(nullptr);  // accepted
}

TEST_F(PipelineFixture, AllLevelsAndVerifyEachRunCleanly) {
  for (unsigned level = 0; level <= 3; level++) {
    if (module_ != nullptr) LLVMDisposeModule(module_);
    module_ = nullptr;
    Parse(kStageModule);
    UseTargetMachine();
    ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, level), nullptr);
    kiln_pipeline_options_set_verify_each(opts_, level == 3);
    Run();
    char *msg = nullptr;
    EXPECT_EQ(LLVMVerifyModule(module_, LLVMReturnStatusAction, &msg), 0) << msg;
    LLVMDisposeMessage(msg);
    LLVMDisposeTargetMachine(tm_);
    tm_ = nullptr;
  }
}

// ---- the intrinsic-lowering hook ------------------------------------------

struct HookState {
  int calls = 0;
  int lowered = 0;
  bool fail = false;
  bool break_module = false;
};

// Lowers @test.square(x) to x * x and deletes the declaration.
kiln_error_t *LowerSquare(void *user_data, LLVMModuleRef m) {
  HookState *state = static_cast<HookState *>(user_data);
  state->calls++;
  if (state->fail) return kiln_error_new(KILN_ERR_UNSUPPORTED, "test.square: refused");
  LLVMValueRef decl = LLVMGetNamedFunction(m, "test.square");
  if (decl == nullptr) return nullptr;
  LLVMBuilderRef b = LLVMCreateBuilderInContext(LLVMGetModuleContext(m));
  LLVMUseRef use;
  while ((use = LLVMGetFirstUse(decl)) != nullptr) {
    LLVMValueRef call = LLVMGetUser(use);
    LLVMValueRef x = LLVMGetOperand(call, 0);
    LLVMPositionBuilderBefore(b, call);
    LLVMValueRef sq = LLVMBuildMul(b, x, x, "sq");
    LLVMReplaceAllUsesWith(call, sq);
    LLVMInstructionEraseFromParent(call);
    state->lowered++;
  }
  LLVMDisposeBuilder(b);
  LLVMDeleteFunction(decl);
  if (state->break_module) {
    // Drop a terminator: the module no longer verifies.
    LLVMValueRef f = LLVMGetNamedFunction(m, "sum_of_squares");
    LLVMInstructionEraseFromParent(LLVMGetLastInstruction(LLVMGetLastBasicBlock(f)));
  }
  return nullptr;
}

TEST_F(PipelineFixture, HookLowersCallerIntrinsic) {
  Parse(kIntrinsicModule);
  HookState state;
  kiln_pipeline_options_set_intrinsic_lowering(opts_, LowerSquare, &state);
  EXPECT_TRUE(Contains(Passes(KILN_PIPELINE_STAGE_INTRINSIC_LOWERING), "instcombine"));
  Run();
  EXPECT_EQ(state.calls, 1);
  EXPECT_EQ(state.lowered, 2);
  EXPECT_EQ(LLVMGetNamedFunction(module_, "test.square"), nullptr);
  std::string f = FunctionText(module_, "sum_of_squares");
  EXPECT_TRUE(Contains(f, "mul i32 %a, %a")) << f;
  EXPECT_TRUE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_INTRINSIC_LOWERING));
}

TEST_F(PipelineFixture, HookRunsEvenAtO0AndCanBeRemoved) {
  Parse(kIntrinsicModule);
  HookState state;
  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 0), nullptr);
  kiln_pipeline_options_set_intrinsic_lowering(opts_, LowerSquare, &state);
  EXPECT_EQ(Passes(KILN_PIPELINE_STAGE_INTRINSIC_LOWERING), "");
  Run();
  EXPECT_EQ(state.lowered, 2);
  kiln_pipeline_options_set_intrinsic_lowering(opts_, nullptr, &state);
  Run();
  EXPECT_EQ(state.calls, 1);
  EXPECT_FALSE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_INTRINSIC_LOWERING));
}

TEST_F(PipelineFixture, HookErrorIsPassedOnWithContext) {
  Parse(kIntrinsicModule, "squares.ll");
  HookState state;
  state.fail = true;
  kiln_pipeline_options_set_intrinsic_lowering(opts_, LowerSquare, &state);
  std::string msg = RunFails(KILN_ERR_UNSUPPORTED);
  EXPECT_TRUE(Contains(msg, "squares.ll")) << msg;
  EXPECT_TRUE(Contains(msg, "intrinsic-lowering")) << msg;
  EXPECT_TRUE(Contains(msg, "test.square: refused")) << msg;
}

TEST_F(PipelineFixture, HookThatBreaksTheModuleIsAnError) {
  Parse(kIntrinsicModule, "squares.ll");
  HookState state;
  state.break_module = true;
  kiln_pipeline_options_set_intrinsic_lowering(opts_, LowerSquare, &state);
  std::string msg = RunFails(KILN_ERR_LLVM);
  EXPECT_TRUE(Contains(msg, "squares.ll")) << msg;
  EXPECT_TRUE(Contains(msg, "intrinsic-lowering hook")) << msg;
}

// ---- sanitizers -----------------------------------------------------------

TEST_F(PipelineFixture, AddressSanitizerInstruments) {
  Parse(kStageModule);
  ASSERT_EQ(kiln_pipeline_options_set_sanitizers(opts_, KILN_PIPELINE_SANITIZE_ADDRESS), nullptr);
  Run();
  std::string text = ModuleText(module_);
  EXPECT_TRUE(Contains(text, "__asan_")) << text;
  EXPECT_TRUE(Contains(FunctionText(module_, "twice"), "sanitize_address") ||
              Contains(text, "sanitize_address"));
}

TEST_F(PipelineFixture, ThreadSanitizerInstrumentsAtO0) {
  Parse(kStageModule);
  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 0), nullptr);
  ASSERT_EQ(kiln_pipeline_options_set_sanitizers(opts_, KILN_PIPELINE_SANITIZE_THREAD), nullptr);
  Run();
  EXPECT_TRUE(Contains(FunctionText(module_, "twice"), "__tsan_read4")) << FunctionText(module_, "twice");
  EXPECT_TRUE(kiln_pipeline_report_stage_ran(report_, KILN_PIPELINE_STAGE_CLEANUP));
}

TEST_F(PipelineFixture, MemorySanitizerNeedsASupportedTriple) {
  const char ir[] = "define i32 @f(ptr %p) {\n  %v = load i32, ptr %p\n  ret i32 %v\n}\n";
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, strlen(ir), "notriple.ll");
  char *msg = nullptr;
  ASSERT_EQ(LLVMParseIRInContext(ctx_, buf, &module_, &msg), 0) << msg;
  ASSERT_EQ(kiln_pipeline_options_set_sanitizers(opts_, KILN_PIPELINE_SANITIZE_MEMORY), nullptr);
  std::string err = RunFails(KILN_ERR_UNSUPPORTED);
  EXPECT_TRUE(Contains(err, "notriple.ll")) << err;
  LLVMSetTarget(module_, kTriple);
  Run();
  EXPECT_TRUE(Contains(ModuleText(module_), "__msan")) << ModuleText(module_);
}

// ---- bad input --------------------------------------------------------------

TEST_F(PipelineFixture, InvalidModuleIsAnErrorNamingIt) {
  // A block without a terminator, built through the C API (the parser would
  // refuse it).
  module_ = LLVMModuleCreateWithNameInContext("broken_module", ctx_);
  LLVMTypeRef fn_type = LLVMFunctionType(LLVMVoidTypeInContext(ctx_), nullptr, 0, 0);
  LLVMValueRef f = LLVMAddFunction(module_, "f", fn_type);
  LLVMAppendBasicBlockInContext(ctx_, f, "entry");
  std::string msg = RunFails(KILN_ERR_LLVM);
  EXPECT_TRUE(Contains(msg, "broken_module")) << msg;
  EXPECT_TRUE(Contains(msg, "invalid input module")) << msg;
  EXPECT_TRUE(Contains(msg, "terminator")) << msg;  // LLVM's own words
}

TEST_F(PipelineFixture, UnknownPassIsAnErrorWithLlvmMessage) {
  Parse(kStageModule, "unknown_pass.ll");
  ASSERT_EQ(kiln_pipeline_options_set_extra_passes(opts_, KILN_PIPELINE_STAGE_SCALAR_OPTIMIZATION,
                                                   "function(no-such-pass)"),
            nullptr);
  std::string msg = RunFails(KILN_ERR_LLVM);
  EXPECT_TRUE(Contains(msg, "unknown_pass.ll")) << msg;
  EXPECT_TRUE(Contains(msg, "scalar-optimization")) << msg;
  EXPECT_TRUE(Contains(msg, "no-such-pass")) << msg;
}

TEST_F(PipelineFixture, MalformedPipelineTextIsAnError) {
  Parse(kStageModule);
  ASSERT_EQ(kiln_pipeline_options_set_opt_level(opts_, 0), nullptr);
  ASSERT_EQ(kiln_pipeline_options_set_extra_passes(opts_, KILN_PIPELINE_STAGE_CLEANUP, "function(dce"),
            nullptr);
  RunFails(KILN_ERR_LLVM);
}

TEST_F(PipelineFixture, NullArgumentsAreRejected) {
  Parse(kStageModule);
  kiln_pipeline_report_t *report = reinterpret_cast<kiln_pipeline_report_t *>(1);
  kiln_error_t *err = kiln_pipeline_run(nullptr, module_, &report);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(report, nullptr);
  kiln_error_free(err);
  err = kiln_pipeline_run(opts_, nullptr, &report);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_pipeline_run(opts_, module_, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

}  // namespace
