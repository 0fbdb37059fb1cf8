// Tests for third_party/abseil_c: a success and an error case per function,
// plus the properties kiln relies on (sorted traversal, worker joins).
#include "third_party/abseil_c/abseil_c.h"

#include <string.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

// Fails the test with the error's message and frees it.
void ExpectOk(kiln_error_t *err) {
  EXPECT_EQ(err, nullptr) << kiln_error_message(err);
  kiln_error_free(err);
}

void ExpectError(kiln_error_t *err, kiln_error_code_t code, const char *fragment) {
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), code);
  EXPECT_NE(strstr(kiln_error_message(err), fragment), nullptr) << kiln_error_message(err);
  kiln_error_free(err);
}

class AbslStrmapTest : public ::testing::Test {
 protected:
  void SetUp() override { ExpectOk(kiln_absl_strmap_new(&map_)); }
  void TearDown() override { kiln_absl_strmap_free(map_); }
  kiln_absl_strmap_t *map_ = nullptr;
};

TEST_F(AbslStrmapTest, InsertFindErase) {
  int a = 1, b = 2;
  bool inserted = false;
  ExpectOk(kiln_absl_strmap_insert(map_, "alpha", &a, &inserted));
  EXPECT_TRUE(inserted);
  ExpectOk(kiln_absl_strmap_insert(map_, "alpha", &b, &inserted));
  EXPECT_FALSE(inserted);  // first value kept
  void *value = nullptr;
  EXPECT_TRUE(kiln_absl_strmap_find(map_, "alpha", &value));
  EXPECT_EQ(value, &a);
  ExpectOk(kiln_absl_strmap_put(map_, "alpha", &b));
  EXPECT_TRUE(kiln_absl_strmap_find(map_, "alpha", &value));
  EXPECT_EQ(value, &b);
  EXPECT_EQ(kiln_absl_strmap_size(map_), 1u);
  EXPECT_TRUE(kiln_absl_strmap_erase(map_, "alpha"));
  EXPECT_FALSE(kiln_absl_strmap_erase(map_, "alpha"));
  EXPECT_EQ(kiln_absl_strmap_size(map_), 0u);
}

TEST_F(AbslStrmapTest, KeysAreCopied) {
  std::string key = "transient";
  ExpectOk(kiln_absl_strmap_insert(map_, key.c_str(), nullptr, nullptr));
  key.assign("overwritten");
  EXPECT_TRUE(kiln_absl_strmap_find(map_, "transient", nullptr));
}

TEST_F(AbslStrmapTest, MissingKeyAndNullArguments) {
  void *value = reinterpret_cast<void *>(0x1);
  EXPECT_FALSE(kiln_absl_strmap_find(map_, "absent", &value));
  EXPECT_EQ(value, nullptr);
  EXPECT_FALSE(kiln_absl_strmap_find(nullptr, "absent", &value));
  EXPECT_FALSE(kiln_absl_strmap_find(map_, nullptr, &value));
  bool inserted = true;
  ExpectError(kiln_absl_strmap_insert(map_, nullptr, nullptr, &inserted),
              KILN_ERR_INVALID_ARGUMENT, "'key' is NULL");
  EXPECT_FALSE(inserted);
  ExpectError(kiln_absl_strmap_insert(nullptr, "k", nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'map' is NULL");
  ExpectError(kiln_absl_strmap_put(map_, nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'key' is NULL");
  EXPECT_FALSE(kiln_absl_strmap_erase(nullptr, "k"));
  EXPECT_EQ(kiln_absl_strmap_size(nullptr), 0u);
  kiln_absl_strmap_free(nullptr);
  ExpectError(kiln_absl_strmap_new(nullptr), KILN_ERR_INVALID_ARGUMENT, "'out' is NULL");
}

TEST_F(AbslStrmapTest, VisitIsSortedAndCanStop) {
  // Inserted in an order unrelated to both byte order and hash order.
  const char *keys[] = {"m", "b", "zeta", "a", "ab", "Z", "", "k10", "k9"};
  for (const char *k : keys) ExpectOk(kiln_absl_strmap_insert(map_, k, nullptr, nullptr));
  std::vector<std::string> seen;
  ExpectOk(kiln_absl_strmap_visit_sorted(
      map_,
      [](void *ctx, const char *key, void *) {
        static_cast<std::vector<std::string> *>(ctx)->push_back(key);
        return true;
      },
      &seen));
  EXPECT_EQ(seen, (std::vector<std::string>{"", "Z", "a", "ab", "b", "k10", "k9", "m", "zeta"}));

  seen.clear();
  ExpectOk(kiln_absl_strmap_visit_sorted(
      map_,
      [](void *ctx, const char *key, void *) {
        auto *out = static_cast<std::vector<std::string> *>(ctx);
        out->push_back(key);
        return out->size() < 3;
      },
      &seen));
  EXPECT_EQ(seen.size(), 3u);
  ExpectError(kiln_absl_strmap_visit_sorted(map_, nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'fn' is NULL");
  ExpectError(kiln_absl_strmap_visit_sorted(nullptr, nullptr, nullptr),
              KILN_ERR_INVALID_ARGUMENT, "'map' is NULL");
}

TEST(AbslStrsetTest, InsertContainsEraseVisit) {
  kiln_absl_strset_t *set = nullptr;
  ExpectOk(kiln_absl_strset_new(&set));
  bool inserted = false;
  ExpectOk(kiln_absl_strset_insert(set, "y", &inserted));
  EXPECT_TRUE(inserted);
  ExpectOk(kiln_absl_strset_insert(set, "x", &inserted));
  ExpectOk(kiln_absl_strset_insert(set, "y", &inserted));
  EXPECT_FALSE(inserted);
  EXPECT_TRUE(kiln_absl_strset_contains(set, "x"));
  EXPECT_FALSE(kiln_absl_strset_contains(set, "w"));
  EXPECT_EQ(kiln_absl_strset_size(set), 2u);
  std::string joined;
  ExpectOk(kiln_absl_strset_visit_sorted(
      set,
      [](void *ctx, const char *key) {
        static_cast<std::string *>(ctx)->append(key);
        return true;
      },
      &joined));
  EXPECT_EQ(joined, "xy");
  EXPECT_TRUE(kiln_absl_strset_erase(set, "x"));
  EXPECT_FALSE(kiln_absl_strset_erase(set, "x"));
  kiln_absl_strset_free(set);
}

TEST(AbslStrsetTest, NullArguments) {
  ExpectError(kiln_absl_strset_insert(nullptr, "k", nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'set' is NULL");
  kiln_absl_strset_t *set = nullptr;
  ExpectOk(kiln_absl_strset_new(&set));
  ExpectError(kiln_absl_strset_insert(set, nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'key' is NULL");
  ExpectError(kiln_absl_strset_visit_sorted(set, nullptr, nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'fn' is NULL");
  EXPECT_FALSE(kiln_absl_strset_contains(nullptr, "k"));
  EXPECT_FALSE(kiln_absl_strset_contains(set, nullptr));
  EXPECT_EQ(kiln_absl_strset_size(nullptr), 0u);
  kiln_absl_strset_free(set);
  kiln_absl_strset_free(nullptr);
}

// A tiny worker pool: N threads take shard indices from a shared counter under
// the mutex, record results by index, and join through a blocking counter.
TEST(AbslSyncTest, WorkerPoolJoinsAndResultsAreInInputOrder) {
  constexpr int kWorkers = 4, kShards = 64;
  kiln_absl_mutex_t *mu = nullptr;
  kiln_absl_blocking_counter_t *done = nullptr;
  ExpectOk(kiln_absl_mutex_new(&mu));
  ExpectOk(kiln_absl_blocking_counter_new(kWorkers, &done));
  int next = 0;
  std::vector<int> results(kShards, -1);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        kiln_absl_mutex_lock(mu);
        int shard = next < kShards ? next++ : -1;
        kiln_absl_mutex_unlock(mu);
        if (shard < 0) break;
        results[shard] = shard * shard;
      }
      ExpectOk(kiln_absl_blocking_counter_decrement(done));
    });
  }
  kiln_absl_blocking_counter_wait(done);
  for (int i = 0; i < kShards; ++i) EXPECT_EQ(results[i], i * i);
  for (auto &t : threads) t.join();
  ExpectError(kiln_absl_blocking_counter_decrement(done), KILN_ERR_INVALID_ARGUMENT,
              "already zero");
  kiln_absl_blocking_counter_free(done);
  kiln_absl_mutex_free(mu);
}

TEST(AbslSyncTest, BlockingCounterRejectsNegativeCount) {
  kiln_absl_blocking_counter_t *bc = reinterpret_cast<kiln_absl_blocking_counter_t *>(0x1);
  ExpectError(kiln_absl_blocking_counter_new(-1, &bc), KILN_ERR_INVALID_ARGUMENT, "-1");
  EXPECT_EQ(bc, nullptr);
  ExpectOk(kiln_absl_blocking_counter_new(0, &bc));
  kiln_absl_blocking_counter_wait(bc);  // zero: returns at once
  kiln_absl_blocking_counter_free(bc);
  ExpectError(kiln_absl_blocking_counter_decrement(nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'bc' is NULL");
}

TEST(AbslSyncTest, CondVarWakesWaiterAndTimesOut) {
  kiln_absl_mutex_t *mu = nullptr;
  kiln_absl_condvar_t *cv = nullptr;
  ExpectOk(kiln_absl_mutex_new(&mu));
  ExpectOk(kiln_absl_condvar_new(&cv));
  bool ready = false;
  std::thread producer([&] {
    kiln_absl_mutex_lock(mu);
    ready = true;
    kiln_absl_condvar_broadcast(cv);
    kiln_absl_mutex_unlock(mu);
  });
  kiln_absl_mutex_lock(mu);
  while (!ready) kiln_absl_condvar_wait(cv, mu);
  // Nobody signals now: a short timed wait must report the timeout.
  EXPECT_TRUE(kiln_absl_condvar_wait_timeout(cv, mu, 1000000));
  kiln_absl_condvar_signal(cv);  // no waiter: harmless
  kiln_absl_mutex_unlock(mu);
  producer.join();
  kiln_absl_condvar_free(cv);
  kiln_absl_mutex_free(mu);
  kiln_absl_condvar_free(nullptr);
  kiln_absl_mutex_free(nullptr);
}

TEST(AbslSyncTest, NotificationOnceThenError) {
  kiln_absl_notification_t *n = nullptr;
  ExpectOk(kiln_absl_notification_new(&n));
  EXPECT_FALSE(kiln_absl_notification_has_been_notified(n));
  std::thread waiter([n] { kiln_absl_notification_wait(n); });
  ExpectOk(kiln_absl_notification_notify(n));
  waiter.join();
  EXPECT_TRUE(kiln_absl_notification_has_been_notified(n));
  ExpectError(kiln_absl_notification_notify(n), KILN_ERR_INVALID_ARGUMENT, "already notified");
  ExpectError(kiln_absl_notification_notify(nullptr), KILN_ERR_INVALID_ARGUMENT, "'n' is NULL");
  kiln_absl_notification_free(n);
}

std::vector<std::string> Split(const char *text, const char *delim, bool skip_empty) {
  kiln_absl_strlist_t *list = nullptr;
  ExpectOk(kiln_absl_str_split(text, delim, skip_empty, &list));
  std::vector<std::string> out;
  for (size_t i = 0; i < kiln_absl_strlist_size(list); ++i) {
    out.push_back(kiln_absl_strlist_get(list, i));
  }
  EXPECT_EQ(kiln_absl_strlist_get(list, kiln_absl_strlist_size(list)), nullptr);
  kiln_absl_strlist_free(list);
  return out;
}

TEST(AbslStringsTest, SplitKeepsOrSkipsEmptyPieces) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Split("generic;haswell,-rdrnd", ";", false), (V{"generic", "haswell,-rdrnd"}));
  EXPECT_EQ(Split("a,,b", ",", false), (V{"a", "", "b"}));
  EXPECT_EQ(Split("a,,b", ",", true), (V{"a", "b"}));
  EXPECT_EQ(Split("", ",", false), (V{""}));
  EXPECT_EQ(Split("", ",", true), V{});
  EXPECT_EQ(Split("x::y::", "::", false), (V{"x", "y", ""}));
}

TEST(AbslStringsTest, SplitRejectsBadArguments) {
  kiln_absl_strlist_t *list = reinterpret_cast<kiln_absl_strlist_t *>(0x1);
  ExpectError(kiln_absl_str_split("a,b", "", false, &list), KILN_ERR_INVALID_ARGUMENT,
              "delimiter is empty");
  EXPECT_EQ(list, nullptr);
  ExpectError(kiln_absl_str_split(nullptr, ",", false, &list), KILN_ERR_INVALID_ARGUMENT,
              "'text' is NULL");
  ExpectError(kiln_absl_str_split("a", ",", false, nullptr), KILN_ERR_INVALID_ARGUMENT,
              "'list_out' is NULL");
  EXPECT_EQ(kiln_absl_strlist_size(nullptr), 0u);
  EXPECT_EQ(kiln_absl_strlist_get(nullptr, 0), nullptr);
}

TEST(AbslStringsTest, ParseIntegers) {
  int64_t i = 0;
  ExpectOk(kiln_absl_parse_int64("-42", &i));
  EXPECT_EQ(i, -42);
  ExpectOk(kiln_absl_parse_int64(" 9223372036854775807 ", &i));
  EXPECT_EQ(i, INT64_MAX);
  uint64_t u = 0;
  ExpectOk(kiln_absl_parse_uint64("18446744073709551615", &u));
  EXPECT_EQ(u, UINT64_MAX);
}

TEST(AbslStringsTest, ParseIntegersRejectsGarbageAndOverflow) {
  int64_t i = 7;
  ExpectError(kiln_absl_parse_int64("12x", &i), KILN_ERR_PARSE, "'12x': not a 64-bit signed");
  EXPECT_EQ(i, 0);
  ExpectError(kiln_absl_parse_int64("9223372036854775808", &i), KILN_ERR_PARSE, "9223372036854775808");
  ExpectError(kiln_absl_parse_int64("", &i), KILN_ERR_PARSE, "''");
  uint64_t u = 7;
  ExpectError(kiln_absl_parse_uint64("-1", &u), KILN_ERR_PARSE, "'-1'");
  EXPECT_EQ(u, 0u);
  ExpectError(kiln_absl_parse_uint64(nullptr, &u), KILN_ERR_INVALID_ARGUMENT, "'text' is NULL");
  ExpectError(kiln_absl_parse_int64("1", nullptr), KILN_ERR_INVALID_ARGUMENT, "'value_out'");
}

TEST(AbslStringsTest, ParseDouble) {
  double d = 0;
  ExpectOk(kiln_absl_parse_double("2.5e3", &d));
  EXPECT_EQ(d, 2500.0);
  ExpectError(kiln_absl_parse_double("2.5.3", &d), KILN_ERR_PARSE, "'2.5.3': not a number");
  EXPECT_EQ(d, 0.0);
}

TEST(AbslTimeTest, MonotonicClockAdvancesAcrossSleep) {
  int64_t t0 = kiln_absl_monotonic_ns();
  kiln_absl_sleep_ns(2000000);  // 2 ms
  int64_t t1 = kiln_absl_monotonic_ns();
  EXPECT_GE(t1 - t0, 2000000);
}

TEST(AbslTimeTest, FormatDurationTruncatesLikeSnprintf) {
  char buf[32];
  EXPECT_EQ(kiln_absl_format_duration(1500000000, buf, sizeof buf), strlen("1.5s"));
  EXPECT_STREQ(buf, "1.5s");
  EXPECT_EQ(kiln_absl_format_duration(250000000, buf, sizeof buf), strlen("250ms"));
  EXPECT_STREQ(buf, "250ms");
  char small[3];
  EXPECT_EQ(kiln_absl_format_duration(250000000, small, sizeof small), 5u);
  EXPECT_STREQ(small, "25");
  EXPECT_EQ(kiln_absl_format_duration(1, nullptr, 0), strlen("1ns"));
}

}  // namespace
