// components/codeinst/codeinst_test.cc — unit tests of the code-instance
// protocol: every valid state, every transition between them, the states a
// reader can meet halfway through a publication (staged step by step with
// codeinst_test_helpers.c), the bounded wait, and every misuse the API
// rejects. The concurrent stress test is codeinst_stress_test.cc.
#include "components/codeinst/codeinst.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "components/codeinst/codeinst_test_helpers.h"
#include "gtest/gtest.h"

namespace {

// Distinct callable entry points: each returns its own number, so a test can
// call what it read and know which function it got.
template <int N>
int Entry() {
  return N;
}

template <int N>
kiln_codeinst_fn_t Fn() {
  return reinterpret_cast<kiln_codeinst_fn_t>(&Entry<N>);
}

int Call(kiln_codeinst_fn_t fn) { return reinterpret_cast<int (*)()>(fn)(); }

kiln_codeinst_code_t Code(kiln_codeinst_fn_t invoke, kiln_codeinst_fn_t specptr, unsigned flags) {
  kiln_codeinst_code_t code;
  code.invoke = invoke;
  code.specptr = specptr;
  code.flags = flags;
  return code;
}

// Consumes an error, returning its code (KILN_OK for NULL).
kiln_error_code_t Take(kiln_error_t *err) {
  kiln_error_code_t code = kiln_error_code(err);
  kiln_error_free(err);
  return code;
}

// Owns one initialised instance per test.
class CodeinstFixture : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(Take(kiln_codeinst_init(&ci_)), KILN_OK); }

  kiln_codeinst_view_t TryRead() {
    kiln_codeinst_view_t view;
    EXPECT_EQ(Take(kiln_codeinst_try_read(&ci_, &view)), KILN_OK);
    return view;
  }

  kiln_codeinst_view_t Read() {
    kiln_codeinst_view_t view;
    EXPECT_EQ(Take(kiln_codeinst_read(&ci_, KILN_CODEINST_WAIT_FOREVER, &view)), KILN_OK);
    return view;
  }

  kiln_codeinst_outcome_t Publish(kiln_codeinst_fn_t invoke, kiln_codeinst_fn_t specptr,
                                  unsigned flags) {
    kiln_codeinst_code_t code = Code(invoke, specptr, flags);
    kiln_codeinst_view_t view;
    kiln_codeinst_outcome_t outcome;
    EXPECT_EQ(Take(kiln_codeinst_publish(&ci_, &code, KILN_CODEINST_WAIT_FOREVER, &view, &outcome)),
              KILN_OK);
    return outcome;
  }

  kiln_codeinst_t ci_;
};

void ExpectView(const kiln_codeinst_view_t &view, kiln_codeinst_state_t state,
                kiln_codeinst_fn_t invoke, unsigned flags, kiln_codeinst_fn_t specptr) {
  EXPECT_EQ(view.state, state) << kiln_codeinst_state_name(view.state);
  EXPECT_EQ(view.invoke, invoke);
  EXPECT_EQ(view.flags, flags);
  EXPECT_EQ(view.specptr, specptr);
}

// ---- init ----------------------------------------------------------------

using CodeinstInitTest = CodeinstFixture;

TEST_F(CodeinstInitTest, StartsNotCompiled) {
  ExpectView(TryRead(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
  ExpectView(Read(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
}

TEST_F(CodeinstInitTest, ResetsAPublishedInstance) {
  Publish(Fn<1>(), Fn<2>(), KILN_CODEINST_SPECSIG);
  ASSERT_EQ(Take(kiln_codeinst_init(&ci_)), KILN_OK);
  ExpectView(TryRead(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
}

TEST(CodeinstInitErrorTest, NullInstanceIsInvalidArgument) {
  kiln_error_t *err = kiln_codeinst_init(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_error_message(err)).find("NULL"), std::string::npos);
  kiln_error_free(err);
}

TEST(CodeinstLayoutTest, ZeroInitializedStaticIsNotCompiled) {
  static kiln_codeinst_t zeroed;  // zero-initialised, never init()ed
  kiln_codeinst_view_t view;
  ASSERT_EQ(Take(kiln_codeinst_try_read(&zeroed, &view)), KILN_OK);
  ExpectView(view, KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
}

TEST(CodeinstLayoutTest, CAndCxxAgreeOnSizeAndAlignment) {
  EXPECT_EQ(sizeof(kiln_codeinst_t), codeinst_test_c_sizeof());
  EXPECT_EQ(alignof(kiln_codeinst_t), codeinst_test_c_alignof());
}

// ---- publish: each valid state and transition -----------------------------

using CodeinstPublishTest = CodeinstFixture;

TEST_F(CodeinstPublishTest, SpecializedWithSpecsigGivesCompiled0b11) {
  kiln_codeinst_code_t code = Code(Fn<1>(), Fn<2>(), KILN_CODEINST_SPECSIG);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  ASSERT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome)), KILN_OK);
  EXPECT_EQ(outcome, KILN_CODEINST_INSTALLED);
  ExpectView(view, KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
  ExpectView(TryRead(), KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
  EXPECT_EQ(Call(Read().invoke), 1);
  EXPECT_EQ(Call(Read().specptr), 2);
}

TEST_F(CodeinstPublishTest, SpecializedWithoutSpecsigGivesCompiled0b10) {
  EXPECT_EQ(Publish(Fn<1>(), Fn<2>(), 0), KILN_CODEINST_INSTALLED);
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x2, Fn<2>());
}

TEST_F(CodeinstPublishTest, UnspecializedGivesInvokeOnly) {
  kiln_codeinst_code_t code = Code(Fn<7>(), nullptr, 0);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  ASSERT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome)), KILN_OK);
  EXPECT_EQ(outcome, KILN_CODEINST_INSTALLED);
  ExpectView(view, KILN_CODEINST_UNSPECIALIZED, Fn<7>(), 0, nullptr);
  ExpectView(Read(), KILN_CODEINST_UNSPECIALIZED, Fn<7>(), 0, nullptr);
  EXPECT_EQ(Call(Read().invoke), 7);
}

TEST_F(CodeinstPublishTest, SpecializedSupersedesUnspecialized) {
  // (invoke, 0b00, NULL) -> (invoke', 0b11, specptr): the winner's invoke
  // replaces the unspecialized one, which the caller may still hold and call.
  EXPECT_EQ(Publish(Fn<7>(), nullptr, 0), KILN_CODEINST_INSTALLED);
  kiln_codeinst_fn_t held = Read().invoke;
  EXPECT_EQ(Publish(Fn<1>(), Fn<2>(), KILN_CODEINST_SPECSIG), KILN_CODEINST_INSTALLED);
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
  EXPECT_EQ(Call(held), 7);
}

TEST_F(CodeinstPublishTest, SecondSpecializedKeepsTheFirst) {
  EXPECT_EQ(Publish(Fn<1>(), Fn<2>(), 0), KILN_CODEINST_INSTALLED);
  kiln_codeinst_code_t code = Code(Fn<3>(), Fn<4>(), KILN_CODEINST_SPECSIG);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  ASSERT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome)), KILN_OK);
  EXPECT_EQ(outcome, KILN_CODEINST_KEPT_EXISTING);
  ExpectView(view, KILN_CODEINST_COMPILED, Fn<1>(), 0x2, Fn<2>());
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x2, Fn<2>());
}

TEST_F(CodeinstPublishTest, SecondUnspecializedKeepsTheFirst) {
  EXPECT_EQ(Publish(Fn<7>(), nullptr, 0), KILN_CODEINST_INSTALLED);
  EXPECT_EQ(Publish(Fn<8>(), nullptr, 0), KILN_CODEINST_KEPT_EXISTING);
  ExpectView(Read(), KILN_CODEINST_UNSPECIALIZED, Fn<7>(), 0, nullptr);
}

TEST_F(CodeinstPublishTest, UnspecializedAfterCompiledKeepsCompiled) {
  EXPECT_EQ(Publish(Fn<1>(), Fn<2>(), KILN_CODEINST_SPECSIG), KILN_CODEINST_INSTALLED);
  kiln_codeinst_code_t code = Code(Fn<7>(), nullptr, 0);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  ASSERT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome)), KILN_OK);
  EXPECT_EQ(outcome, KILN_CODEINST_KEPT_EXISTING);
  ExpectView(view, KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
}

TEST_F(CodeinstPublishTest, LoserWaitsForTheWinnerToAnnounce) {
  // The winner has claimed specptr and stalls before its invoke store; a
  // second publisher must wait and then report the winner's code.
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  std::atomic<bool> started{false};
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome = KILN_CODEINST_INSTALLED;
  kiln_error_t *err = nullptr;
  std::thread loser([&] {
    kiln_codeinst_code_t code = Code(Fn<3>(), Fn<4>(), 0);
    started.store(true);
    err = kiln_codeinst_publish(&ci_, &code, KILN_CODEINST_WAIT_FOREVER, &view, &outcome);
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  codeinst_test_store_invoke(&ci_, Fn<1>(), KILN_CODEINST_SPECSIG);
  codeinst_test_announce(&ci_, KILN_CODEINST_SPECSIG);
  loser.join();
  EXPECT_EQ(Take(err), KILN_OK);
  EXPECT_EQ(outcome, KILN_CODEINST_KEPT_EXISTING);
  ExpectView(view, KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
}

TEST_F(CodeinstPublishTest, LoserTimesOutWhenTheWinnerStalls) {
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  kiln_codeinst_code_t code = Code(Fn<3>(), Fn<4>(), 0);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  kiln_error_t *err = kiln_codeinst_publish(&ci_, &code, 1000000 /* 1 ms */, &view, &outcome);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_TIMEOUT);
  EXPECT_NE(std::string(kiln_error_message(err)).find("did not complete"), std::string::npos);
  kiln_error_free(err);
  EXPECT_EQ(outcome, KILN_CODEINST_KEPT_EXISTING);
  ExpectView(view, KILN_CODEINST_PUBLISHING, nullptr, 0, nullptr);
}

TEST_F(CodeinstPublishTest, UnspecializedDuringAPublicationKeepsTheWinner) {
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  codeinst_test_store_invoke(&ci_, Fn<1>(), 0);
  codeinst_test_announce(&ci_, 0);
  EXPECT_EQ(Publish(Fn<7>(), nullptr, 0), KILN_CODEINST_KEPT_EXISTING);
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x2, Fn<2>());
}

// ---- publish: misuse ------------------------------------------------------

using CodeinstPublishErrorTest = CodeinstFixture;

TEST_F(CodeinstPublishErrorTest, NullInstanceIsInvalidArgument) {
  kiln_codeinst_code_t code = Code(Fn<1>(), Fn<2>(), 0);
  kiln_codeinst_view_t view;
  view.state = KILN_CODEINST_COMPILED;
  kiln_codeinst_outcome_t outcome = KILN_CODEINST_INSTALLED;
  EXPECT_EQ(Take(kiln_codeinst_publish(nullptr, &code, 0, &view, &outcome)),
            KILN_ERR_INVALID_ARGUMENT);
  // Outputs are set even on failure.
  ExpectView(view, KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
  EXPECT_EQ(outcome, KILN_CODEINST_KEPT_EXISTING);
}

TEST_F(CodeinstPublishErrorTest, NullCodeOrOutputsAreInvalidArgument) {
  kiln_codeinst_code_t code = Code(Fn<1>(), Fn<2>(), 0);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  EXPECT_EQ(Take(kiln_codeinst_publish(&ci_, nullptr, 0, &view, &outcome)),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, nullptr, &outcome)),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, &view, nullptr)),
            KILN_ERR_INVALID_ARGUMENT);
  ExpectView(TryRead(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
}

TEST_F(CodeinstPublishErrorTest, NullInvokeIsInvalidArgument) {
  for (kiln_codeinst_fn_t specptr : {Fn<2>(), static_cast<kiln_codeinst_fn_t>(nullptr)}) {
    kiln_codeinst_code_t code = Code(nullptr, specptr, 0);
    kiln_codeinst_view_t view;
    kiln_codeinst_outcome_t outcome;
    kiln_error_t *err = kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_error_message(err)).find("NULL invoke"), std::string::npos);
    kiln_error_free(err);
  }
  // Nothing was claimed: a valid publication still wins.
  ExpectView(TryRead(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
  EXPECT_EQ(Publish(Fn<1>(), Fn<2>(), 0), KILN_CODEINST_INSTALLED);
}

TEST_F(CodeinstPublishErrorTest, InvalidFlagBitsAreInvalidArgument) {
  for (unsigned flags : {0x2u, 0x3u, 0x4u, 0x80u, 0x100u, 0xffffffffu}) {
    kiln_codeinst_code_t code = Code(Fn<1>(), Fn<2>(), flags);
    kiln_codeinst_view_t view;
    kiln_codeinst_outcome_t outcome;
    kiln_error_t *err = kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT) << flags;
    EXPECT_NE(std::string(kiln_error_message(err)).find("flags"), std::string::npos);
    kiln_error_free(err);
  }
  ExpectView(TryRead(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
}

TEST_F(CodeinstPublishErrorTest, SpecsigWithoutSpecptrIsInvalidArgument) {
  kiln_codeinst_code_t code = Code(Fn<1>(), nullptr, KILN_CODEINST_SPECSIG);
  kiln_codeinst_view_t view;
  kiln_codeinst_outcome_t outcome;
  EXPECT_EQ(Take(kiln_codeinst_publish(&ci_, &code, 0, &view, &outcome)),
            KILN_ERR_INVALID_ARGUMENT);
  ExpectView(TryRead(), KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
}

// ---- readers: the states halfway through a publication ---------------------

using CodeinstReadTest = CodeinstFixture;

TEST_F(CodeinstReadTest, ClaimedSpecptrWithoutInvokeIsPublishingNotNotCompiled) {
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  ExpectView(TryRead(), KILN_CODEINST_PUBLISHING, nullptr, 0, nullptr);
}

TEST_F(CodeinstReadTest, InvokeStoredButNotAnnouncedIsPublishing) {
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  codeinst_test_store_invoke(&ci_, Fn<1>(), KILN_CODEINST_SPECSIG);
  // invoke is shown (it is callable) but never paired with specptr or flags.
  ExpectView(TryRead(), KILN_CODEINST_PUBLISHING, Fn<1>(), 0, nullptr);
  kiln_codeinst_view_t view;
  EXPECT_EQ(codeinst_test_read_compiled(&ci_, &view), 0);
}

TEST_F(CodeinstReadTest, OlderUnspecializedInvokeStaysVisibleWhilePublishing) {
  EXPECT_EQ(Publish(Fn<7>(), nullptr, 0), KILN_CODEINST_INSTALLED);
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  ExpectView(TryRead(), KILN_CODEINST_PUBLISHING, Fn<7>(), 0, nullptr);
  codeinst_test_store_invoke(&ci_, Fn<1>(), 0);
  codeinst_test_announce(&ci_, 0);
  ExpectView(TryRead(), KILN_CODEINST_COMPILED, Fn<1>(), 0x2, Fn<2>());
}

TEST_F(CodeinstReadTest, ReadTimesOutWhilePublishing) {
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  for (uint64_t timeout : {uint64_t{0}, uint64_t{2000000}}) {
    kiln_codeinst_view_t view;
    kiln_error_t *err = kiln_codeinst_read(&ci_, timeout, &view);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_TIMEOUT);
    kiln_error_free(err);
    ExpectView(view, KILN_CODEINST_PUBLISHING, nullptr, 0, nullptr);
  }
}

TEST_F(CodeinstReadTest, ReadWaitsForTheAnnouncement) {
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  std::atomic<bool> started{false};
  kiln_codeinst_view_t view;
  kiln_error_t *err = nullptr;
  std::thread reader([&] {
    started.store(true);
    err = kiln_codeinst_read(&ci_, KILN_CODEINST_WAIT_FOREVER, &view);
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it reach the yield phase
  codeinst_test_store_invoke(&ci_, Fn<1>(), KILN_CODEINST_SPECSIG);
  codeinst_test_announce(&ci_, KILN_CODEINST_SPECSIG);
  reader.join();
  EXPECT_EQ(Take(err), KILN_OK);
  ExpectView(view, KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
}

TEST_F(CodeinstReadTest, InlineFastPathOnlyAnswersWhenCompiled) {
  kiln_codeinst_view_t view;
  view.state = KILN_CODEINST_UNSPECIALIZED;
  EXPECT_EQ(codeinst_test_read_compiled(&ci_, &view), 0);
  EXPECT_EQ(view.state, KILN_CODEINST_UNSPECIALIZED);  // untouched
  Publish(Fn<7>(), nullptr, 0);
  EXPECT_EQ(codeinst_test_read_compiled(&ci_, &view), 0);
  Publish(Fn<1>(), Fn<2>(), KILN_CODEINST_SPECSIG);
  ASSERT_EQ(codeinst_test_read_compiled(&ci_, &view), 1);
  ExpectView(view, KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<2>());
}

using CodeinstReadErrorTest = CodeinstFixture;

TEST_F(CodeinstReadErrorTest, NullArgumentsAreInvalidArgument) {
  kiln_codeinst_view_t view;
  view.state = KILN_CODEINST_COMPILED;
  EXPECT_EQ(Take(kiln_codeinst_read(nullptr, 0, &view)), KILN_ERR_INVALID_ARGUMENT);
  ExpectView(view, KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
  EXPECT_EQ(Take(kiln_codeinst_read(&ci_, 0, nullptr)), KILN_ERR_INVALID_ARGUMENT);
  view.state = KILN_CODEINST_COMPILED;
  EXPECT_EQ(Take(kiln_codeinst_try_read(nullptr, &view)), KILN_ERR_INVALID_ARGUMENT);
  ExpectView(view, KILN_CODEINST_NOT_COMPILED, nullptr, 0, nullptr);
  EXPECT_EQ(Take(kiln_codeinst_try_read(&ci_, nullptr)), KILN_ERR_INVALID_ARGUMENT);
}

// ---- update_specptr --------------------------------------------------------

using CodeinstUpdateTest = CodeinstFixture;

TEST_F(CodeinstUpdateTest, EquivalentSpecptrReplacesOnlySpecptr) {
  Publish(Fn<1>(), Fn<2>(), KILN_CODEINST_SPECSIG);
  kiln_codeinst_fn_t held = Read().specptr;
  ASSERT_EQ(Take(kiln_codeinst_update_specptr(&ci_, Fn<12>())), KILN_OK);
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<12>());
  EXPECT_EQ(Call(held), 2);  // the old pointer is still callable
  // A later publisher still loses: specptr never goes back to NULL.
  EXPECT_EQ(Publish(Fn<3>(), Fn<4>(), 0), KILN_CODEINST_KEPT_EXISTING);
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x3, Fn<12>());
}

using CodeinstUpdateErrorTest = CodeinstFixture;

TEST_F(CodeinstUpdateErrorTest, NullArgumentsAreInvalidArgument) {
  EXPECT_EQ(Take(kiln_codeinst_update_specptr(nullptr, Fn<2>())), KILN_ERR_INVALID_ARGUMENT);
  Publish(Fn<1>(), Fn<2>(), 0);
  EXPECT_EQ(Take(kiln_codeinst_update_specptr(&ci_, nullptr)), KILN_ERR_INVALID_ARGUMENT);
  ExpectView(Read(), KILN_CODEINST_COMPILED, Fn<1>(), 0x2, Fn<2>());
}

TEST_F(CodeinstUpdateErrorTest, NotCompiledInstancesAreRejected) {
  auto expect_rejected = [&](const char *state) {
    kiln_error_t *err = kiln_codeinst_update_specptr(&ci_, Fn<12>());
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_error_message(err)).find(state), std::string::npos)
        << kiln_error_message(err);
    kiln_error_free(err);
  };
  expect_rejected("not-compiled");
  Publish(Fn<7>(), nullptr, 0);
  expect_rejected("unspecialized");
  ExpectView(Read(), KILN_CODEINST_UNSPECIALIZED, Fn<7>(), 0, nullptr);
  ASSERT_TRUE(codeinst_test_claim(&ci_, Fn<2>()));
  expect_rejected("publishing");
}

// ---- names -------------------------------------------------------------------

TEST(CodeinstStateNameTest, NamesEveryStateAndRejectsOthers) {
  EXPECT_STREQ(kiln_codeinst_state_name(KILN_CODEINST_NOT_COMPILED), "not-compiled");
  EXPECT_STREQ(kiln_codeinst_state_name(KILN_CODEINST_UNSPECIALIZED), "unspecialized");
  EXPECT_STREQ(kiln_codeinst_state_name(KILN_CODEINST_PUBLISHING), "publishing");
  EXPECT_STREQ(kiln_codeinst_state_name(KILN_CODEINST_COMPILED), "compiled");
  EXPECT_STREQ(kiln_codeinst_state_name(static_cast<kiln_codeinst_state_t>(42)), "unknown");
}

}  // namespace
