// components/runtime/runtime_test_util.h — test helper: builds image_format
// blobs from a compact description (methods by key, calls by key, symbols by
// name; one shard holding every function and global, numbered in name order
// or its reverse) and opens a view on them, so runtime tests can install
// images whose function tables point at real functions of the test binary.
#ifndef KILN_RUNTIME_TEST_UTIL_H
#define KILN_RUNTIME_TEST_UTIL_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "components/image_format/image_format.h"

namespace kiln_runtime_test {

struct Method {
  std::string key;
  std::string symbol;  // function name; empty: same as key
  uint64_t fingerprint = 0;
  std::vector<std::string> calls;                          // in-image keys
  std::vector<std::pair<std::string, uint64_t>> deps;      // outside keys
  std::string bitcode;                                     // optional bytes
};

struct Target {
  std::string cpu = "generic";
  std::string features = "";
};

struct Image {
  std::string name = "img";
  kiln_image_format_kind_t kind = KILN_IMAGE_FORMAT_KIND_SYSTEM;
  uint64_t base_checksum = 0;
  std::vector<Method> methods;
  std::vector<std::string> extra_functions;  // functions with no method
  std::vector<std::string> globals;
  std::vector<Target> targets = {Target{}};
  // Function and global indices in reverse name order instead of name order
  // (format 5 numbers a shard's symbols in any order the writer chooses).
  bool reverse_index_order = false;
};

// An encoded blob and its open view; closes and frees on destruction.
class Blob {
 public:
  ~Blob();
  const kiln_image_format_t *view() const { return view_; }
  // function_table[i] = symbols[function_name(i)] (nullptr if absent).
  std::vector<void *> FunctionTable(const std::map<std::string, void *> &symbols) const;
  // global_table[i] = globals[global_name(i)] (nullptr if absent).
  std::vector<void *> GlobalTable(const std::map<std::string, void *> &globals) const;

  void *data_ = nullptr;
  size_t size_ = 0;
  kiln_image_format_t *view_ = nullptr;
};

// Encodes and opens `image`; fails the current test (ADD_FAILURE) and
// returns nullptr on error.
std::unique_ptr<Blob> Encode(const Image &image);

}  // namespace kiln_runtime_test

#endif  // KILN_RUNTIME_TEST_UTIL_H
