/*
 * components/target/parse_fuzzer.c — libFuzzer entry point for the target
 * string parser and printer. For every input, under each architecture's
 * name tables: parse; if it parses, the canonical print must parse again and
 * print identically (the round-trip property); if it fails, the error must
 * carry a message. ASan/UBSan (built in) catch memory errors and leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "components/target/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(kiln_target_arch_t arch, const char *text) {
  kiln_target_list_t *list = NULL;
  kiln_error_t *err = kiln_target_list_parse(arch, text, &list);
  if (err != NULL) {
    if (list != NULL || kiln_error_message(err)[0] == '\0') abort();
    kiln_error_free(err);
    return;
  }
  size_t n = kiln_target_list_print(list, NULL, 0);
  char *printed = malloc(n + 1);
  if (printed == NULL) abort();
  if (kiln_target_list_print(list, printed, n + 1) != n) abort();

  kiln_target_list_t *again = NULL;
  err = kiln_target_list_parse(arch, printed, &again);
  if (err != NULL) abort(); /* the canonical form must parse */
  size_t m = kiln_target_list_print(again, NULL, 0);
  char *reprinted = malloc(m + 1);
  if (reprinted == NULL) abort();
  kiln_target_list_print(again, reprinted, m + 1);
  if (m != n || memcmp(printed, reprinted, n) != 0) abort();

  /* Exercise the accessors over every target. */
  for (size_t i = 0; i < kiln_target_list_count(list); i++) {
    char feats[64];
    kiln_target_list_llvm_features(list, i, feats, sizeof(feats));
    for (size_t j = 0; j < kiln_target_list_feature_count(list, i); j++) {
      if (kiln_target_list_feature(list, i, j) == NULL) abort();
    }
  }
  free(printed);
  free(reprinted);
  kiln_target_list_free(again);
  kiln_target_list_free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (text == NULL) return 0;
  memcpy(text, data, size);
  text[size] = '\0'; /* stops at an embedded NUL, like a C caller would */
  check(KILN_TARGET_ARCH_X86_64, text);
  check(KILN_TARGET_ARCH_AARCH64, text);
  check(KILN_TARGET_ARCH_UNKNOWN, text);
  kiln_target_features_t set;
  kiln_error_free(kiln_target_features_parse(KILN_TARGET_ARCH_X86_64, text,
                                             KILN_TARGET_FEATURES_IGNORE_UNKNOWN, &set));
  free(text);
  return 0;
}
