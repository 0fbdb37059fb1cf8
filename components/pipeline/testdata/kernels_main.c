/*
 * components/pipeline/testdata/kernels_main.c — runs the kernels of
 * kernels.c. `kernels_main check` prints each kernel's checksum at a small
 * repetition count (the functional test compares this output between a
 * pipeline-optimized and a native build); `kernels_main time` prints
 * "name nanoseconds checksum" per kernel at benchmark repetition counts.
 * Always compiled natively: only kernels.c goes through the pipeline.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

int main(int argc, char **argv) {
  int timing = argc > 1 && strcmp(argv[1], "time") == 0;
  for (int i = 0; i < kernel_count; i++) {
    unsigned reps = timing ? kernels[i].bench_reps : 3;
    long long t0 = now_ns();
    unsigned long long sum = (unsigned long long)kernels[i].run(reps);
    long long t1 = now_ns();
    if (timing) {
      printf("%s %lld %llx\n", kernels[i].name, t1 - t0, sum);
    } else {
      printf("%s %llx\n", kernels[i].name, sum);
    }
  }
  return 0;
}
