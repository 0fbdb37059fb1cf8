// components/splitter/splitter_test.cc — unit, edge-case and end-to-end
// tests of the splitter.
//
// Edge cases come from hand-written IR in testdata/ (one file per case);
// each is split, every shard is checked for the property the case is about,
// the shards are linked back with LLVMLinkModules2 and compared with the
// input's definitions, and the program built from the shards (llc per shard,
// clang to link) must print what the program built from the whole module
// prints. Real C (testdata/program.c and a generated 2,000-function program)
// goes through clang-22 -O0 -emit-llvm first.
#include "components/splitter/splitter.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "components/multiversion/testing/mv_build.h"
#include "llvm-c/BitReader.h"
#include "llvm-c/BitWriter.h"
#include "llvm-c/Comdat.h"
#include "llvm-c/Core.h"
#include "llvm-c/IRReader.h"
#include "llvm-c/Linker.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

namespace {

const char kClang[] = "/usr/lib/llvm-22/bin/clang";
const char kLlc[] = "/usr/lib/llvm-22/bin/llc";

std::string TmpDir() {
  const char *t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

std::string Data(const std::string &name) { return "components/splitter/testdata/" + name; }

std::string ReadFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using kiln_mv_test::Run;

std::string TakeError(kiln_error_t *err) {
  std::string s = kiln_error_message(err);
  kiln_error_free(err);
  return s;
}

std::string Name(LLVMValueRef v) {
  size_t n = 0;
  const char *s = LLVMGetValueName2(v, &n);
  return std::string(s, n);
}

// Owns a context and the modules parsed into it.
struct Ctx {
  LLVMContextRef ctx = LLVMContextCreate();
  std::vector<LLVMModuleRef> mods;
  ~Ctx() {
    for (LLVMModuleRef m : mods) LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
  }
  LLVMModuleRef Own(LLVMModuleRef m) {
    mods.push_back(m);
    return m;
  }
  LLVMModuleRef ParseText(const std::string &text) {
    LLVMMemoryBufferRef buf =
        LLVMCreateMemoryBufferWithMemoryRangeCopy(text.data(), text.size(), "test.ll");
    LLVMModuleRef m = nullptr;
    char *msg = nullptr;
    if (LLVMParseIRInContext(ctx, buf, &m, &msg) != 0) {
      ADD_FAILURE() << "parse: " << (msg ? msg : "");
      LLVMDisposeMessage(msg);
      return nullptr;
    }
    return Own(m);
  }
  LLVMModuleRef ParseFile(const std::string &path) { return ParseText(ReadFile(path)); }
  LLVMModuleRef ParseBitcode(const void *data, size_t size) {
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(
        static_cast<const char *>(data), size, "shard.bc");
    LLVMModuleRef m = nullptr;
    bool bad = LLVMParseBitcodeInContext2(ctx, buf, &m) != 0;
    LLVMDisposeMemoryBuffer(buf);
    if (bad) {
      ADD_FAILURE() << "bitcode does not parse";
      return nullptr;
    }
    return Own(m);
  }
};

struct ShardsDeleter {
  void operator()(kiln_splitter_shards_t *s) const { kiln_splitter_shards_free(s); }
};
using Shards = std::unique_ptr<kiln_splitter_shards_t, ShardsDeleter>;

Shards Split(LLVMModuleRef m, unsigned k, bool copy_inline = true, bool group_vars = false) {
  kiln_splitter_options_t *o = nullptr;
  EXPECT_EQ(kiln_splitter_options_new(&o), nullptr);
  kiln_splitter_options_set_shard_count(o, k);
  kiln_splitter_options_set_copy_inline(o, copy_inline);
  kiln_splitter_options_set_group_internal_variables(o, group_vars);
  kiln_splitter_shards_t *s = nullptr;
  kiln_error_t *err = kiln_splitter_split(m, o, &s);
  kiln_splitter_options_free(o);
  EXPECT_EQ(err, nullptr) << TakeError(err);
  return Shards(s);
}

std::string Bitcode(const kiln_splitter_shards_t *s, size_t i) {
  const void *d = nullptr;
  size_t n = 0;
  kiln_splitter_shards_bitcode(s, i, &d, &n);
  return std::string(static_cast<const char *>(d), n);
}

LLVMModuleRef ShardModule(Ctx &c, const kiln_splitter_shards_t *s, size_t i) {
  const void *d = nullptr;
  size_t n = 0;
  kiln_splitter_shards_bitcode(s, i, &d, &n);
  return c.ParseBitcode(d, n);
}

bool IsLocal(LLVMValueRef v) {
  LLVMLinkage l = LLVMGetLinkage(v);
  return l == LLVMInternalLinkage || l == LLVMPrivateLinkage;
}

// Names of what a module defines, less local constants (copied per shard,
// renamed by the linker) and llvm.* lists.
std::set<std::string> Definitions(LLVMModuleRef m) {
  std::set<std::string> out;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f) && LLVMGetLinkage(f) != LLVMAvailableExternallyLinkage)
      out.insert("fn " + Name(f));
  for (LLVMValueRef g = LLVMGetFirstGlobal(m); g; g = LLVMGetNextGlobal(g)) {
    std::string n = Name(g);
    if (LLVMIsDeclaration(g) || n.rfind("llvm.", 0) == 0) continue;
    if (IsLocal(g) && LLVMIsGlobalConstant(g)) continue;
    out.insert("var " + n);
  }
  for (LLVMValueRef a = LLVMGetFirstGlobalAlias(m); a; a = LLVMGetNextGlobalAlias(a))
    out.insert("alias " + Name(a));
  for (LLVMValueRef i = LLVMGetFirstGlobalIFunc(m); i; i = LLVMGetNextGlobalIFunc(i))
    out.insert("ifunc " + Name(i));
  return out;
}

// Links all shards into one module (in `c`) and checks it defines what the
// (promoted) input defines.
void ExpectLinksBack(LLVMModuleRef input, const kiln_splitter_shards_t *s) {
  Ctx c;
  LLVMModuleRef dest = ShardModule(c, s, 0);
  ASSERT_NE(dest, nullptr);
  for (size_t i = 1; i < kiln_splitter_shards_count(s); i++) {
    LLVMModuleRef src = ShardModule(c, s, i);
    ASSERT_NE(src, nullptr);
    c.mods.pop_back();  // LLVMLinkModules2 consumes src
    ASSERT_EQ(LLVMLinkModules2(dest, src), 0) << "linking shard " << i;
  }
  EXPECT_EQ(Definitions(dest), Definitions(input));
}

// Compiles bitcode files to objects with llc, links them with clang, runs
// the program; returns its output (or a failure description).
std::string BuildAndRun(const std::vector<std::string> &bitcode, const std::string &tag) {
  std::string dir = TmpDir(), objs, log;
  for (size_t i = 0; i < bitcode.size(); i++) {
    std::string bc = dir + "/" + tag + "." + std::to_string(i) + ".bc";
    std::string obj = dir + "/" + tag + "." + std::to_string(i) + ".o";
    std::ofstream(bc, std::ios::binary) << bitcode[i];
    if (Run(std::string(kLlc) + " -O0 -filetype=obj -relocation-model=pic " + bc + " -o " + obj,
            &log) != 0)
      return "llc failed: " + log;
    objs += " " + obj;
  }
  std::string exe = dir + "/" + tag + ".exe";
  if (Run(std::string(kClang) + " -fuse-ld=lld" + objs + " -o " + exe, &log) != 0)
    return "link failed: " + log;
  std::string out;
  if (Run(exe, &out) != 0) return "run failed: " + out;
  return out;
}

std::string WholeBitcode(LLVMModuleRef m) {
  LLVMMemoryBufferRef b = LLVMWriteBitcodeToMemoryBuffer(m);
  std::string s(LLVMGetBufferStart(b), LLVMGetBufferSize(b));
  LLVMDisposeMemoryBuffer(b);
  return s;
}

std::vector<std::string> AllBitcode(const kiln_splitter_shards_t *s) {
  std::vector<std::string> v;
  for (size_t i = 0; i < kiln_splitter_shards_count(s); i++) v.push_back(Bitcode(s, i));
  return v;
}

// The whole check for one .ll case: split into k shards, link back, and
// run the program built from shards against the unsplit one.
void ExpectBehavesLikeWhole(const std::string &file, unsigned k, bool copy_inline = true) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data(file));
  ASSERT_NE(m, nullptr);
  std::string whole = BuildAndRun({WholeBitcode(m)}, file + ".whole");
  ASSERT_EQ(whole.find("failed:"), std::string::npos) << whole;
  Shards s = Split(m, k, copy_inline);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(kiln_splitter_shards_count(s.get()), k);
  ExpectLinksBack(m, s.get());
  std::string split =
      BuildAndRun(AllBitcode(s.get()), file + ".k" + std::to_string(k) + (copy_inline ? "i" : ""));
  EXPECT_EQ(split, whole) << file << " with " << k << " shards";
}

size_t ShardOf(const kiln_splitter_shards_t *s, const char *name) {
  size_t i = 99;
  kiln_error_t *err = kiln_splitter_shards_find(s, name, &i);
  EXPECT_EQ(err, nullptr) << TakeError(err);
  return i;
}

// ---- Options ------------------------------------------------------------

TEST(SplitterOptionsTest, NewSetFree) {
  kiln_splitter_options_t *o = nullptr;
  ASSERT_EQ(kiln_splitter_options_new(&o), nullptr);
  kiln_splitter_options_set_shard_count(o, 3);
  kiln_splitter_options_set_shard_weight(o, 1000);
  kiln_splitter_options_set_max_shards(o, 8);
  kiln_splitter_options_set_multiplier(o, nullptr, nullptr);
  kiln_splitter_options_set_copy_inline(o, false);
  kiln_splitter_options_free(o);
  kiln_splitter_options_free(nullptr);
  // Setters ignore NULL.
  kiln_splitter_options_set_shard_count(nullptr, 1);
  kiln_splitter_options_set_shard_weight(nullptr, 1);
  kiln_splitter_options_set_max_shards(nullptr, 1);
  kiln_splitter_options_set_multiplier(nullptr, nullptr, nullptr);
  kiln_splitter_options_set_copy_inline(nullptr, true);
}

TEST(SplitterOptionsTest, NewRejectsNullOutput) {
  kiln_error_t *err = kiln_splitter_options_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

// ---- Split and accessors --------------------------------------------------

TEST(SplitterSplitTest, RejectsNullArguments) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("empty.ll"));
  kiln_splitter_shards_t *s = reinterpret_cast<kiln_splitter_shards_t *>(1);
  kiln_error_t *err = kiln_splitter_split(nullptr, nullptr, &s);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  kiln_error_free(err);
  err = kiln_splitter_split(m, nullptr, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(SplitterSplitTest, RejectsModuleFailingTheVerifier) {
  Ctx c;
  LLVMModuleRef m = c.ParseText("define i32 @f() {\n  ret i32 0\n}\n");
  ASSERT_NE(m, nullptr);
  // A block without a terminator: the parser accepts it only when built
  // through the API, so append one to @f.
  LLVMValueRef f = LLVMGetNamedFunction(m, "f");
  LLVMAppendBasicBlockInContext(c.ctx, f, "dangling");
  kiln_splitter_shards_t *s = nullptr;
  kiln_error_t *err = kiln_splitter_split(m, nullptr, &s);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_error_message(err)).find("verifier"), std::string::npos)
      << kiln_error_message(err);
  EXPECT_EQ(s, nullptr);
  kiln_error_free(err);
}

TEST(SplitterShardsTest, AccessorsAndOutOfRange) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("statics.ll"));
  Shards s = Split(m, 2);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(kiln_splitter_shards_count(s.get()), 2u);
  uint64_t sum = 0;
  size_t functions = 0;
  for (size_t i = 0; i < 2; i++) {
    sum += kiln_splitter_shards_weight(s.get(), i);
    EXPECT_GT(Bitcode(s.get(), i).size(), 0u);
    for (size_t j = 0; j < kiln_splitter_shards_function_count(s.get(), i); j++) {
      const char *n = kiln_splitter_shards_function_name(s.get(), i, j);
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(ShardOf(s.get(), n), i) << n;
      functions++;
    }
  }
  EXPECT_EQ(functions, 6u);  // square, @1, left, right, lonely, main
  EXPECT_EQ(sum, kiln_splitter_shards_total_weight(s.get()));
  EXPECT_GT(sum, 0u);
  // Out of range and NULL.
  EXPECT_EQ(kiln_splitter_shards_count(nullptr), 0u);
  EXPECT_EQ(kiln_splitter_shards_weight(s.get(), 2), 0u);
  EXPECT_EQ(kiln_splitter_shards_total_weight(nullptr), 0u);
  EXPECT_EQ(kiln_splitter_shards_function_count(s.get(), 2), 0u);
  EXPECT_EQ(kiln_splitter_shards_function_name(s.get(), 0, 1000), nullptr);
  EXPECT_EQ(Bitcode(s.get(), 2), "");
  kiln_splitter_shards_free(nullptr);
}

TEST(SplitterShardsTest, FindUnknownNameIsNotFound) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("statics.ll"));
  Shards s = Split(m, 2);
  size_t i = 7;
  kiln_error_t *err = kiln_splitter_shards_find(s.get(), "no_such_symbol", &i);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_EQ(i, 0u);
  kiln_error_free(err);
  err = kiln_splitter_shards_find(nullptr, "main", &i);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  // Declarations are not definitions.
  err = kiln_splitter_shards_find(s.get(), "printf", &i);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  kiln_error_free(err);
}

// ---- Edge cases -------------------------------------------------------------

TEST(SplitterEdgeTest, EmptyShardsVerifyAndLink) {
  ExpectBehavesLikeWhole("empty.ll", 4);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("empty.ll")), 4);
  size_t empty = 0;
  for (size_t i = 0; i < 4; i++) empty += kiln_splitter_shards_function_count(s.get(), i) == 0;
  EXPECT_EQ(empty, 3u);
}

TEST(SplitterEdgeTest, ModuleInlineAsmOnlyInShardZero) {
  ExpectBehavesLikeWhole("inline_asm.ll", 3);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("inline_asm.ll")), 3);
  for (size_t i = 0; i < 3; i++) {
    size_t len = 0;
    LLVMGetModuleInlineAsm(ShardModule(c, s.get(), i), &len);
    EXPECT_EQ(len != 0, i == 0) << "shard " << i;
  }
}

TEST(SplitterEdgeTest, AliasesStayWithAliasees) {
  ExpectBehavesLikeWhole("aliases.ll", 4);
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("aliases.ll"));
  Shards s = Split(m, 4);
  EXPECT_EQ(ShardOf(s.get(), "data_alias"), ShardOf(s.get(), "data"));
  size_t home = ShardOf(s.get(), "pub");
  // @impl went with @pub; callers elsewhere see @pub as a declaration with
  // @impl's attributes.
  for (size_t i = 0; i < 4; i++) {
    if (i == home) continue;
    LLVMModuleRef sm = ShardModule(c, s.get(), i);
    LLVMValueRef decl = LLVMGetNamedFunction(sm, "pub");
    if (decl == nullptr) continue;
    EXPECT_TRUE(LLVMIsDeclaration(decl));
    EXPECT_NE(LLVMGetStringAttributeAtIndex(decl, LLVMAttributeFunctionIndex, "kiln.mv.clones", 14),
              nullptr);
  }
}

TEST(SplitterEdgeTest, IFuncStaysWithResolver) {
  ExpectBehavesLikeWhole("ifunc.ll", 3);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("ifunc.ll")), 3);
  size_t home = ShardOf(s.get(), "chosen");
  LLVMModuleRef hm = ShardModule(c, s.get(), home);
  EXPECT_NE(LLVMGetNamedGlobalIFunc(hm, "chosen", 6), nullptr);
  EXPECT_NE(LLVMGetNamedFunction(hm, "resolver"), nullptr);
}

TEST(SplitterEdgeTest, ComdatMembersTogetherAndLinkonceKept) {
  ExpectBehavesLikeWhole("comdat.ll", 3);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("comdat.ll")), 3);
  size_t home = ShardOf(s.get(), "pair");
  EXPECT_EQ(ShardOf(s.get(), "pair_data"), home);
  if (home != ShardOf(s.get(), "main")) {
    LLVMModuleRef hm = ShardModule(c, s.get(), home);
    EXPECT_EQ(LLVMGetLinkage(LLVMGetNamedFunction(hm, "pair")), LLVMWeakODRLinkage);
    EXPECT_NE(LLVMGetComdat(LLVMGetNamedFunction(hm, "pair")), nullptr);
  }
}

TEST(SplitterEdgeTest, ThreadLocals) {
  ExpectBehavesLikeWhole("tls.ll", 4, false);
  Ctx c;
  // Grouped mode: the internal thread-local stays internal, with its users.
  Shards s = Split(c.ParseFile(Data("tls.ll")), 4, false, /*group_vars=*/true);
  EXPECT_EQ(ShardOf(s.get(), "bump"), ShardOf(s.get(), "get"));
  EXPECT_EQ(ShardOf(s.get(), "counter"), ShardOf(s.get(), "get"));
  size_t home = ShardOf(s.get(), "shared_tls");
  for (size_t i = 0; i < 4; i++) {
    LLVMValueRef g = LLVMGetNamedGlobal(ShardModule(c, s.get(), i), "shared_tls");
    if (g == nullptr) continue;
    EXPECT_TRUE(LLVMIsThreadLocal(g)) << "shard " << i;
    EXPECT_EQ(LLVMIsDeclaration(g) != 0, i != home);
  }
}

// Entries of an llvm.* list in shard i, by the symbol they name.
std::vector<std::string> ListEntries(LLVMModuleRef m, const char *list, bool structors) {
  std::vector<std::string> out;
  LLVMValueRef g = LLVMGetNamedGlobal(m, list);
  if (g == nullptr) return out;
  LLVMValueRef init = LLVMGetInitializer(g);
  unsigned n = static_cast<unsigned>(LLVMGetArrayLength2(LLVMTypeOf(init)));
  for (unsigned k = 0; k < n; k++) {
    LLVMValueRef e = LLVMGetAggregateElement(init, k);
    LLVMValueRef target = structors ? LLVMGetOperand(e, 1) : e;
    out.push_back(Name(target));
    EXPECT_FALSE(LLVMIsDeclaration(target)) << list << " names a declaration";
  }
  return out;
}

TEST(SplitterEdgeTest, CtorsAndDtorsFollowTheirFunctions) {
  ExpectBehavesLikeWhole("ctors.ll", 4);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("ctors.ll")), 4);
  std::multiset<std::string> ctors, dtors;
  for (size_t i = 0; i < 4; i++) {
    LLVMModuleRef sm = ShardModule(c, s.get(), i);
    for (const std::string &n : ListEntries(sm, "llvm.global_ctors", true)) ctors.insert(n);
    for (const std::string &n : ListEntries(sm, "llvm.global_dtors", true)) dtors.insert(n);
  }
  // Each entry exactly once (names may carry the promotion suffix).
  EXPECT_EQ(ctors.size(), 2u);
  EXPECT_EQ(dtors.size(), 1u);
}

TEST(SplitterEdgeTest, UsedListsFollowTheirSymbols) {
  ExpectBehavesLikeWhole("used.ll", 3);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("used.ll")), 3);
  std::multiset<std::string> used, cused;
  for (size_t i = 0; i < 3; i++) {
    LLVMModuleRef sm = ShardModule(c, s.get(), i);
    for (const std::string &n : ListEntries(sm, "llvm.used", false)) {
      used.insert(n);
      EXPECT_EQ(ShardOf(s.get(), n.c_str()), i);
    }
    for (const std::string &n : ListEntries(sm, "llvm.compiler.used", false)) cused.insert(n);
  }
  EXPECT_EQ(used, (std::multiset<std::string>{"keep_me", "keep_too"}));
  EXPECT_EQ(cused, (std::multiset<std::string>{"helper"}));
}

TEST(SplitterEdgeTest, InternalsPromotedWithHiddenDeterministicNames) {
  ExpectBehavesLikeWhole("statics.ll", 4, false);
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("statics.ll"));
  Shards s = Split(m, 4, false, /*group_vars=*/true);
  // Grouped mode: @hits stays internal, with both users.
  EXPECT_EQ(ShardOf(s.get(), "left"), ShardOf(s.get(), "right"));
  EXPECT_EQ(ShardOf(s.get(), "hits"), ShardOf(s.get(), "left"));
  LLVMValueRef hits = LLVMGetNamedGlobal(m, "hits");
  ASSERT_NE(hits, nullptr);
  EXPECT_EQ(LLVMGetLinkage(hits), LLVMInternalLinkage);
  // @square is called from more than one shard: promoted in the input.
  LLVMValueRef sq = LLVMGetNamedFunction(m, "square.kiln.split");
  ASSERT_NE(sq, nullptr);
  EXPECT_EQ(LLVMGetLinkage(sq), LLVMExternalLinkage);
  EXPECT_EQ(LLVMGetVisibility(sq), LLVMHiddenVisibility);
  EXPECT_EQ(LLVMGetNamedFunction(m, "square"), nullptr);
  // The unnamed internal function gets a positional name.
  bool anon = false;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
    anon |= Name(f).rfind("kiln.split.anon.", 0) == 0;
  EXPECT_TRUE(anon);
  // The string literal is copied into the shard that uses it, not promoted.
  LLVMValueRef fmt = LLVMGetNamedGlobal(m, ".fmt");
  ASSERT_NE(fmt, nullptr);
  EXPECT_EQ(LLVMGetLinkage(fmt), LLVMPrivateLinkage);
}

// The default: an internal variable used from several shards is promoted
// like an internal function (hidden, deterministic name) instead of pulling
// its users into one shard, and the program still behaves the same.
TEST(SplitterEdgeTest, InternalVariablesPromotedByDefault) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("statics.ll"));
  Shards s = Split(m, 4, false);
  ASSERT_NE(s, nullptr);
  if (ShardOf(s.get(), "left") != ShardOf(s.get(), "right")) {
    EXPECT_EQ(LLVMGetNamedGlobal(m, "hits"), nullptr);
    LLVMValueRef hits = LLVMGetNamedGlobal(m, "hits.kiln.split");
    ASSERT_NE(hits, nullptr);
    EXPECT_EQ(LLVMGetLinkage(hits), LLVMExternalLinkage);
    EXPECT_EQ(LLVMGetVisibility(hits), LLVMHiddenVisibility);
  }
  // A static counter shared by every function no longer makes one group:
  // with default options the weight spreads over the shards.
  const char *ir = R"(
@counter = internal global i64 0
define i64 @a(i64 %x) {
  %v = load i64, ptr @counter
  %w = add i64 %v, %x
  store i64 %w, ptr @counter
  ret i64 %w
}
define i64 @b(i64 %x) {
  %v = load i64, ptr @counter
  %w = mul i64 %v, %x
  store i64 %w, ptr @counter
  ret i64 %w
}
define i64 @c(i64 %x) {
  %v = load i64, ptr @counter
  %w = sub i64 %v, %x
  store i64 %w, ptr @counter
  ret i64 %w
}
)";
  for (bool group : {false, true}) {
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, strlen(ir), "shared");
    LLVMModuleRef sm = nullptr;
    char *msg = nullptr;
    ASSERT_EQ(LLVMParseIRInContext(c.ctx, buf, &sm, &msg), 0) << msg;
    Shards t = Split(sm, 3, false, group);
    ASSERT_NE(t, nullptr);
    size_t nonempty = 0;
    for (size_t i = 0; i < 3; i++) nonempty += kiln_splitter_shards_function_count(t.get(), i) > 0;
    EXPECT_EQ(nonempty, group ? 1u : 3u) << (group ? "grouped" : "default");
    LLVMDisposeModule(sm);
  }
}

TEST(SplitterEdgeTest, MultiversionAttributesAndMetadataKept) {
  ExpectBehavesLikeWhole("multiversion.ll", 3);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("multiversion.ll")), 3);
  size_t home = ShardOf(s.get(), "kernel");
  for (size_t i = 0; i < 3; i++) {
    LLVMModuleRef sm = ShardModule(c, s.get(), i);
    EXPECT_EQ(LLVMGetNamedMetadataNumOperands(sm, "kiln.mv.targets"), 1u) << "shard " << i;
    LLVMValueRef k = LLVMGetNamedFunction(sm, "kernel");
    if (k == nullptr) continue;
    EXPECT_EQ(LLVMIsDeclaration(k) != 0, i != home);
    for (const char *a : {"kiln.mv.clones", "kiln.mv.reasons", "kiln.mv.slot"})
      EXPECT_NE(LLVMGetStringAttributeAtIndex(k, LLVMAttributeFunctionIndex, a,
                                              static_cast<unsigned>(strlen(a))),
                nullptr)
          << a << " in shard " << i;
  }
}

TEST(SplitterEdgeTest, AlwaysInlineCopiedAsAvailableExternally) {
  ExpectBehavesLikeWhole("alwaysinline.ll", 3, true);
  ExpectBehavesLikeWhole("alwaysinline.ll", 3, false);
  for (bool copy : {true, false}) {
    Ctx c;
    Shards s = Split(c.ParseFile(Data("alwaysinline.ll")), 3, copy);
    size_t home = ShardOf(s.get(), "tiny.kiln.split");
    size_t copies = 0;
    for (size_t i = 0; i < 3; i++) {
      LLVMValueRef t = LLVMGetNamedFunction(ShardModule(c, s.get(), i), "tiny.kiln.split");
      if (t == nullptr || i == home) continue;
      if (!LLVMIsDeclaration(t)) {
        EXPECT_EQ(LLVMGetLinkage(t), LLVMAvailableExternallyLinkage);
        copies++;
      }
    }
    EXPECT_EQ(copies > 0, copy);
  }
}

TEST(SplitterEdgeTest, BlockAddressKeepsFunctionsTogether) {
  ExpectBehavesLikeWhole("blockaddress.ll", 3);
  Ctx c;
  Shards s = Split(c.ParseFile(Data("blockaddress.ll")), 3, true, /*group_vars=*/true);
  EXPECT_EQ(ShardOf(s.get(), "targets"), ShardOf(s.get(), "jumper"));
  EXPECT_EQ(ShardOf(s.get(), "pick_two"), ShardOf(s.get(), "jumper"));
  // Default mode: the table of block addresses still lives with the
  // function whose blocks it names (promoted when pick_two is elsewhere).
  LLVMModuleRef m = c.ParseFile(Data("blockaddress.ll"));
  Shards d = Split(m, 3);
  const char *table = LLVMGetNamedGlobal(m, "targets") != nullptr ? "targets" : "targets.kiln.split";
  EXPECT_EQ(ShardOf(d.get(), table), ShardOf(d.get(), "jumper"));
}

// ---- The llvm_c_ext functions the splitter relies on ------------------------

TEST(SplitterSurgeryTest, DeleteBodyKeepsAttributes) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("multiversion.ll"));
  LLVMValueRef k = LLVMGetNamedFunction(m, "kernel");
  LLVMValueRef d = LLVMGetNamedFunction(m, "driver");
  ASSERT_EQ(kiln_llvm_function_delete_body(d), nullptr);  // its call to kernel goes
  ASSERT_EQ(kiln_llvm_function_delete_body(k), nullptr);
  EXPECT_TRUE(LLVMIsDeclaration(k));
  EXPECT_NE(LLVMGetStringAttributeAtIndex(k, LLVMAttributeFunctionIndex, "kiln.mv.clones", 14),
            nullptr);
  kiln_error_t *err = kiln_llvm_function_delete_body(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  err = kiln_llvm_function_delete_body(LLVMGetNamedGlobal(m, ".fmt"));
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
}

TEST(SplitterSurgeryTest, EraseIfUnused) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("aliases.ll"));
  int erased = -1;
  // @data_alias is used by @user2: kept.
  ASSERT_EQ(kiln_llvm_global_erase_if_unused(LLVMGetNamedGlobalAlias(m, "data_alias", 10), &erased),
            nullptr);
  EXPECT_EQ(erased, 0);
  ASSERT_EQ(kiln_llvm_function_delete_body(LLVMGetNamedFunction(m, "user2")), nullptr);
  ASSERT_EQ(kiln_llvm_global_erase_if_unused(LLVMGetNamedGlobalAlias(m, "data_alias", 10), &erased),
            nullptr);
  EXPECT_EQ(erased, 1);
  EXPECT_EQ(LLVMGetNamedGlobalAlias(m, "data_alias", 10), nullptr);
  kiln_error_t *err = kiln_llvm_global_erase_if_unused(nullptr, &erased);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(erased, 0);
  kiln_error_free(err);
}

// ---- Determinism and shard count --------------------------------------------

std::string CompileC(const std::string &src, const std::string &tag) {
  std::string bc = TmpDir() + "/" + tag + ".bc", log;
  if (Run(std::string(kClang) + " -O0 -emit-llvm -c " + src + " -o " + bc, &log) != 0) {
    ADD_FAILURE() << "clang: " << log;
    return "";
  }
  return ReadFile(bc);
}

// Shard bytes depend only on the module and the options. (Two parses of one
// file into the same context differ by themselves when the module has named
// struct types, which the context renames; so the C program uses a fresh
// context per parse, and the same-context case uses IR without them.)
TEST(SplitterDeterminismTest, SameBytesAcrossModulesAndContexts) {
  std::string bc = CompileC(Data("program.c"), "det");
  ASSERT_FALSE(bc.empty());
  std::vector<std::vector<std::string>> runs;
  for (int i = 0; i < 3; i++) {
    Ctx c;
    Shards s = Split(c.ParseBitcode(bc.data(), bc.size()), 4);
    runs.push_back(AllBitcode(s.get()));
  }
  EXPECT_TRUE(runs[0] == runs[1]);
  EXPECT_TRUE(runs[0] == runs[2]);
  Ctx same;
  Shards x = Split(same.ParseFile(Data("statics.ll")), 3);
  Shards y = Split(same.ParseFile(Data("statics.ll")), 3);
  EXPECT_TRUE(AllBitcode(x.get()) == AllBitcode(y.get()));
}

TEST(SplitterCountTest, TinyModuleGetsOneShard) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("statics.ll"));
  kiln_splitter_shards_t *s = nullptr;
  ASSERT_EQ(kiln_splitter_split(m, nullptr, &s), nullptr);
  EXPECT_EQ(kiln_splitter_shards_count(s), 1u);
  kiln_splitter_shards_free(s);
}

unsigned Triple(LLVMValueRef, void *) { return 3; }

TEST(SplitterCountTest, WeightOptionsAndMultiplier) {
  Ctx c;
  LLVMModuleRef m = c.ParseFile(Data("statics.ll"));
  LLVMModuleRef m2 = c.ParseFile(Data("statics.ll"));
  kiln_splitter_options_t *o = nullptr;
  ASSERT_EQ(kiln_splitter_options_new(&o), nullptr);
  kiln_splitter_options_set_shard_weight(o, 10);
  kiln_splitter_options_set_max_shards(o, 3);
  kiln_splitter_shards_t *s = nullptr;
  ASSERT_EQ(kiln_splitter_split(m, o, &s), nullptr);
  EXPECT_EQ(kiln_splitter_shards_count(s), 3u);  // capped by max_shards
  uint64_t plain = kiln_splitter_shards_total_weight(s);
  kiln_splitter_shards_free(s);
  kiln_splitter_options_set_multiplier(o, Triple, nullptr);
  ASSERT_EQ(kiln_splitter_split(m2, o, &s), nullptr);
  // Functions weigh three times as much; the two variables weigh 1 each.
  EXPECT_EQ(kiln_splitter_shards_total_weight(s), (plain - 2) * 3 + 2);
  kiln_splitter_shards_free(s);
  kiln_splitter_options_free(o);
}

// A generated C program of 2,000 functions: the automatic count gives a
// handful of shards, and the program built from them runs like the whole.
TEST(SplitterCountTest, TwoThousandFunctionsGiveAHandful) {
  std::string src = TmpDir() + "/big.c";
  {
    std::ofstream out(src);
    out << "#include <stdio.h>\n";
    for (int i = 0; i < 2000; i++) {
      out << "static int table" << i << "[4] = {" << i << ", 1, 2, 3};\n"
          << "int f" << i << "(int x) {\n  int acc = 0;\n"
          << "  for (int i = 0; i < x; i++) {\n    if (i % 3 == 0) acc += table" << i
          << "[i & 3];\n    else acc ^= i * " << i + 1 << ";\n  }\n"
          << "  switch (x & 3) { case 0: acc += 1; break; case 1: acc -= 2; break;"
          << " default: acc *= 3; }\n"
          << (i > 0 ? "  acc += f" + std::to_string(i - 1) + "(x / 2);\n" : "")
          << "  return acc;\n}\n";
    }
    out << "int main(void) {\n  long sum = 0;\n"
        << "  for (int i = 0; i < 10; i++) sum += f1999(i);\n"
        << "  printf(\"%ld\\n\", sum);\n  return 0;\n}\n";
  }
  std::string bc = CompileC(src, "big");
  ASSERT_FALSE(bc.empty());
  Ctx c;
  LLVMModuleRef m = c.ParseBitcode(bc.data(), bc.size());
  std::string whole = BuildAndRun({WholeBitcode(m)}, "big.whole");
  kiln_splitter_shards_t *s = nullptr;
  ASSERT_EQ(kiln_splitter_split(m, nullptr, &s), nullptr);
  size_t k = kiln_splitter_shards_count(s);
  std::printf("2000 functions: total weight %llu, %zu shards\n",
              static_cast<unsigned long long>(kiln_splitter_shards_total_weight(s)), k);
  EXPECT_GE(k, 4u);
  EXPECT_LE(k, 16u);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (size_t i = 0; i < k; i++) {
    lo = std::min(lo, kiln_splitter_shards_weight(s, i));
    hi = std::max(hi, kiln_splitter_shards_weight(s, i));
  }
  EXPECT_LE(hi - lo, hi / 10) << "shards should be balanced";
  EXPECT_EQ(BuildAndRun(AllBitcode(s), "big.split"), whole);
  kiln_splitter_shards_free(s);
}

// ---- Real C end to end ---------------------------------------------------------

TEST(SplitterFunctionalTest, RealCProgramBehavesLikeWhole) {
  std::string bc = CompileC(Data("program.c"), "program");
  ASSERT_FALSE(bc.empty());
  std::string whole;
  {
    Ctx c;
    whole = BuildAndRun({bc}, "program.whole");
  }
  EXPECT_NE(whole.find("init 12"), std::string::npos) << whole;
  for (unsigned k : {1u, 2u, 3u, 5u, 8u}) {
    Ctx c;
    LLVMModuleRef m = c.ParseBitcode(bc.data(), bc.size());
    Shards s = Split(m, k);
    ASSERT_NE(s, nullptr);
    ExpectLinksBack(m, s.get());
    EXPECT_EQ(BuildAndRun(AllBitcode(s.get()), "program.k" + std::to_string(k)), whole)
        << k << " shards";
  }
}

}  // namespace
