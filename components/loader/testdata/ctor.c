/*
 * components/loader/testdata/ctor.c — an image constructor with a visible
 * effect: it creates the file named by $KILN_LOADER_TEST_MARKER. Tests
 * corrupt the image and check that validation fails before dlopen, so the
 * marker never appears.
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void kiln_test_write_marker(void) {
  const char *path = getenv("KILN_LOADER_TEST_MARKER");
  if (path == NULL) return;
  FILE *f = fopen(path, "a");
  if (f != NULL) {
    fputs("constructor ran\n", f);
    fclose(f);
  }
}

int ctor_probe(void) { return 7; }
