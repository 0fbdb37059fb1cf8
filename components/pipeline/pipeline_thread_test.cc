// components/pipeline/pipeline_thread_test.cc — the thread-safety contract:
// runs on modules of different LLVMContexts proceed in parallel on
// different threads, sharing one read-only options object (no target
// machine), and give the same result as a run alone. Tagged `tsan`.
#include <string.h>

#include <string>
#include <thread>
#include <vector>

#include "components/pipeline/pipeline.h"
#include "gtest/gtest.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"

namespace {

const char kModule[] = R"(
define internal i32 @sq(i32 %x) {
  %m = mul i32 %x, %x
  ret i32 %m
}
define i32 @sum(ptr %p, i64 %n) {
entry:
  %slot = alloca i32, align 4
  store i32 0, ptr %slot, align 4
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %q = getelementptr inbounds i32, ptr %p, i64 %i
  %v = load i32, ptr %q, align 4
  %s = call i32 @sq(i32 %v)
  %acc = load i32, ptr %slot, align 4
  %acc2 = add i32 %acc, %s
  store i32 %acc2, ptr %slot, align 4
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  %r = load i32, ptr %slot, align 4
  ret i32 %r
}
)";

// Parses kModule in a fresh context, optimizes it, returns the IR text.
std::string OptimizeInOwnContext(const kiln_pipeline_options_t *opts) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(kModule, strlen(kModule), "t.ll");
  LLVMModuleRef m = nullptr;
  char *msg = nullptr;
  std::string out;
  if (LLVMParseIRInContext(ctx, buf, &m, &msg) != 0) {
    out = std::string("parse error: ") + msg;
    LLVMDisposeMessage(msg);
  } else {
    kiln_pipeline_report_t *report = nullptr;
    kiln_error_t *err = kiln_pipeline_run(opts, m, &report);
    if (err != nullptr) {
      out = std::string("error: ") + kiln_error_message(err);
    } else {
      char *ir = LLVMPrintModuleToString(m);
      out = ir;
      LLVMDisposeMessage(ir);
    }
    kiln_error_free(err);
    kiln_pipeline_report_free(report);
    LLVMDisposeModule(m);
  }
  LLVMContextDispose(ctx);
  return out;
}

TEST(PipelineThreadTest, DifferentContextsRunInParallel) {
  kiln_pipeline_options_t *opts = nullptr;
  ASSERT_EQ(kiln_pipeline_options_new(&opts), nullptr);
  std::string alone = OptimizeInOwnContext(opts);
  ASSERT_EQ(alone.find("error"), std::string::npos) << alone;
  ASSERT_EQ(alone.find("alloca"), std::string::npos) << alone;

  const int kThreads = 4;
  std::vector<std::string> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&results, opts, t] { results[t] = OptimizeInOwnContext(opts); });
  }
  for (std::thread &t : threads) t.join();
  for (int t = 0; t < kThreads; t++) EXPECT_EQ(results[t], alone) << "thread " << t;
  kiln_pipeline_options_free(opts);
}

}  // namespace
