// components/codeinst/codeinst_stress_test.cc — the protocol under load:
// several writers race to publish different code into the same instances
// while several readers read them in a loop, through all three read paths
// (try_read, the waiting read, the inline fast path). Every read must be a
// valid, consistent state: invoke, flags and specptr all from the same
// publication, never a torn triple, and never a pointer that was non-NULL
// becoming NULL again.
//
// Each writer also fills a plain (non-atomic) "payload" before publishing,
// standing in for the code bytes a pointer refers to; readers read the
// payload behind every pointer they get. Without the release/acquire pairs
// that is a data race, which ThreadSanitizer reports (the test is tagged
// `tsan` and CI runs it under --config=tsan).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "components/codeinst/codeinst.h"
#include "components/codeinst/codeinst_test_helpers.h"
#include "gtest/gtest.h"

namespace {

constexpr int kWriters = 4;
constexpr int kReaders = 4;
constexpr int kInstances = 512;
constexpr int kMinRounds = 12;
constexpr int kStates = 4;  // kiln_codeinst_state_t values
constexpr long kMinTotalReads = 1000000;
// Reads each reader does per round at least, so the total is reached in
// about kMinRounds rounds without the writers' pace mattering.
constexpr long kReaderQuotaPerRound = kMinTotalReads / kMinRounds / kReaders + 1;

template <int N>
int Entry() {
  return N;
}

// What a writer offers. Writer w publishes either specialized
// (invoke[w], spec[w]), later maybe swapping spec[w] for the equivalent
// alt[w], or unspecialized (unspec[w]).
struct WriterCode {
  kiln_codeinst_fn_t invoke, spec, alt, unspec;
  unsigned specsig;
};

template <int W>
WriterCode MakeWriterCode() {
  return {reinterpret_cast<kiln_codeinst_fn_t>(&Entry<100 + W>),
          reinterpret_cast<kiln_codeinst_fn_t>(&Entry<200 + W>),
          reinterpret_cast<kiln_codeinst_fn_t>(&Entry<300 + W>),
          reinterpret_cast<kiln_codeinst_fn_t>(&Entry<400 + W>),
          W % 2 == 1 ? unsigned{KILN_CODEINST_SPECSIG} : 0u};
}

const WriterCode kCode[kWriters] = {MakeWriterCode<0>(), MakeWriterCode<1>(), MakeWriterCode<2>(),
                                    MakeWriterCode<3>()};

enum class Kind { kNone, kInvoke, kSpec, kUnspec };

struct Origin {
  int writer = -1;
  Kind kind = Kind::kNone;
};

Origin Classify(kiln_codeinst_fn_t fn) {
  for (int w = 0; w < kWriters; ++w) {
    if (fn == kCode[w].invoke) return {w, Kind::kInvoke};
    if (fn == kCode[w].spec || fn == kCode[w].alt) return {w, Kind::kSpec};
    if (fn == kCode[w].unspec) return {w, Kind::kUnspec};
  }
  return {};
}

// Writer w on instance i publishes specialized unless (i + w) % 3 == 0, so
// every instance gets at least two specialized publishers (and, for most,
// an unspecialized one racing them).
bool PublishesSpecialized(int i, int w) { return (i + w) % 3 != 0; }

int PayloadValue(int round, int i, int w) { return round * 1000003 + i * 31 + w + 1; }

class Round {
 public:
  explicit Round(int round)
      : round_(round), cis_(kInstances), payload_(kInstances * kWriters, 0), installs_(kInstances),
        winner_(kInstances) {
    for (auto &ci : cis_) EXPECT_EQ(kiln_codeinst_init(&ci), nullptr);
    for (int i = 0; i < kInstances; ++i) {
      installs_[i].store(0);
      winner_[i].store(-1);
    }
  }

  // Returns the reads done, by state observed (kiln_codeinst_state_t order).
  std::vector<long> Run() {
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) threads.emplace_back([this, w] { Write(w); });
    std::vector<std::vector<long>> by_state(kReaders);
    for (int r = 0; r < kReaders; ++r) {
      threads.emplace_back([this, r, &by_state] { by_state[r] = Read(r); });
    }
    go_.store(true);
    for (auto &t : threads) t.join();
    CheckFinal();
    std::vector<long> total(kStates, 0);
    for (const auto &counts : by_state) {
      for (int s = 0; s < kStates; ++s) total[s] += counts[s];
    }
    return total;
  }

  long failures() const { return failures_.load(); }
  bool lockstep() const { return round_ % 2 == 1; }
  std::string first_failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_failure_;
  }

 private:
  void Fail(const char *what, int i, const kiln_codeinst_view_t &v) {
    if (failures_.fetch_add(1) == 0) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "round %d instance %d: %s (state %s, flags 0x%x)", round_, i,
                    what, kiln_codeinst_state_name(v.state), v.flags);
      std::lock_guard<std::mutex> lock(mu_);
      first_failure_ = buf;
    }
  }

  // Reads the payload behind a pointer: a plain load that only is race-free
  // if the pointer was obtained through an acquire that pairs with the
  // publisher's release.
  bool PayloadOk(int i, Origin o) const {
    return payload_[i * kWriters + o.writer] == PayloadValue(round_, i, o.writer);
  }

  // Checks one view for validity and consistency; `seen` is this reader's
  // history for the instance (0 nothing, 1 some invoke, 2 compiled).
  void Check(int i, const kiln_codeinst_view_t &v, int *seen, kiln_codeinst_fn_t *compiled_invoke) {
    Origin inv = Classify(v.invoke);
    Origin sp = Classify(v.specptr);
    switch (v.state) {
      case KILN_CODEINST_NOT_COMPILED:
        if (v.invoke || v.specptr || v.flags) Fail("not-compiled with fields set", i, v);
        if (*seen > 0) Fail("went back to not-compiled", i, v);
        return;
      case KILN_CODEINST_UNSPECIALIZED:
      case KILN_CODEINST_PUBLISHING:
        if (v.specptr || v.flags) Fail("specptr or flags without compiled state", i, v);
        if (v.invoke == nullptr) {
          if (v.state == KILN_CODEINST_UNSPECIALIZED) Fail("unspecialized with NULL invoke", i, v);
          if (*seen > 0) Fail("invoke went back to NULL", i, v);
          return;
        }
        if (inv.kind != Kind::kInvoke && inv.kind != Kind::kUnspec) Fail("unknown invoke", i, v);
        else if (!PayloadOk(i, inv)) Fail("invoke's payload not visible", i, v);
        if (*seen > 1) Fail("compiled instance read as not compiled", i, v);
        if (*seen < 1) *seen = 1;
        return;
      case KILN_CODEINST_COMPILED:
        if (sp.kind != Kind::kSpec) {
          Fail("compiled with unknown specptr", i, v);
          return;
        }
        // The triple must be one publication: specptr's writer's invoke and
        // that writer's flags (the torn triples are exactly the violations).
        if (inv.writer != sp.writer || inv.kind != Kind::kInvoke) {
          Fail("invoke does not match specptr (torn triple)", i, v);
        }
        if (v.flags != (KILN_CODEINST_INVOKE_MATCHES | kCode[sp.writer].specsig)) {
          Fail("flags do not match specptr's publisher", i, v);
        }
        if (!PayloadOk(i, sp)) Fail("specptr's payload not visible", i, v);
        if (*seen == 2 && v.invoke != *compiled_invoke) Fail("compiled invoke changed", i, v);
        *seen = 2;
        *compiled_invoke = v.invoke;
        return;
    }
    Fail("unknown state", i, v);
  }

  void Write(int w) {
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
    // Scattered rounds: each writer walks the instances in its own order,
    // so races move around. Lockstep rounds: all walk the same order and
    // fight over the same instance, and readers chase that frontier.
    int stride = lockstep() ? 1 : 2 * w + 1;  // odd: coprime to kInstances
    int offset = lockstep() ? round_ * 131 % kInstances : (round_ * 131 + w * 37) % kInstances;
    for (int j = 0; j < kInstances; ++j) {
      int i = (offset + j * stride) % kInstances;
      if (w == 0) frontier_.store(i, std::memory_order_relaxed);
      // The "code bytes": written plainly, before the pointer is published.
      payload_[i * kWriters + w] = PayloadValue(round_, i, w);
      bool specialized = PublishesSpecialized(i, w);
      kiln_codeinst_code_t code;
      code.invoke = specialized ? kCode[w].invoke : kCode[w].unspec;
      code.specptr = specialized ? kCode[w].spec : nullptr;
      code.flags = specialized ? kCode[w].specsig : 0;
      kiln_codeinst_view_t view;
      kiln_codeinst_outcome_t outcome;
      kiln_error_t *err =
          kiln_codeinst_publish(&cis_[i], &code, KILN_CODEINST_WAIT_FOREVER, &view, &outcome);
      if (err != nullptr) {
        Fail(kiln_error_message(err), i, view);
        kiln_error_free(err);
        continue;
      }
      if (specialized && view.state != KILN_CODEINST_COMPILED) Fail("publish not compiled", i, view);
      if (specialized && outcome == KILN_CODEINST_INSTALLED) {
        installs_[i].fetch_add(1);
        winner_[i].store(w);
        if (i % 2 == 0) {
          kiln_error_t *uerr = kiln_codeinst_update_specptr(&cis_[i], kCode[w].alt);
          if (uerr != nullptr) Fail(kiln_error_message(uerr), i, view);
          kiln_error_free(uerr);
        }
      }
    }
    writers_done_.fetch_add(1, std::memory_order_release);
  }

  std::vector<long> Read(int r) {
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
    std::vector<int> seen(kInstances, 0);
    std::vector<kiln_codeinst_fn_t> compiled(kInstances, nullptr);
    std::vector<long> by_state(kStates, 0);
    long reads = 0;
    auto read_one = [&](int i, int mode) {
      kiln_codeinst_view_t v;
      kiln_error_t *err = nullptr;
      switch (mode % 3) {
        case 0:
          err = kiln_codeinst_try_read(&cis_[i], &v);
          break;
        case 1:
          err = kiln_codeinst_read(&cis_[i], KILN_CODEINST_WAIT_FOREVER, &v);
          if (err == nullptr && v.state == KILN_CODEINST_PUBLISHING) {
            Fail("read returned publishing", i, v);
          }
          break;
        default:
          if (!codeinst_test_read_compiled(&cis_[i], &v)) {
            err = kiln_codeinst_read(&cis_[i], KILN_CODEINST_WAIT_FOREVER, &v);
          }
          break;
      }
      if (err != nullptr) {
        Fail(kiln_error_message(err), i, v);
        kiln_error_free(err);
        return;
      }
      Check(i, v, &seen[i], &compiled[i]);
      ++by_state[v.state % kStates];
      ++reads;
    };
    if (lockstep()) {
      // Chase the writers: read the instance they publish right now (and
      // the next), mostly without waiting, to land inside publications.
      for (int k = 0; writers_done_.load(std::memory_order_acquire) < kWriters; ++k) {
        int i = frontier_.load(std::memory_order_relaxed);
        read_one(i, k % 4 == 3 ? 1 : 0);
        read_one((i + 1) % kInstances, r + k);
      }
    }
    for (int pass = 0;; ++pass) {
      bool writers_done = writers_done_.load(std::memory_order_acquire) == kWriters;
      for (int i = 0; i < kInstances; ++i) read_one(i, pass + i + r);
      // One full pass after every writer finished, and the quota met.
      if (writers_done && reads >= kReaderQuotaPerRound) break;
    }
    return by_state;
  }

  // After the round: every instance compiled by exactly one winner, whose
  // code is what a read returns.
  void CheckFinal() {
    for (int i = 0; i < kInstances; ++i) {
      kiln_codeinst_view_t v;
      EXPECT_EQ(kiln_codeinst_try_read(&cis_[i], &v), nullptr);
      EXPECT_EQ(installs_[i].load(), 1) << "instance " << i;
      int w = winner_[i].load();
      ASSERT_GE(w, 0) << "instance " << i;
      EXPECT_EQ(v.state, KILN_CODEINST_COMPILED);
      EXPECT_EQ(v.invoke, kCode[w].invoke);
      EXPECT_EQ(v.specptr, i % 2 == 0 ? kCode[w].alt : kCode[w].spec);
      EXPECT_EQ(v.flags, KILN_CODEINST_INVOKE_MATCHES | kCode[w].specsig);
    }
  }

  const int round_;
  std::vector<kiln_codeinst_t> cis_;
  std::vector<int> payload_;  // [instance][writer], plain on purpose
  std::vector<std::atomic<int>> installs_;
  std::vector<std::atomic<int>> winner_;
  std::atomic<bool> go_{false};
  std::atomic<int> writers_done_{0};
  std::atomic<int> frontier_{0};  // instance writer 0 is publishing (lockstep)
  std::atomic<long> failures_{0};
  std::mutex mu_;
  std::string first_failure_;
};

TEST(CodeinstStressTest, RacingWritersAndReadersOnlyEverSeeValidStates) {
  long total_reads = 0;
  std::vector<long> by_state(kStates, 0);
  int rounds = 0;
  while (rounds < kMinRounds || total_reads < kMinTotalReads) {
    Round round(rounds);
    std::vector<long> counts = round.Run();
    ASSERT_EQ(round.failures(), 0) << round.first_failure();
    for (int s = 0; s < kStates; ++s) {
      by_state[s] += counts[s];
      total_reads += counts[s];
    }
    ++rounds;
  }
  EXPECT_GE(total_reads, kMinTotalReads);
  // How often each state was met: evidence the readers ran into the races
  // (a machine with fewer cores sees fewer transient states).
  std::printf("codeinst stress: %d rounds, %d writers, %d readers, %d instances, %ld reads "
              "(not-compiled %ld, unspecialized %ld, publishing %ld, compiled %ld)\n",
              rounds, kWriters, kReaders, kInstances, total_reads, by_state[0], by_state[1],
              by_state[2], by_state[3]);
}

}  // namespace
