/*
 * components/loader/loader_fuzzer.c — libFuzzer over the pre-dlopen
 * validator, kiln_loader_validate_buffer: ELF header, program headers,
 * dynamic section, hash-table lookup of kiln_image_root, the root's file
 * mapping, then the blob (image_format) and the producer/triple/option
 * checks and target selection against a fixed synthetic haswell host (so no
 * CPUID per input). Any out-of-bounds read, leak or UB fails. On success
 * every info accessor is exercised.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "components/loader/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Fuzzer state (not library state): built once per process. Two option
   * sets, so both outcomes of the producer check are reachable. */
  static kiln_target_host_t *host;
  static kiln_loader_options_t *options[2];
  if (host == NULL) {
    kiln_error_free(kiln_target_host_new(KILN_TARGET_ARCH_X86_64, "haswell",
                                         "avx2,fma,bmi2,bmi,lzcnt,movbe,popcnt,f16c,xsave,cx16",
                                         &host));
    for (int i = 0; i < 2; i++) {
      kiln_error_free(kiln_loader_options_new(&options[i]));
      kiln_loader_options_set_env(options[i], NULL, NULL);
      kiln_loader_options_set_host(options[i], host);
      kiln_loader_options_accept_any_producer(options[i], i == 1);
    }
  }
  kiln_loader_options_t *opts = options[size > 0 ? (data[size - 1] & 1) : 0];
  kiln_loader_info_t *info = NULL;
  kiln_error_t *err = kiln_loader_validate_buffer(data, size, "fuzz.so", opts, &info);
  if (err == NULL) {
    const kiln_image_format_t *format = kiln_loader_info_format(info);
    size_t n = kiln_image_format_function_count(format);
    for (size_t i = 0; i < n; i++) (void)strlen(kiln_image_format_function_name(format, i));
    (void)strlen(kiln_loader_info_reason(info));
    (void)strlen(kiln_loader_info_report(info));
    (void)strlen(kiln_loader_info_host_cpu(info));
    (void)kiln_loader_info_selected(info);
  } else {
    (void)strlen(kiln_error_message(err));
  }
  kiln_error_free(err);
  kiln_loader_info_free(info);
  return 0;
}
