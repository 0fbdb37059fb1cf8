/*
 * components/target/host_aarch64.c — the AArch64 host probe: the kernel's
 * HWCAP and HWCAP2 auxiliary vector words say which features user space may
 * use (reading ID registers needs kernel emulation; HWCAP is the stable
 * interface). The CPU name comes from the nearest table entry (host.c), as
 * MIDR-based naming is not implemented yet. Other architectures get a probe
 * that reports failure, so host detection says "unsupported" there.
 */
#include "components/target/internal.h"

#if defined(__aarch64__) && defined(__linux__)

#include <string.h>
#include <sys/auxv.h>

int kt_host_probe(kiln_target_features_t *set, const char **model) {
  const kt_arch *a = kt_arch_get(KILN_TARGET_ARCH_AARCH64);
  unsigned long words[3] = {0, getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
  memset(set, 0, sizeof(*set));
  for (size_t i = 0; i < a->nfeatures; i++) {
    const kt_arm_detect *d = &a->features[i].arm;
    if (d->hwcap >= 1 && d->hwcap <= 2 && ((words[d->hwcap] >> d->bit) & 1u)) {
      kt_set_add(set, i);
    }
  }
  *model = NULL;
  return 1;
}

#elif !defined(__x86_64__)

int kt_host_probe(kiln_target_features_t *set, const char **model) {
  (void)set;
  *model = NULL;
  return 0;
}

#endif
