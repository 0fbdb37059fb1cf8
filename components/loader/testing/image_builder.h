// components/loader/testing/image_builder.h — builds real kiln images from C
// sources without the emitter, for the loader's tests, qemu test, fuzzer
// seed and benchmark (and for the integration suite).
//
// Each source is compiled by clang-22 -O2 -fPIC once per target (-march per
// target, -DKILN_IMAGE_TARGET=<k>). In target k > 0's objects the functions
// listed as clones are renamed f -> f.kiln.<k> and every other definition is
// weakened (llvm-objcopy), so target 0's copy wins and only the clones add
// code. A generated C file defines the per-shard tables
// (__kiln_s<s>_f<k>, _slots, _globals) and the slot words; the blob comes
// from kiln_image_format_encode and the root object from
// kiln_image_format_root_ir (clang -x ir). ld.lld -shared links it all with
// a version script exporting only kiln_image_root.
#ifndef KILN_LOADER_TESTING_IMAGE_BUILDER_H
#define KILN_LOADER_TESTING_IMAGE_BUILDER_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln_loader_testing {

struct Target {
  std::string cpu;                  // stored CPU name ("generic", "haswell")
  std::string march;                // clang -march ("x86-64", "haswell")
  std::vector<std::string> clones;  // k > 0: functions this target overrides
  std::string features;             // "" : kiln_target_cpu_features(cpu)
  uint32_t flags = 0;
  uint32_t base = 0;
};

struct ImageSpec {
  std::string dir;     // scratch directory (created)
  std::string output;  // the .so to write
  std::vector<std::string> sources;       // compiled once per target
  std::vector<std::string> base_sources;  // compiled for target 0 only
                                          // (constructors, data)
  std::vector<std::string> cflags;        // extra clang flags
  std::vector<Target> targets;            // at least one
  size_t shards = 1;
  // (slot word symbol, function): the generated file defines the slot word
  // (a hidden writable void *); sources declare it `extern void *name;`.
  std::vector<std::pair<std::string, std::string>> slots;
  std::vector<std::pair<std::string, std::string>> options = {{"opt_level", "2"}};
  std::string producer = "kiln 0.1.0 (LLVM 22.1.8)";
  std::string triple = "x86_64-unknown-linux-gnu";
  std::string name = "test";
  std::string hash_style = "both";  // ld.lld --hash-style
  int jobs = 4;                     // parallel compiles
};

// Builds spec.output. Returns "" on success, else what failed (command and
// its output).
std::string BuildImage(const ImageSpec &spec);

// "generic;haswell": target 0 generic (-march=x86-64), target 1 haswell
// with `clones`.
std::vector<Target> GenericHaswell(const std::vector<std::string> &clones);

// Runs a shell command; returns its exit status, output (stdout+stderr) in
// *output when non-NULL.
int Run(const std::string &command, std::string *output = nullptr);

// /usr/lib/llvm-22/bin/<name>.
std::string Tool(const std::string &name);

// Reads / writes a whole file. Read returns false when it cannot.
bool ReadFile(const std::string &path, std::string *data);
bool WriteFile(const std::string &path, const std::string &data);

// Byte offsets of every occurrence of the blob magic in `data`.
std::vector<size_t> FindMagic(const std::string &data);

}  // namespace kiln_loader_testing

#endif  // KILN_LOADER_TESTING_IMAGE_BUILDER_H
