// abseil_c.cc — the C++17 side of third_party/abseil_c/abseil_c.h.
//
// Each C handle is a struct that owns one abseil object. C++ exceptions must
// not cross into C, so every call that allocates catches std::bad_alloc and
// turns it into KILN_ERR_OUT_OF_MEMORY; abseil's own fatal checks (a second
// Notify, decrementing a counter past zero) are checked here first and
// reported as errors instead.
#include "third_party/abseil_c/abseil_c.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

struct kiln_absl_strmap {
  absl::flat_hash_map<std::string, void *> map;
};

struct kiln_absl_strset {
  absl::flat_hash_set<std::string> set;
};

struct kiln_absl_mutex {
  absl::Mutex mu;
};

struct kiln_absl_condvar {
  absl::CondVar cv;
};

struct kiln_absl_notification {
  absl::Notification note;
};

struct kiln_absl_blocking_counter {
  explicit kiln_absl_blocking_counter(int count) : counter(count), remaining(count) {}
  absl::BlockingCounter counter;
  // Mirrors the counter so over-decrementing is an error, not an abort.
  std::atomic<int> remaining;
};

struct kiln_absl_strlist {
  std::vector<std::string> pieces;
};

namespace {

kiln_error_t *OutOfMemory(const char *what) {
  return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
}

kiln_error_t *NullArgument(const char *function, const char *argument) {
  return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: '%s' is NULL", function, argument);
}

// Creates a handle of type T with `args`, reporting allocation failure.
template <typename T, typename... Args>
kiln_error_t *Create(const char *function, T **out, Args &&...args) {
  if (out == nullptr) return NullArgument(function, "out");
  *out = nullptr;
  try {
    *out = new T(std::forward<Args>(args)...);
  } catch (const std::bad_alloc &) {
    return OutOfMemory(function);
  }
  return nullptr;
}

// Entries of a hash container in byte-wise key order.
template <typename Container, typename Key>
kiln_error_t *SortedKeys(const Container &c, Key key, const char *function,
                         std::vector<const std::string *> *keys) {
  try {
    keys->reserve(c.size());
    for (const auto &entry : c) keys->push_back(&key(entry));
  } catch (const std::bad_alloc &) {
    return OutOfMemory(function);
  }
  std::sort(keys->begin(), keys->end(),
            [](const std::string *a, const std::string *b) { return *a < *b; });
  return nullptr;
}

}  // namespace

// ---- map -------------------------------------------------------------------

kiln_error_t *kiln_absl_strmap_new(kiln_absl_strmap_t **map_out) {
  return Create("kiln_absl_strmap_new", map_out);
}

void kiln_absl_strmap_free(kiln_absl_strmap_t *map) { delete map; }

kiln_error_t *kiln_absl_strmap_insert(kiln_absl_strmap_t *map, const char *key, void *value,
                                      bool *inserted_out) {
  if (inserted_out != nullptr) *inserted_out = false;
  if (map == nullptr) return NullArgument("kiln_absl_strmap_insert", "map");
  if (key == nullptr) return NullArgument("kiln_absl_strmap_insert", "key");
  try {
    bool inserted = map->map.try_emplace(key, value).second;
    if (inserted_out != nullptr) *inserted_out = inserted;
  } catch (const std::bad_alloc &) {
    return OutOfMemory("kiln_absl_strmap_insert");
  }
  return nullptr;
}

kiln_error_t *kiln_absl_strmap_put(kiln_absl_strmap_t *map, const char *key, void *value) {
  if (map == nullptr) return NullArgument("kiln_absl_strmap_put", "map");
  if (key == nullptr) return NullArgument("kiln_absl_strmap_put", "key");
  try {
    map->map.insert_or_assign(key, value);
  } catch (const std::bad_alloc &) {
    return OutOfMemory("kiln_absl_strmap_put");
  }
  return nullptr;
}

bool kiln_absl_strmap_find(const kiln_absl_strmap_t *map, const char *key, void **value_out) {
  if (value_out != nullptr) *value_out = nullptr;
  if (map == nullptr || key == nullptr) return false;
  auto it = map->map.find(absl::string_view(key));
  if (it == map->map.end()) return false;
  if (value_out != nullptr) *value_out = it->second;
  return true;
}

bool kiln_absl_strmap_erase(kiln_absl_strmap_t *map, const char *key) {
  if (map == nullptr || key == nullptr) return false;
  return map->map.erase(absl::string_view(key)) > 0;
}

size_t kiln_absl_strmap_size(const kiln_absl_strmap_t *map) {
  return map != nullptr ? map->map.size() : 0;
}

kiln_error_t *kiln_absl_strmap_visit_sorted(const kiln_absl_strmap_t *map,
                                            kiln_absl_strmap_visit_fn fn, void *ctx) {
  if (map == nullptr) return NullArgument("kiln_absl_strmap_visit_sorted", "map");
  if (fn == nullptr) return NullArgument("kiln_absl_strmap_visit_sorted", "fn");
  std::vector<const std::string *> keys;
  kiln_error_t *err = SortedKeys(
      map->map, [](const auto &entry) -> const std::string & { return entry.first; },
      "kiln_absl_strmap_visit_sorted", &keys);
  if (err != nullptr) return err;
  for (const std::string *key : keys) {
    if (!fn(ctx, key->c_str(), map->map.find(*key)->second)) break;
  }
  return nullptr;
}

// ---- set -------------------------------------------------------------------

kiln_error_t *kiln_absl_strset_new(kiln_absl_strset_t **set_out) {
  return Create("kiln_absl_strset_new", set_out);
}

void kiln_absl_strset_free(kiln_absl_strset_t *set) { delete set; }

kiln_error_t *kiln_absl_strset_insert(kiln_absl_strset_t *set, const char *key,
                                      bool *inserted_out) {
  if (inserted_out != nullptr) *inserted_out = false;
  if (set == nullptr) return NullArgument("kiln_absl_strset_insert", "set");
  if (key == nullptr) return NullArgument("kiln_absl_strset_insert", "key");
  try {
    bool inserted = set->set.emplace(key).second;
    if (inserted_out != nullptr) *inserted_out = inserted;
  } catch (const std::bad_alloc &) {
    return OutOfMemory("kiln_absl_strset_insert");
  }
  return nullptr;
}

bool kiln_absl_strset_contains(const kiln_absl_strset_t *set, const char *key) {
  if (set == nullptr || key == nullptr) return false;
  return set->set.contains(absl::string_view(key));
}

bool kiln_absl_strset_erase(kiln_absl_strset_t *set, const char *key) {
  if (set == nullptr || key == nullptr) return false;
  return set->set.erase(absl::string_view(key)) > 0;
}

size_t kiln_absl_strset_size(const kiln_absl_strset_t *set) {
  return set != nullptr ? set->set.size() : 0;
}

kiln_error_t *kiln_absl_strset_visit_sorted(const kiln_absl_strset_t *set,
                                            kiln_absl_strset_visit_fn fn, void *ctx) {
  if (set == nullptr) return NullArgument("kiln_absl_strset_visit_sorted", "set");
  if (fn == nullptr) return NullArgument("kiln_absl_strset_visit_sorted", "fn");
  std::vector<const std::string *> keys;
  kiln_error_t *err = SortedKeys(
      set->set, [](const std::string &entry) -> const std::string & { return entry; },
      "kiln_absl_strset_visit_sorted", &keys);
  if (err != nullptr) return err;
  for (const std::string *key : keys) {
    if (!fn(ctx, key->c_str())) break;
  }
  return nullptr;
}

// ---- synchronization -------------------------------------------------------

kiln_error_t *kiln_absl_mutex_new(kiln_absl_mutex_t **mutex_out) {
  return Create("kiln_absl_mutex_new", mutex_out);
}
void kiln_absl_mutex_free(kiln_absl_mutex_t *mutex) { delete mutex; }
// Lock and unlock are split across two C calls, which clang's static
// thread-safety analysis cannot follow; the C caller owns the pairing.
void kiln_absl_mutex_lock(kiln_absl_mutex_t *mutex) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  mutex->mu.Lock();
}
void kiln_absl_mutex_unlock(kiln_absl_mutex_t *mutex) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  mutex->mu.Unlock();
}

kiln_error_t *kiln_absl_condvar_new(kiln_absl_condvar_t **cv_out) {
  return Create("kiln_absl_condvar_new", cv_out);
}
void kiln_absl_condvar_free(kiln_absl_condvar_t *cv) { delete cv; }

void kiln_absl_condvar_wait(kiln_absl_condvar_t *cv, kiln_absl_mutex_t *mutex) {
  cv->cv.Wait(&mutex->mu);
}

bool kiln_absl_condvar_wait_timeout(kiln_absl_condvar_t *cv, kiln_absl_mutex_t *mutex,
                                    int64_t timeout_ns) {
  return cv->cv.WaitWithTimeout(&mutex->mu, absl::Nanoseconds(timeout_ns));
}

void kiln_absl_condvar_signal(kiln_absl_condvar_t *cv) { cv->cv.Signal(); }
void kiln_absl_condvar_broadcast(kiln_absl_condvar_t *cv) { cv->cv.SignalAll(); }

kiln_error_t *kiln_absl_notification_new(kiln_absl_notification_t **n_out) {
  return Create("kiln_absl_notification_new", n_out);
}
void kiln_absl_notification_free(kiln_absl_notification_t *n) { delete n; }

kiln_error_t *kiln_absl_notification_notify(kiln_absl_notification_t *n) {
  if (n == nullptr) return NullArgument("kiln_absl_notification_notify", "n");
  // Notification has a single notifier by contract, so this check cannot race
  // with another Notify that the contract allows.
  if (n->note.HasBeenNotified()) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_absl_notification_notify: already notified");
  }
  n->note.Notify();
  return nullptr;
}

bool kiln_absl_notification_has_been_notified(const kiln_absl_notification_t *n) {
  return n->note.HasBeenNotified();
}

void kiln_absl_notification_wait(const kiln_absl_notification_t *n) {
  n->note.WaitForNotification();
}

kiln_error_t *kiln_absl_blocking_counter_new(int count, kiln_absl_blocking_counter_t **bc_out) {
  if (bc_out != nullptr) *bc_out = nullptr;
  if (count < 0) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_absl_blocking_counter_new: count %d is negative", count);
  }
  return Create("kiln_absl_blocking_counter_new", bc_out, count);
}

void kiln_absl_blocking_counter_free(kiln_absl_blocking_counter_t *bc) { delete bc; }

kiln_error_t *kiln_absl_blocking_counter_decrement(kiln_absl_blocking_counter_t *bc) {
  if (bc == nullptr) return NullArgument("kiln_absl_blocking_counter_decrement", "bc");
  int remaining = bc->remaining.load(std::memory_order_relaxed);
  do {
    if (remaining <= 0) {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                            "kiln_absl_blocking_counter_decrement: count is already zero");
    }
  } while (!bc->remaining.compare_exchange_weak(remaining, remaining - 1,
                                                std::memory_order_relaxed));
  bc->counter.DecrementCount();
  return nullptr;
}

void kiln_absl_blocking_counter_wait(kiln_absl_blocking_counter_t *bc) { bc->counter.Wait(); }

// ---- strings ---------------------------------------------------------------

kiln_error_t *kiln_absl_str_split(const char *text, const char *delim, bool skip_empty,
                                  kiln_absl_strlist_t **list_out) {
  if (list_out != nullptr) *list_out = nullptr;
  if (list_out == nullptr) return NullArgument("kiln_absl_str_split", "list_out");
  if (text == nullptr) return NullArgument("kiln_absl_str_split", "text");
  if (delim == nullptr || delim[0] == '\0') {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_absl_str_split: the delimiter is empty");
  }
  kiln_absl_strlist_t *list = nullptr;
  kiln_error_t *err = Create("kiln_absl_str_split", &list);
  if (err != nullptr) return err;
  try {
    if (skip_empty) {
      list->pieces = absl::StrSplit(text, absl::ByString(delim), absl::SkipEmpty());
    } else {
      list->pieces = absl::StrSplit(text, absl::ByString(delim));
    }
  } catch (const std::bad_alloc &) {
    delete list;
    return OutOfMemory("kiln_absl_str_split");
  }
  *list_out = list;
  return nullptr;
}

void kiln_absl_strlist_free(kiln_absl_strlist_t *list) { delete list; }

size_t kiln_absl_strlist_size(const kiln_absl_strlist_t *list) {
  return list != nullptr ? list->pieces.size() : 0;
}

const char *kiln_absl_strlist_get(const kiln_absl_strlist_t *list, size_t i) {
  if (list == nullptr || i >= list->pieces.size()) return nullptr;
  return list->pieces[i].c_str();
}

namespace {

template <typename T>
kiln_error_t *ParseNumber(const char *function, const char *kind, const char *text,
                          T *value_out, bool (*parse)(absl::string_view, T *)) {
  if (value_out != nullptr) *value_out = 0;
  if (value_out == nullptr) return NullArgument(function, "value_out");
  if (text == nullptr) return NullArgument(function, "text");
  T value = 0;
  if (!parse(text, &value)) {
    return kiln_error_new(KILN_ERR_PARSE, "'%s': not %s", text, kind);
  }
  *value_out = value;
  return nullptr;
}

bool ParseInt64(absl::string_view s, int64_t *v) { return absl::SimpleAtoi(s, v); }
bool ParseUint64(absl::string_view s, uint64_t *v) { return absl::SimpleAtoi(s, v); }
bool ParseDouble(absl::string_view s, double *v) { return absl::SimpleAtod(s, v); }

}  // namespace

kiln_error_t *kiln_absl_parse_int64(const char *text, int64_t *value_out) {
  return ParseNumber("kiln_absl_parse_int64", "a 64-bit signed integer", text, value_out,
                     ParseInt64);
}

kiln_error_t *kiln_absl_parse_uint64(const char *text, uint64_t *value_out) {
  return ParseNumber("kiln_absl_parse_uint64", "a 64-bit unsigned integer", text, value_out,
                     ParseUint64);
}

kiln_error_t *kiln_absl_parse_double(const char *text, double *value_out) {
  return ParseNumber("kiln_absl_parse_double", "a number", text, value_out, ParseDouble);
}

// ---- time ------------------------------------------------------------------

int64_t kiln_absl_monotonic_ns(void) {
  // abseil has no public monotonic clock (absl::Now() is wall time, which can
  // jump), so this one piece is the standard library's steady_clock.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t kiln_absl_format_duration(int64_t ns, char *buf, size_t size) {
  std::string text = absl::FormatDuration(absl::Nanoseconds(ns));
  if (size > 0 && buf != nullptr) {
    size_t n = std::min(size - 1, text.size());
    text.copy(buf, n);
    buf[n] = '\0';
  }
  return text.size();
}

void kiln_absl_sleep_ns(int64_t ns) { absl::SleepFor(absl::Nanoseconds(ns)); }
