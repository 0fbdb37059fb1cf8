// components/multiversion/testing/mv_build.h — test and benchmark support:
// real C compiled by clang-22, multiversioned, optimized, emitted to an
// object with LLVM, linked into a shared object and loaded; then slots are
// filled from the emitted tables like a loader would.
#ifndef KILN_MULTIVERSION_TESTING_MV_BUILD_H
#define KILN_MULTIVERSION_TESTING_MV_BUILD_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln_mv_test {

// Runs a shell command; returns its exit status (output goes to *out).
int Run(const std::string &cmd, std::string *out);

struct BuildTimes {
  double annotate_clone_s = 0, optimize_s = 0, codegen_s = 0;
  double total() const { return annotate_clone_s + optimize_s + codegen_s; }
};

struct Built {
  std::string so_path;
  std::vector<std::string> functions;  // the function table, in order
  size_t targets = 0, slots = 0;
  size_t defined_functions = 0;      // in the module before cloning
  std::vector<size_t> clone_counts;  // per target
  uint64_t cloned_instructions = 0, total_instructions = 0;  // before cloning
  BuildTimes times;
};

// clang -> bitcode -> annotate/clone(targets) -> default<O2> -> verify ->
// object -> clang -shared. `dir` is a scratch directory. Returns "" or an
// error message.
std::string Build(const std::string &clang, const std::string &src, const std::string &targets,
                  const std::string &dir, const std::string &name, Built *out);

// A loaded image: per target tables from the emitted globals.
class Image {
 public:
  ~Image();
  std::string Open(const Built &built);
  // Fills every slot for target k, as the loader would.
  void Select(size_t k);
  // Target k's version of `name` (the table's, else the plain symbol).
  void *Fn(const std::string &name, size_t k) const;

 private:
  void *handle_ = nullptr;
  const Built *built_ = nullptr;
  std::vector<void *const *> fptrs_;
  void *const *slot_addrs_ = nullptr;
  const uint32_t *slot_fids_ = nullptr;
};

// Whether this host can run code for the CPU name LLVM resolves.
bool HostRuns(const std::string &cpu);

}  // namespace kiln_mv_test

#endif  // KILN_MULTIVERSION_TESTING_MV_BUILD_H
