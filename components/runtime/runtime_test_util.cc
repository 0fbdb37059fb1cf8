// components/runtime/runtime_test_util.cc — see runtime_test_util.h.
#include "components/runtime/runtime_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace kiln_runtime_test {

Blob::~Blob() {
  kiln_image_format_close(view_);
  free(data_);
}

std::vector<void *> Blob::FunctionTable(const std::map<std::string, void *> &symbols) const {
  std::vector<void *> table(kiln_image_format_function_count(view_), nullptr);
  for (size_t i = 0; i < table.size(); i++) {
    auto it = symbols.find(kiln_image_format_function_name(view_, i));
    if (it != symbols.end()) table[i] = it->second;
  }
  return table;
}

std::vector<void *> Blob::GlobalTable(const std::map<std::string, void *> &globals) const {
  std::vector<void *> table(kiln_image_format_global_count(view_), nullptr);
  for (size_t i = 0; i < table.size(); i++) {
    auto it = globals.find(kiln_image_format_global_name(view_, i));
    if (it != globals.end()) table[i] = it->second;
  }
  return table;
}

std::unique_ptr<Blob> Encode(const Image &image) {
  std::vector<Method> methods = image.methods;
  std::sort(methods.begin(), methods.end(),
            [](const Method &a, const Method &b) { return a.key < b.key; });
  // One shard holds every function and global, so the only rule on index
  // order is that names are unique: name order (as the emitter numbers a
  // shard), or the reverse of it when the test asks.
  std::set<std::string> function_set(image.extra_functions.begin(), image.extra_functions.end());
  for (const Method &m : methods) function_set.insert(m.symbol.empty() ? m.key : m.symbol);
  std::vector<std::string> functions(function_set.begin(), function_set.end());
  std::set<std::string> global_set(image.globals.begin(), image.globals.end());
  std::vector<std::string> globals(global_set.begin(), global_set.end());
  if (image.reverse_index_order) {
    std::reverse(functions.begin(), functions.end());
    std::reverse(globals.begin(), globals.end());
  }

  std::vector<const char *> function_names, global_names;
  for (const std::string &f : functions) function_names.push_back(f.c_str());
  for (const std::string &g : globals) global_names.push_back(g.c_str());

  auto method_index = [&](const std::string &key) -> uint32_t {
    for (uint32_t i = 0; i < methods.size(); i++)
      if (methods[i].key == key) return i;
    ADD_FAILURE() << "calls unknown method " << key;
    return 0;
  };
  std::vector<std::vector<uint32_t>> calls(methods.size());
  std::vector<std::vector<kiln_image_format_dep_t>> deps(methods.size());
  std::vector<kiln_image_format_method_t> descs(methods.size());
  for (size_t m = 0; m < methods.size(); m++) {
    for (const std::string &c : methods[m].calls) calls[m].push_back(method_index(c));
    std::sort(calls[m].begin(), calls[m].end());
    std::vector<std::pair<std::string, uint64_t>> sorted_deps = methods[m].deps;
    std::sort(sorted_deps.begin(), sorted_deps.end());
    methods[m].deps = sorted_deps;
    for (const auto &d : methods[m].deps) deps[m].push_back({d.first.c_str(), d.second});
    const std::string &symbol = methods[m].symbol.empty() ? methods[m].key : methods[m].symbol;
    kiln_image_format_method_t &desc = descs[m];
    desc.key = methods[m].key.c_str();
    desc.function = static_cast<uint32_t>(
        std::find(functions.begin(), functions.end(), symbol) - functions.begin());
    desc.flags = KILN_IMAGE_FORMAT_METHOD_SPECSIG;
    desc.fingerprint = methods[m].fingerprint;
    desc.calls = calls[m].data();
    desc.call_count = calls[m].size();
    desc.deps = deps[m].data();
    desc.dep_count = deps[m].size();
    desc.bitcode = methods[m].bitcode.empty() ? nullptr : methods[m].bitcode.data();
    desc.bitcode_size = methods[m].bitcode.size();
  }
  std::vector<kiln_image_format_target_t> targets;
  for (const Target &t : image.targets) targets.push_back({t.cpu.c_str(), t.features.c_str(), 0, 0});

  kiln_image_format_shard_t shard = {};
  shard.function_count = functions.size();
  shard.global_count = globals.size();

  kiln_image_format_desc_t desc = {};
  desc.producer = "kiln runtime test";
  desc.triple = "x86_64-unknown-linux-gnu";
  desc.name = image.name.c_str();
  desc.kind = image.kind;
  desc.base_checksum = image.base_checksum;
  desc.targets = targets.data();
  desc.target_count = targets.size();
  desc.functions = function_names.data();
  desc.function_count = function_names.size();
  desc.globals = global_names.data();
  desc.global_count = global_names.size();
  desc.shards = &shard;
  desc.shard_count = 1;
  desc.methods = descs.data();
  desc.method_count = descs.size();

  auto blob = std::make_unique<Blob>();
  kiln_error_t *err = kiln_image_format_encode(&desc, &blob->data_, &blob->size_);
  if (err == nullptr)
    err = kiln_image_format_open(blob->data_, blob->size_, image.name.c_str(), &blob->view_);
  if (err != nullptr) {
    ADD_FAILURE() << "encoding image " << image.name << ": " << kiln_error_message(err);
    kiln_error_free(err);
    return nullptr;
  }
  return blob;
}

}  // namespace kiln_runtime_test
