/*
 * components/target/cpu_probe.c — prints what components/target sees on
 * the CPU it runs on: the host CPU name, its features, vector width, and
 * which of {generic, haswell} it would select. qemu_test.sh runs it under
 * emulated CPUs; it is also handy by hand (KILN_CPU_DISABLE applies).
 */
#include <stdio.h>
#include <stdlib.h>

#include "components/target/target.h"

static int fail(kiln_error_t *err) {
  fprintf(stderr, "cpu_probe: %s\n", kiln_error_message(err));
  kiln_error_free(err);
  return 1;
}

int main(void) {
  kiln_target_host_t *host = NULL;
  kiln_error_t *err = kiln_target_host_detect(kiln_target_env_process, NULL, &host);
  if (err != NULL) return fail(err);
  kiln_target_arch_t arch = kiln_target_host_arch(host);
  const kiln_target_features_t *have = kiln_target_host_features(host);
  char feats[4096];
  kiln_target_features_print(arch, have, feats, sizeof(feats));
  printf("cpu: %s\nfeatures: %s\nvector_bits: %u\n", kiln_target_host_cpu(host), feats,
         kiln_target_features_vector_bits(arch, have));

  /* An image built for generic and haswell, as the builder stores it. */
  static char sets[2][4096];
  const char *names[2] = {"generic", "haswell"};
  kiln_target_spec_t specs[2];
  for (int i = 0; i < 2; i++) {
    kiln_target_features_t set;
    err = kiln_target_cpu_features(KILN_TARGET_ARCH_X86_64, names[i], &set);
    if (err != NULL) return fail(err);
    kiln_target_features_print(KILN_TARGET_ARCH_X86_64, &set, sets[i], sizeof(sets[i]));
    specs[i].cpu = names[i];
    specs[i].features = sets[i];
    specs[i].flags = 0;
  }
  kiln_target_selection_t *sel = NULL;
  err = kiln_target_select(host, specs, 2, NULL, &sel);
  if (err != NULL) {
    kiln_target_host_free(host);
    return fail(err);
  }
  printf("selected: %zu (%s)\nreason: %s\n", kiln_target_selection_index(sel),
         names[kiln_target_selection_index(sel)], kiln_target_selection_reason(sel));
  kiln_target_selection_free(sel);
  kiln_target_host_free(host);
  return 0;
}
