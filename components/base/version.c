/*
 * version.c — the run-time half of kiln's version: what the library was
 * built as, so a caller can compare it with the KILN_VERSION_* macros it was
 * compiled against, and so images can record their producer.
 */
#include "components/base/base.h"

unsigned kiln_version_number(void) { return KILN_VERSION_NUMBER; }

const char *kiln_version_string(void) { return KILN_VERSION_STRING; }
