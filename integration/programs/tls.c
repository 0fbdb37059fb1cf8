/* Thread-locals: per-thread counters in _Thread_local variables, updated
 * by several pthreads and by the main thread, joined in a fixed order. */
#include <pthread.h>
#include <stdio.h>

static _Thread_local long tl_count;
static _Thread_local int tl_id = -1;
static long results[4];

static void bump(long n) {
  for (long i = 0; i < n; i++) tl_count += i % 7;
}

static void *worker(void *arg) {
  int id = (int)(long)arg;
  tl_id = id;
  bump(1000 * (id + 1));
  results[id] = tl_count * 10 + tl_id;
  return NULL;
}

int kiln_main(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  bump(10);
  for (int i = 0; i < 4; i++) printf("thread %d %ld\n", i, results[i]);
  printf("main %ld id %d\n", tl_count, tl_id);
  return 0;
}
