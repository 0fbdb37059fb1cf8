// components/loader/testing/make_test_image.cc — writes a generic;haswell
// image of testdata/kernels.c (kernels cloned for haswell, via_slot calling
// through the slot kiln_slot_square) for the qemu test and the fuzzer seed.
// Usage: make_test_image <output.so> <kernels.c> <scratch dir> [hash style]
#include <cstdio>

#include "components/loader/testing/image_builder.h"

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: make_test_image <output.so> <kernels.c> <scratch dir> [gnu|sysv|both]\n");
    return 2;
  }
  kiln_loader_testing::ImageSpec spec;
  spec.output = argv[1];
  spec.sources = {argv[2]};
  spec.dir = argv[3];
  spec.targets = kiln_loader_testing::GenericHaswell(
      {"which_target", "sum_array", "dot", "saxpy", "hash_bytes"});
  spec.slots = {{"kiln_slot_square", "square"}};
  if (argc == 5) spec.hash_style = argv[4];
  std::string err = kiln_loader_testing::BuildImage(spec);
  if (!err.empty()) {
    std::fprintf(stderr, "make_test_image: %s\n", err.c_str());
    return 1;
  }
  return 0;
}
