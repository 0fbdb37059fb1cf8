// components/image_format/image_format_test.cc — units for the image
// metadata: hash64 against XXH64's published values, encode -> open round
// trip of a rich description (functions and globals numbered shard by shard,
// the name index, the finds through it), determinism, every encoder check,
// every reader error class (empty, bad magic, older versions, truncation at
// every length, checksums after every byte flip, structural problems behind
// valid checksums: shard ranges, the name index, override masks), the load
// view (kiln_image_format_open_load: the load part alone, no directory),
// peek, peek_load_size, peek_counts and table symbols.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "components/image_format/image_format.h"
#include "components/image_format/internal.h"
#include "components/image_format/testing.h"

namespace {

using kiln_image_format_testing::Desc;
using kiln_image_format_testing::Get32;
using kiln_image_format_testing::Get64;
using kiln_image_format_testing::Large;
using kiln_image_format_testing::LoadSize;
using kiln_image_format_testing::Minimal;
using kiln_image_format_testing::Put32;
using kiln_image_format_testing::Put64;
using kiln_image_format_testing::Reseal;
using kiln_image_format_testing::ResealBlob;
using kiln_image_format_testing::Rich;
using kiln_image_format_testing::SectionEntry;
using kiln_image_format_testing::SectionOffset;
using kiln_image_format_testing::SectionSize;

std::vector<uint8_t> Encode(const kiln_image_format_desc_t *desc) {
  void *blob = nullptr;
  size_t size = 0;
  kiln_error_t *err = kiln_image_format_encode(desc, &blob, &size);
  EXPECT_EQ(err, nullptr) << kiln_error_message(err);
  kiln_error_free(err);
  std::vector<uint8_t> out((uint8_t *)blob, (uint8_t *)blob + size);
  free(blob);
  return out;
}

// Encoding error message ("" on success, then the blob is discarded).
std::string EncodeError(const kiln_image_format_desc_t *desc, kiln_error_code_t *code = nullptr) {
  void *blob = (void *)1;
  size_t size = 1;
  kiln_error_t *err = kiln_image_format_encode(desc, &blob, &size);
  std::string msg = kiln_error_message(err);
  if (code) *code = kiln_error_code(err);
  if (err != nullptr) {
    EXPECT_EQ(blob, nullptr);
    EXPECT_EQ(size, 0u);
  }
  free(blob);
  kiln_error_free(err);
  return msg;
}

// Opening error message ("" on success).
std::string OpenError(const std::vector<uint8_t> &b, kiln_error_code_t *code = nullptr,
                      size_t size = SIZE_MAX) {
  kiln_image_format_t *img = (kiln_image_format_t *)1;
  kiln_error_t *err =
      kiln_image_format_open(b.data(), size == SIZE_MAX ? b.size() : size, "lib.so", &img);
  std::string msg = kiln_error_message(err);
  if (code) *code = kiln_error_code(err);
  if (err != nullptr) EXPECT_EQ(img, nullptr);
  kiln_image_format_close(img);
  kiln_error_free(err);
  return msg;
}

// kiln_image_format_open_load's error message ("" on success).
std::string OpenLoadError(const std::vector<uint8_t> &b, kiln_error_code_t *code = nullptr,
                          size_t size = SIZE_MAX) {
  kiln_image_format_t *img = (kiln_image_format_t *)1;
  kiln_error_t *err =
      kiln_image_format_open_load(b.data(), size == SIZE_MAX ? b.size() : size, "lib.so", &img);
  std::string msg = kiln_error_message(err);
  if (code) *code = kiln_error_code(err);
  if (err != nullptr) {
    EXPECT_EQ(img, nullptr);
  } else {
    EXPECT_FALSE(kiln_image_format_has_directory(img));
  }
  kiln_image_format_close(img);
  kiln_error_free(err);
  return msg;
}

std::vector<uint32_t> List(const uint32_t *p, size_t n) {
  return p ? std::vector<uint32_t>(p, p + n) : std::vector<uint32_t>();
}

// Target k's overrides in shard s as ascending positions, through
// kiln_image_format_shard_override_positions (sized by a first call).
std::vector<uint32_t> Positions(const kiln_image_format_t *img, size_t s, size_t k) {
  size_t n = kiln_image_format_shard_override_positions(img, s, k, nullptr, 0);
  std::vector<uint32_t> out(n);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, s, k, out.data(), n), n);
  return out;
}

// Target k's override mask in shard s, every word of it ((n + 31) / 32 for
// a shard of n functions; none when the accessor returns NULL), and its
// count in *count_out.
std::vector<uint32_t> Mask(const kiln_image_format_t *img, size_t s, size_t k,
                           size_t *count_out = nullptr) {
  size_t count = 99, n = 0;
  const uint32_t *mask = kiln_image_format_shard_override_mask(img, s, k, &count);
  (void)kiln_image_format_shard_first_function(img, s, &n);
  if (count_out != nullptr) *count_out = count;
  return mask ? std::vector<uint32_t>(mask, mask + (n + 31) / 32) : std::vector<uint32_t>();
}

// Shard s's range of functions and of globals, as {first, count}.
std::pair<size_t, size_t> FunctionRange(const kiln_image_format_t *img, size_t s) {
  size_t n = 99;
  size_t first = kiln_image_format_shard_first_function(img, s, &n);
  return {first, n};
}
std::pair<size_t, size_t> GlobalRange(const kiln_image_format_t *img, size_t s) {
  size_t n = 99;
  size_t first = kiln_image_format_shard_first_global(img, s, &n);
  return {first, n};
}
using Range = std::pair<size_t, size_t>;

// The name index through the accessor: by_name(j) for every j.
std::vector<size_t> FunctionsByName(const kiln_image_format_t *img) {
  std::vector<size_t> out;
  for (size_t j = 0; j < kiln_image_format_function_count(img); j++) {
    out.push_back(kiln_image_format_function_by_name(img, j));
  }
  return out;
}
std::vector<size_t> GlobalsByName(const kiln_image_format_t *img) {
  std::vector<size_t> out;
  for (size_t j = 0; j < kiln_image_format_global_count(img); j++) {
    out.push_back(kiln_image_format_global_by_name(img, j));
  }
  return out;
}

// ---- hash64 -------------------------------------------------------------

TEST(ImageFormatHashTest, MatchesXxh64Vectors) {
  std::vector<uint8_t> seq(100);
  for (int i = 0; i < 100; i++) seq[i] = (uint8_t)i;
  EXPECT_EQ(kiln_image_format_hash64("", 0, 0), 0xef46db3751d8e999ull);
  EXPECT_EQ(kiln_image_format_hash64("a", 1, 0), 0xd24ec4f1a98c6e5bull);
  EXPECT_EQ(kiln_image_format_hash64("abc", 3, 0), 0x44bc2cf5ad770999ull);
  EXPECT_EQ(kiln_image_format_hash64(seq.data(), 100, 0), 0x6ac1e58032166597ull);
  EXPECT_EQ(kiln_image_format_hash64(seq.data(), 100, 0x9e3779b97f4a7c15ull),
            0x3b97d91eba03e785ull);
  EXPECT_EQ(kiln_image_format_hash64(seq.data(), 37, 7), 0x69e0c889396afaf7ull);
  const char *fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(kiln_image_format_hash64(fox, strlen(fox), 0), 0x0b242d361fda71bcull);
}

TEST(ImageFormatHashTest, IndependentOfAlignmentAndSensitiveToEveryByte) {
  std::vector<uint8_t> buf(300);
  for (size_t i = 0; i < buf.size(); i++) buf[i] = (uint8_t)(i * 31 + 7);
  for (size_t len = 0; len < 130; len++) {
    uint64_t h = kiln_image_format_hash64(buf.data(), len, 3);
    for (size_t shift = 1; shift < 8; shift++) {
      std::vector<uint8_t> moved(len + shift);
      memcpy(moved.data() + shift, buf.data(), len);
      ASSERT_EQ(kiln_image_format_hash64(moved.data() + shift, len, 3), h) << len;
    }
    for (size_t i = 0; i < len; i++) {
      buf[i] ^= 1;
      ASSERT_NE(kiln_image_format_hash64(buf.data(), len, 3), h) << len << " " << i;
      buf[i] ^= 1;
    }
  }
}

// The blob checksum's wide hash (docs/image-format.md, "Checksum"): fixed
// values (it is kiln's own, so these pin the format), alignment independence,
// every bit of every byte, and reordered stripes and blocks.
TEST(ImageFormatHashTest, WideHashKnownValuesAndSensitivity) {
  std::vector<uint8_t> buf(3000);
  for (size_t i = 0; i < buf.size(); i++) buf[i] = (uint8_t)(i * 131 + 1);
  EXPECT_EQ(kif_wide_hash64(buf.data(), 0, 0), 0x643a5dfa134ca787ull);
  EXPECT_EQ(kif_wide_hash64(buf.data(), 64, 0), 0xb2eb9079f280c50eull);
  EXPECT_EQ(kif_wide_hash64(buf.data(), 3000, 0), 0x57b997544480b63eull);
  EXPECT_EQ(kif_wide_hash64(buf.data(), 3000, 7), 0xcbad7f1ee9e194e8ull);
  uint64_t h = kif_wide_hash64(buf.data(), buf.size(), 3);
  for (size_t shift = 1; shift < 8; shift++) {
    std::vector<uint8_t> moved(buf.size() + shift);
    memcpy(moved.data() + shift, buf.data(), buf.size());
    ASSERT_EQ(kif_wide_hash64(moved.data() + shift, buf.size(), 3), h);
  }
  for (size_t i = 0; i < buf.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      buf[i] ^= (uint8_t)(1u << bit);
      ASSERT_NE(kif_wide_hash64(buf.data(), buf.size(), 3), h) << i << " bit " << bit;
      buf[i] ^= (uint8_t)(1u << bit);
    }
  }
  // Two stripes of one block swapped, and two 1 KiB blocks swapped (in data
  // without a period, unlike buf's).
  for (size_t i = 0; i < buf.size(); i++) buf[i] = (uint8_t)((i * 2654435761u) >> 11);
  h = kif_wide_hash64(buf.data(), buf.size(), 3);
  std::vector<uint8_t> swapped = buf;
  std::swap_ranges(swapped.begin(), swapped.begin() + 64, swapped.begin() + 128);
  EXPECT_NE(kif_wide_hash64(swapped.data(), swapped.size(), 3), h);
  swapped = buf;
  std::swap_ranges(swapped.begin(), swapped.begin() + 1024, swapped.begin() + 1024);
  EXPECT_NE(kif_wide_hash64(swapped.data(), swapped.size(), 3), h);
}

// ---- Round trip -----------------------------------------------------------

TEST(ImageFormatRoundTripTest, EveryAccessorReturnsTheDescription) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  ASSERT_EQ(b.size() % 8, 0u);
  kiln_image_format_t *img = nullptr;
  kiln_error_t *err = kiln_image_format_open(b.data(), b.size(), "lib.so", &img);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);

  EXPECT_EQ(kiln_image_format_version(img), KILN_IMAGE_FORMAT_VERSION);
  EXPECT_EQ(kiln_image_format_size(img), b.size());
  EXPECT_EQ(kiln_image_format_checksum(img), Get64(b, 24));
  EXPECT_STREQ(kiln_image_format_producer(img), "kiln 0.1.0 (LLVM 22.1.8)");
  EXPECT_STREQ(kiln_image_format_triple(img), "x86_64-unknown-linux-gnu");
  EXPECT_STREQ(kiln_image_format_name(img), "pkg");
  EXPECT_EQ(kiln_image_format_kind(img), KILN_IMAGE_FORMAT_KIND_PACKAGE);
  EXPECT_EQ(kiln_image_format_base_checksum(img), 0x0123456789abcdefull);

  ASSERT_EQ(kiln_image_format_option_count(img), 3u);
  EXPECT_STREQ(kiln_image_format_option_key(img, 1), "sanitize");
  EXPECT_STREQ(kiln_image_format_option_value(img, 1), "");
  EXPECT_STREQ(kiln_image_format_option_value(img, 2), "1");
  EXPECT_STREQ(kiln_image_format_option_find(img, "opt_level"), "2");
  EXPECT_STREQ(kiln_image_format_option_find(img, "vectorize"), "1");
  EXPECT_EQ(kiln_image_format_option_find(img, "lto"), nullptr);
  EXPECT_EQ(kiln_image_format_option_key(img, 3), nullptr);

  ASSERT_EQ(kiln_image_format_target_count(img), 3u);
  EXPECT_STREQ(kiln_image_format_target_cpu(img, 2), "haswell");
  EXPECT_STREQ(kiln_image_format_target_features(img, 1), "+avx,+sse4.2");
  EXPECT_STREQ(kiln_image_format_target_features(img, 0), "");
  EXPECT_EQ(kiln_image_format_target_flags(img, 1), 1u);
  EXPECT_EQ(kiln_image_format_target_base(img, 2), 1u);
  EXPECT_EQ(kiln_image_format_target_cpu(img, 3), nullptr);
  EXPECT_EQ(kiln_image_format_target_flags(img, 3), 0u);

  // The function table in index order (shard by shard), and the name
  // index: add, kernel, main, mul, sub, zeta are functions 0, 3, 1, 4, 2, 5.
  ASSERT_EQ(kiln_image_format_function_count(img), 6u);
  for (size_t i = 0; i < 6; i++) {
    EXPECT_EQ(kiln_image_format_function_name(img, i), d.function_names[i]);
    size_t idx = 99;
    kiln_error_t *e = kiln_image_format_function_find(img, d.function_names[i].c_str(), &idx);
    EXPECT_EQ(e, nullptr);
    EXPECT_EQ(idx, i);
  }
  EXPECT_EQ(FunctionsByName(img), (std::vector<size_t>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(kiln_image_format_function_by_name(img, 6), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_function_name(img, 6), nullptr);
  size_t idx = 0;
  err = kiln_image_format_function_find(img, "nope", &idx);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(idx, SIZE_MAX);
  kiln_error_free(err);
  // Names between, before and after the table's: not found.
  for (const char *missing : {"", "a", "adds", "l", "zz"}) {
    idx = 0;
    err = kiln_image_format_function_find(img, missing, &idx);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND) << missing;
    EXPECT_EQ(idx, SIZE_MAX);
    kiln_error_free(err);
  }
  ASSERT_EQ(kiln_image_format_global_count(img), 2u);
  EXPECT_STREQ(kiln_image_format_global_name(img, 0), "table");
  EXPECT_STREQ(kiln_image_format_global_name(img, 1), "counter");
  EXPECT_EQ(kiln_image_format_global_name(img, 2), nullptr);
  EXPECT_EQ(GlobalsByName(img), (std::vector<size_t>{1, 0}));
  EXPECT_EQ(kiln_image_format_global_by_name(img, 2), SIZE_MAX);
  err = kiln_image_format_global_find(img, "counter", &idx);
  EXPECT_EQ(err, nullptr);
  EXPECT_EQ(idx, 1u);
  err = kiln_image_format_global_find(img, "table", &idx);
  EXPECT_EQ(err, nullptr);
  EXPECT_EQ(idx, 0u);
  err = kiln_image_format_global_find(img, "zzz", &idx);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);

  // Each shard's functions and globals are a range; the ranges tile the
  // tables in shard order. Out of range: 0 with count 0.
  ASSERT_EQ(kiln_image_format_shard_count(img), 3u);
  EXPECT_EQ(FunctionRange(img, 0), Range(0, 3));
  EXPECT_EQ(FunctionRange(img, 1), Range(3, 3));
  EXPECT_EQ(FunctionRange(img, 2), Range(6, 0));
  EXPECT_EQ(FunctionRange(img, 3), Range(0, 0));
  EXPECT_EQ(GlobalRange(img, 0), Range(0, 1));
  EXPECT_EQ(GlobalRange(img, 1), Range(1, 1));
  EXPECT_EQ(GlobalRange(img, 2), Range(2, 0));
  EXPECT_EQ(GlobalRange(img, 3), Range(0, 0));
  EXPECT_EQ(kiln_image_format_shard_first_function(img, 1, nullptr), 3u);  // count_out optional
  EXPECT_EQ(kiln_image_format_shard_first_global(img, 1, nullptr), 1u);
  size_t n = 0;
  EXPECT_EQ(Positions(img, 0, 1), (std::vector<uint32_t>{1}));
  EXPECT_EQ(Positions(img, 0, 2), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Positions(img, 1, 1), std::vector<uint32_t>());
  EXPECT_EQ(Positions(img, 1, 2), (std::vector<uint32_t>{2}));
  EXPECT_EQ(Mask(img, 0, 1, &n), (std::vector<uint32_t>{0x2}));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(Mask(img, 0, 2, &n), (std::vector<uint32_t>{0x3}));
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(kiln_image_format_shard_override_mask(img, 1, 1, &n), nullptr);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(Mask(img, 1, 2, &n), (std::vector<uint32_t>{0x4}));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(kiln_image_format_shard_override_mask(img, 0, 0, &n), nullptr);
  EXPECT_EQ(kiln_image_format_shard_override_mask(img, 0, 3, &n), nullptr);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 0, nullptr, 0), 0u);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 3, nullptr, 0), 0u);
  EXPECT_EQ(List(kiln_image_format_shard_slots(img, 0, &n), n), (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(List(kiln_image_format_shard_slots(img, 1, &n), n), std::vector<uint32_t>());
  EXPECT_EQ(kiln_image_format_shard_slots(img, 3, &n), nullptr);
  EXPECT_EQ(n, 0u);

  const auto F = KILN_IMAGE_FORMAT_TABLE_FUNCTIONS;
  const auto S = KILN_IMAGE_FORMAT_TABLE_SLOTS;
  const auto G = KILN_IMAGE_FORMAT_TABLE_GLOBALS;
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 0, F, 0), 0u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 0, F, 1), 1u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 0, F, 2), 2u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 0, S, 0), 3u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 0, G, 0), 4u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 1, F, 0), 5u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 1, F, 1), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 1, F, 2), 6u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 1, S, 0), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 1, G, 0), 7u);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 2, F, 0), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 0, F, 3), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_shard_pointer(img, 3, F, 0), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_pointer_count(img), 8u);
  EXPECT_EQ(kiln_image_format_pointer_offset(img), b.size());

  ASSERT_EQ(kiln_image_format_method_count(img), 3u);
  EXPECT_STREQ(kiln_image_format_method_key(img, 1), "kernel");
  err = kiln_image_format_method_find(img, "main", &idx);
  EXPECT_EQ(err, nullptr);
  EXPECT_EQ(idx, 2u);
  err = kiln_image_format_method_find(img, "missing", &idx);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);
  EXPECT_EQ(kiln_image_format_method_function(img, 0), 0u);
  EXPECT_EQ(kiln_image_format_method_function(img, 1), 3u);
  EXPECT_EQ(kiln_image_format_method_function(img, 2), 1u);
  EXPECT_EQ(kiln_image_format_method_flags(img, 0), KILN_IMAGE_FORMAT_METHOD_SPECSIG);
  EXPECT_EQ(kiln_image_format_method_flags(img, 1), 0u);
  EXPECT_EQ(kiln_image_format_method_fingerprint(img, 2), 0x3333u);
  EXPECT_EQ(List(kiln_image_format_method_calls(img, 0, &n), n), (std::vector<uint32_t>{1}));
  EXPECT_EQ(List(kiln_image_format_method_calls(img, 1, &n), n), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(List(kiln_image_format_method_calls(img, 2, &n), n), std::vector<uint32_t>());
  EXPECT_EQ(kiln_image_format_method_dep_count(img, 0), 1u);
  EXPECT_EQ(kiln_image_format_method_dep_count(img, 1), 0u);
  EXPECT_STREQ(kiln_image_format_method_dep_key(img, 0, 0), "base.f");
  EXPECT_EQ(kiln_image_format_method_dep_fingerprint(img, 0, 0), 7u);
  EXPECT_STREQ(kiln_image_format_method_dep_key(img, 2, 1), "b");
  EXPECT_EQ(kiln_image_format_method_dep_fingerprint(img, 2, 1), 2u);
  EXPECT_EQ(kiln_image_format_method_dep_key(img, 2, 2), nullptr);
  const void *bc = kiln_image_format_method_bitcode(img, 0, &n);
  ASSERT_EQ(n, 13u);
  EXPECT_EQ(memcmp(bc, d.methods[0].bitcode.data(), 13), 0);
  EXPECT_EQ((uintptr_t)bc % 8, 0u);
  bc = kiln_image_format_method_bitcode(img, 2, &n);
  ASSERT_EQ(n, 8u);
  EXPECT_EQ((uintptr_t)bc % 8, 0u);
  EXPECT_EQ(memcmp(bc, d.methods[2].bitcode.data(), 8), 0);
  EXPECT_EQ(kiln_image_format_method_bitcode(img, 1, &n), nullptr);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(kiln_image_format_method_key(img, 3), nullptr);
  EXPECT_EQ(kiln_image_format_method_bitcode(img, 3, &n), nullptr);
  kiln_image_format_close(img);
}

TEST(ImageFormatRoundTripTest, MinimalSystemImageAndNullViewAccessors) {
  Desc d;
  d.desc.producer = "";
  d.desc.triple = "";
  d.desc.name = "";
  d.targets = {{"generic", "", 0, 0}};
  d.Build();
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *img = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "min", &img), nullptr);
  EXPECT_EQ(kiln_image_format_pointer_count(img), 0u);
  EXPECT_EQ(kiln_image_format_function_count(img), 0u);
  EXPECT_EQ(kiln_image_format_function_by_name(img, 0), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_global_by_name(img, 0), SIZE_MAX);
  EXPECT_EQ(FunctionRange(img, 0), Range(0, 0));
  EXPECT_STREQ(kiln_image_format_name(img), "");
  kiln_image_format_close(img);
  EXPECT_EQ(kiln_image_format_function_count(nullptr), 0u);
  EXPECT_EQ(kiln_image_format_function_by_name(nullptr, 0), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_global_by_name(nullptr, 0), SIZE_MAX);
  EXPECT_EQ(FunctionRange(nullptr, 0), Range(0, 0));
  EXPECT_EQ(GlobalRange(nullptr, 0), Range(0, 0));
  EXPECT_EQ(kiln_image_format_producer(nullptr), nullptr);
  EXPECT_EQ(kiln_image_format_shard_pointer(nullptr, 0, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0),
            SIZE_MAX);
  kiln_image_format_close(nullptr);
}

TEST(ImageFormatRoundTripTest, OpensMisalignedBuffersAndIgnoresTrailingBytes) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  std::vector<uint8_t> shifted(b.size() + 3 + 24, 0xAB);
  memcpy(shifted.data() + 3, b.data(), b.size());
  kiln_image_format_t *img = nullptr;
  kiln_error_t *err = kiln_image_format_open(shifted.data() + 3, b.size() + 24, "x", &img);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  size_t n = 0;
  const uint32_t *slots = kiln_image_format_shard_slots(img, 0, &n);
  EXPECT_EQ((uintptr_t)slots % 4, 0u);
  EXPECT_EQ(List(slots, n), (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(Mask(img, 0, 2), (std::vector<uint32_t>{0x3}));
  EXPECT_EQ(FunctionRange(img, 1), Range(3, 3));
  EXPECT_EQ(kiln_image_format_function_by_name(img, 1), 3u);
  EXPECT_EQ(kiln_image_format_size(img), b.size());
  kiln_image_format_close(img);
}

// ---- Determinism ------------------------------------------------------------

TEST(ImageFormatDeterminismTest, EqualDescriptionsGiveEqualBytes) {
  Desc a = Rich();
  Desc b = Rich();
  std::vector<uint8_t> x = Encode(&a.desc), y = Encode(&b.desc), z = Encode(&a.desc);
  EXPECT_EQ(x, y);
  EXPECT_EQ(x, z);
  b.methods[2].fingerprint++;
  b.Build();
  EXPECT_NE(Encode(&b.desc), x);
}

// Options, methods and dep keys are sorted by the caller and rejected when
// they are not; the function and global tables are in whatever order the
// shards give them (the encoder sorts only its own name index).
TEST(ImageFormatDeterminismTest, OtherInputOrdersAreRejectedNotSorted) {
  Desc d = Rich();
  std::swap(d.options[0], d.options[2]);
  d.Build();
  EXPECT_NE(EncodeError(&d.desc).find("options[1].key"), std::string::npos);
  d = Rich();
  std::swap(d.methods[0], d.methods[1]);
  d.Build();
  EXPECT_NE(EncodeError(&d.desc).find("methods[1].key"), std::string::npos);
  d = Rich();
  std::swap(d.methods[2].dep_keys[0], d.methods[2].dep_keys[1]);
  d.Build();
  EXPECT_NE(EncodeError(&d.desc).find("methods[2].deps[1].key"), std::string::npos);
  // Two functions of shard 0 swapped: a different, valid table (the
  // overrides and slots keep their positions and indices).
  d = Rich();
  std::swap(d.function_names[0], d.function_names[2]);
  d.Build();
  std::vector<uint8_t> swapped = Encode(&d.desc);
  EXPECT_NE(swapped, Encode(Rich().Build()));
  kiln_image_format_t *img = nullptr;
  ASSERT_EQ(kiln_image_format_open(swapped.data(), swapped.size(), "lib.so", &img), nullptr);
  EXPECT_STREQ(kiln_image_format_function_name(img, 0), "sub");
  EXPECT_EQ(FunctionsByName(img), (std::vector<size_t>{2, 3, 1, 4, 0, 5}));
  kiln_image_format_close(img);
}

// ---- Numbered shard by shard, the name index (format 5) ------------------

// Shard 0 = {zeta, alpha}, shard 1 = {mid}: the index order is neither name
// order nor name order within a shard. Globals likewise. Methods keyed by
// their functions' names come in name order, whose functions are 1, 2, 0.
Desc OutOfOrder() {
  Desc d;
  d.desc.producer = "p";
  d.desc.triple = "t";
  d.desc.name = "ooo";
  d.desc.kind = KILN_IMAGE_FORMAT_KIND_SYSTEM;
  d.targets = {{"generic", "", 0, 0}, {"v3", "+avx2", 0, 0}};
  d.function_names = {"zeta", "alpha", "mid"};
  d.global_names = {"gz", "ga", "gm"};
  Desc::Shard s0;
  s0.function_count = 2;
  s0.overrides = {{}, {1}};  // alpha
  s0.slots = {2};            // mid
  s0.global_count = 2;
  Desc::Shard s1;
  s1.function_count = 1;
  s1.global_count = 1;
  d.shards = {s0, s1};
  for (auto &[key, fn] : std::vector<std::pair<const char *, uint32_t>>{
           {"alpha", 1}, {"mid", 2}, {"zeta", 0}}) {
    Desc::Method m;
    m.key = key;
    m.function = fn;
    d.methods.push_back(m);
  }
  d.methods[0].calls = {2};
  d.Build();
  return d;
}

TEST(ImageFormatNameIndexTest, IndexOrderIsNotNameOrder) {
  Desc d = OutOfOrder();
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *img = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "lib.so", &img), nullptr);
  ASSERT_EQ(kiln_image_format_function_count(img), 3u);
  EXPECT_STREQ(kiln_image_format_function_name(img, 0), "zeta");
  EXPECT_STREQ(kiln_image_format_function_name(img, 1), "alpha");
  EXPECT_STREQ(kiln_image_format_function_name(img, 2), "mid");
  EXPECT_EQ(FunctionsByName(img), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(GlobalsByName(img), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(kiln_image_format_function_by_name(img, 3), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_function_by_name(img, SIZE_MAX), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_global_by_name(img, 3), SIZE_MAX);
  const struct {
    const char *name;
    size_t function;
  } finds[] = {{"alpha", 1}, {"mid", 2}, {"zeta", 0}};
  for (const auto &f : finds) {
    size_t idx = 99;
    kiln_error_t *err = kiln_image_format_function_find(img, f.name, &idx);
    EXPECT_EQ(err, nullptr) << f.name;
    EXPECT_EQ(idx, f.function) << f.name;
    kiln_error_free(err);
  }
  const struct {
    const char *name;
    size_t global;
  } gfinds[] = {{"ga", 1}, {"gm", 2}, {"gz", 0}};
  for (const auto &g : gfinds) {
    size_t idx = 99;
    kiln_error_t *err = kiln_image_format_global_find(img, g.name, &idx);
    EXPECT_EQ(err, nullptr) << g.name;
    EXPECT_EQ(idx, g.global) << g.name;
    kiln_error_free(err);
  }
  for (const char *missing : {"", "aa", "beta", "z", "zzz"}) {
    size_t idx = 0;
    kiln_error_t *err = kiln_image_format_function_find(img, missing, &idx);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND) << missing;
    EXPECT_EQ(idx, SIZE_MAX) << missing;
    kiln_error_free(err);
  }
  EXPECT_EQ(FunctionRange(img, 0), Range(0, 2));
  EXPECT_EQ(FunctionRange(img, 1), Range(2, 1));
  EXPECT_EQ(GlobalRange(img, 0), Range(0, 2));
  EXPECT_EQ(GlobalRange(img, 1), Range(2, 1));
  EXPECT_EQ(Positions(img, 0, 1), (std::vector<uint32_t>{1}));
  size_t n = 0;
  EXPECT_EQ(List(kiln_image_format_shard_slots(img, 0, &n), n), (std::vector<uint32_t>{2}));
  ASSERT_EQ(kiln_image_format_method_count(img), 3u);
  EXPECT_EQ(kiln_image_format_method_function(img, 0), 1u);
  EXPECT_EQ(kiln_image_format_method_function(img, 2), 0u);
  kiln_image_format_close(img);

  // The bytes: functions entry i = {name offset, by_name[i]}; the name
  // offsets point at the names in index order.
  const uint64_t fns = SectionOffset(b, KIF_SEC_FUNCTIONS);
  const uint64_t names = SectionOffset(b, KIF_SEC_NAMES);
  ASSERT_EQ(SectionSize(b, KIF_SEC_FUNCTIONS), 3u * 8);
  const uint32_t by_name[] = {1, 2, 0};
  for (size_t i = 0; i < 3; i++) {
    EXPECT_EQ(std::string((const char *)b.data() + names + Get32(b, fns + 8 * i + KIF_SYM_NAME)),
              d.function_names[i]);
    EXPECT_EQ(Get32(b, fns + 8 * i + KIF_SYM_BY_NAME), by_name[i]) << i;
  }
  // The shard tables' target-0 offset is the first function, the shards'
  // byte-12 field the first global.
  const uint64_t tables = SectionOffset(b, KIF_SEC_SHARD_TABLES);
  EXPECT_EQ(Get32(b, tables + 0 * 16 + KIF_STB_OFFSET), 0u);
  EXPECT_EQ(Get32(b, tables + 2 * 16 + KIF_STB_OFFSET), 2u);  // (1, 0)
  const uint64_t shards = SectionOffset(b, KIF_SEC_SHARDS);
  EXPECT_EQ(Get32(b, shards + 0 * 24 + KIF_SHD_GLOBAL_FIRST), 0u);
  EXPECT_EQ(Get32(b, shards + 1 * 24 + KIF_SHD_GLOBAL_FIRST), 2u);
}

// On a larger image numbered like the emitter's: every name found at its
// index, the name index a permutation in strictly ascending name order,
// the shard ranges tiling the tables, and a load view agreeing on the
// ranges while giving SIZE_MAX for the name index.
TEST(ImageFormatNameIndexTest, LargeImageRangesAndNameIndex) {
  Desc d = Large(200, 7);
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *img = nullptr, *load = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "lib.so", &img), nullptr);
  ASSERT_EQ(kiln_image_format_open_load(b.data(), LoadSize(b), "lib.so", &load), nullptr);
  for (int globals = 0; globals < 2; globals++) {
    SCOPED_TRACE(globals ? "globals" : "functions");
    const size_t count =
        globals ? kiln_image_format_global_count(img) : kiln_image_format_function_count(img);
    ASSERT_EQ(count, globals ? 25u : 200u);
    auto name = globals ? kiln_image_format_global_name : kiln_image_format_function_name;
    auto by_name = globals ? kiln_image_format_global_by_name : kiln_image_format_function_by_name;
    auto find = globals ? kiln_image_format_global_find : kiln_image_format_function_find;
    auto first = globals ? kiln_image_format_shard_first_global
                         : kiln_image_format_shard_first_function;
    std::vector<bool> seen(count);
    bool index_order_is_name_order = true;
    for (size_t j = 0; j < count; j++) {
      size_t i = by_name(img, j);
      ASSERT_LT(i, count) << j;
      EXPECT_FALSE(seen[i]) << i;
      seen[i] = true;
      index_order_is_name_order &= i == j;
      if (j > 0) EXPECT_LT(strcmp(name(img, by_name(img, j - 1)), name(img, i)), 0) << j;
      size_t idx = SIZE_MAX;
      kiln_error_t *err = find(img, name(img, i), &idx);
      EXPECT_EQ(err, nullptr);
      EXPECT_EQ(idx, i);
      kiln_error_free(err);
      EXPECT_EQ(by_name(load, j), SIZE_MAX);
    }
    EXPECT_FALSE(index_order_is_name_order);
    EXPECT_EQ(by_name(img, count), SIZE_MAX);
    size_t next = 0;
    for (size_t s = 0; s < 7; s++) {
      size_t n = 0, m = 0;
      EXPECT_EQ(first(img, s, &n), next) << s;
      EXPECT_EQ(first(load, s, &m), next) << s;
      EXPECT_EQ(m, n);
      next += n;
    }
    EXPECT_EQ(next, count);
  }
  kiln_image_format_close(load);
  kiln_image_format_close(img);
}

// The accessors on a load view: the ranges are in the load part, the name
// index is in the directory (SIZE_MAX).
TEST(ImageFormatNameIndexTest, LoadViewHasRangesButNoNameIndex) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *v = nullptr;
  ASSERT_EQ(kiln_image_format_open_load(b.data(), LoadSize(b), "lib.so", &v), nullptr);
  EXPECT_EQ(FunctionRange(v, 0), Range(0, 3));
  EXPECT_EQ(FunctionRange(v, 1), Range(3, 3));
  EXPECT_EQ(FunctionRange(v, 2), Range(6, 0));
  EXPECT_EQ(FunctionRange(v, 3), Range(0, 0));
  EXPECT_EQ(GlobalRange(v, 1), Range(1, 1));
  EXPECT_EQ(GlobalRange(v, 3), Range(0, 0));
  for (size_t j = 0; j <= 6; j++) EXPECT_EQ(kiln_image_format_function_by_name(v, j), SIZE_MAX);
  for (size_t j = 0; j <= 2; j++) EXPECT_EQ(kiln_image_format_global_by_name(v, j), SIZE_MAX);
  kiln_image_format_close(v);
}

// ---- Encoder errors -----------------------------------------------------

struct EncodeCase {
  const char *what;
  void (*mutate)(Desc &);
  const char *message;
};

TEST(ImageFormatEncodeTest, RejectsEveryBrokenRuleNamingTheField) {
  const EncodeCase cases[] = {
      {"producer", [](Desc &d) { d.desc.producer = nullptr; }, "producer: NULL string"},
      {"triple", [](Desc &d) { d.desc.triple = nullptr; }, "triple: NULL string"},
      {"name", [](Desc &d) { d.desc.name = nullptr; }, "name: NULL string"},
      {"kind", [](Desc &d) { d.desc.kind = (kiln_image_format_kind_t)5; }, "kind: unknown image kind 5"},
      {"base", [](Desc &d) { d.desc.kind = KILN_IMAGE_FORMAT_KIND_SYSTEM; },
       "base_checksum: 0x0123456789abcdef for a system image"},
      {"opt value", [](Desc &d) { d.options[1].value = nullptr; }, "options[1].value: NULL string"},
      {"opt dup", [](Desc &d) { d.options[1].key = "opt_level"; },
       "options[1].key: 'opt_level' is duplicate of the previous entry"},
      {"no targets", [](Desc &d) { d.targets.clear(); }, "targets: at least one target"},
      {"target cpu", [](Desc &d) { d.targets[1].cpu = nullptr; }, "targets[1].cpu: NULL string"},
      {"target base", [](Desc &d) { d.targets[1].base = 2; },
       "targets[1].base: 2 is not an earlier target"},
      // Names are unique; the message names both entries, the later one first.
      {"fn dup", [](Desc &d) { d.function_names[3] = "main"; },
       "functions[3]: 'main' is a duplicate of functions[1] (names must be unique)"},
      {"fn dup across shards", [](Desc &d) { d.function_names[0] = "zeta"; },
       "functions[5]: 'zeta' is a duplicate of functions[0] (names must be unique)"},
      {"fn dup in a shard", [](Desc &d) { d.function_names[4] = "kernel"; },
       "functions[4]: 'kernel' is a duplicate of functions[3]"},
      {"gl dup", [](Desc &d) { d.global_names = {"table", "table"}; },
       "globals[1]: 'table' is a duplicate of globals[0] (names must be unique)"},
      // Shard counts: each shard takes the next function_count functions.
      {"shard fn count too large", [](Desc &d) { d.shards[1].function_count = 4; },
       "shards[1].function_count: 4 functions after the 3 of the shards before it, but the "
       "function table has 6"},
      {"empty shard fn count too large", [](Desc &d) { d.shards[2].function_count = 1; },
       "shards[2].function_count: 1 functions after the 6 of the shards before it, but the "
       "function table has 6"},
      {"shard gl count too large", [](Desc &d) { d.shards[0].global_count = 3; },
       "shards[0].global_count: 3 globals after the 0 of the shards before it, but the global "
       "table has 2"},
      {"shard fn counts short",
       [](Desc &d) { d.shards[1].function_count = 2; d.shards[1].overrides[2] = {}; },
       "shards: 5 functions in the shards, but the function table has 6 (each function must be "
       "in exactly one shard)"},
      {"shard gl counts short", [](Desc &d) { d.shards[1].global_count = 0; },
       "shards: 1 globals in the shards, but the global table has 2 (each global must be in "
       "exactly one shard)"},
      {"no shards", [](Desc &d) { d.shards.clear(); },
       "shards: 0 functions in the shards, but the function table has 6"},
      // Overrides are positions in the shard's range (3 functions here).
      {"override past shard", [](Desc &d) { d.shards[1].overrides[2] = {3}; },
       "shards[1].overrides[2][0]: 3 out of range (3 shard functions)"},
      {"override range", [](Desc &d) { d.shards[0].overrides[2] = {0, 3}; },
       "shards[0].overrides[2][1]: 3 out of range (3 shard functions)"},
      {"override order", [](Desc &d) { d.shards[0].overrides[2] = {1, 1}; },
       "shards[0].overrides[2][1]: 1 is not after 1"},
      {"slot range", [](Desc &d) { d.shards[0].slots = {1, 9}; },
       "shards[0].slot_functions[1]: 9 out of range (6 functions)"},
      {"method order", [](Desc &d) { d.methods[2].key = "kernel"; },
       "methods[2].key: 'kernel' is duplicate"},
      {"method fn", [](Desc &d) { d.methods[1].function = 120; },
       "methods[1].function: function 120 out of range (6 functions)"},
      {"method flags", [](Desc &d) { d.methods[1].flags = 6; }, "methods[1].flags: unknown flags 0x6"},
      {"call range", [](Desc &d) { d.methods[1].calls = {0, 9}; },
       "methods[1].calls[1]: method 9 out of range (3 methods)"},
      {"call order", [](Desc &d) { d.methods[1].calls = {1, 0}; },
       "methods[1].calls[1]: method 0 is not after 1"},
      {"dep order", [](Desc &d) { d.methods[2].dep_keys = {"b", "a"}; },
       "methods[2].deps[1].key: 'a' is not after"},
  };
  for (const EncodeCase &c : cases) {
    Desc d = Rich();
    c.mutate(d);
    d.Build();  // refreshes the array pointers only; scalar fields stay as set
    kiln_error_code_t code = KILN_OK;
    std::string msg = EncodeError(&d.desc, &code);
    EXPECT_EQ(code, KILN_ERR_INVALID_ARGUMENT) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.what << ": got '" << msg << "'";
  }
}

TEST(ImageFormatEncodeTest, RejectsNullArgumentsAndMissingArrays) {
  Desc d = Rich();
  void *blob = (void *)1;
  size_t size = 1;
  kiln_error_t *err = kiln_image_format_encode(nullptr, &blob, &size);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(blob, nullptr);
  EXPECT_EQ(size, 0u);
  kiln_error_free(err);
  err = kiln_image_format_encode(&d.desc, nullptr, &size);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  d.method_descs[0].bitcode = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("methods[0].bitcode: NULL with bitcode_size 13"),
            std::string::npos);
  d = Rich();
  d.shard_descs[0].override_counts = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("shards[0].override_counts: NULL"), std::string::npos);
  d = Rich();
  d.desc.functions = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("functions: NULL with 6 entries"), std::string::npos);
  // (Build() after an assignment: the moved names' pointers are stale.)
  d = Rich();
  d.Build();
  d.functions[2] = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("functions[2]: NULL string"), std::string::npos);
  d.Build();
  d.globals[1] = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("globals[1]: NULL string"), std::string::npos);
  d.Build();
  d.desc.globals = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("globals: NULL with 2 entries"), std::string::npos);
  d.Build();
  d.desc.shards = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("shards: NULL with 3 shards"), std::string::npos);
  d.Build();
  d.shard_descs[0].slot_functions = nullptr;
  EXPECT_NE(EncodeError(&d.desc).find("shards[0].slot_functions: NULL with 2 entries"),
            std::string::npos);
}

// Three entries with one name: the message is the same on every run (the
// first two of them by index), whatever order the sort met them in.
TEST(ImageFormatEncodeTest, DuplicateNamesAreReportedDeterministically) {
  Desc d = Large(64, 4);
  d.function_names[40] = d.function_names[7];
  d.function_names[21] = d.function_names[7];
  d.Build();
  const std::string want = "functions[21]: '" + d.function_names[7] +
                           "' is a duplicate of functions[7] (names must be unique)";
  for (int run = 0; run < 3; run++) EXPECT_EQ(EncodeError(&d.desc), want);
}

// ---- Reader: header, truncation, checksum --------------------------------

TEST(ImageFormatOpenTest, RejectsEmptyNullAndBadMagic) {
  std::vector<uint8_t> empty;
  kiln_error_code_t code;
  EXPECT_NE(OpenError(empty, &code).find("lib.so: image metadata: truncated"), std::string::npos);
  EXPECT_EQ(code, KILN_ERR_FORMAT);
  kiln_image_format_t *img = nullptr;
  kiln_error_t *err = kiln_image_format_open(nullptr, 10, "x", &img);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_image_format_open(nullptr, 0, "x", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);

  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  b[3] = 'X';
  EXPECT_EQ(OpenError(b, &code), "lib.so: image metadata: not a kiln image (bad magic)");
  EXPECT_EQ(code, KILN_ERR_FORMAT);
  std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  EXPECT_NE(OpenError(elf).find("not a kiln image"), std::string::npos);
}

TEST(ImageFormatOpenTest, RejectsOtherVersionsNamingBoth) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  Put32(b, 8, 1);
  Reseal(b);
  kiln_error_code_t code;
  EXPECT_EQ(OpenError(b, &code),
            "lib.so: image metadata: format version 1, but this reader accepts only version 5");
  EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
  EXPECT_EQ(OpenLoadError(b, &code),
            "lib.so: image metadata: format version 1, but this reader accepts only version 5");
  EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
  Put32(b, 8, 2);
  EXPECT_NE(OpenError(b, &code).find("format version 2, but this reader accepts only version 5"),
            std::string::npos);
  EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
  Put32(b, 8, 6);  // a newer version too
  EXPECT_NE(OpenError(b, &code).find("format version 6, but this reader accepts only version 5"),
            std::string::npos);
  EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
}

TEST(ImageFormatOpenTest, RejectsEveryTruncation) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  for (size_t len = 0; len < b.size(); len++) {
    // A fresh allocation of exactly `len` bytes, so ASan sees any overread.
    std::vector<uint8_t> cut(b.begin(), b.begin() + len);
    kiln_error_code_t code = KILN_OK;
    std::string msg = OpenError(cut, &code);
    ASSERT_EQ(code, KILN_ERR_FORMAT) << len << ": " << msg;
    if (len >= KILN_IMAGE_FORMAT_HEADER_SIZE) {
      ASSERT_EQ(msg, "lib.so: image metadata: truncated: header says " + std::to_string(b.size()) +
                         " bytes, buffer has " + std::to_string(len))
          << len;
    }
  }
}

// The load view needs exactly the load part: every shorter buffer is
// "truncated", every buffer from the load size on opens.
TEST(ImageFormatOpenLoadTest, RejectsEveryTruncationBeforeTheLoadSize) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  const uint64_t load_size = LoadSize(b);
  for (size_t len = 0; len <= b.size(); len++) {
    std::vector<uint8_t> cut(b.begin(), b.begin() + len);
    kiln_error_code_t code = KILN_OK;
    std::string msg = OpenLoadError(cut, &code);
    if (len < load_size) {
      ASSERT_EQ(code, KILN_ERR_FORMAT) << len << ": " << msg;
      if (len >= KILN_IMAGE_FORMAT_HEADER_SIZE) {
        ASSERT_EQ(msg, "lib.so: image metadata: truncated: header says " +
                           std::to_string(load_size) + " bytes of load part, buffer has " +
                           std::to_string(len))
            << len;
      }
    } else {
      ASSERT_EQ(code, KILN_OK) << len << ": " << msg;
    }
  }
}

TEST(ImageFormatOpenTest, EveryFlippedByteIsCaught) {
  Desc d;
  d.desc.producer = "p";
  d.desc.triple = "t";
  d.desc.name = "n";
  d.targets = {{"generic", "", 0, 0}};
  d.function_names = {"f"};
  Desc::Shard s;
  s.function_count = 1;
  d.shards = {s};
  Desc::Method m;
  m.key = "f";
  d.methods = {m};
  d.Build();
  std::vector<uint8_t> b = Encode(&d.desc);
  const uint64_t load_size = LoadSize(b);
  ASSERT_GT(load_size, 64u);
  ASSERT_LT(load_size, b.size());
  for (size_t i = 0; i < b.size(); i++) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::vector<uint8_t> flipped = b;
      flipped[i] ^= bit;
      // The full open rejects every flip. Past the sizing fields (magic,
      // version, total size before the checksums; load size 48..56), the
      // blob checksum, checked first, is what catches it.
      kiln_error_code_t code = KILN_OK;
      std::string msg = OpenError(flipped, &code);
      ASSERT_NE(code, KILN_OK) << "byte " << i;
      if ((i >= 32 && !(i >= 48 && i < 56)) || (i >= 12 && i < 16)) {
        ASSERT_EQ(msg.rfind("lib.so: image metadata: checksum mismatch (stored 0x", 0), 0u)
            << i << ": " << msg;
      }
      // The load view rejects every flip in the load part except in the
      // blob checksum field (which it does not read), and accepts every flip
      // in the directory (which it does not read either).
      kiln_error_code_t load_code = KILN_OK;
      std::string load_msg = OpenLoadError(flipped, &load_code);
      if (i < load_size && !(i >= 24 && i < 32)) {
        ASSERT_NE(load_code, KILN_OK) << "byte " << i;
        if ((i >= 56 && i < load_size) || (i >= 32 && i < 48) || (i >= 12 && i < 16)) {
          ASSERT_EQ(load_msg.rfind("lib.so: image metadata: load part checksum mismatch (stored 0x",
                                   0),
                    0u)
              << i << ": " << load_msg;
        }
      } else {
        ASSERT_EQ(load_code, KILN_OK) << "byte " << i << ": " << load_msg;
      }
    }
  }
  std::vector<uint8_t> bad = b;
  Put64(bad, 24, 0x1234);
  uint64_t computed = Get64(b, 24);
  char expect[128];
  snprintf(expect, sizeof(expect),
           "lib.so: image metadata: checksum mismatch (stored 0x0000000000001234, computed "
           "0x%016llx)",
           (unsigned long long)computed);
  EXPECT_EQ(OpenError(bad), expect);
  EXPECT_EQ(OpenLoadError(bad), "");  // the load view does not read the blob checksum

  // A wrong load checksum behind a valid blob checksum: both opens name it.
  bad = b;
  Put64(bad, 56, 0x5678);
  ResealBlob(bad);
  snprintf(expect, sizeof(expect),
           "lib.so: image metadata: load part checksum mismatch (stored 0x0000000000005678, "
           "computed 0x%016llx)",
           (unsigned long long)Get64(b, 56));
  kiln_error_code_t code = KILN_OK;
  EXPECT_EQ(OpenError(bad, &code), expect);
  EXPECT_EQ(code, KILN_ERR_FORMAT);
  EXPECT_EQ(OpenLoadError(bad, &code), expect);
  EXPECT_EQ(code, KILN_ERR_FORMAT);
}

// ---- Reader: structure behind a valid checksum --------------------------

// `load` says whether the problem is one kiln_image_format_open_load sees
// too (header, section table, load part): then both opens give the same
// message; otherwise (a directory problem) the load view opens.
struct PatchCase {
  const char *what;
  void (*patch)(std::vector<uint8_t> &);
  const char *message;
  bool load;
};

uint64_t Entry(const std::vector<uint8_t> &b, uint32_t section, uint64_t index) {
  return SectionOffset(b, section) + index * kKifEntrySize[section];
}

TEST(ImageFormatOpenTest, StructuralProblemsBehindAValidChecksum) {
  const PatchCase cases[] = {
      {"header size", [](std::vector<uint8_t> &b) { Put32(b, 12, 32); },
       "header: header size 32, expected 64", true},
      {"flags", [](std::vector<uint8_t> &b) { Put32(b, 36, 4); }, "header: unknown flags 0x4", true},
      {"section count", [](std::vector<uint8_t> &b) { Put32(b, 32, 13); },
       "header: 13 sections, version 5 has 14", true},
      {"table offset", [](std::vector<uint8_t> &b) { Put64(b, 40, b.size() - 8); },
       "header: section table at offset", true},
      {"table past load part", [](std::vector<uint8_t> &b) { Put64(b, 40, LoadSize(b) - 8); },
       "inside the load part", true},
      {"load size unaligned", [](std::vector<uint8_t> &b) { Put64(b, 48, LoadSize(b) + 4); },
       "header: load size", true},
      {"load size beyond total", [](std::vector<uint8_t> &b) { Put64(b, 48, b.size() + 8); },
       "is not a multiple of 8 between the header size 64 and the total size", true},
      {"load size below header", [](std::vector<uint8_t> &b) { Put64(b, 48, 56); },
       "header: load size 56 is not a multiple of 8 between the header size 64", true},
      {"load part too short",
       // The section table no longer fits in the load part.
       [](std::vector<uint8_t> &b) { Put64(b, 48, 64 + 8 * 24); },
       "header: section table at offset 64 (336 bytes) is not 8-byte aligned inside the load part "
       "(256 bytes)", true},
      {"load part ends early",
       // Shard indices, the last load section, now ends after the load size.
       [](std::vector<uint8_t> &b) { Put64(b, 48, LoadSize(b) - 8); },
       "section table: shard indices section: bytes [", true},
      {"load part ends late",
       // The names section, the first directory section, now starts before it.
       [](std::vector<uint8_t> &b) { Put64(b, 48, LoadSize(b) + 8); },
       "section table: names section: bytes [", true},
      {"load section in directory",
       [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 4) + 8, b.size() - 48); },
       "section table: targets section: bytes [", true},
      {"directory section in load part",
       [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 5) + 8, SectionOffset(b, 1)); },
       "section table: functions section: bytes [", true},
      {"section id", [](std::vector<uint8_t> &b) { Put32(b, SectionEntry(b, 4), 9); },
       "section table: entry 3: id 9, expected 4 (targets)", true},
      {"names id", [](std::vector<uint8_t> &b) { Put32(b, SectionEntry(b, 14), 15); },
       "section table: entry 13: id 15, expected 14 (names)", true},
      {"entry size", [](std::vector<uint8_t> &b) { Put32(b, SectionEntry(b, 10) + 4, 48); },
       "section table: methods section: entry size 48, expected 56", true},
      {"names entry size", [](std::vector<uint8_t> &b) { Put32(b, SectionEntry(b, 14) + 4, 4); },
       "section table: names section: entry size 4, expected 1", true},
      {"misaligned", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 5) + 8, SectionOffset(b, 5) + 4); },
       "section table: functions section: offset", true},
      {"outside", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 13) + 16, 1u << 20); },
       "section table: bitcode section: bytes [", true},
      {"huge size", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 13) + 16, ~0ull - 7); },
       "outside the blob", true},
      {"not multiple", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 10) + 16, 57); },
       "methods section: size 57 is not a multiple of its entry size 56", true},
      {"overlap", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 6) + 8, SectionOffset(b, 5)); },
       "section table: globals section overlaps the functions section", true},
      {"over header", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 3) + 8, 64); },
       "options section: bytes [64, 88) overlap the header or the section table", true},
      {"strings nul", [](std::vector<uint8_t> &b) { b[SectionOffset(b, 1) + SectionSize(b, 1) - 1] = 'x'; },
       "strings section: must be 1 to 2^32-1 bytes ending in NUL", true},
      {"names nul", [](std::vector<uint8_t> &b) { b[SectionOffset(b, 14) + SectionSize(b, 14) - 1] = 'x'; },
       "names section: must be 1 to 2^32-1 bytes ending in NUL", false},
      {"names empty", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 14) + 16, 0); },
       "names section: must be 1 to 2^32-1 bytes ending in NUL (0 bytes)", false},
      {"string offset", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 4, 1), (uint32_t)SectionSize(b, 1)); },
       "targets section: entry 1: cpu string offset", true},
      {"name offset", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 5, 2), (uint32_t)SectionSize(b, 14)); },
       "functions section: entry 2: name string offset", false},
      {"name offset message", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 6, 1), 100000); },
       "globals section: entry 1: name string offset 100000 outside the names section", false},
      {"name offset before the name index",
       // A bad name offset is found even in an entry the name index reaches last.
       [](std::vector<uint8_t> &b) {
         Put32(b, Entry(b, 5, 5), 100000);
         Put32(b, Entry(b, 5, 0) + 4, 9);
       },
       "functions section: entry 5: name string offset 100000 outside the names section", false},
      {"info kind", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 2, 0) + 12, 3); },
       "info section: unknown image kind 3", true},
      {"system base", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 2, 0) + 12, 0); },
       "info section: a system image with base checksum 0x0123456789abcdef", true},
      {"pointer count", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 2, 0) + 24, 9); },
       "info section: pointer array entry 8 is used by no table", true},
      {"pointer count huge", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 2, 0) + 24, 1000000); },
       "info section: pointer count 1000000 exceeds the 15 per-shard tables", true},
      {"options order",
       [](std::vector<uint8_t> &b) {
         uint32_t a = Get32(b, Entry(b, 3, 0)), c = Get32(b, Entry(b, 3, 1));
         Put32(b, Entry(b, 3, 0), c);
         Put32(b, Entry(b, 3, 1), a);
       },
       "options section: entry 1: key 'opt_level' is not after 'sanitize'", true},
      {"target base", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 4, 1) + 12, 2); },
       "targets section: entry 1: base target 2 is not an earlier target", true},
      // The name index (byte 4 of each functions/globals entry). Rich():
      // functions add main sub kernel mul zeta, name index {0, 3, 1, 4, 2, 5};
      // globals table counter, name index {1, 0}.
      {"name index out of range", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 5, 2) + 4, 6); },
       "functions section: entry 2: name index 6 is out of range (the name index must list each "
       "of the 6 entries once)", false},
      {"name index huge", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 6, 0) + 4, 0xFFFFFFFFu); },
       "globals section: entry 0: name index 4294967295 is out of range (the name index must "
       "list each of the 2 entries once)", false},
      {"name index twice", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 5, 2) + 4, 3); },
       "functions section: entry 2: name index 3 is listed twice (the name index must list each "
       "of the 6 entries once)", false},
      {"global name index twice", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 6, 1) + 4, 1); },
       "globals section: entry 1: name index 1 is listed twice", false},
      {"name index not ascending",
       // {0, 1, 3, ...}: add, main, kernel.
       [](std::vector<uint8_t> &b) {
         Put32(b, Entry(b, 5, 1) + 4, 1);
         Put32(b, Entry(b, 5, 2) + 4, 3);
       },
       "functions section: entry 2: name index 3: 'kernel' is not after 'main' (the name index "
       "must be in strictly ascending name order)", false},
      {"global name index in index order",
       [](std::vector<uint8_t> &b) {
         Put32(b, Entry(b, 6, 0) + 4, 0);
         Put32(b, Entry(b, 6, 1) + 4, 1);
       },
       "globals section: entry 1: name index 1: 'counter' is not after 'table' (the name index "
       "must be in strictly ascending name order)", false},
      {"duplicate name",
       // kernel (function 3) renamed add: entries 0 and 1 of the name index
       // name the same string.
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 5, 3), Get32(b, Entry(b, 5, 0))); },
       "functions section: entry 1: name index 3: 'add' is not after 'add'", false},
      {"no targets", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 4) + 16, 0); },
       "targets section: no targets", true},
      // Shard ranges. Shard table (s, k) is entry 3 s + k; its offset for k
      // = 0 is the first function. Shard indices: shard 0's masks (0x2,
      // 0x3) and slots (3, 4) at 0..3, shard 1's target 2 mask (0x4) at 4.
      {"first function",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 3) + 4, 2); },
       "shards section: entry 1: first function 2, expected 3 (the shards number the functions "
       "in order)", true},
      {"first function of an empty shard",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 6) + 4, 0); },
       "shards section: entry 2: first function 0, expected 6", true},
      {"first function of shard 0",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 0) + 4, 1); },
       "shards section: entry 0: first function 1, expected 0", true},
      {"functions past the table",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 3), 4); },
       "shards section: entry 1: functions [3, +4) past the 6 functions of the table", true},
      {"functions count huge",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 0), 0xFFFFFFF0u); },
       "shards section: entry 0: functions [0, +4294967280) past the 6 functions of the table",
       true},
      {"functions in an empty shard",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 6), 1); },
       "shards section: entry 2: functions [6, +1) past the 6 functions of the table", true},
      {"first global",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 7, 1) + 12, 0); },
       "shards section: entry 1: first global 0, expected 1 (the shards number the globals in "
       "order)", true},
      {"globals past the table",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 7, 1) + 8, 2); },
       "shards section: entry 1: globals [1, +2) past the 2 globals of the table", true},
      {"function in no shard",
       // Shard 1 shrinks to 2 functions (its target-2 mask moves to bit 1
       // and shard 2 starts at 5): function 5 is in no shard.
       [](std::vector<uint8_t> &b) {
         Put32(b, Entry(b, 8, 3), 2);
         Put32(b, Entry(b, 9, 4), 0x2);
         Put32(b, Entry(b, 8, 6) + 4, 5);
       },
       "functions section: 6 entries, but the shards hold 5 (function 5 is in no shard)", true},
      {"functions in no shard at all",
       // No shards: their table entries and indices gone, no pointers.
       [](std::vector<uint8_t> &b) {
         Put64(b, SectionEntry(b, 7) + 16, 0);
         Put64(b, SectionEntry(b, 8) + 16, 0);
         Put64(b, SectionEntry(b, 9) + 16, 0);
         Put32(b, Entry(b, 2, 0) + 24, 0);
       },
       "functions section: 6 entries, but the shards hold 0 (function 0 is in no shard)", true},
      {"global in no shard",
       // Shard 1's global dropped with its pointer (7, the last one); shard 2
       // then starts at global 1.
       [](std::vector<uint8_t> &b) {
         Put32(b, Entry(b, 7, 1) + 8, 0);
         Put32(b, Entry(b, 7, 1) + 20, 0xFFFFFFFFu);
         Put32(b, Entry(b, 2, 0) + 24, 7);
         Put32(b, Entry(b, 7, 2) + 12, 1);
       },
       "globals section: 2 entries, but the shards hold 1 (global 1 is in no shard)", true},
      {"slot range",
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 3), 77); },
       "shards section: entry 0: slot 1: 77 out of range (6 functions)", true},
      {"shard list offset", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 7, 1) + 4, 3); },
       "shards section: entry 1: slot list at index 3, expected 5", true},
      {"override bit past the functions",
       // shard 0's target 1 mask (index 0) is 0b010; bit 3 is past its 3 functions.
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 0), 0xA); },
       "shards section: entry 0: target 1 override mask has a bit past the shard's 3 functions",
       true},
      {"pointer range", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 1) + 8, 8); },
       "shards section: entry 0: target 1 function table pointer index 8 out of range (8 pointers)",
       true},
      {"pointer twice", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 7, 1) + 20, 5); },
       "shards section: entry 1: globals table pointer index 5 used twice", true},
      {"empty with pointer", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 7, 2) + 16, 0); },
       "shards section: entry 2: empty slots table has pointer index 0", true},
      {"shard tables count", [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 8) + 16, 16 * 8); },
       "shard tables section: 8 entries, expected 3 shards x 3 targets", true},
      {"list tiling",
       // Shrinking shard 0's slot list leaves a gap before the next list.
       [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 7, 0), 1); },
       "shards section: entry 1: target 1 override mask at index 4, expected 3", true},
      {"indices left over",
       // One more word in the pool than the shards use.
       [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 9) + 16, SectionSize(b, 9) + 4); },
       "shard indices section: 6 entries, but the shards use 5", true},
      {"method fn", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 10, 1) + 4, 120); },
       "lib.so: image metadata: methods section: entry 1: function index 120 out of range (6 functions)",
       false},
      {"method order", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 10, 1), Get32(b, Entry(b, 10, 0))); },
       "methods section: entry 1: key 'add' is not after 'add'", false},
      {"method order by name index",
       // Methods 1 and 2 swapped (key and function): main (function 1)
       // before kernel (function 3). Both keys are their functions' name
       // strings, so the name index decides, not the function indices.
       [](std::vector<uint8_t> &b) {
         for (int field : {0, 4}) {
           uint32_t x = Get32(b, Entry(b, 10, 1) + field), y = Get32(b, Entry(b, 10, 2) + field);
           Put32(b, Entry(b, 10, 1) + field, y);
           Put32(b, Entry(b, 10, 2) + field, x);
         }
       },
       "methods section: entry 2: key 'kernel' is not after 'main'", false},
      {"method key offset", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 10, 1), (uint32_t)SectionSize(b, 14)); },
       "methods section: entry 1: key string offset", false},
      {"method flags", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 10, 1) + 8, 0x10); },
       "methods section: entry 1: unknown flags 0x10", false},
      {"call range", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 11, 2), 3); },
       "methods section: entry 1: call 1: method 3 out of range (3 methods)", false},
      {"call order", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 11, 2), 0); },
       "methods section: entry 1: call 1: method 0 is not after 0", false},
      {"call tiling", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 10, 1) + 16, 0); },
       "methods section: entry 1: calls [0, +2) are not the next 2 entries", false},
      {"call count", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 10, 1) + 12, 0xFFFFFFF0u); },
       "methods section: entry 1: calls [1, +4294967280)", false},
      {"dep order", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 12, 2), Get32(b, Entry(b, 12, 1))); },
       "deps section: entry 2: key 'a' is not after 'a'", false},
      {"dep key offset", [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 12, 0), 100000); },
       "deps section: entry 0: key string offset 100000 outside the names section", false},
      {"bitcode range", [](std::vector<uint8_t> &b) { Put64(b, Entry(b, 10, 2) + 48, 64); },
       "methods section: entry 2: bitcode [16, +64) is not the next payload", false},
      {"bitcode leftover", [](std::vector<uint8_t> &b) { Put64(b, Entry(b, 10, 2) + 48, 0); Put64(b, Entry(b, 10, 2) + 40, 0); },
       "bitcode section: 24 bytes, but the methods use 16", false},
  };
  Desc d = Rich();
  const std::vector<uint8_t> good = Encode(&d.desc);
  for (const PatchCase &c : cases) {
    std::vector<uint8_t> b = good;
    c.patch(b);
    Reseal(b);
    kiln_error_code_t code = KILN_OK;
    std::string msg = OpenError(b, &code);
    EXPECT_EQ(code, KILN_ERR_FORMAT) << c.what << ": " << msg;
    EXPECT_EQ(msg.rfind("lib.so: image metadata: ", 0), 0u) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.what << ": got '" << msg << "'";
    kiln_error_code_t load_code = KILN_OK;
    std::string load_msg = OpenLoadError(b, &load_code);
    if (c.load) {
      EXPECT_EQ(load_code, KILN_ERR_FORMAT) << c.what << ": " << load_msg;
      EXPECT_EQ(load_msg, msg) << c.what;
    } else {
      EXPECT_EQ(load_code, KILN_OK) << c.what << ": " << load_msg;
    }
  }
}

// The reader names the part a misplaced section belongs in.
TEST(ImageFormatOpenTest, RejectsASectionInTheWrongPart) {
  Desc d = Rich();
  const std::vector<uint8_t> good = Encode(&d.desc);
  const uint64_t load_size = LoadSize(good);
  std::vector<uint8_t> b = good;
  // targets (a load section) after the load size, in the directory's tail.
  Put64(b, SectionEntry(b, 4) + 8, b.size() - 48);
  Reseal(b);
  std::string want = "lib.so: image metadata: section table: targets section: bytes [" +
                     std::to_string(b.size() - 48) + ", +48) are not in the load part (the load "
                     "part is bytes [0, " + std::to_string(load_size) + "))";
  EXPECT_EQ(OpenError(b), want);
  EXPECT_EQ(OpenLoadError(b), want);
  // names (a directory section) inside the load part.
  b = good;
  Put64(b, SectionEntry(b, 14) + 8, load_size - 8);
  Reseal(b);
  want = "lib.so: image metadata: section table: names section: bytes [" +
         std::to_string(load_size - 8) + ", +" + std::to_string(SectionSize(b, 14)) +
         ") are not in the directory (the load part is bytes [0, " + std::to_string(load_size) +
         "))";
  EXPECT_EQ(OpenError(b), want);
  EXPECT_EQ(OpenLoadError(b), want);
}

// ---- Override masks (format 4) ------------------------------------------

// A system image with 4 targets and 3 shards of n functions each (plus a
// slot and a global per shard, so masks sit between slot lists). Per
// shard j, target k gets pattern (j + k - 1) % 3: 0 overrides every
// function, 1 none, 2 some (positions 1, 4, 7, ... and the last one, so
// bit 31 and bit 0 of a second word are hit when n reaches them). Every
// target meets every pattern and every shard has all three.
std::vector<uint32_t> Pattern(size_t n, size_t pattern) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < n; i++) {
    if (pattern == 0 || (pattern == 2 && (i % 3 == 1 || i + 1 == n))) out.push_back((uint32_t)i);
  }
  return out;
}

Desc MaskImage(size_t n) {
  Desc d;
  d.desc.producer = "p";
  d.desc.triple = "t";
  d.desc.name = "";
  d.desc.kind = KILN_IMAGE_FORMAT_KIND_SYSTEM;
  d.targets = {{"generic", "", 0, 0}, {"a", "+a", 0, 0}, {"b", "+b", 0, 1}, {"c", "+c", 0, 2}};
  char buf[32];
  for (size_t i = 0; i < 3 * n; i++) {
    snprintf(buf, sizeof(buf), "f%06zu", i);
    d.function_names.push_back(buf);
  }
  d.global_names = {"g0", "g1", "g2"};
  for (uint32_t j = 0; j < 3; j++) {
    Desc::Shard s;
    s.function_count = n;
    s.overrides.resize(4);
    for (size_t k = 1; k < 4; k++) s.overrides[k] = Pattern(n, (j + k - 1) % 3);
    s.slots = {j};
    s.global_count = 1;
    d.shards.push_back(s);
  }
  d.Build();
  return d;
}

TEST(ImageFormatOverrideMaskTest, PositionsComeBackFromTheMaskAndThePositionsAccessor) {
  const size_t sizes[] = {1, 31, 32, 33, 64, 100};
  for (size_t n : sizes) {
    SCOPED_TRACE("shards of " + std::to_string(n) + " functions");
    Desc d = MaskImage(n);
    std::vector<uint8_t> b = Encode(d.Build());
    kiln_image_format_t *full = nullptr, *load = nullptr;
    ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "lib.so", &full), nullptr);
    ASSERT_EQ(kiln_image_format_open_load(b.data(), LoadSize(b), "lib.so", &load), nullptr);
    const size_t words = (n + 31) / 32;
    uint64_t indices = 0;
    for (size_t s = 0; s < 3; s++) {
      indices += 1;  // one slot
      EXPECT_EQ(FunctionRange(full, s), Range(s * n, n));
      EXPECT_EQ(FunctionRange(load, s), Range(s * n, n));
      for (size_t k = 1; k < 4; k++) {
        SCOPED_TRACE("shard " + std::to_string(s) + " target " + std::to_string(k));
        const std::vector<uint32_t> &want = d.shards[s].overrides[k];
        indices += want.empty() ? 0 : words;
        for (const kiln_image_format_t *v : {full, load}) {
          EXPECT_EQ(Positions(v, s, k), want);
          size_t count = 99;
          const uint32_t *mask = kiln_image_format_shard_override_mask(v, s, k, &count);
          EXPECT_EQ(count, want.size());
          EXPECT_EQ(mask == nullptr, want.empty());
          EXPECT_EQ(kiln_image_format_shard_pointer(v, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k) ==
                        SIZE_MAX,
                    want.empty());
          if (mask == nullptr) continue;
          // Bit i % 32 of word i / 32 exactly for the overridden positions;
          // none at or past n.
          for (size_t i = 0; i < words * 32; i++) {
            bool set = (mask[i / 32] >> (i % 32)) & 1u;
            EXPECT_EQ(set, std::find(want.begin(), want.end(), (uint32_t)i) != want.end()) << i;
          }
        }
      }
    }
    // The section holds exactly the slot lists and one mask per non-empty
    // table.
    EXPECT_EQ(SectionSize(b, KIF_SEC_SHARD_INDICES), indices * 4);
    kiln_image_format_close(load);
    kiln_image_format_close(full);
  }
}

// The worked example of docs/image-format.md: Rich()'s shard indices
// section word by word, and its shard tables and shards entries.
TEST(ImageFormatOverrideMaskTest, RichShardIndicesAreTheDocumentedWords) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  const std::vector<uint32_t> want = {0x2,   // shard 0: target 1 overrides position 1
                                      0x3,   //   target 2 overrides positions 0 and 1
                                      3, 4,  //   slots
                                      0x4};  // shard 1: target 2 overrides position 2
                                             //   (target 1: no mask; no slots); shard 2: nothing
  ASSERT_EQ(SectionSize(b, KIF_SEC_SHARD_INDICES), want.size() * 4);
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_EQ(Get32(b, SectionOffset(b, KIF_SEC_SHARD_INDICES) + 4 * i), want[i]) << i;
  }
  // Shard tables (s, k): COUNT; OFFSET = the first function for k = 0, the
  // first mask word for k >= 1 (where it would start when there is none).
  const uint64_t tables = SectionOffset(b, KIF_SEC_SHARD_TABLES);
  const uint32_t table_words[9][2] = {{3, 0}, {1, 0}, {2, 1},   // shard 0
                                      {3, 3}, {0, 4}, {1, 4},   // shard 1
                                      {0, 6}, {0, 5}, {0, 5}};  // shard 2
  for (size_t t = 0; t < 9; t++) {
    EXPECT_EQ(Get32(b, tables + t * 16 + KIF_STB_COUNT), table_words[t][0]) << t;
    EXPECT_EQ(Get32(b, tables + t * 16 + KIF_STB_OFFSET), table_words[t][1]) << t;
  }
  // Shards: slot count, slot offset, global count, first global.
  const uint64_t shards = SectionOffset(b, KIF_SEC_SHARDS);
  const uint32_t shard_words[3][4] = {{2, 2, 1, 0}, {0, 5, 1, 1}, {0, 5, 0, 2}};
  for (size_t s = 0; s < 3; s++) {
    EXPECT_EQ(Get32(b, shards + s * 24 + KIF_SHD_SLOT_COUNT), shard_words[s][0]) << s;
    EXPECT_EQ(Get32(b, shards + s * 24 + KIF_SHD_SLOT_OFFSET), shard_words[s][1]) << s;
    EXPECT_EQ(Get32(b, shards + s * 24 + KIF_SHD_GLOBAL_COUNT), shard_words[s][2]) << s;
    EXPECT_EQ(Get32(b, shards + s * 24 + KIF_SHD_GLOBAL_FIRST), shard_words[s][3]) << s;
  }
}

TEST(ImageFormatOverrideMaskTest, PositionsAccessorWritesAtMostCapacity) {
  Desc d = MaskImage(100);
  std::vector<uint8_t> b = Encode(d.Build());
  kiln_image_format_t *img = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "lib.so", &img), nullptr);
  const uint32_t kUntouched = 0xEEEEEEEEu;
  // Shard 0, target 1 overrides all 100; target 3 some.
  std::vector<uint32_t> out(150, kUntouched);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 1, out.data(), 40), 100u);
  for (size_t i = 0; i < 40; i++) EXPECT_EQ(out[i], i);
  for (size_t i = 40; i < out.size(); i++) EXPECT_EQ(out[i], kUntouched) << i;
  out.assign(150, kUntouched);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 1, out.data(), out.size()), 100u);
  for (size_t i = 0; i < 100; i++) EXPECT_EQ(out[i], i);
  for (size_t i = 100; i < out.size(); i++) EXPECT_EQ(out[i], kUntouched) << i;
  const std::vector<uint32_t> some = Pattern(100, 2);
  out.assign(150, kUntouched);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 3, out.data(), 5), some.size());
  EXPECT_EQ(std::vector<uint32_t>(out.begin(), out.begin() + 5),
            std::vector<uint32_t>(some.begin(), some.begin() + 5));
  EXPECT_EQ(out[5], kUntouched);
  // Capacity 0 writes nothing, with or without a buffer: a count query.
  out.assign(150, kUntouched);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 1, out.data(), 0), 100u);
  EXPECT_EQ(out[0], kUntouched);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 1, nullptr, 0), 100u);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 3, nullptr, 0), some.size());
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 2, out.data(), out.size()), 0u);
  EXPECT_EQ(out[0], kUntouched);
  // Out of range: no target 0 overrides, no target 4, no shard 3, no image.
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 0, out.data(), out.size()), 0u);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 0, 4, out.data(), out.size()), 0u);
  EXPECT_EQ(kiln_image_format_shard_override_positions(img, 3, 1, out.data(), out.size()), 0u);
  EXPECT_EQ(kiln_image_format_shard_override_positions(nullptr, 0, 1, out.data(), out.size()), 0u);
  EXPECT_EQ(out[0], kUntouched);
  size_t count = 99;
  EXPECT_EQ(kiln_image_format_shard_override_mask(nullptr, 0, 1, &count), nullptr);
  EXPECT_EQ(count, 0u);
  count = 99;
  EXPECT_EQ(kiln_image_format_shard_override_mask(img, 3, 1, &count), nullptr);
  EXPECT_EQ(count, 0u);
  EXPECT_NE(kiln_image_format_shard_override_mask(img, 0, 1, nullptr), nullptr);
  kiln_image_format_close(img);
}

// Encodes `d`, applies `patch`, reseals both checksums: both opens must
// reject it as KILN_ERR_FORMAT with the same message, which must contain
// `message` (the masks are in the load part).
void ExpectMaskError(Desc d, void (*patch)(std::vector<uint8_t> &), const std::string &message) {
  std::vector<uint8_t> b = Encode(d.Build());
  ASSERT_EQ(OpenError(b), "");
  patch(b);
  Reseal(b);
  kiln_error_code_t code = KILN_OK;
  std::string msg = OpenError(b, &code);
  EXPECT_EQ(code, KILN_ERR_FORMAT) << msg;
  EXPECT_EQ(msg.rfind("lib.so: image metadata: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(message), std::string::npos) << "got '" << msg << "'";
  kiln_error_code_t load_code = KILN_OK;
  EXPECT_EQ(OpenLoadError(b, &load_code), msg);
  EXPECT_EQ(load_code, KILN_ERR_FORMAT);
}

// In Rich(): shard table (s, k) is entry s * 3 + k; shard 0's target 1 mask
// is index 0 (0b010), target 2's index 1 (0b011); shard 1's target 2 mask
// is index 4 (0b100), the last word of the pool.
TEST(ImageFormatOverrideMaskTest, RejectsAMaskNotWhereThePreviousListEnds) {
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 1) + 4, 1); },
                  "shards section: entry 0: target 1 override mask at index 1, expected 0 (lists "
                  "are stored back to back)");
  // An empty table has no mask: its offset is where the next list starts.
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 4) + 4, 5); },
                  "shards section: entry 1: target 1 override mask at index 5, expected 4");
}

TEST(ImageFormatOverrideMaskTest, RejectsMoreOverridesThanShardFunctions) {
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 1), 4); },
                  "shards section: entry 0: target 1 overrides 4 functions, the shard has 3");
  // Shard 2 has no functions, so no target can override one there.
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 8), 1); },
                  "shards section: entry 2: target 2 overrides 1 functions, the shard has 0");
}

TEST(ImageFormatOverrideMaskTest, RejectsAMaskOutsideTheShardIndicesSection) {
  // Cut the section to 4 entries: shard 1's target 2 mask (index 4) no
  // longer fits.
  ExpectMaskError(Rich(),
                  [](std::vector<uint8_t> &b) { Put64(b, SectionEntry(b, 9) + 16, 4 * 4); },
                  "shards section: entry 1: target 2 override mask [4, +1) outside the shard "
                  "indices section (4 entries)");
}

TEST(ImageFormatOverrideMaskTest, RejectsABitPastTheShardFunctions) {
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 0), 0x2 | 0x8); },
                  "shards section: entry 0: target 1 override mask has a bit past the shard's 3 "
                  "functions");
  ExpectMaskError(Rich(),
                  [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 1), 0x3 | 0x80000000u); },
                  "shards section: entry 0: target 2 override mask has a bit past the shard's 3 "
                  "functions");
  // 33 functions: the second word's bit 0 is position 32, bit 1 is past.
  // Shard 0: target 1 (all) mask at 0 and 1.
  ExpectMaskError(MaskImage(33), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 1), 0x3); },
                  "shards section: entry 0: target 1 override mask has a bit past the shard's 33 "
                  "functions");
}

TEST(ImageFormatOverrideMaskTest, RejectsASetBitCountOtherThanTheTableCount) {
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 0), 0x3); },
                  "shards section: entry 0: target 1 override mask has 2 bits set, its table 1 "
                  "entries");
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 0), 0); },
                  "shards section: entry 0: target 1 override mask has 0 bits set, its table 1 "
                  "entries");
  ExpectMaskError(Rich(), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 8, 5), 2); },
                  "shards section: entry 1: target 2 override mask has 1 bits set, its table 2 "
                  "entries");
  // 32 functions: all 32 bits of the one word are positions.
  ExpectMaskError(MaskImage(32), [](std::vector<uint8_t> &b) { Put32(b, Entry(b, 9, 0), 0x7FFFFFFFu); },
                  "shards section: entry 0: target 1 override mask has 31 bits set, its table 32 "
                  "entries");
}

// A format-4 blob (function indices in name order, shard function and
// global lists, 4-byte functions entries) or a format-3 one (override
// position lists) is not misread: the version field alone rejects it,
// before any structure.
TEST(ImageFormatOpenTest, RejectsFormat4And3Blobs) {
  for (uint32_t version : {4u, 3u}) {
    SCOPED_TRACE("version " + std::to_string(version));
    Desc d = Rich();
    std::vector<uint8_t> b = Encode(&d.desc);
    Put32(b, 8, version);
    Reseal(b);
    const std::string want = "lib.so: image metadata: format version " + std::to_string(version) +
                             ", but this reader accepts only version 5";
    kiln_error_code_t code = KILN_OK;
    EXPECT_EQ(OpenError(b, &code), want);
    EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
    code = KILN_OK;
    EXPECT_EQ(OpenLoadError(b, &code), want);
    EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
    uint64_t size = 1, sum = 1, load_size = 1;
    kiln_error_t *err = kiln_image_format_peek(b.data(), b.size(), "lib.so", &size, &sum);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_VERSION_MISMATCH);
    kiln_error_free(err);
    err = kiln_image_format_peek_load_size(b.data(), b.size(), "lib.so", &load_size);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_VERSION_MISMATCH);
    EXPECT_EQ(std::string(kiln_error_message(err)), want);
    EXPECT_EQ(load_size, 0u);
    kiln_error_free(err);
    size_t functions = 1, globals = 1;
    err = kiln_image_format_peek_counts(b.data(), b.size(), "lib.so", &functions, &globals);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_VERSION_MISMATCH);
    EXPECT_EQ(functions, 0u);
    kiln_error_free(err);
  }
}

// ---- peek, table_symbol ------------------------------------------------------

TEST(ImageFormatPeekTest, ReturnsSizeAndChecksumFromTheHeaderAlone) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  uint64_t size = 0, sum = 0;
  ASSERT_EQ(kiln_image_format_peek(b.data(), KILN_IMAGE_FORMAT_HEADER_SIZE, "x", &size, &sum),
            nullptr);
  EXPECT_EQ(size, b.size());
  EXPECT_EQ(sum, Get64(b, 24));
  kiln_error_t *err = kiln_image_format_peek(b.data(), 63, "lib.so", &size, &sum);
  EXPECT_STREQ(kiln_error_message(err),
               "lib.so: image metadata: truncated: buffer has 63 bytes, the header needs 64");
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(sum, 0u);
  kiln_error_free(err);
  Put32(b, 8, 7);
  err = kiln_image_format_peek(b.data(), b.size(), "lib.so", &size, &sum);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_VERSION_MISMATCH);
  kiln_error_free(err);
}

// ---- The load view (kiln_image_format_open_load) ------------------------

// Every accessor the load part answers gives the same value in a load view
// as in the full view `full`.
void ExpectSameLoadPart(const kiln_image_format_t *full, const kiln_image_format_t *load) {
  EXPECT_EQ(kiln_image_format_version(load), kiln_image_format_version(full));
  EXPECT_EQ(kiln_image_format_size(load), kiln_image_format_size(full));
  EXPECT_EQ(kiln_image_format_checksum(load), kiln_image_format_checksum(full));
  EXPECT_EQ(kiln_image_format_load_size(load), kiln_image_format_load_size(full));
  EXPECT_STREQ(kiln_image_format_producer(load), kiln_image_format_producer(full));
  EXPECT_STREQ(kiln_image_format_triple(load), kiln_image_format_triple(full));
  EXPECT_STREQ(kiln_image_format_name(load), kiln_image_format_name(full));
  EXPECT_EQ(kiln_image_format_kind(load), kiln_image_format_kind(full));
  EXPECT_EQ(kiln_image_format_base_checksum(load), kiln_image_format_base_checksum(full));
  ASSERT_EQ(kiln_image_format_option_count(load), kiln_image_format_option_count(full));
  for (size_t i = 0; i < kiln_image_format_option_count(full); i++) {
    const char *key = kiln_image_format_option_key(full, i);
    EXPECT_STREQ(kiln_image_format_option_key(load, i), key);
    EXPECT_STREQ(kiln_image_format_option_value(load, i), kiln_image_format_option_value(full, i));
    EXPECT_STREQ(kiln_image_format_option_find(load, key), kiln_image_format_option_find(full, key));
  }
  size_t targets = kiln_image_format_target_count(full);
  ASSERT_EQ(kiln_image_format_target_count(load), targets);
  for (size_t k = 0; k < targets; k++) {
    EXPECT_STREQ(kiln_image_format_target_cpu(load, k), kiln_image_format_target_cpu(full, k));
    EXPECT_STREQ(kiln_image_format_target_features(load, k),
                 kiln_image_format_target_features(full, k));
    EXPECT_EQ(kiln_image_format_target_flags(load, k), kiln_image_format_target_flags(full, k));
    EXPECT_EQ(kiln_image_format_target_base(load, k), kiln_image_format_target_base(full, k));
  }
  EXPECT_EQ(kiln_image_format_function_count(load), kiln_image_format_function_count(full));
  EXPECT_EQ(kiln_image_format_global_count(load), kiln_image_format_global_count(full));
  ASSERT_EQ(kiln_image_format_shard_count(load), kiln_image_format_shard_count(full));
  size_t n = 0, m = 0;
  for (size_t s = 0; s <= kiln_image_format_shard_count(full); s++) {  // one past the end too
    EXPECT_EQ(FunctionRange(load, s), FunctionRange(full, s));
    EXPECT_EQ(GlobalRange(load, s), GlobalRange(full, s));
    EXPECT_EQ(List(kiln_image_format_shard_slots(load, s, &n), n),
              List(kiln_image_format_shard_slots(full, s, &m), m));
    for (size_t k = 0; k <= targets; k++) {
      EXPECT_EQ(Mask(load, s, k, &n), Mask(full, s, k, &m));
      EXPECT_EQ(n, m);
      EXPECT_EQ(Positions(load, s, k), Positions(full, s, k));
      EXPECT_EQ(kiln_image_format_shard_pointer(load, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k),
                kiln_image_format_shard_pointer(full, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k));
    }
    EXPECT_EQ(kiln_image_format_shard_pointer(load, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0),
              kiln_image_format_shard_pointer(full, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0));
    EXPECT_EQ(kiln_image_format_shard_pointer(load, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0),
              kiln_image_format_shard_pointer(full, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0));
  }
  EXPECT_EQ(kiln_image_format_pointer_count(load), kiln_image_format_pointer_count(full));
  EXPECT_EQ(kiln_image_format_pointer_offset(load), kiln_image_format_pointer_offset(full));
}

TEST(ImageFormatOpenLoadTest, OpensAValidBlobAndABufferCutToTheLoadSize) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  const uint64_t load_size = LoadSize(b);
  ASSERT_LT(load_size, b.size());
  kiln_image_format_t *full = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "lib.so", &full), nullptr);

  // The whole blob, exactly the load part (a fresh allocation, so ASan sees
  // any read past it), and the load part at a misaligned address.
  std::vector<uint8_t> cut(b.begin(), b.begin() + load_size);
  std::vector<uint8_t> shifted(load_size + 5);
  memcpy(shifted.data() + 5, b.data(), load_size);
  const struct {
    const char *what;
    const uint8_t *data;
    size_t size;
  } inputs[] = {{"whole blob", b.data(), b.size()},
                {"load part only", cut.data(), cut.size()},
                {"misaligned load part", shifted.data() + 5, (size_t)load_size}};
  for (const auto &in : inputs) {
    SCOPED_TRACE(in.what);
    kiln_image_format_t *load = (kiln_image_format_t *)1;
    kiln_error_t *err = kiln_image_format_open_load(in.data, in.size, "lib.so", &load);
    ASSERT_EQ(err, nullptr) << kiln_error_message(err);
    ASSERT_NE(load, nullptr);
    ExpectSameLoadPart(full, load);
    EXPECT_EQ(kiln_image_format_function_count(load), 6u);
    EXPECT_EQ(kiln_image_format_global_count(load), 2u);
    EXPECT_EQ(kiln_image_format_pointer_count(load), 8u);
    EXPECT_STREQ(kiln_image_format_option_find(load, "opt_level"), "2");
    EXPECT_STREQ(kiln_image_format_target_cpu(load, 2), "haswell");
    EXPECT_EQ(kiln_image_format_size(load), b.size());
    kiln_image_format_close(load);
  }
  kiln_image_format_close(full);

  // A system image with no shards, and a large one, behave alike.
  for (Desc other : {Minimal(), Large(200, 5)}) {
    std::vector<uint8_t> o = Encode(other.Build());
    std::vector<uint8_t> part(o.begin(), o.begin() + LoadSize(o));
    kiln_image_format_t *f = nullptr, *l = nullptr;
    ASSERT_EQ(kiln_image_format_open(o.data(), o.size(), "o", &f), nullptr);
    ASSERT_EQ(kiln_image_format_open_load(part.data(), part.size(), "o", &l), nullptr);
    ExpectSameLoadPart(f, l);
    kiln_image_format_close(l);
    kiln_image_format_close(f);
  }
}

TEST(ImageFormatOpenLoadTest, DirectoryAccessorsSeeNoEntries) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *v = nullptr;
  ASSERT_EQ(kiln_image_format_open_load(b.data(), LoadSize(b), "lib.so", &v), nullptr);
  ASSERT_EQ(kiln_image_format_function_count(v), 6u);  // counts are in the load part
  for (size_t i = 0; i < 6; i++) {
    EXPECT_EQ(kiln_image_format_function_name(v, i), nullptr);
    EXPECT_EQ(kiln_image_format_function_by_name(v, i), SIZE_MAX);
  }
  EXPECT_EQ(kiln_image_format_global_name(v, 0), nullptr);
  EXPECT_EQ(kiln_image_format_global_name(v, 1), nullptr);
  EXPECT_EQ(kiln_image_format_global_by_name(v, 0), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_global_by_name(v, 1), SIZE_MAX);
  EXPECT_EQ(kiln_image_format_method_count(v), 0u);
  EXPECT_EQ(kiln_image_format_method_key(v, 0), nullptr);
  EXPECT_EQ(kiln_image_format_method_function(v, 0), 0u);
  EXPECT_EQ(kiln_image_format_method_flags(v, 0), 0u);
  EXPECT_EQ(kiln_image_format_method_fingerprint(v, 2), 0u);
  size_t n = 99;
  EXPECT_EQ(kiln_image_format_method_calls(v, 1, &n), nullptr);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(kiln_image_format_method_dep_count(v, 0), 0u);
  EXPECT_EQ(kiln_image_format_method_dep_key(v, 0, 0), nullptr);
  EXPECT_EQ(kiln_image_format_method_dep_fingerprint(v, 0, 0), 0u);
  n = 99;
  EXPECT_EQ(kiln_image_format_method_bitcode(v, 0, &n), nullptr);
  EXPECT_EQ(n, 0u);

  using Find = kiln_error_t *(*)(const kiln_image_format_t *, const char *, size_t *);
  const struct {
    Find find;
    const char *key;
  } finds[] = {{kiln_image_format_function_find, "add"},
               {kiln_image_format_global_find, "counter"},
               {kiln_image_format_method_find, "main"}};
  for (const auto &f : finds) {
    size_t idx = 0;
    kiln_error_t *err = f.find(v, f.key, &idx);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_UNSUPPORTED) << f.key;
    EXPECT_NE(std::string(kiln_error_message(err)).find("kiln_image_format_open_load"),
              std::string::npos)
        << kiln_error_message(err);
    EXPECT_EQ(idx, SIZE_MAX);
    kiln_error_free(err);
    // A NULL argument is still an argument error.
    err = f.find(v, nullptr, &idx);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
    kiln_error_free(err);
  }
  kiln_image_format_close(v);
}

TEST(ImageFormatOpenLoadTest, RejectsNullArgumentsBadMagicAndOtherVersions) {
  kiln_image_format_t *img = (kiln_image_format_t *)1;
  kiln_error_t *err = kiln_image_format_open_load(nullptr, 10, "x", &img);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(img, nullptr);
  kiln_error_free(err);
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  err = kiln_image_format_open_load(b.data(), b.size(), "x", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  kiln_error_code_t code = KILN_OK;
  EXPECT_NE(OpenLoadError(std::vector<uint8_t>(), &code).find("lib.so: image metadata: truncated"),
            std::string::npos);
  EXPECT_EQ(code, KILN_ERR_FORMAT);
  std::vector<uint8_t> bad = b;
  bad[0] = 0x7f;
  EXPECT_EQ(OpenLoadError(bad, &code), "lib.so: image metadata: not a kiln image (bad magic)");
  EXPECT_EQ(code, KILN_ERR_FORMAT);
  bad = b;
  Put32(bad, 8, 4);
  EXPECT_EQ(OpenLoadError(bad, &code),
            "lib.so: image metadata: format version 4, but this reader accepts only version 5");
  EXPECT_EQ(code, KILN_ERR_VERSION_MISMATCH);
}

// The load view reads the load checksum and nothing after the load part:
// a damaged directory or blob checksum fails only the full open.
TEST(ImageFormatOpenLoadTest, ChecksTheLoadChecksumOnly) {
  Desc d = Rich();
  const std::vector<uint8_t> good = Encode(&d.desc);
  std::vector<uint8_t> b = good;
  b[b.size() - 9] ^= 0x40;  // a bitcode byte (the directory's tail)
  EXPECT_NE(OpenError(b).find("image metadata: checksum mismatch"), std::string::npos);
  EXPECT_EQ(OpenLoadError(b), "");
  b = good;
  b[LoadSize(b) - 1] ^= 0x40;  // the last byte of the load part
  EXPECT_NE(OpenError(b).find("image metadata: checksum mismatch"), std::string::npos);
  EXPECT_NE(OpenLoadError(b).find("image metadata: load part checksum mismatch"),
            std::string::npos);
  // A damaged directory behind a valid blob checksum: a structural error for
  // the full open only.
  b = good;
  Put32(b, SectionOffset(b, 10) + 56 + 4, 120);  // method 1's function
  Reseal(b);
  EXPECT_NE(OpenError(b).find("methods section: entry 1: function index 120 out of range"),
            std::string::npos);
  EXPECT_EQ(OpenLoadError(b), "");
}

TEST(ImageFormatHasDirectoryTest, TrueForAFullViewOnly) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *full = nullptr, *load = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "x", &full), nullptr);
  ASSERT_EQ(kiln_image_format_open_load(b.data(), b.size(), "x", &load), nullptr);
  EXPECT_TRUE(kiln_image_format_has_directory(full));
  EXPECT_FALSE(kiln_image_format_has_directory(load));
  EXPECT_FALSE(kiln_image_format_has_directory(nullptr));
  kiln_image_format_close(load);
  kiln_image_format_close(full);
}

// The load size is where the directory starts: the encoder lays the
// sections out in kKifLayoutOrder, the load part's first, each 8-aligned and
// back to back, and the section table still lists them in id order.
TEST(ImageFormatLoadSizeTest, SplitsTheBlobWhereTheDirectoryStarts) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  kiln_image_format_t *full = nullptr, *load = nullptr;
  ASSERT_EQ(kiln_image_format_open(b.data(), b.size(), "x", &full), nullptr);
  ASSERT_EQ(kiln_image_format_open_load(b.data(), b.size(), "x", &load), nullptr);
  const uint64_t load_size = LoadSize(b);
  EXPECT_EQ(kiln_image_format_load_size(full), load_size);
  EXPECT_EQ(kiln_image_format_load_size(load), load_size);
  EXPECT_EQ(kiln_image_format_load_size(nullptr), 0u);
  kiln_image_format_close(load);
  kiln_image_format_close(full);

  EXPECT_EQ(load_size % 8, 0u);
  EXPECT_EQ(SectionOffset(b, KIF_SEC_NAMES), load_size);
  for (uint32_t id = 1; id <= KIF_SECTION_COUNT; id++) {
    EXPECT_EQ(Get32(b, SectionEntry(b, id)), id);
    if (kKifInDirectory[id]) {
      EXPECT_GE(SectionOffset(b, id), load_size) << kKifSectionName[id];
    } else {
      EXPECT_LE(SectionOffset(b, id) + SectionSize(b, id), load_size) << kKifSectionName[id];
    }
  }
  uint64_t pos = 64 + KIF_SECTION_COUNT * 24;
  for (int j = 0; j < KIF_SECTION_COUNT; j++) {
    int id = kKifLayoutOrder[j];
    pos = (pos + 7) & ~(uint64_t)7;
    EXPECT_EQ(SectionOffset(b, id), pos) << kKifSectionName[id];
    pos += SectionSize(b, id);
  }
  EXPECT_EQ((pos + 7) & ~(uint64_t)7, b.size());
  // The names moved out of the strings section: no symbol name is in it.
  std::string strings((const char *)b.data() + SectionOffset(b, KIF_SEC_STRINGS),
                      SectionSize(b, KIF_SEC_STRINGS));
  std::string names((const char *)b.data() + SectionOffset(b, KIF_SEC_NAMES),
                    SectionSize(b, KIF_SEC_NAMES));
  for (const char *sym : {"kernel", "zeta", "counter", "base.f"}) {
    EXPECT_EQ(strings.find(sym), std::string::npos) << sym;
    EXPECT_NE(names.find(sym), std::string::npos) << sym;
  }
  EXPECT_NE(strings.find("haswell"), std::string::npos);
  EXPECT_EQ(names.find("haswell"), std::string::npos);
}

// Both checksums as docs/image-format.md defines them (testing.h's Reseal
// recomputes them independently): resealing an encoded blob changes nothing.
TEST(ImageFormatChecksumTest, LoadAndBlobChecksumsFollowTheirDefinitions) {
  for (Desc d : {Minimal(), Rich(), Large(40, 3)}) {
    std::vector<uint8_t> b = Encode(d.Build());
    std::vector<uint8_t> resealed = b;
    Put64(resealed, 24, 0);
    Put64(resealed, 56, 0);
    Reseal(resealed);
    EXPECT_EQ(resealed, b);
    EXPECT_EQ(Get64(b, 56), kif_load_checksum(b.data(), LoadSize(b)));
    EXPECT_EQ(Get64(b, 24), kif_checksum(b.data(), b.size()));
  }
}

TEST(ImageFormatPeekTest, LoadSizeFromTheHeaderAlone) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  uint64_t load_size = 1;
  ASSERT_EQ(kiln_image_format_peek_load_size(b.data(), KILN_IMAGE_FORMAT_HEADER_SIZE, "x",
                                             &load_size),
            nullptr);
  EXPECT_EQ(load_size, LoadSize(b));

  struct Case {
    const char *what;
    std::vector<uint8_t> data;
    size_t size;
    kiln_error_code_t code;
    std::string message;
  };
  std::vector<Case> cases;
  std::vector<uint8_t> bad = b;
  bad[1] = 'X';
  cases.push_back({"bad magic", bad, bad.size(), KILN_ERR_FORMAT,
                   "lib.so: image metadata: not a kiln image (bad magic)"});
  cases.push_back({"truncated header", b, 63, KILN_ERR_FORMAT,
                   "lib.so: image metadata: truncated: buffer has 63 bytes, the header needs 64"});
  bad = b;
  Put32(bad, 8, 2);
  cases.push_back({"version", bad, 64, KILN_ERR_VERSION_MISMATCH,
                   "lib.so: image metadata: format version 2, but this reader accepts only "
                   "version 5"});
  const std::string total = std::to_string(b.size());
  bad = b;
  Put64(bad, 48, LoadSize(b) + 4);
  cases.push_back({"not a multiple of 8", bad, 64, KILN_ERR_FORMAT,
                   "lib.so: image metadata: header: load size " + std::to_string(LoadSize(b) + 4) +
                       " is not a multiple of 8 between the header size 64 and the total size " +
                       total});
  bad = b;
  Put64(bad, 48, b.size() + 8);
  cases.push_back({"beyond total", bad, 64, KILN_ERR_FORMAT,
                   "lib.so: image metadata: header: load size " + std::to_string(b.size() + 8) +
                       " is not a multiple of 8 between the header size 64 and the total size " +
                       total});
  bad = b;
  Put64(bad, 48, 0);
  cases.push_back({"below the header", bad, 64, KILN_ERR_FORMAT,
                   "lib.so: image metadata: header: load size 0 is not a multiple of 8 between "
                   "the header size 64 and the total size " + total});
  for (const Case &c : cases) {
    load_size = 1;
    kiln_error_t *err = kiln_image_format_peek_load_size(c.data.data(), c.size, "lib.so", &load_size);
    EXPECT_EQ(kiln_error_code(err), c.code) << c.what;
    EXPECT_EQ(std::string(kiln_error_message(err)), c.message) << c.what;
    EXPECT_EQ(load_size, 0u) << c.what;
    kiln_error_free(err);
  }
  // The full total is a valid load size (an image whose directory is empty).
  bad = b;
  Put64(bad, 48, b.size());
  ASSERT_EQ(kiln_image_format_peek_load_size(bad.data(), 64, "x", &load_size), nullptr);
  EXPECT_EQ(load_size, b.size());

  kiln_error_t *err = kiln_image_format_peek_load_size(b.data(), b.size(), "x", nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_image_format_peek_load_size(nullptr, 64, nullptr, &load_size);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(load_size, 0u);
  kiln_error_free(err);
}

TEST(ImageFormatPeekTest, CountsFromTheHeaderAndSectionTable) {
  Desc d = Rich();
  std::vector<uint8_t> b = Encode(&d.desc);
  size_t head = std::min<size_t>(b.size(), KILN_IMAGE_FORMAT_PEEK_COUNTS_SIZE);
  // The encoder puts the section table right after the header, so the
  // first KILN_IMAGE_FORMAT_PEEK_COUNTS_SIZE bytes always hold it.
  ASSERT_LE(Get64(b, 40) + 14 * 24, static_cast<uint64_t>(KILN_IMAGE_FORMAT_PEEK_COUNTS_SIZE));
  size_t functions = 99, globals = 99;
  ASSERT_EQ(kiln_image_format_peek_counts(b.data(), head, "x", &functions, &globals), nullptr);
  EXPECT_EQ(functions, d.desc.function_count);
  EXPECT_EQ(globals, d.desc.global_count);

  // Only the header: the table is not there yet.
  functions = globals = 99;
  kiln_error_t *err = kiln_image_format_peek_counts(b.data(), KILN_IMAGE_FORMAT_HEADER_SIZE,
                                                    "lib.so", &functions, &globals);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  EXPECT_EQ(std::string(kiln_error_message(err)),
            "lib.so: image metadata: header: section table at offset " +
                std::to_string(Get64(b, 40)) + " is not inside the first 64 bytes");
  EXPECT_EQ(functions, 0u);
  EXPECT_EQ(globals, 0u);
  kiln_error_free(err);

  // The functions entry (id 5, the fifth) carries another id.
  std::vector<uint8_t> bad = b;
  Put32(bad, static_cast<size_t>(Get64(b, 40)) + 4 * 24, 6);
  err = kiln_image_format_peek_counts(bad.data(), head, "lib.so", &functions, &globals);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  EXPECT_EQ(std::string(kiln_error_message(err)),
            "lib.so: image metadata: section table: entry 4 is not the functions section");
  kiln_error_free(err);

  // Header errors are peek_load_size's.
  bad = b;
  Put32(bad, 8, 3);
  err = kiln_image_format_peek_counts(bad.data(), head, "lib.so", &functions, &globals);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_VERSION_MISMATCH);
  kiln_error_free(err);
  err = kiln_image_format_peek_counts(b.data(), head, "x", nullptr, &globals);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_image_format_peek_counts(nullptr, 64, nullptr, &functions, &globals);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(functions, 0u);
  kiln_error_free(err);
}

// The libFuzzer seeds (fuzz_corpus/) are blobs of the current version, each
// the encoding of one testing.h description, so the fuzzer starts from
// inputs that pass every check. After a format change, regenerate them with
//   tools/bazelw test //components/image_format:image_format_test \
//     --test_env=KILN_IMAGE_FORMAT_WRITE_SEEDS=/tmp/seeds
// and copy /tmp/seeds/* to components/image_format/fuzz_corpus/.
TEST(ImageFormatSeedCorpusTest, SeedsAreCurrentEncodings) {
  const char *write_dir = getenv("KILN_IMAGE_FORMAT_WRITE_SEEDS");
  Desc no_methods = Rich();
  no_methods.methods.clear();
  no_methods.Build();
  const struct {
    const char *file;
    Desc desc;
  } seeds[] = {{"seed_minimal", Minimal()},
               {"seed_no_methods", no_methods},
               {"seed_rich", Rich()},
               {"seed_large40", Large(40, 3)}};
  for (const auto &seed : seeds) {
    Desc d = seed.desc;  // copies: Build() re-points the desc at this copy's storage
    std::vector<uint8_t> want = Encode(d.Build());
    if (write_dir != nullptr) {
      std::ofstream out(std::string(write_dir) + "/" + seed.file, std::ios::binary);
      out.write((const char *)want.data(), (std::streamsize)want.size());
      ASSERT_TRUE(out.good()) << write_dir << "/" << seed.file;
    }
    std::ifstream in(std::string("components/image_format/fuzz_corpus/") + seed.file,
                     std::ios::binary);
    ASSERT_TRUE(in.good()) << seed.file;
    std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(OpenError(got), "") << seed.file;
    EXPECT_EQ(OpenLoadError(got), "") << seed.file;
    EXPECT_TRUE(got == want) << seed.file << " is not the current encoding of its description";
  }
}

TEST(ImageFormatTableSymbolTest, NamesAndSnprintfContract) {
  char buf[64];
  EXPECT_EQ(kiln_image_format_table_symbol(buf, sizeof(buf), 0, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, 2),
            12u);
  EXPECT_STREQ(buf, "__kiln_s0_f2");
  kiln_image_format_table_symbol(buf, sizeof(buf), 17, KILN_IMAGE_FORMAT_TABLE_SLOTS, 9);
  EXPECT_STREQ(buf, "__kiln_s17_slots");
  kiln_image_format_table_symbol(buf, sizeof(buf), 3, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0);
  EXPECT_STREQ(buf, "__kiln_s3_globals");
  EXPECT_EQ(kiln_image_format_table_symbol(nullptr, 0, 3, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0), 17u);
  char small[5];
  EXPECT_EQ(kiln_image_format_table_symbol(small, sizeof(small), 3, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0),
            17u);
  EXPECT_STREQ(small, "__ki");
  EXPECT_EQ(kiln_image_format_table_symbol(buf, sizeof(buf), 0, (kiln_image_format_table_kind_t)9, 0),
            0u);
  EXPECT_STREQ(buf, "");
}

}  // namespace
