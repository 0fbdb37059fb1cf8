// components/image_format/root_ir_test.cc — the root as LLVM IR, for real:
// render it, compile it with clang-22 next to a C file that defines the
// per-shard tables (hidden), link a shared object with ld.lld, dlopen it,
// and check that the exported root holds the blob followed by a pointer
// array whose entries are the tables' addresses.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "components/image_format/image_format.h"
#include "components/image_format/testing.h"

namespace {

using kiln_image_format_testing::Desc;
using kiln_image_format_testing::Rich;

const char kClang[] = "/usr/lib/llvm-22/bin/clang";
const char kLld[] = "/usr/lib/llvm-22/bin/ld.lld";

std::string TmpDir() {
  const char *t = getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

void WriteFile(const std::string &path, const std::string &text) {
  std::ofstream out(path);
  out << text;
}

int Run(const std::string &cmd) { return system((cmd + " 2>&1").c_str()); }

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

// C source defining every table the image references (hidden, like the
// emitter's shard objects) and an exported function returning their
// addresses in pointer-array order.
std::string TablesSource(const kiln_image_format_t *img) {
  std::vector<std::string> names(kiln_image_format_pointer_count(img));
  std::ostringstream c;
  c << "static int target_code[64];\n";
  char sym[64];
  for (size_t s = 0; s < kiln_image_format_shard_count(img); s++) {
    struct {
      kiln_image_format_table_kind_t kind;
      size_t target;
    } tables[] = {{KILN_IMAGE_FORMAT_TABLE_SLOTS, 0}, {KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0}};
    std::vector<std::pair<kiln_image_format_table_kind_t, size_t>> all;
    for (size_t k = 0; k < kiln_image_format_target_count(img); k++) {
      all.push_back({KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k});
    }
    for (auto &t : tables) all.push_back({t.kind, t.target});
    for (auto &t : all) {
      size_t p = kiln_image_format_shard_pointer(img, s, t.first, t.second);
      if (p == SIZE_MAX) continue;
      kiln_image_format_table_symbol(sym, sizeof(sym), s, t.first, t.second);
      names[p] = sym;
      c << "__attribute__((visibility(\"hidden\"))) void *const " << sym
        << "[] = {&target_code[" << p << "], &target_code[" << p + 1 << "]};\n";
    }
  }
  c << "__attribute__((visibility(\"default\"))) void *const *kiln_test_tables(void) {\n"
    << "  static void *const all[] = {";
  for (size_t i = 0; i < names.size(); i++) c << (i ? ", " : "") << "(void *)" << names[i];
  if (names.empty()) c << "0";
  c << "};\n  return all;\n}\n";
  return c.str();
}

// Renders, builds and loads the image for `desc`; checks blob and pointers.
void BuildAndLoad(const kiln_image_format_desc_t *desc, const std::string &stem) {
  std::vector<uint8_t> blob = Encode(desc);
  char *ir = nullptr;
  kiln_error_t *err = kiln_image_format_root_ir(blob.data(), blob.size(), &ir);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  std::string ir_text = ir;
  free(ir);
  kiln_image_format_t *img = nullptr;
  ASSERT_EQ(kiln_image_format_open(blob.data(), blob.size(), "blob", &img), nullptr);
  size_t m = kiln_image_format_pointer_count(img);
  EXPECT_NE(ir_text.find("@kiln_image_root = constant"), std::string::npos);
  EXPECT_NE(ir_text.find(m ? "section \".data.rel.ro.kiln\", align 16"
                            : "section \".rodata.kiln\", align 16"),
            std::string::npos)
      << ir_text;
  if (m > 0) {
    EXPECT_NE(ir_text.find("@__kiln_s0_f0 = external hidden global [0 x ptr]"), std::string::npos);
  }

  std::string dir = TmpDir() + "/" + stem;
  ASSERT_EQ(Run("mkdir -p " + dir), 0);
  WriteFile(dir + "/root.ll", ir_text);
  WriteFile(dir + "/tables.c", TablesSource(img));
  ASSERT_EQ(Run(std::string(kClang) + " -c -fPIC -O2 " + dir + "/root.ll -o " + dir + "/root.o"), 0)
      << ir_text.substr(0, 2000);
  ASSERT_EQ(Run(std::string(kClang) + " -c -fPIC -O2 " + dir + "/tables.c -o " + dir + "/tables.o"),
            0);
  ASSERT_EQ(Run(std::string(kLld) + " -shared " + dir + "/root.o " + dir + "/tables.o -o " + dir +
                "/image.so"),
            0);

  void *so = dlopen((dir + "/image.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(so, nullptr) << dlerror();
  const uint8_t *root = (const uint8_t *)dlsym(so, KILN_IMAGE_FORMAT_ROOT_SYMBOL);
  ASSERT_NE(root, nullptr) << "root not exported";
  EXPECT_EQ((uintptr_t)root % 16, 0u);
  EXPECT_EQ(memcmp(root, blob.data(), blob.size()), 0);
  EXPECT_EQ(dlsym(so, "__kiln_s0_f0"), nullptr) << "tables must stay hidden";

  // The mapped copy validates as is, trailing pointer array included.
  size_t root_size = kiln_image_format_pointer_offset(img) + m * sizeof(void *);
  kiln_image_format_t *mapped = nullptr;
  err = kiln_image_format_open(root, root_size, "image.so", &mapped);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(kiln_image_format_checksum(mapped), kiln_image_format_checksum(img));

  auto tables_fn = (void *const *(*)(void))dlsym(so, "kiln_test_tables");
  ASSERT_NE(tables_fn, nullptr);
  void *const *want = tables_fn();
  void *const *ptrs = (void *const *)(root + kiln_image_format_pointer_offset(mapped));
  for (size_t i = 0; i < m; i++) EXPECT_EQ(ptrs[i], want[i]) << "pointer " << i;
  kiln_image_format_close(mapped);
  kiln_image_format_close(img);
  dlclose(so);
}

TEST(ImageFormatRootIrTest, CompilesLinksAndLoadsWithPointerArray) {
  Desc d = Rich();
  BuildAndLoad(&d.desc, "rich");
}

TEST(ImageFormatRootIrTest, CompilesLinksAndLoadsWithoutPointers) {
  Desc d;
  d.desc.producer = "kiln 0.1.0";
  d.desc.triple = "x86_64-unknown-linux-gnu";
  d.desc.name = "empty \"quoted\" \\ name";
  d.targets = {{"generic", "", 0, 0}};
  d.Build();
  BuildAndLoad(&d.desc, "empty");
}

TEST(ImageFormatRootIrTest, RejectsInvalidBlobs) {
  char *ir = (char *)1;
  uint8_t junk[64] = {'K', 'I', 'L', 'N'};
  kiln_error_t *err = kiln_image_format_root_ir(junk, sizeof(junk), &ir);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  EXPECT_EQ(ir, nullptr);
  kiln_error_free(err);
  err = kiln_image_format_root_ir(junk, sizeof(junk), nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

}  // namespace
