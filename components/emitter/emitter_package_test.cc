// components/emitter/emitter_package_test.cc — package images: import slots
// (calls, address-taken uses and phis of a base method become loads of
// "kiln.import.<key>", listed in the global table, no undefined reference
// left in the linked .so, deps kept), the unsupported constant-initializer
// case, per-method bitcode (what it defines and declares, determinism, the
// default per image kind, the cost for ~100 methods), and plans read lazily
// (each shard emitted from a directory holding only its own shard file,
// finish from one holding only the plan file).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "components/emitter/emitter.h"
#include "components/emitter/testing/emitter_testing.h"
#include "components/image_format/image_format.h"
#include "gtest/gtest.h"
#include "llvm-c/BitReader.h"
#include "llvm-c/Core.h"

namespace {

using kiln_emitter_test::CompileToBitcode;
using kiln_emitter_test::ExpectShardMajorTables;
using kiln_emitter_test::kReadelf;
using kiln_emitter_test::LinkArchive;
using kiln_emitter_test::NoEnv;
using kiln_emitter_test::Options;
using kiln_emitter_test::Shell;
using kiln_emitter_test::Take;
using kiln_emitter_test::TmpDir;
using kiln_emitter_test::WriteFile;

// The "base" knows base_add and base_scale.
bool BaseDeps(const char *key, uint64_t *fp_out, void *) {
  if (strcmp(key, "base_add") == 0) {
    *fp_out = 0x1111;
    return true;
  }
  if (strcmp(key, "base_scale") == 0) {
    *fp_out = 0x2222;
    return true;
  }
  return false;
}

// Compiles C text to bitcode under TEST_TMPDIR; returns the .bc path.
std::string CompileC(const std::string &name, const std::string &text) {
  std::string c = TmpDir() + "/" + name + ".c";
  WriteFile(c, text);
  return CompileToBitcode(c, TmpDir() + "/" + name + ".bc");
}

Options PackageOptions(size_t shards) {
  kiln_emitter_options_t *o = nullptr;
  EXPECT_EQ(kiln_emitter_options_new(&o), nullptr);
  EXPECT_EQ(kiln_emitter_options_set_image_kind(o, KILN_EMITTER_IMAGE_PACKAGE), nullptr);
  kiln_emitter_options_set_dep_resolver(o, BaseDeps, nullptr);
  kiln_emitter_options_set_shard_count(o, shards);
  kiln_emitter_options_set_threads(o, 1);
  kiln_emitter_options_set_env(o, NoEnv, nullptr);
  return Options(o);
}

const char *kPkg =
    "int base_add(int, int);\n"
    "int base_scale(int);\n"
    "int libc_like(int);\n"
    "typedef int (*bin_fn)(int, int);\n"
    "static int counter;\n"
    "static int helper(int x) { counter++; return base_scale(x) + 1; }\n"
    "int pkg_sum(int a, int b) { return base_add(a, b); }\n"
    "int pkg_helped(int x) { return helper(x) * 2; }\n"
    "bin_fn pkg_addr(void) { return base_add; }\n"
    "int pkg_pick(int c, int x) { int (*f)(int) = c ? base_scale : libc_like; return f(x); }\n"
    "int pkg_leaf(int x) { return x * 7; }\n"
    "int pkg_top(int a) { return pkg_sum(a, 1) + pkg_leaf(a); }\n";

struct Built {
  kiln_emitter_result_t *r = nullptr;
  kiln_image_format_t *im = nullptr;
  ~Built() {
    kiln_image_format_close(im);
    kiln_emitter_result_free(r);
  }
};

void Build(const kiln_emitter_options_t *o, const std::string &bc, Built *b) {
  const char *inputs[] = {bc.c_str()};
  ASSERT_OK(kiln_emitter_build_files(o, inputs, 1, &b->r));
  size_t size = 0;
  const void *blob = kiln_emitter_result_blob(b->r, &size);
  ASSERT_OK(kiln_image_format_open(blob, size, "pkg", &b->im));
}

size_t Method(const kiln_image_format_t *im, const char *key) {
  size_t m = SIZE_MAX;
  kiln_error_t *err = kiln_image_format_method_find(im, key, &m);
  EXPECT_EQ(err, nullptr) << Take(err);
  return m;
}

// ---- Import slots ----------------------------------------------------------------

TEST(EmitterImportTest, BaseCallsGoThroughListedSlotsAndTheImageHasNoUndefinedBaseSymbol) {
  std::string bc = CompileC("imports", kPkg);
  Options o = PackageOptions(2);
  std::string archive = TmpDir() + "/imports.a", so = TmpDir() + "/imports.so";
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), archive.c_str()));
  Built b;
  Build(o.get(), bc, &b);
  ASSERT_NE(b.im, nullptr);

  // The slots are in the global table; nothing else of the base is.
  size_t g = SIZE_MAX;
  ASSERT_OK(kiln_image_format_global_find(b.im, "kiln.import.base_add", &g));
  ASSERT_OK(kiln_image_format_global_find(b.im, "kiln.import.base_scale", &g));
  kiln_error_t *err = kiln_image_format_global_find(b.im, "kiln.import.libc_like", &g);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  Take(err);
  for (size_t i = 0; i < kiln_image_format_function_count(b.im); i++)
    EXPECT_EQ(std::string(kiln_image_format_function_name(b.im, i)).find("base_"),
              std::string::npos);
  // Both tables (the import slots among the globals) numbered shard by
  // shard, with their name indices.
  ExpectShardMajorTables(b.im);

  // Deps were computed before the rewrite (direct calls, through helper).
  size_t m = Method(b.im, "pkg_sum");
  ASSERT_EQ(kiln_image_format_method_dep_count(b.im, m), 1u);
  EXPECT_STREQ(kiln_image_format_method_dep_key(b.im, m, 0), "base_add");
  EXPECT_EQ(kiln_image_format_method_dep_fingerprint(b.im, m, 0), 0x1111u);
  m = Method(b.im, "pkg_helped");
  ASSERT_EQ(kiln_image_format_method_dep_count(b.im, m), 1u);
  EXPECT_STREQ(kiln_image_format_method_dep_key(b.im, m, 0), "base_scale");
  EXPECT_EQ(kiln_image_format_method_dep_count(b.im, Method(b.im, "pkg_leaf")), 0u);

  // Linked: no undefined base_* symbol; libc_like (unknown to the
  // resolver) stays an ordinary undefined reference.
  std::string log;
  ASSERT_EQ(LinkArchive(archive, so, &log), 0) << log;
  std::string syms;
  ASSERT_EQ(Shell(std::string(kReadelf) + " --dyn-syms -W " + so, &syms), 0) << syms;
  EXPECT_EQ(syms.find("base_add"), std::string::npos) << syms;
  EXPECT_EQ(syms.find("base_scale"), std::string::npos) << syms;
  EXPECT_NE(syms.find("libc_like"), std::string::npos) << syms;
  EXPECT_EQ(syms.find("kiln.import"), std::string::npos) << syms;  // hidden
}

// A base method flowing into a phi: the load goes at the end of the
// incoming block (a load cannot precede a phi).
TEST(EmitterImportTest, PhiIncomingBaseMethodLoadsInTheIncomingBlock) {
  std::string ll = TmpDir() + "/imports_phi.ll";
  WriteFile(ll,
            "declare i32 @base_add(i32, i32)\n"
            "define internal i32 @local_add(i32 %a, i32 %b) {\n"
            "  %s = sub i32 %a, %b\n  ret i32 %s\n}\n"
            "define i32 @pkg_phi(i1 %c, i32 %x) {\n"
            "entry:\n  br i1 %c, label %l, label %r\n"
            "l:\n  br label %j\n"
            "r:\n  br label %j\n"
            "j:\n  %f = phi ptr [ @base_add, %l ], [ @local_add, %r ]\n"
            "  %v = call i32 %f(i32 %x, i32 1)\n  ret i32 %v\n}\n");
  Options o = PackageOptions(1);
  std::string archive = TmpDir() + "/imports_phi.a", so = TmpDir() + "/imports_phi.so";
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), archive.c_str()));
  ASSERT_OK(kiln_emitter_options_set_outputs(
      o.get(), KILN_EMITTER_OUTPUT_ARCHIVE | KILN_EMITTER_OUTPUT_UNOPT_BC));
  ASSERT_OK(kiln_emitter_options_set_output_prefix(o.get(), (TmpDir() + "/phi-").c_str()));
  Built b;
  Build(o.get(), ll, &b);
  ASSERT_NE(b.im, nullptr);
  size_t g = SIZE_MAX;
  ASSERT_OK(kiln_image_format_global_find(b.im, "kiln.import.base_add", &g));
  std::string log;
  ASSERT_EQ(LinkArchive(archive, so, &log), 0) << log;
  std::string syms;
  ASSERT_EQ(Shell(std::string(kReadelf) + " --dyn-syms -W " + so, &syms), 0) << syms;
  EXPECT_EQ(syms.find("base_add"), std::string::npos) << syms;
  // The unoptimized shard: the load of the slot sits in block %l.
  std::string dis;
  ASSERT_EQ(Shell("/usr/lib/llvm-22/bin/llvm-dis " + TmpDir() + "/phi-shard-0.unopt.bc -o -", &dis),
            0)
      << dis;
  size_t l = dis.find("\nl:"), j = dis.find("\nj:");
  size_t load = dis.find("load ptr, ptr @kiln.import.base_add");
  ASSERT_NE(load, std::string::npos) << dis;
  EXPECT_TRUE(l < load && load < j) << dis;
}

TEST(EmitterImportTest, NoResolverOrSystemImageKeepsDeclarations) {
  std::string bc = CompileC("imports_sys", kPkg);
  Options o = PackageOptions(1);
  ASSERT_OK(kiln_emitter_options_set_image_kind(o.get(), KILN_EMITTER_IMAGE_SYSTEM));
  Built b;
  Build(o.get(), bc, &b);
  ASSERT_NE(b.im, nullptr);
  size_t g = SIZE_MAX;
  kiln_error_t *err = kiln_image_format_global_find(b.im, "kiln.import.base_add", &g);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  Take(err);
}

TEST(EmitterImportTest, BaseMethodInAConstantInitializerIsUnsupported) {
  std::string bc = CompileC("imports_const",
                            "int base_add(int, int);\n"
                            "int (*const pkg_table[])(int, int) = {base_add};\n"
                            "int pkg_call(int i) { return pkg_table[i](1, 2); }\n");
  Options o = PackageOptions(1);
  const char *inputs[] = {bc.c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_UNSUPPORTED);
  std::string msg = Take(err);
  EXPECT_NE(msg.find("base_add"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pkg_table"), std::string::npos) << msg;
  EXPECT_EQ(r, nullptr);
}

// ---- Per-method bitcode -------------------------------------------------------------

struct ParsedBitcode {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = nullptr;
  ~ParsedBitcode() {
    if (m != nullptr) LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
  }
};

void ParseMethodBitcode(const kiln_image_format_t *im, const char *key, ParsedBitcode *out) {
  size_t size = 0;
  const void *bc = kiln_image_format_method_bitcode(im, Method(im, key), &size);
  ASSERT_NE(bc, nullptr) << key;
  LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRange(
      static_cast<const char *>(bc), size, key, 0);
  ASSERT_EQ(LLVMParseBitcodeInContext2(out->ctx, mb, &out->m), 0) << key;
  LLVMDisposeMemoryBuffer(mb);
}

bool Defines(LLVMModuleRef m, const char *name) {
  LLVMValueRef f = LLVMGetNamedFunction(m, name);
  if (f != nullptr) return !LLVMIsDeclaration(f);
  LLVMValueRef g = LLVMGetNamedGlobal(m, name);
  return g != nullptr && !LLVMIsDeclaration(g);
}

bool Declares(LLVMModuleRef m, const char *name) {
  LLVMValueRef f = LLVMGetNamedFunction(m, name);
  if (f == nullptr) f = LLVMGetNamedGlobal(m, name);
  return f != nullptr && LLVMIsDeclaration(f);
}

TEST(EmitterBitcodeTest, EachMethodCarriesItselfItsInternalsAndDeclaresTheRest) {
  std::string bc = CompileC("bitcode", kPkg);
  Options o = PackageOptions(2);
  Built b;
  Build(o.get(), bc, &b);
  ASSERT_NE(b.im, nullptr);
  for (size_t m = 0; m < kiln_image_format_method_count(b.im); m++) {
    size_t size = 0;
    EXPECT_NE(kiln_image_format_method_bitcode(b.im, m, &size), nullptr);
    EXPECT_GT(size, 0u);
  }
  {
    // pkg_helped: its static helper and the static counter are copied; the
    // dependency is called by its key (no import slot in the bitcode).
    ParsedBitcode p;
    ParseMethodBitcode(b.im, "pkg_helped", &p);
    ASSERT_NE(p.m, nullptr);
    EXPECT_TRUE(Defines(p.m, "pkg_helped"));
    EXPECT_TRUE(Defines(p.m, "helper"));
    EXPECT_TRUE(Defines(p.m, "counter"));
    EXPECT_TRUE(Declares(p.m, "base_scale"));
    EXPECT_EQ(LLVMGetNamedGlobal(p.m, "kiln.import.base_scale"), nullptr);
    EXPECT_EQ(LLVMGetNamedFunction(p.m, "pkg_sum"), nullptr);  // not reached
    EXPECT_EQ(LLVMGetNamedFunction(p.m, "pkg_leaf"), nullptr);
  }
  {
    // pkg_top: in-image methods it calls are declarations (resolved to
    // their current code when compiled).
    ParsedBitcode p;
    ParseMethodBitcode(b.im, "pkg_top", &p);
    ASSERT_NE(p.m, nullptr);
    EXPECT_TRUE(Defines(p.m, "pkg_top"));
    EXPECT_TRUE(Declares(p.m, "pkg_sum"));
    EXPECT_TRUE(Declares(p.m, "pkg_leaf"));
    EXPECT_EQ(LLVMGetNamedFunction(p.m, "helper"), nullptr);
  }

  // Deterministic: a second build gives the same bytes.
  Built b2;
  Build(o.get(), bc, &b2);
  ASSERT_NE(b2.im, nullptr);
  for (size_t m = 0; m < kiln_image_format_method_count(b.im); m++) {
    size_t s1 = 0, s2 = 0;
    const void *d1 = kiln_image_format_method_bitcode(b.im, m, &s1);
    const void *d2 = kiln_image_format_method_bitcode(b2.im, m, &s2);
    ASSERT_EQ(s1, s2);
    EXPECT_EQ(memcmp(d1, d2, s1), 0) << kiln_image_format_method_key(b.im, m);
  }
}

TEST(EmitterBitcodeTest, DefaultFollowsTheImageKindAndTheOptionOverrides) {
  std::string bc = CompileC("bitcode_default", kPkg);
  struct Case {
    unsigned kind;
    int set;  // -1 default
    bool expect;
  } cases[] = {{KILN_EMITTER_IMAGE_SYSTEM, -1, false},
               {KILN_EMITTER_IMAGE_SYSTEM, 1, true},
               {KILN_EMITTER_IMAGE_PACKAGE, -1, true},
               {KILN_EMITTER_IMAGE_PACKAGE, 0, false}};
  for (const Case &c : cases) {
    Options o = PackageOptions(1);
    ASSERT_OK(kiln_emitter_options_set_image_kind(o.get(), c.kind));
    if (c.set >= 0) kiln_emitter_options_set_embed_bitcode(o.get(), c.set != 0);
    Built b;
    Build(o.get(), bc, &b);
    ASSERT_NE(b.im, nullptr);
    size_t size = 0;
    const void *d = kiln_image_format_method_bitcode(b.im, Method(b.im, "pkg_leaf"), &size);
    EXPECT_EQ(d != nullptr, c.expect) << "kind " << c.kind << " set " << c.set;
  }
  kiln_emitter_options_set_embed_bitcode(nullptr, true);  // NULL is ignored
}

// ~100 methods, each with a static helper and a string: the bitcode phase's
// cost, reported (and bounded loosely so a quadratic blow-up shows).
TEST(EmitterBitcodeTest, HundredMethodsCost) {
  std::string src = "int base_add(int, int);\n";
  for (int i = 0; i < 100; i++) {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "static int h%d(int x) { const char *s = \"m%d\"; return base_add(x, s[0]) + %d; }\n"
             "int m%d(int x) { int r = 0; for (int i = 0; i < x; i++) r += h%d(i) ^ r; "
             "return r%s; }\n",
             i, i, i, i, i, i > 0 ? (" + m" + std::to_string(i - 1) + "(x - 1)").c_str() : "");
    src += buf;
  }
  std::string bc = CompileC("hundred", src);
  for (int embed = 0; embed < 2; embed++) {
    Options o = PackageOptions(4);
    kiln_emitter_options_set_embed_bitcode(o.get(), embed != 0);
    Built b;
    Build(o.get(), bc, &b);
    ASSERT_NE(b.im, nullptr);
    EXPECT_EQ(kiln_image_format_method_count(b.im), 100u);
    int64_t bitcode_ns = 0, total_ns = 0;
    for (size_t i = 0; i < kiln_emitter_result_phase_count(b.r); i++) {
      int64_t ns = kiln_emitter_result_phase_wall_ns(b.r, i);
      total_ns += ns;
      if (strcmp(kiln_emitter_result_phase_name(b.r, i), "bitcode") == 0) bitcode_ns = ns;
    }
    size_t bytes = 0;
    for (size_t m = 0; m < 100; m++) {
      size_t s = 0;
      kiln_image_format_method_bitcode(b.im, m, &s);
      bytes += s;
    }
    printf("hundred methods: embed_bitcode=%d bitcode phase %.1f ms, all phases %.1f ms, "
           "bitcode %zu bytes\n",
           embed, bitcode_ns / 1e6, total_ns / 1e6, bytes);
    if (embed) EXPECT_LT(bitcode_ns, int64_t{20} * 1000 * 1000 * 1000);
  }
}

// ---- Lazy plan shards ------------------------------------------------------------------

std::string Archive(const kiln_emitter_result_t *r) {
  size_t size = 0;
  const void *d = kiln_emitter_result_archive(r, &size);
  return std::string(static_cast<const char *>(d), size);
}

TEST(EmitterLazyPlanTest, EachShardNeedsOnlyItsFileAndFinishNone) {
  std::string bc = CompileC("lazy", kPkg);
  Options o = PackageOptions(2);
  Built whole;
  Build(o.get(), bc, &whole);
  ASSERT_NE(whole.r, nullptr);

  std::string dir = TmpDir() + "/lazy";
  ASSERT_EQ(Shell("rm -rf " + dir + " && mkdir -p " + dir + "/plan"), 0);
  LLVMContextRef ctx = LLVMContextCreate();
  const char *inputs[] = {bc.c_str()};
  LLVMModuleRef m = nullptr;
  ASSERT_OK(kiln_emitter_link_inputs(ctx, inputs, 1, &m));
  kiln_emitter_plan_t *plan = nullptr;
  ASSERT_OK(kiln_emitter_plan(o.get(), m, &plan));
  ASSERT_OK(kiln_emitter_plan_write(plan, (dir + "/plan").c_str()));
  size_t n = kiln_emitter_plan_shard_count(plan);
  ASSERT_EQ(n, 2u);
  kiln_emitter_plan_free(plan);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);

  // One sandbox per shard: the plan file and that shard's file only.
  std::vector<kiln_emitter_shard_t *> shards;
  for (size_t s = 0; s < n; s++) {
    std::string sb = dir + "/emit" + std::to_string(s);
    std::string f = "shard-" + std::to_string(s) + ".bc";
    ASSERT_EQ(Shell("mkdir -p " + sb + " && cp " + dir + "/plan/" KILN_EMITTER_PLAN_FILE " " +
                    dir + "/plan/" + f + " " + sb + "/"),
              0);
    kiln_emitter_plan_t *read = nullptr;
    ASSERT_OK(kiln_emitter_plan_read(sb.c_str(), &read));
    // The other shard's file is absent: emitting it fails, naming it.
    kiln_emitter_shard_t *other = nullptr;
    kiln_error_t *err = kiln_emitter_emit_shard(nullptr, read, 1 - s, &other);
    EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
    EXPECT_NE(Take(err).find("shard-" + std::to_string(1 - s) + ".bc"), std::string::npos);
    EXPECT_EQ(other, nullptr);
    kiln_emitter_shard_t *sh = nullptr;
    ASSERT_OK(kiln_emitter_emit_shard(nullptr, read, s, &sh));
    shards.push_back(sh);
    kiln_emitter_plan_free(read);
  }
  // Finish: the plan file alone.
  std::string fin = dir + "/finish";
  ASSERT_EQ(Shell("mkdir -p " + fin + " && cp " + dir + "/plan/" KILN_EMITTER_PLAN_FILE " " + fin +
                  "/"),
            0);
  kiln_emitter_plan_t *read = nullptr;
  ASSERT_OK(kiln_emitter_plan_read(fin.c_str(), &read));
  kiln_emitter_result_t *r = nullptr;
  ASSERT_OK(kiln_emitter_finish(o.get(), read, shards.data(), shards.size(), &r));
  EXPECT_TRUE(Archive(r) == Archive(whole.r));
  kiln_emitter_result_free(r);
  kiln_emitter_plan_free(read);
  for (auto *sh : shards) kiln_emitter_shard_free(sh);
}

TEST(EmitterLazyPlanTest, ShardFileOfTheWrongSizeIsAFormatError) {
  std::string bc = CompileC("lazy_size", kPkg);
  Options o = PackageOptions(1);
  std::string dir = TmpDir() + "/lazy_size";
  ASSERT_EQ(Shell("rm -rf " + dir + " && mkdir -p " + dir), 0);
  LLVMContextRef ctx = LLVMContextCreate();
  const char *inputs[] = {bc.c_str()};
  LLVMModuleRef m = nullptr;
  ASSERT_OK(kiln_emitter_link_inputs(ctx, inputs, 1, &m));
  kiln_emitter_plan_t *plan = nullptr;
  ASSERT_OK(kiln_emitter_plan(o.get(), m, &plan));
  ASSERT_OK(kiln_emitter_plan_write(plan, dir.c_str()));
  kiln_emitter_plan_free(plan);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  // Reading does not touch the shard file, emitting checks it.
  ASSERT_EQ(truncate((dir + "/shard-0.bc").c_str(), 10), 0);
  kiln_emitter_plan_t *read = nullptr;
  ASSERT_OK(kiln_emitter_plan_read(dir.c_str(), &read));
  kiln_emitter_shard_t *sh = nullptr;
  kiln_error_t *err = kiln_emitter_emit_shard(nullptr, read, 0, &sh);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  std::string msg = Take(err);
  EXPECT_NE(msg.find("shard-0.bc"), std::string::npos) << msg;
  EXPECT_NE(msg.find("10 bytes"), std::string::npos) << msg;
  EXPECT_EQ(sh, nullptr);
  // Writing a lazily read plan elsewhere reads (and checks) the shards too.
  ASSERT_EQ(Shell("mkdir -p " + dir + "/copy"), 0);
  err = kiln_emitter_plan_write(read, (dir + "/copy").c_str());
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  Take(err);
  kiln_emitter_plan_free(read);
}

}  // namespace
