/*
 * third_party/abseil_c/abseil_c.h — the C face of abseil for kiln's
 * builder-side components (splitter, emitter, multiversion, linker).
 *
 * kiln's components are C11; abseil is C++. This header exposes the few
 * abseil facilities that replace hand-written C — hash maps and sets keyed by
 * strings, a mutex with condition waits and the worker-pool helpers built on
 * it, string splitting, checked number parsing and a monotonic clock — as
 * opaque handles with C functions. No abseil or C++ type appears here.
 *
 * Determinism: kiln never iterates a hash container in hash order on an
 * output path, so the map and set offer only *sorted* traversal (byte-wise
 * key order, the same on every run and every machine).
 *
 * The loader must not use this (it may not pull in a C++ runtime).
 *
 * Errors follow components/base: fallible calls return an owned
 * kiln_error_t *, NULL on success, and set their *_out parameters even on
 * failure.
 */
#ifndef KILN_ABSEIL_C_H
#define KILN_ABSEIL_C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"

KILN_BEGIN_DECLS

/* ---- String-keyed hash map (absl::flat_hash_map<std::string, void *>) ---- */

/* Maps NUL-terminated string keys (copied on insert) to caller-owned pointer
 * values. Thread-safety: const calls may run concurrently; anything that
 * modifies the map needs exclusive access. */
typedef struct kiln_absl_strmap kiln_absl_strmap_t;

/* Creates an empty map. Ownership: caller frees with kiln_absl_strmap_free.
 * Errors: KILN_ERR_OUT_OF_MEMORY. */
KILN_NODISCARD kiln_error_t *kiln_absl_strmap_new(kiln_absl_strmap_t **map_out);

/* Releases the map and its key copies, not the values. Accepts NULL. */
void kiln_absl_strmap_free(kiln_absl_strmap_t *map);

/* Inserts key -> value. When the key is already present the map is left
 * unchanged and *inserted_out is false (the value is not replaced).
 * `inserted_out` may be NULL. Errors: KILN_ERR_INVALID_ARGUMENT for NULL map
 * or key; KILN_ERR_OUT_OF_MEMORY. */
KILN_NODISCARD kiln_error_t *kiln_absl_strmap_insert(kiln_absl_strmap_t *map, const char *key,
                                                     void *value, bool *inserted_out);

/* Sets key -> value, replacing an existing value. Errors as insert. */
KILN_NODISCARD kiln_error_t *kiln_absl_strmap_put(kiln_absl_strmap_t *map, const char *key,
                                                  void *value);

/* Looks a key up: true and *value_out set when present; false and
 * *value_out = NULL otherwise (also for a NULL map or key). `value_out` may
 * be NULL. */
bool kiln_absl_strmap_find(const kiln_absl_strmap_t *map, const char *key, void **value_out);

/* Removes a key; true when it was present. */
bool kiln_absl_strmap_erase(kiln_absl_strmap_t *map, const char *key);

/* Number of entries; 0 for NULL. */
size_t kiln_absl_strmap_size(const kiln_absl_strmap_t *map);

/* Visitor for sorted traversal; return false to stop early. */
typedef bool (*kiln_absl_strmap_visit_fn)(void *ctx, const char *key, void *value);

/* Calls `fn` for every entry in ascending byte-wise key order (strcmp), so
 * traversal order never depends on hashing. The map must not be modified
 * during the walk. Errors: KILN_ERR_INVALID_ARGUMENT for NULL map or fn;
 * KILN_ERR_OUT_OF_MEMORY (sorting needs a temporary array). */
KILN_NODISCARD kiln_error_t *kiln_absl_strmap_visit_sorted(const kiln_absl_strmap_t *map,
                                                           kiln_absl_strmap_visit_fn fn,
                                                           void *ctx);

/* ---- String set (absl::flat_hash_set<std::string>) -------------------- */

typedef struct kiln_absl_strset kiln_absl_strset_t;

/* Creates an empty set. Ownership: kiln_absl_strset_free. */
KILN_NODISCARD kiln_error_t *kiln_absl_strset_new(kiln_absl_strset_t **set_out);

/* Releases the set. Accepts NULL. */
void kiln_absl_strset_free(kiln_absl_strset_t *set);

/* Adds a copy of `key`; *inserted_out (may be NULL) tells whether it was
 * new. Errors: KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_NODISCARD kiln_error_t *kiln_absl_strset_insert(kiln_absl_strset_t *set, const char *key,
                                                     bool *inserted_out);

/* Membership; false for NULL set or key. */
bool kiln_absl_strset_contains(const kiln_absl_strset_t *set, const char *key);

/* Removes `key`; true when it was present. */
bool kiln_absl_strset_erase(kiln_absl_strset_t *set, const char *key);

/* Number of members; 0 for NULL. */
size_t kiln_absl_strset_size(const kiln_absl_strset_t *set);

typedef bool (*kiln_absl_strset_visit_fn)(void *ctx, const char *key);

/* Calls `fn` for every member in ascending byte-wise order. Errors as
 * kiln_absl_strmap_visit_sorted. */
KILN_NODISCARD kiln_error_t *kiln_absl_strset_visit_sorted(const kiln_absl_strset_t *set,
                                                           kiln_absl_strset_visit_fn fn,
                                                           void *ctx);

/* ---- Synchronization (absl::Mutex, absl::CondVar, absl::Notification,
 *      absl::BlockingCounter) ---------------------------------------------- */

/* A mutex. Thread-safety: lock/unlock from any thread; unlock only by the
 * thread that holds it. */
typedef struct kiln_absl_mutex kiln_absl_mutex_t;

KILN_NODISCARD kiln_error_t *kiln_absl_mutex_new(kiln_absl_mutex_t **mutex_out);
void kiln_absl_mutex_free(kiln_absl_mutex_t *mutex); /* accepts NULL; must be unlocked */
void kiln_absl_mutex_lock(kiln_absl_mutex_t *mutex);
void kiln_absl_mutex_unlock(kiln_absl_mutex_t *mutex);

/* A condition variable used with a kiln_absl_mutex_t. Waits may wake
 * spuriously: always wait in a loop that re-checks the condition. */
typedef struct kiln_absl_condvar kiln_absl_condvar_t;

KILN_NODISCARD kiln_error_t *kiln_absl_condvar_new(kiln_absl_condvar_t **cv_out);
void kiln_absl_condvar_free(kiln_absl_condvar_t *cv); /* accepts NULL; no waiters */

/* Atomically unlocks `mutex` (which the caller holds), waits for a signal,
 * and locks it again before returning. */
void kiln_absl_condvar_wait(kiln_absl_condvar_t *cv, kiln_absl_mutex_t *mutex);

/* As kiln_absl_condvar_wait, giving up after `timeout_ns`. Returns true when
 * the wait timed out (the mutex is held again either way). */
bool kiln_absl_condvar_wait_timeout(kiln_absl_condvar_t *cv, kiln_absl_mutex_t *mutex,
                                    int64_t timeout_ns);

void kiln_absl_condvar_signal(kiln_absl_condvar_t *cv);     /* wakes one waiter */
void kiln_absl_condvar_broadcast(kiln_absl_condvar_t *cv);  /* wakes all waiters */

/* A one-shot event: notified once, waited on by any number of threads. */
typedef struct kiln_absl_notification kiln_absl_notification_t;

KILN_NODISCARD kiln_error_t *kiln_absl_notification_new(kiln_absl_notification_t **n_out);
void kiln_absl_notification_free(kiln_absl_notification_t *n); /* accepts NULL */

/* Notifies. Errors: KILN_ERR_INVALID_ARGUMENT when already notified (abseil
 * treats a second notify as a fatal bug; the shim reports it instead). */
KILN_NODISCARD kiln_error_t *kiln_absl_notification_notify(kiln_absl_notification_t *n);
bool kiln_absl_notification_has_been_notified(const kiln_absl_notification_t *n);
void kiln_absl_notification_wait(const kiln_absl_notification_t *n);

/* A countdown latch: `count` workers each call decrement once; wait returns
 * when the count reaches zero. Used to join a worker pool's shards. */
typedef struct kiln_absl_blocking_counter kiln_absl_blocking_counter_t;

/* Errors: KILN_ERR_INVALID_ARGUMENT for a negative count. */
KILN_NODISCARD kiln_error_t *kiln_absl_blocking_counter_new(int count,
                                                            kiln_absl_blocking_counter_t **bc_out);
void kiln_absl_blocking_counter_free(kiln_absl_blocking_counter_t *bc); /* accepts NULL */

/* Counts one down. Errors: KILN_ERR_INVALID_ARGUMENT when it is already
 * zero (more decrements than the count: abseil would abort). */
KILN_NODISCARD kiln_error_t *kiln_absl_blocking_counter_decrement(kiln_absl_blocking_counter_t *bc);

/* Blocks until the count is zero. Called by at most one thread, once. */
void kiln_absl_blocking_counter_wait(kiln_absl_blocking_counter_t *bc);

/* ---- Strings (absl::StrSplit, absl::SimpleAtoi, absl::SimpleAtod) ----- */

/* The pieces of a split string. Ownership: kiln_absl_strlist_free. */
typedef struct kiln_absl_strlist kiln_absl_strlist_t;

/* Splits `text` at every occurrence of `delim` (a non-empty string). With
 * `skip_empty`, empty pieces are dropped (so "a,,b" gives "a","b"); without,
 * they are kept ("a","","b"; "" gives one empty piece). Errors:
 * KILN_ERR_INVALID_ARGUMENT for NULL text or an empty delimiter;
 * KILN_ERR_OUT_OF_MEMORY. */
KILN_NODISCARD kiln_error_t *kiln_absl_str_split(const char *text, const char *delim,
                                                 bool skip_empty,
                                                 kiln_absl_strlist_t **list_out);
void kiln_absl_strlist_free(kiln_absl_strlist_t *list); /* accepts NULL */
size_t kiln_absl_strlist_size(const kiln_absl_strlist_t *list);

/* Piece `i` (NUL-terminated); NULL when out of range. Ownership: borrowed,
 * valid until the list is freed. */
const char *kiln_absl_strlist_get(const kiln_absl_strlist_t *list, size_t i);

/* Parses a whole decimal integer (optional sign, surrounding ASCII
 * whitespace allowed). Errors: KILN_ERR_PARSE naming the text when it is not
 * a number or does not fit; *value_out is 0 then. */
KILN_NODISCARD kiln_error_t *kiln_absl_parse_int64(const char *text, int64_t *value_out);
KILN_NODISCARD kiln_error_t *kiln_absl_parse_uint64(const char *text, uint64_t *value_out);

/* Parses a whole floating-point number ("1.5", "2e3", "inf"). Errors as
 * kiln_absl_parse_int64. */
KILN_NODISCARD kiln_error_t *kiln_absl_parse_double(const char *text, double *value_out);

/* ---- Time ------------------------------------------------------------- */

/* Nanoseconds on a monotonic clock (never goes back; unrelated to the wall
 * clock, so it is only good for measuring intervals). */
int64_t kiln_absl_monotonic_ns(void);

/* Formats a duration in nanoseconds the way abseil does ("1.5s", "250ms",
 * "3m2s") into `buf` (always NUL-terminated when `size` > 0). Returns the
 * length the full text needs, like snprintf. */
size_t kiln_absl_format_duration(int64_t ns, char *buf, size_t size);

/* Sleeps at least `ns` nanoseconds (absl::SleepFor). */
void kiln_absl_sleep_ns(int64_t ns);

KILN_END_DECLS

#endif /* KILN_ABSEIL_C_H */
