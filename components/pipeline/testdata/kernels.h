/*
 * components/pipeline/testdata/kernels.h — the kernel table shared by
 * kernels.c (the code the pipeline optimizes) and kernels_main.c (the
 * driver that runs and times it, always compiled natively).
 */
#ifndef KILN_PIPELINE_TESTDATA_KERNELS_H
#define KILN_PIPELINE_TESTDATA_KERNELS_H

#include <stdint.h>

typedef struct kernel {
  const char *name;
  uint64_t (*run)(unsigned reps); /* returns a checksum of its work */
  unsigned bench_reps;            /* repetitions for about 10-50 ms */
} kernel_t;

extern const kernel_t kernels[];
extern const int kernel_count;

#endif
