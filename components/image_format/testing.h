// components/image_format/testing.h — test-only helpers: a rich description
// with owned storage (several targets, shards, overrides, slots, globals,
// methods with calls/deps/bitcode), a scalable one for benchmarks, and
// patching helpers for crafting structurally invalid blobs with valid
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
struct Desc {
  std::vector<kiln_image_format_option_t> options;
  std::vector<kiln_image_format_target_t> targets;
  std::vector<std::string> function_names, global_names;
  std::vector<const char *> functions, globals;
  struct Shard {
    std::vector<uint32_t> functions, slots, globals;
    std::vector<std::vector<uint32_t>> overrides;  // [target]
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
      d.functions = s.functions.data();
      d.function_count = s.functions.size();
      d.overrides = s.overrides.empty() ? nullptr : s.override_ptrs.data();
      d.override_counts = s.overrides.empty() ? nullptr : s.override_counts.data();
      d.slot_functions = s.slots.data();
      d.slot_count = s.slots.size();
      d.globals = s.globals.data();
      d.global_count = s.globals.size();
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
// methods. Pointer indices: shard 0: f0=0 f1=1 f2=2 slots=3 globals=4;
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
  d.function_names = {"add", "kernel", "main", "mul", "sub", "zeta"};
  d.global_names = {"counter", "table"};
  Desc::Shard s0;
  s0.functions = {0, 2, 4};
  s0.overrides = {{}, {1}, {0, 1}};
  s0.slots = {1, 3};
  s0.globals = {0};
  Desc::Shard s1;
  s1.functions = {1, 3, 5};
  s1.overrides = {{}, {}, {2}};
  s1.globals = {1};
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
  m1.function = 1;
  m1.fingerprint = 0x2222;
  m1.calls = {0, 1};
  Desc::Method m2;
  m2.key = "main";
  m2.function = 2;
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

// A system image with `n` functions (and n/8 globals) in `shards` shards, 3
// targets overriding every 4th / 8th function, a slot per 16 functions and
// one method per function: the shape of a real image, for benchmarks.
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
  for (size_t i = 0; i < n; i++) {
    snprintf(buf, sizeof(buf), "jl_function_%08zu", i);
    d.function_names.push_back(buf);
  }
  for (size_t i = 0; i < n / 8; i++) {
    snprintf(buf, sizeof(buf), "jl_global_%08zu", i);
    d.global_names.push_back(buf);
  }
  d.shards.resize(shard_count);
  for (auto &s : d.shards) s.overrides.resize(3);
  for (size_t i = 0; i < n; i++) {
    auto &s = d.shards[i % shard_count];
    uint32_t pos = (uint32_t)s.functions.size();
    s.functions.push_back((uint32_t)i);
    if (i % 4 == 0) s.overrides[1].push_back(pos);
    if (i % 8 == 0) s.overrides[2].push_back(pos);
    if (i % 16 == 0) s.slots.push_back((uint32_t)((i * 7) % n));
  }
  for (size_t g = 0; g < n / 8; g++) d.shards[g % shard_count].globals.push_back((uint32_t)g);
  for (size_t i = 0; i < n; i++) {
    Desc::Method m;
    m.key = d.function_names[i];
    m.function = (uint32_t)i;
    m.fingerprint = i * 0x9E3779B97F4A7C15ull;
    if (i + 1 < n) m.calls = {(uint32_t)(i + 1)};
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
