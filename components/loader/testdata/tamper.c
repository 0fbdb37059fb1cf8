/*
 * components/loader/testdata/tamper.c — a constructor that rewrites one byte
 * of the image's own mapped metadata when $KILN_LOADER_TEST_TAMPER is set,
 * so the loader's post-dlopen comparison (mapped blob vs validated bytes)
 * has something to catch.
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern unsigned char kiln_image_root[];

__attribute__((constructor)) static void kiln_test_tamper(void) {
  if (getenv("KILN_LOADER_TEST_TAMPER") == NULL) return;
  unsigned char *target = kiln_image_root + 40;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  void *start = (void *)((uintptr_t)target & ~(page - 1));
  if (mprotect(start, page, PROT_READ | PROT_WRITE) != 0) return;
  *target ^= 0xff;
  mprotect(start, page, PROT_READ);
}
