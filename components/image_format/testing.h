// components/image_format/testing.h — test-only helpers: a rich description
// with owned storage (several targets, shards, overrides, slots, globals,
// methods with calls/deps/bitcode; functions and globals numbered shard by
// shard, so index order is not name order), a scalable one for benchmarks,
// and patching helpers for crafting structurally invalid blobs with valid
// checksums (load checksum, then blob checksum).
#ifndef KILN_IMAGE_FORMAT_TESTING_H
#define KILN_IMAGE_FORMAT_TESTING_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "components/image_format/image_format.h"
#include "components/image_format/internal.h"

namespace kiln_image_format_testing {

// Owns everything a kiln_image_format_desc_t points to. Tests mutate the
// vectors, then call Build() to refresh the desc's pointers.
// function_names / global_names are the tables in index order: shard 0's
// `function_count` functions first, then shard 1's, and so on (likewise
// globals).
struct Desc {
  std::vector<kiln_image_format_option_t> options;
  std::vector<kiln_image_format_target_t> targets;
  std::vector<std::string> function_names, global_names;
  std::vector<const char *> functions, globals;
  struct Shard {
    size_t function_count = 0, global_count = 0;
    std::vector<uint32_t> slots;                   // function indices
    std::vector<std::vector<uint32_t>> overrides;  // [target]: positions in the shard's range
    std::vector<const uint32_t *> override_ptrs;
    std::vector<size_t> override_counts;
  };
  std::vector<Shard> shards;
  std::vector<kiln_image_format_shard_t> shard_descs;
  struct Method {
    std::string key;
    uint32_t function = 0, flags = 0;
    uint64_t fingerprint = 0;
    std::vector<uint32_t> calls;
    std::vector<std::string> dep_keys;
    std::vector<uint64_t> dep_fingerprints;
    std::vector<kiln_image_format_dep_t> deps;
    std::vector<uint8_t> bitcode;
  };
  std::vector<Method> methods;
  std::vector<kiln_image_format_method_t> method_descs;
  kiln_image_format_desc_t desc{};

  kiln_image_format_desc_t *Build() {
    functions.clear();
    for (auto &n : function_names) functions.push_back(n.c_str());
    globals.clear();
    for (auto &n : global_names) globals.push_back(n.c_str());
    shard_descs.clear();
    for (auto &s : shards) {
      s.override_ptrs.clear();
      s.override_counts.clear();
      for (auto &o : s.overrides) {
        s.override_ptrs.push_back(o.data());
        s.override_counts.push_back(o.size());
      }
      kiln_image_format_shard_t d{};
      d.function_count = s.function_count;
      d.overrides = s.overrides.empty() ? nullptr : s.override_ptrs.data();
      d.override_counts = s.overrides.empty() ? nullptr : s.override_counts.data();
      d.slot_functions = s.slots.data();
      d.slot_count = s.slots.size();
      d.global_count = s.global_count;
      shard_descs.push_back(d);
    }
    method_descs.clear();
    for (auto &m : methods) {
      m.deps.clear();
      for (size_t i = 0; i < m.dep_keys.size(); i++) {
        m.deps.push_back({m.dep_keys[i].c_str(), m.dep_fingerprints[i]});
      }
      kiln_image_format_method_t d{};
      d.key = m.key.c_str();
      d.function = m.function;
      d.flags = m.flags;
      d.fingerprint = m.fingerprint;
      d.calls = m.calls.data();
      d.call_count = m.calls.size();
      d.deps = m.deps.data();
      d.dep_count = m.deps.size();
      d.bitcode = m.bitcode.empty() ? nullptr : m.bitcode.data();
      d.bitcode_size = m.bitcode.size();
      method_descs.push_back(d);
    }
    desc.options = options.data();
    desc.option_count = options.size();
    desc.targets = targets.data();
    desc.target_count = targets.size();
    desc.functions = functions.data();
    desc.function_count = functions.size();
    desc.globals = globals.data();
    desc.global_count = globals.size();
    desc.shards = shard_descs.data();
    desc.shard_count = shard_descs.size();
    desc.methods = method_descs.data();
    desc.method_count = method_descs.size();
    return &desc;
  }
};

// 3 targets, 6 functions, 2 globals, 3 shards (the last one empty), 3
// methods, numbered shard by shard as the emitter numbers them (name order
// within a shard), so index order is not name order:
//   functions: 0 add, 1 main, 2 sub (shard 0) | 3 kernel, 4 mul, 5 zeta
//              (shard 1); name index {0, 3, 1, 4, 2, 5}
//   globals:   0 table (shard 0) | 1 counter (shard 1); name index {1, 0}
// Shard 0: target 1 overrides position 1 (main), target 2 positions 0 and
// 1 (add, main); slots hold functions 3 (kernel) and 4 (mul). Shard 1:
// target 2 overrides position 2 (zeta); no slots. Methods (by key): add ->
// function 0, kernel -> 3, main -> 1 (keys in name order, functions not
// ascending). Pointer indices: shard 0: f0=0 f1=1 f2=2 slots=3 globals=4;
// shard 1: f0=5 f2=6 globals=7; shard 2: none.
inline Desc Rich() {
  Desc d;
  d.desc.producer = "kiln 0.1.0 (LLVM 22.1.8)";
  d.desc.triple = "x86_64-unknown-linux-gnu";
  d.desc.name = "pkg";
  d.desc.kind = KILN_IMAGE_FORMAT_KIND_PACKAGE;
  d.desc.base_checksum = 0x0123456789abcdefull;
  d.options = {{"opt_level", "2"}, {"sanitize", ""}, {"vectorize", "1"}};
  d.targets = {{"generic", "", 0, 0},
               {"sandybridge", "+avx,+sse4.2", 1, 0},
               {"haswell", "+avx,+avx2,+sse4.2", 0, 1}};
  d.function_names = {"add", "main", "sub", "kernel", "mul", "zeta"};
  d.global_names = {"table", "counter"};
  Desc::Shard s0;
  s0.function_count = 3;
  s0.overrides = {{}, {1}, {0, 1}};
  s0.slots = {3, 4};
  s0.global_count = 1;
  Desc::Shard s1;
  s1.function_count = 3;
  s1.overrides = {{}, {}, {2}};
  s1.global_count = 1;
  d.shards = {s0, s1, Desc::Shard()};
  Desc::Method m0;
  m0.key = "add";
  m0.function = 0;
  m0.flags = KILN_IMAGE_FORMAT_METHOD_SPECSIG;
  m0.fingerprint = 0x1111;
  m0.calls = {1};
  m0.dep_keys = {"base.f"};
  m0.dep_fingerprints = {7};
  m0.bitcode = {'B', 'C', 0xC0, 0xDE, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  Desc::Method m1;
  m1.key = "kernel";
  m1.function = 3;
  m1.fingerprint = 0x2222;
  m1.calls = {0, 1};
  Desc::Method m2;
  m2.key = "main";
  m2.function = 1;
  m2.fingerprint = 0x3333;
  m2.dep_keys = {"a", "b"};
  m2.dep_fingerprints = {1, 2};
  m2.bitcode = {'B', 'C', 0xC0, 0xDE, 0, 0, 0, 0};
  d.methods = {m0, m1, m2};
  d.Build();
  return d;
}

// The smallest valid image: a system image with one target ("generic", no
// features), producer "p", triple "t", an empty name and nothing else.
inline Desc Minimal() {
  Desc d;
  d.desc.producer = "p";
  d.desc.triple = "t";
  d.desc.name = "";
  d.desc.kind = KILN_IMAGE_FORMAT_KIND_SYSTEM;
  d.targets = {{"generic", "", 0, 0}};
  d.Build();
  return d;
}

// A system image with `n` functions (and n/8 globals) in `shard_count`
// shards, numbered as the emitter numbers them: symbol j
// ("jl_function_%08zu", "jl_global_%08zu") is in shard j % shard_count,
// the tables are numbered shard by shard and in name order within a shard,
// so with more than one shard index order is not name order. Targets 1 and
// 2 override symbols j with j % 4 == 0 and j % 8 == 0, there is a slot per
// 16 symbols (holding symbol (7 j) % n), and one method per function, keyed
// by its name, calling the next name's method: the shape of a real image,
// for benchmarks.
inline Desc Large(size_t n, size_t shard_count) {
  Desc d;
  d.desc.producer = "kiln 0.1.0 (LLVM 22.1.8)";
  d.desc.triple = "x86_64-unknown-linux-gnu";
  d.desc.name = "sys";
  d.desc.kind = KILN_IMAGE_FORMAT_KIND_SYSTEM;
  d.options = {{"opt_level", "2"}};
  d.targets = {{"generic", "", 0, 0},
               {"sandybridge", "+avx,+sse4.2", 1, 0},
               {"haswell", "+avx,+avx2,+fma,+sse4.2", 0, 1}};
  char buf[64];
  // Symbol j's function index: shard by shard, ascending j within a shard.
  std::vector<uint32_t> index_of(n);
  d.shards.resize(shard_count);
  for (size_t s = 0; s < shard_count; s++) {
    for (size_t j = s; j < n; j += shard_count) {
      index_of[j] = (uint32_t)d.function_names.size();
      snprintf(buf, sizeof(buf), "jl_function_%08zu", j);
      d.function_names.push_back(buf);
    }
    for (size_t j = s; j < n / 8; j += shard_count) {
      snprintf(buf, sizeof(buf), "jl_global_%08zu", j);
      d.global_names.push_back(buf);
      d.shards[s].global_count++;
    }
  }
  for (auto &s : d.shards) s.overrides.resize(3);
  for (size_t j = 0; j < n; j++) {
    auto &s = d.shards[j % shard_count];
    uint32_t pos = (uint32_t)s.function_count++;
    if (j % 4 == 0) s.overrides[1].push_back(pos);
    if (j % 8 == 0) s.overrides[2].push_back(pos);
    if (j % 16 == 0) s.slots.push_back(index_of[(j * 7) % n]);
  }
  for (size_t j = 0; j < n; j++) {
    Desc::Method m;
    snprintf(buf, sizeof(buf), "jl_function_%08zu", j);
    m.key = buf;
    m.function = index_of[j];
    m.fingerprint = j * 0x9E3779B97F4A7C15ull;
    if (j + 1 < n) m.calls = {(uint32_t)(j + 1)};
    d.methods.push_back(m);
  }
  d.Build();
  return d;
}

// Recomputes both checksums as docs/image-format.md defines them, the load
// checksum first because the blob checksum covers its field:
//   load:  hash64 of [0, 24) seed 0 -> seeds hash64 of [32, 56) -> seeds the
//          wide hash of [64, load size)  (skipped when the header's load size
//          is not between 64 and the buffer size: the reader rejects it anyway)
//   blob:  hash64 of [0, 24) seed 0 -> seeds the wide hash of [32, size)
inline void ResealLoad(std::vector<uint8_t> &blob) {
  uint64_t load_size;
  memcpy(&load_size, blob.data() + 48, 8);
  if (load_size < 64 || load_size > blob.size()) return;
  uint64_t seed = kiln_image_format_hash64(blob.data(), 24, 0);
  seed = kiln_image_format_hash64(blob.data() + 32, 24, seed);
  uint64_t sum = kif_wide_hash64(blob.data() + 64, load_size - 64, seed);
  memcpy(blob.data() + 56, &sum, 8);
}
inline void ResealBlob(std::vector<uint8_t> &blob) {
  uint64_t seed = kiln_image_format_hash64(blob.data(), 24, 0);
  uint64_t sum = kif_wide_hash64(blob.data() + 32, blob.size() - 32, seed);
  memcpy(blob.data() + 24, &sum, 8);
}
inline void Reseal(std::vector<uint8_t> &blob) {
  ResealLoad(blob);
  ResealBlob(blob);
}

inline uint32_t Get32(const std::vector<uint8_t> &b, uint64_t off) {
  uint32_t v;
  memcpy(&v, b.data() + off, 4);
  return v;
}
inline uint64_t Get64(const std::vector<uint8_t> &b, uint64_t off) {
  uint64_t v;
  memcpy(&v, b.data() + off, 8);
  return v;
}
inline void Put32(std::vector<uint8_t> &b, uint64_t off, uint32_t v) { memcpy(b.data() + off, &v, 4); }
inline void Put64(std::vector<uint8_t> &b, uint64_t off, uint64_t v) { memcpy(b.data() + off, &v, 8); }

// The header's load size: bytes [0, load size) are the load part.
inline uint64_t LoadSize(const std::vector<uint8_t> &b) { return Get64(b, 48); }

// Offset of the section-table entry of section `id` (1-based), and the
// section's offset and size.
inline uint64_t SectionEntry(const std::vector<uint8_t> &b, uint32_t id) {
  return Get64(b, 40) + (uint64_t)(id - 1) * 24;
}
inline uint64_t SectionOffset(const std::vector<uint8_t> &b, uint32_t id) {
  return Get64(b, SectionEntry(b, id) + 8);
}
inline uint64_t SectionSize(const std::vector<uint8_t> &b, uint32_t id) {
  return Get64(b, SectionEntry(b, id) + 16);
}

}  // namespace kiln_image_format_testing

#endif  // KILN_IMAGE_FORMAT_TESTING_H
