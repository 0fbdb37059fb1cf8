// components/emitter/emitter_test.cc — the emitter on a real C program
// (testdata/prog.c compiled by clang-22 at test time): determinism across
// thread counts and runs, archive contents, the metadata blob against the
// plan, linking + dlopen + calling through the image tables, separate steps
// vs the one-call build, outputs and time trace, errors, thread selection.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
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

using kiln_emitter_test::Code;
using kiln_emitter_test::CompileToBitcode;
using kiln_emitter_test::ExpectShardMajorTables;
using kiln_emitter_test::kClang;
using kiln_emitter_test::LinkArchive;
using kiln_emitter_test::NoEnv;
using kiln_emitter_test::Options;
using kiln_emitter_test::ReadFile;
using kiln_emitter_test::Result;
using kiln_emitter_test::Shell;
using kiln_emitter_test::Take;
using kiln_emitter_test::TmpDir;
using kiln_emitter_test::WriteFile;

const char *kAr = "/usr/lib/llvm-22/bin/llvm-ar";
const char *kNm = "/usr/lib/llvm-22/bin/llvm-nm";
const char *kTargets = "generic;haswell;x86-64-v4";

// prog.c as unoptimized but optimizable bitcode, compiled once.
const std::string &ProgBitcode() {
  static std::string path;
  if (path.empty())
    path = CompileToBitcode("components/emitter/testdata/prog.c", TmpDir() + "/prog.bc");
  return path;
}

Options MakeOptions(unsigned threads, size_t shards = 4) {
  kiln_emitter_options_t *o = nullptr;
  kiln_error_t *err = kiln_emitter_options_new(&o);
  EXPECT_EQ(err, nullptr) << Take(err);
  err = kiln_emitter_options_set_target(o, kTargets);
  EXPECT_EQ(err, nullptr) << Take(err);
  kiln_emitter_options_set_threads(o, threads);
  kiln_emitter_options_set_shard_count(o, shards);
  kiln_emitter_options_set_env(o, NoEnv, nullptr);
  return Options(o);
}

std::string BuildArchive(const kiln_emitter_options_t *o, Result *keep = nullptr) {
  const char *inputs[] = {ProgBitcode().c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o, inputs, 1, &r);
  EXPECT_EQ(err, nullptr) << Take(err);
  if (r == nullptr) return "";
  size_t size = 0;
  const void *data = kiln_emitter_result_archive(r, &size);
  std::string bytes(static_cast<const char *>(data), size);
  if (keep != nullptr) {
    keep->reset(r);
  } else {
    kiln_emitter_result_free(r);
  }
  return bytes;
}

LLVMModuleRef ParseProg(LLVMContextRef ctx) {
  const char *inputs[] = {ProgBitcode().c_str()};
  LLVMModuleRef m = nullptr;
  kiln_error_t *err = kiln_emitter_link_inputs(ctx, inputs, 1, &m);
  EXPECT_EQ(err, nullptr) << Take(err);
  return m;
}

// ---- Determinism ---------------------------------------------------------

TEST(EmitterDeterminismTest, ArchiveIdenticalAcrossThreadCountsAndRuns) {
  Result r1;
  std::string a1 = BuildArchive(MakeOptions(1).get(), &r1);
  ASSERT_FALSE(a1.empty());
  EXPECT_EQ(kiln_emitter_result_shard_count(r1.get()), 4u);
  EXPECT_EQ(kiln_emitter_result_threads_used(r1.get()), 1u);
  Result r4;
  std::string a2 = BuildArchive(MakeOptions(2).get());
  std::string a4 = BuildArchive(MakeOptions(4).get(), &r4);
  std::string a4b = BuildArchive(MakeOptions(4).get());
  EXPECT_EQ(kiln_emitter_result_threads_used(r4.get()), 4u);
  EXPECT_TRUE(a1 == a2) << "1 vs 2 threads differ";
  EXPECT_TRUE(a1 == a4) << "1 vs 4 threads differ";
  EXPECT_TRUE(a4 == a4b) << "two runs differ";
}

TEST(EmitterDeterminismTest, SameModuleTwiceInOneContext) {
  // kiln_emitter_build on modules parsed into one shared context.
  LLVMContextRef ctx = LLVMContextCreate();
  std::string out[2];
  for (int i = 0; i < 2; i++) {
    LLVMModuleRef m = ParseProg(ctx);
    ASSERT_NE(m, nullptr);
    Options o = MakeOptions(2);
    kiln_emitter_result_t *r = nullptr;
    ASSERT_OK(kiln_emitter_build(o.get(), m, &r));
    size_t size = 0;
    const void *d = kiln_emitter_result_archive(r, &size);
    out[i].assign(static_cast<const char *>(d), size);
    kiln_emitter_result_free(r);
    LLVMDisposeModule(m);
  }
  LLVMContextDispose(ctx);
  EXPECT_TRUE(out[0] == out[1]);
  EXPECT_TRUE(out[0] == BuildArchive(MakeOptions(3).get())) << "shared vs private context";
}

// ---- Archive contents and the blob ----------------------------------------

TEST(EmitterArchiveTest, MembersTablesAndBlobMatchThePlan) {
  std::string path = TmpDir() + "/contents.a";
  Options o = MakeOptions(2);
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), path.c_str()));
  Result r;
  std::string bytes = BuildArchive(o.get(), &r);
  ASSERT_EQ(ReadFile(path), bytes);
  EXPECT_STREQ(kiln_emitter_result_archive_path(r.get()), path.c_str());

  std::string members;
  ASSERT_EQ(Shell(std::string(kAr) + " t " + path, &members), 0) << members;
  EXPECT_EQ(members, "shard-0.o\nshard-1.o\nshard-2.o\nshard-3.o\nkiln-metadata.o\n");

  std::string nm;
  ASSERT_EQ(Shell(std::string(kNm) + " --defined-only " + path, &nm), 0) << nm;
  for (int s = 0; s < 4; s++) {
    std::string member = "shard-" + std::to_string(s) + ".o:";
    size_t at = nm.find(member);
    ASSERT_NE(at, std::string::npos) << nm;
    size_t end = nm.find(".o:", at + member.size());
    std::string part = nm.substr(at, end == std::string::npos ? std::string::npos : end - at);
    EXPECT_NE(part.find("__kiln_s" + std::to_string(s) + "_f0"), std::string::npos) << part;
  }
  size_t meta = nm.find("kiln-metadata.o:");
  ASSERT_NE(meta, std::string::npos);
  EXPECT_NE(nm.find("kiln_image_root", meta), std::string::npos);

  // The blob: it is inside the archive (the metadata object's root) and
  // opens and validates.
  size_t blob_size = 0;
  const void *blob = kiln_emitter_result_blob(r.get(), &blob_size);
  ASSERT_NE(blob, nullptr);
  EXPECT_NE(bytes.find(std::string(static_cast<const char *>(blob), blob_size)), std::string::npos);
  kiln_image_format_t *im = nullptr;
  ASSERT_OK(kiln_image_format_open(blob, blob_size, "blob", &im));
  size_t nf = kiln_image_format_function_count(im);
  EXPECT_EQ(nf, kiln_emitter_result_function_count(r.get()));
  EXPECT_EQ(kiln_image_format_target_count(im), 3u);
  EXPECT_STREQ(kiln_image_format_option_find(im, "opt_level"), "2");
  EXPECT_STREQ(kiln_image_format_option_find(im, "targets"), kTargets);
  // Format 5: numbered shard by shard, names ascending within a shard, the
  // name index sorting them, every function found at its own index.
  ExpectShardMajorTables(im);
  size_t overrides_v4 = 0, slots = 0;
  for (size_t s = 0; s < kiln_image_format_shard_count(im); s++) {
    size_t n = 0;
    (void)kiln_image_format_shard_first_function(im, s, &n);
    // Target 2's overrides: a mask over the shard's function positions,
    // whose set bits the positions accessor lists in ascending order.
    size_t nk = 0;
    const uint32_t *mask = kiln_image_format_shard_override_mask(im, s, 2, &nk);
    EXPECT_EQ(mask == nullptr, nk == 0);
    std::vector<uint32_t> positions(nk);
    EXPECT_EQ(kiln_image_format_shard_override_positions(im, s, 2, positions.data(), nk), nk);
    for (size_t j = 0; j < nk; j++) {
      EXPECT_LT(positions[j], n);
      if (j > 0) EXPECT_LT(positions[j - 1], positions[j]);
      EXPECT_NE(mask[positions[j] / 32] & (1u << (positions[j] % 32)), 0u);
    }
    overrides_v4 += nk;
    size_t ns = 0;
    const uint32_t *fids = kiln_image_format_shard_slots(im, s, &ns);
    for (size_t j = 0; j < ns; j++) EXPECT_LT(fids[j], nf);
    slots += ns;
  }
  EXPECT_GT(overrides_v4, 0u);
  EXPECT_GT(slots, 0u);
  EXPECT_GT(kiln_emitter_result_clone_count(r.get(), 1), 0u);
  // Methods: the exported functions, with calls.
  size_t m = 0;
  ASSERT_OK(kiln_image_format_method_find(im, "prog_run", &m));
  size_t ncalls = 0;
  kiln_image_format_method_calls(im, m, &ncalls);
  EXPECT_GE(ncalls, 5u);
  EXPECT_EQ(kiln_image_format_method_flags(im, m), KILN_IMAGE_FORMAT_METHOD_SPECSIG);
  EXPECT_EQ(Code(kiln_image_format_method_find(im, "insertion_sort", &m)), KILN_ERR_NOT_FOUND);
  // Methods are sorted by key, functions shard by shard: each method still
  // names its own function.
  for (size_t i = 0; i < kiln_image_format_method_count(im); i++) {
    EXPECT_STREQ(kiln_image_format_function_name(im, kiln_image_format_method_function(im, i)),
                 kiln_image_format_method_key(im, i));
  }
  kiln_image_format_close(im);
}

TEST(EmitterArchiveTest, BuildInfoMemberWhenAsked) {
  Options o = MakeOptions(2);
  kiln_emitter_options_set_record_build_info(o.get(), true);
  std::string bytes = BuildArchive(o.get());
  EXPECT_NE(bytes.find("kiln-build.txt"), std::string::npos);
  EXPECT_NE(bytes.find("threads=2\nshards=4\n"), std::string::npos);
}

// ---- Link, load, call ---------------------------------------------------------

// Calls prog_run of the image through the tables, after filling the slots
// for target 0 as the loader does.
TEST(EmitterImageTest, LinkedImageRunsLikeNativeBuild) {
  std::string dir = TmpDir();
  std::string archive = dir + "/image.a", so = dir + "/image.so";
  Options o = MakeOptions(2);
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), archive.c_str()));
  Result r;
  BuildArchive(o.get(), &r);
  std::string log;
  ASSERT_EQ(LinkArchive(archive, so, &log), 0) << log;
  std::string native = dir + "/native.so";
  ASSERT_EQ(Shell(std::string(kClang) + " -O2 -fPIC -shared components/emitter/testdata/prog.c -o " +
                    native, &log), 0) << log;

  void *h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  const char *root = static_cast<const char *>(dlsym(h, "kiln_image_root"));
  ASSERT_NE(root, nullptr);
  size_t blob_size = 0;
  const void *blob = kiln_emitter_result_blob(r.get(), &blob_size);
  ASSERT_EQ(memcmp(root, blob, blob_size), 0);
  kiln_image_format_t *im = nullptr;
  ASSERT_OK(kiln_image_format_open(root, blob_size, so.c_str(), &im));
  void *const *ptrs =
      reinterpret_cast<void *const *>(root + kiln_image_format_pointer_offset(im));
  for (size_t i = 0; i < kiln_image_format_pointer_count(im); i++) EXPECT_NE(ptrs[i], nullptr);

  // Target 0's address of every function: shard s's table maps onto its
  // range of the function table entry for entry.
  size_t nf = kiln_image_format_function_count(im);
  std::vector<void *> addr(nf, nullptr);
  for (size_t s = 0; s < kiln_image_format_shard_count(im); s++) {
    size_t n = 0;
    size_t first = kiln_image_format_shard_first_function(im, s, &n);
    if (n == 0) continue;
    ASSERT_LE(first + n, nf);
    size_t pi = kiln_image_format_shard_pointer(im, s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, 0);
    ASSERT_NE(pi, SIZE_MAX);
    void *const *table = static_cast<void *const *>(ptrs[pi]);
    for (size_t j = 0; j < n; j++) {
      EXPECT_NE(table[j], nullptr);
      addr[first + j] = table[j];
    }
  }
  // Every exported function's table entry is its symbol: the tables the
  // shards define follow the image's numbering.
  size_t exported = 0;
  for (size_t i = 0; i < nf; i++) {
    void *sym = dlsym(h, kiln_image_format_function_name(im, i));
    if (sym == nullptr) continue;
    exported++;
    EXPECT_EQ(sym, addr[i]) << kiln_image_format_function_name(im, i);
  }
  EXPECT_GT(exported, 1u);
  // Likewise the globals.
  size_t globals_checked = 0;
  for (size_t s = 0; s < kiln_image_format_shard_count(im); s++) {
    size_t n = 0;
    size_t first = kiln_image_format_shard_first_global(im, s, &n);
    if (n == 0) continue;
    size_t pi = kiln_image_format_shard_pointer(im, s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0);
    ASSERT_NE(pi, SIZE_MAX);
    void *const *table = static_cast<void *const *>(ptrs[pi]);
    for (size_t j = 0; j < n; j++) {
      void *sym = dlsym(h, kiln_image_format_global_name(im, first + j));
      if (sym == nullptr) continue;
      globals_checked++;
      EXPECT_EQ(sym, table[j]) << kiln_image_format_global_name(im, first + j);
    }
  }
  EXPECT_GT(globals_checked, 0u);
  // Fill slots with target 0's versions.
  for (size_t s = 0; s < kiln_image_format_shard_count(im); s++) {
    size_t n = 0;
    const uint32_t *fids = kiln_image_format_shard_slots(im, s, &n);
    if (n == 0) continue;
    size_t pi = kiln_image_format_shard_pointer(im, s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0);
    ASSERT_NE(pi, SIZE_MAX);
    void *const *words = static_cast<void *const *>(ptrs[pi]);
    for (size_t j = 0; j < n; j++) *static_cast<void **>(words[j]) = addr[fids[j]];
  }
  size_t fi = 0;
  ASSERT_OK(kiln_image_format_function_find(im, "prog_run", &fi));
  auto run = reinterpret_cast<long (*)(void)>(addr[fi]);
  void *nh = dlopen(native.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(nh, nullptr) << dlerror();
  auto native_run = reinterpret_cast<long (*)(void)>(dlsym(nh, "prog_run"));
  ASSERT_NE(native_run, nullptr);
  EXPECT_EQ(run(), native_run());
  size_t si = 0;
  ASSERT_OK(kiln_image_format_function_find(im, "prog_slots", &si));
  auto native_slots = reinterpret_cast<long (*)(void)>(dlsym(nh, "prog_slots"));
  ASSERT_NE(native_slots, nullptr);
  EXPECT_EQ(reinterpret_cast<long (*)(void)>(addr[si])(), native_slots());
  // The exported symbol and the table agree.
  EXPECT_EQ(dlsym(h, "prog_run"), addr[fi]);
  kiln_image_format_close(im);
  dlclose(nh);
  dlclose(h);
}

// ---- Separate steps ---------------------------------------------------------------

TEST(EmitterStepsTest, PlanFilesShardsInAnyOrderAndFinishEqualBuild) {
  std::string expected = BuildArchive(MakeOptions(2).get());
  std::string dir = TmpDir() + "/plan";
  ASSERT_EQ(Shell("mkdir -p " + dir), 0);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = ParseProg(ctx);
  Options o = MakeOptions(0);
  kiln_emitter_plan_t *plan = nullptr;
  ASSERT_OK(kiln_emitter_plan(o.get(), m, &plan));
  ASSERT_OK(kiln_emitter_plan_write(plan, dir.c_str()));
  size_t n = kiln_emitter_plan_shard_count(plan);
  ASSERT_EQ(n, 4u);
  EXPECT_STREQ(kiln_emitter_plan_shard_file(plan, 3), "shard-3.bc");
  EXPECT_GT(kiln_emitter_plan_clone_count(plan, 1), 0u);
  EXPECT_EQ(kiln_emitter_plan_clone_count(plan, 0), 0u);
  size_t total = 0;
  for (size_t s = 0; s < n; s++) {
    total += kiln_emitter_plan_shard_function_count(plan, s);
    EXPECT_GT(kiln_emitter_plan_shard_memory_estimate(plan, s), 0u);
  }
  EXPECT_EQ(total, kiln_emitter_plan_function_count(plan));
  kiln_emitter_plan_free(plan);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);

  // Another "process": read the plan back, emit shards in reverse order,
  // through files.
  kiln_emitter_plan_t *read = nullptr;
  ASSERT_OK(kiln_emitter_plan_read((dir + "/" KILN_EMITTER_PLAN_FILE).c_str(), &read));
  ASSERT_EQ(kiln_emitter_plan_shard_count(read), n);
  for (size_t s = n; s-- > 0;) {
    kiln_emitter_shard_t *sh = nullptr;
    ASSERT_OK(kiln_emitter_emit_shard(nullptr, read, s, &sh));
    ASSERT_OK(kiln_emitter_shard_write(sh, (dir + "/shard-" + std::to_string(s)).c_str()));
    kiln_emitter_shard_free(sh);
  }
  kiln_emitter_plan_free(read);
  ASSERT_OK(kiln_emitter_plan_read(dir.c_str(), &read));
  std::vector<kiln_emitter_shard_t *> shards;
  for (size_t s = n; s-- > 0;) {
    kiln_emitter_shard_t *sh = nullptr;
    ASSERT_OK(kiln_emitter_shard_read((dir + "/shard-" + std::to_string(s)).c_str(), &sh));
    shards.push_back(sh);
  }
  kiln_emitter_result_t *r = nullptr;
  ASSERT_OK(kiln_emitter_finish(o.get(), read, shards.data(), shards.size(), &r));
  size_t size = 0;
  const void *d = kiln_emitter_result_archive(r, &size);
  EXPECT_TRUE(std::string(static_cast<const char *>(d), size) == expected);
  EXPECT_EQ(kiln_emitter_result_threads_used(r), 0u);

  // A repeated shard is refused.
  kiln_emitter_shard_t *saved = shards[1];
  shards[1] = shards[0];
  kiln_emitter_result_t *bad = nullptr;
  kiln_error_t *err = kiln_emitter_finish(o.get(), read, shards.data(), shards.size(), &bad);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(Take(err).find("repeated"), std::string::npos);
  EXPECT_EQ(bad, nullptr);
  shards[1] = saved;
  for (auto *sh : shards) kiln_emitter_shard_free(sh);
  kiln_emitter_result_free(r);
  kiln_emitter_plan_free(read);
}

TEST(EmitterStepsTest, ReadErrorsNameTheFile) {
  kiln_emitter_plan_t *plan = nullptr;
  std::string missing = TmpDir() + "/no-such-plan";
  kiln_error_t *err = kiln_emitter_plan_read(missing.c_str(), &plan);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(Take(err).find("no-such-plan"), std::string::npos);
  std::string damaged = TmpDir() + "/damaged-plan.bin";
  WriteFile(damaged, "kiln-plan 1\ndata_layout 9999\nxx");
  err = kiln_emitter_plan_read(damaged.c_str(), &plan);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  EXPECT_NE(Take(err).find("damaged-plan.bin"), std::string::npos);
  EXPECT_EQ(plan, nullptr);

  kiln_emitter_shard_t *sh = nullptr;
  err = kiln_emitter_shard_read((TmpDir() + "/no-shard").c_str(), &sh);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(Take(err).find("no-shard.slots"), std::string::npos);
  WriteFile(TmpDir() + "/bad-shard.slots", "kiln-slots 2\nshard 0\ntime 1 1\nslots 2\n1\nx\n");
  WriteFile(TmpDir() + "/bad-shard.o", "obj");
  err = kiln_emitter_shard_read((TmpDir() + "/bad-shard").c_str(), &sh);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  Take(err);
  EXPECT_EQ(sh, nullptr);
  // A sidecar of the old numbering (version 1) is refused by version.
  WriteFile(TmpDir() + "/old-shard.slots", "kiln-slots 1\nshard 0\ntime 1 1\nslots 1\n1\n");
  WriteFile(TmpDir() + "/old-shard.o", "obj");
  err = kiln_emitter_shard_read((TmpDir() + "/old-shard").c_str(), &sh);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_VERSION_MISMATCH);
  std::string msg = Take(err);
  EXPECT_NE(msg.find("old-shard.slots: slot file version 1, this kiln reads version 2"),
            std::string::npos)
      << msg;
  EXPECT_EQ(sh, nullptr);
}

TEST(EmitterStepsTest, EmitShardOutOfRange) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = ParseProg(ctx);
  Options o = MakeOptions(1, 2);
  kiln_emitter_plan_t *plan = nullptr;
  ASSERT_OK(kiln_emitter_plan(o.get(), m, &plan));
  kiln_emitter_shard_t *sh = nullptr;
  kiln_error_t *err = kiln_emitter_emit_shard(o.get(), plan, 2, &sh);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(Take(err).find("shard 2 out of range"), std::string::npos);
  EXPECT_EQ(sh, nullptr);
  kiln_emitter_plan_free(plan);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
}

// ---- Outputs, trace, progress --------------------------------------------------------

void Progress(void *user, size_t shard, size_t done, size_t total) {
  auto *seen = static_cast<std::vector<size_t> *>(user);
  seen->push_back(done * 100 + total);
  (void)shard;
}

TEST(EmitterOutputsTest, FilesTraceAndProgress) {
  std::string prefix = TmpDir() + "/out/";
  ASSERT_EQ(Shell("mkdir -p " + prefix), 0);
  std::string trace = TmpDir() + "/trace.json";
  Options o = MakeOptions(2);
  ASSERT_OK(kiln_emitter_options_set_outputs(o.get(), KILN_EMITTER_OUTPUT_ALL));
  ASSERT_OK(kiln_emitter_options_set_output_prefix(o.get(), prefix.c_str()));
  ASSERT_OK(kiln_emitter_options_set_time_trace_path(o.get(), trace.c_str()));
  std::vector<size_t> seen;
  kiln_emitter_options_set_progress(o.get(), Progress, &seen);
  Result r;
  std::string bytes = BuildArchive(o.get(), &r);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(seen, (std::vector<size_t>{104, 204, 304, 404}));
  for (int s = 0; s < 4; s++) {
    std::string base = prefix + "shard-" + std::to_string(s);
    EXPECT_EQ(ReadFile(base + ".o").substr(0, 4), "\x7f" "ELF");
    EXPECT_NE(ReadFile(base + ".s").find(".text"), std::string::npos);
    EXPECT_EQ(ReadFile(base + ".bc").substr(0, 2), "BC");
    EXPECT_EQ(ReadFile(base + ".unopt.bc").substr(0, 2), "BC");
  }
  std::string json = ReadFile(trace);
  ASSERT_EQ(json.rfind("{\"traceEvents\":[", 0), 0u) << json;
  size_t shards = 0, complete = 0;
  for (size_t at = 0; (at = json.find("\"cat\":\"shard\"", at)) != std::string::npos; at++) shards++;
  for (size_t at = 0; (at = json.find("\"ph\":\"X\"", at)) != std::string::npos; at++) complete++;
  EXPECT_EQ(shards, 4u);
  EXPECT_EQ(complete, 4u + kiln_emitter_result_phase_count(r.get()));
  // Phases and per-shard timings are reported; peak RSS is positive.
  std::vector<std::string> names;
  for (size_t i = 0; i < kiln_emitter_result_phase_count(r.get()); i++) {
    names.push_back(kiln_emitter_result_phase_name(r.get(), i));
    EXPECT_GT(kiln_emitter_result_phase_peak_rss(r.get(), i), 0u);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"link", "methods", "annotate", "split", "tables",
                                             "emit", "metadata", "archive"}));
  for (size_t s = 0; s < 4; s++) {
    EXPECT_GT(kiln_emitter_result_shard_wall_ns(r.get(), s), 0);
    EXPECT_GT(kiln_emitter_result_shard_cpu_ns(r.get(), s), 0);
    unsigned w = kiln_emitter_result_shard_worker(r.get(), s);
    EXPECT_TRUE(w == 1 || w == 2) << w;
  }
  // Timing never enters the archive: outputs on or off, the same bytes.
  EXPECT_TRUE(bytes == BuildArchive(MakeOptions(1).get()));
}

// ---- Roots, methods, deps -------------------------------------------------------------

TEST(EmitterPlanTest, RootsKeepWhatTheyReach) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = ParseProg(ctx);
  Options o = MakeOptions(1, 0);
  ASSERT_OK(kiln_emitter_options_add_root(o.get(), "prog_fold_ops"));
  kiln_emitter_plan_t *plan = nullptr;
  ASSERT_OK(kiln_emitter_plan(o.get(), m, &plan));
  std::vector<std::string> fns;
  for (size_t i = 0; i < kiln_emitter_plan_function_count(plan); i++)
    fns.push_back(kiln_emitter_plan_function_name(plan, i));
  // prog_op_xor is reached through the ops table; prog_run is not reached.
  EXPECT_EQ(LLVMGetNamedFunction(m, "prog_run"), nullptr);
  EXPECT_NE(std::find(fns.begin(), fns.end(), "prog_fold_ops"), fns.end());
  EXPECT_NE(std::find(fns.begin(), fns.end(), "prog_op_xor"), fns.end());
  EXPECT_EQ(kiln_emitter_plan_method_count(plan), 3u);  // fold_ops, apply, op_xor
  kiln_emitter_plan_free(plan);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
}

// The table functions a shard's bitcode defines.
std::vector<std::string> DefinedIn(const std::string &bc, const std::vector<std::string> &names) {
  std::vector<std::string> out;
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef mb = nullptr;
  char *msg = nullptr;
  LLVMModuleRef m = nullptr;
  if (LLVMCreateMemoryBufferWithContentsOfFile(bc.c_str(), &mb, &msg) != 0 ||
      LLVMParseBitcodeInContext2(ctx, mb, &m) != 0) {
    ADD_FAILURE() << bc << ": " << (msg != nullptr ? msg : "not bitcode");
  }
  for (size_t i = 0; m != nullptr && i < names.size(); i++) {
    LLVMValueRef f = LLVMGetNamedFunction(m, names[i].c_str());
    if (f != nullptr && !LLVMIsDeclaration(f)) out.push_back(names[i]);
  }
  LLVMDisposeMessage(msg);
  if (m != nullptr) LLVMDisposeModule(m);
  if (mb != nullptr) LLVMDisposeMemoryBuffer(mb);
  LLVMContextDispose(ctx);
  return out;
}

// Format 5 on a real 4-shard build: the function table is numbered shard
// by shard. Shard s's range (after the counts of shards 0..s-1) holds
// exactly the table functions its bitcode defines, in name order; the
// numbering is not the name order overall; a plan written and read back
// keeps it, and its lookups by name follow it.
TEST(EmitterPlanTest, FunctionsAreNumberedShardByShard) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = ParseProg(ctx);
  Options o = MakeOptions(1, 4);
  kiln_emitter_plan_t *plan = nullptr;
  ASSERT_OK(kiln_emitter_plan(o.get(), m, &plan));
  std::string dir = TmpDir() + "/numbering";
  ASSERT_EQ(Shell("mkdir -p " + dir), 0);
  ASSERT_OK(kiln_emitter_plan_write(plan, dir.c_str()));
  size_t ns = kiln_emitter_plan_shard_count(plan), nf = kiln_emitter_plan_function_count(plan);
  ASSERT_EQ(ns, 4u);
  std::vector<std::string> names;
  for (size_t i = 0; i < nf; i++) names.push_back(kiln_emitter_plan_function_name(plan, i));
  size_t first = 0, nonempty = 0;
  for (size_t s = 0; s < ns; s++) {
    size_t n = kiln_emitter_plan_shard_function_count(plan, s);
    ASSERT_LE(first + n, nf);
    nonempty += n > 0;
    std::vector<std::string> range(names.begin() + first, names.begin() + first + n);
    EXPECT_TRUE(std::is_sorted(range.begin(), range.end())) << "shard " << s;
    // DefinedIn lists in table order, so equality is the same set and order.
    EXPECT_EQ(DefinedIn(dir + "/shard-" + std::to_string(s) + ".bc", names), range)
        << "shard " << s;
    first += n;
  }
  EXPECT_EQ(first, nf);
  EXPECT_GE(nonempty, 2u);
  // With this input the shards interleave names: a name-ordered table would
  // fail here.
  EXPECT_FALSE(std::is_sorted(names.begin(), names.end()));

  kiln_emitter_plan_t *read = nullptr;
  ASSERT_OK(kiln_emitter_plan_read(dir.c_str(), &read));
  ASSERT_EQ(kiln_emitter_plan_function_count(read), nf);
  for (size_t i = 0; i < nf; i++)
    EXPECT_STREQ(kiln_emitter_plan_function_name(read, i), names[i].c_str());
  for (size_t s = 0; s < ns; s++) {
    EXPECT_EQ(kiln_emitter_plan_shard_function_count(read, s),
              kiln_emitter_plan_shard_function_count(plan, s));
  }
  // The read plan's lookups by name (the slot lists) follow the numbering:
  // the slots a shard reports name functions of the table, and building
  // from the read plan gives the same archive as from the original.
  std::vector<kiln_emitter_shard_t *> from_read, from_plan;
  for (size_t s = 0; s < ns; s++) {
    kiln_emitter_shard_t *a = nullptr, *b = nullptr;
    ASSERT_OK(kiln_emitter_emit_shard(nullptr, read, s, &a));
    from_read.push_back(a);
    ASSERT_OK(kiln_emitter_emit_shard(nullptr, plan, s, &b));
    from_plan.push_back(b);
    ASSERT_EQ(kiln_emitter_shard_slot_count(a), kiln_emitter_shard_slot_count(b));
    for (size_t j = 0; j < kiln_emitter_shard_slot_count(a); j++) {
      EXPECT_LT(kiln_emitter_shard_slot_function(a, j), nf);
      EXPECT_EQ(kiln_emitter_shard_slot_function(a, j), kiln_emitter_shard_slot_function(b, j));
    }
  }
  kiln_emitter_result_t *ra = nullptr, *rb = nullptr;
  ASSERT_OK(kiln_emitter_finish(o.get(), read, from_read.data(), ns, &ra));
  ASSERT_OK(kiln_emitter_finish(o.get(), plan, from_plan.data(), ns, &rb));
  size_t sa = 0, sb = 0;
  const void *da = kiln_emitter_result_archive(ra, &sa);
  const void *db = kiln_emitter_result_archive(rb, &sb);
  EXPECT_TRUE(sa == sb && memcmp(da, db, sa) == 0);
  // The blob numbers the functions as the plan does.
  size_t blob_size = 0;
  const void *blob = kiln_emitter_result_blob(rb, &blob_size);
  kiln_image_format_t *im = nullptr;
  ASSERT_OK(kiln_image_format_open(blob, blob_size, "numbering", &im));
  ASSERT_EQ(kiln_image_format_function_count(im), nf);
  for (size_t i = 0; i < nf; i++)
    EXPECT_STREQ(kiln_image_format_function_name(im, i), names[i].c_str());
  ExpectShardMajorTables(im);
  kiln_image_format_close(im);
  kiln_emitter_result_free(ra);
  kiln_emitter_result_free(rb);
  for (auto *sh : from_read) kiln_emitter_shard_free(sh);
  for (auto *sh : from_plan) kiln_emitter_shard_free(sh);
  kiln_emitter_plan_free(read);
  kiln_emitter_plan_free(plan);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
}

TEST(EmitterPlanTest, RootNamingAMissingFunctionFails) {
  Options o = MakeOptions(1);
  ASSERT_OK(kiln_emitter_options_add_root(o.get(), "no_such_function"));
  std::string path = TmpDir() + "/kept.a";
  WriteFile(path, "previous");
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), path.c_str()));
  const char *inputs[] = {ProgBitcode().c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(Take(err).find("no_such_function"), std::string::npos);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(ReadFile(path), "previous");
}

// A fingerprint depends on the function, not on unrelated code around it.
TEST(EmitterPlanTest, FingerprintsIgnoreUnrelatedFunctionsAndDepsUseTheResolver) {
  const char *base =
      "extern long ext_dep(long);\n"
      "static long helper(long x) { return ext_dep(x) + 1; }\n"
      "long f(long x) { const char *s = \"abc\"; return helper(x) + s[x & 1]; }\n";
  const char *extra =
      "long unrelated(long x) { const char *s = \"zzz\"; return s[x] * 3; }\n";
  std::string dir = TmpDir();
  WriteFile(dir + "/fp_a.c", base);
  WriteFile(dir + "/fp_b.c", std::string(extra) + base);
  std::map<std::string, uint64_t> fp;
  for (const char *name : {"fp_a", "fp_b"}) {
    std::string bc = dir + "/" + name + ".bc", log;
    ASSERT_EQ(Shell(std::string(kClang) + " -O1 -Xclang -disable-llvm-optzns -emit-llvm -c " + dir +
                      "/" + name + ".c -o " + bc, &log), 0) << log;
    Options o = MakeOptions(1, 1);
    ASSERT_OK(kiln_emitter_options_set_image_kind(o.get(), KILN_EMITTER_IMAGE_PACKAGE));
    kiln_emitter_options_set_dep_resolver(
        o.get(),
        [](const char *key, uint64_t *fp_out, void *) {
          if (strcmp(key, "ext_dep") != 0) return false;
          *fp_out = 0x1234;
          return true;
        },
        nullptr);
    const char *inputs[] = {bc.c_str()};
    kiln_emitter_result_t *r = nullptr;
    ASSERT_OK(kiln_emitter_build_files(o.get(), inputs, 1, &r));
    size_t size = 0;
    const void *blob = kiln_emitter_result_blob(r, &size);
    kiln_image_format_t *im = nullptr;
    ASSERT_OK(kiln_image_format_open(blob, size, name, &im));
    EXPECT_EQ(kiln_image_format_kind(im), KILN_IMAGE_FORMAT_KIND_PACKAGE);
    size_t mi = 0;
    ASSERT_OK(kiln_image_format_method_find(im, "f", &mi));
    fp[name] = kiln_image_format_method_fingerprint(im, mi);
    ASSERT_EQ(kiln_image_format_method_dep_count(im, mi), 1u);
    EXPECT_STREQ(kiln_image_format_method_dep_key(im, mi, 0), "ext_dep");
    EXPECT_EQ(kiln_image_format_method_dep_fingerprint(im, mi, 0), 0x1234u);
    kiln_image_format_close(im);
    kiln_emitter_result_free(r);
  }
  EXPECT_EQ(fp["fp_a"], fp["fp_b"]);
}

// ---- Errors ------------------------------------------------------------------------

TEST(EmitterErrorTest, MalformedIrNamesFileAndLine) {
  std::string path = TmpDir() + "/broken.ll";
  WriteFile(path, "define i32 @f() {\n  ret i32 %nope\n}\n");
  Options o = MakeOptions(1);
  const char *inputs[] = {path.c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_PARSE);
  std::string msg = Take(err);
  EXPECT_NE(msg.find("broken.ll:2"), std::string::npos) << msg;
  EXPECT_EQ(r, nullptr);
}

TEST(EmitterErrorTest, MissingInputFile) {
  std::string path = TmpDir() + "/missing.bc";
  Options o = MakeOptions(1);
  const char *inputs[] = {path.c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_NOT_FOUND);
  EXPECT_NE(Take(err).find("missing.bc"), std::string::npos);
}

TEST(EmitterErrorTest, UnknownCpuNamesTheString) {
  Options o = MakeOptions(1);
  ASSERT_OK(kiln_emitter_options_set_target(o.get(), "generic;haswel"));
  const char *inputs[] = {ProgBitcode().c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_NE(err, nullptr);
  std::string msg = Take(err);
  EXPECT_NE(msg.find("generic;haswel"), std::string::npos) << msg;
  EXPECT_NE(msg.find("haswel'"), std::string::npos) << msg;
}

TEST(EmitterErrorTest, UnwritableArchivePathLeavesPreviousFile) {
  std::string good = TmpDir() + "/prev.a";
  Options o = MakeOptions(1);
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), good.c_str()));
  std::string first = BuildArchive(o.get());
  ASSERT_EQ(ReadFile(good), first);
  // A directory in the way of the rename: the write fails, nothing changes.
  std::string blocked = TmpDir() + "/blocked.a";
  ASSERT_EQ(Shell("mkdir -p " + blocked + "/inside"), 0);
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), blocked.c_str()));
  const char *inputs[] = {ProgBitcode().c_str()};
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_IO);
  EXPECT_NE(Take(err).find("blocked.a"), std::string::npos);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(ReadFile(good), first);
  std::string ls;
  Shell("ls " + TmpDir(), &ls);
  EXPECT_EQ(ls.find(".tmp."), std::string::npos) << ls;
  // A missing directory.
  ASSERT_OK(kiln_emitter_options_set_archive_path(o.get(), "/nonexistent-dir/x.a"));
  err = kiln_emitter_build_files(o.get(), inputs, 1, &r);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_IO);
  EXPECT_NE(Take(err).find("/nonexistent-dir/x.a"), std::string::npos);
}

TEST(EmitterErrorTest, OptionSetters) {
  Options o = MakeOptions(1);
  EXPECT_EQ(Code(kiln_emitter_options_set_opt_level(o.get(), 4)),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_options_set_outputs(o.get(), 0x100)),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_options_set_target(o.get(), "")),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_options_set_image_kind(o.get(), 7)),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_options_add_root(o.get(), "")),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_options_new(nullptr)), KILN_ERR_INVALID_ARGUMENT);
  kiln_emitter_plan_t *plan = nullptr;
  EXPECT_EQ(Code(kiln_emitter_plan(o.get(), nullptr, &plan)),
            KILN_ERR_INVALID_ARGUMENT);
  kiln_emitter_result_t *r = nullptr;
  EXPECT_EQ(Code(kiln_emitter_build(nullptr, nullptr, &r)), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_finish(o.get(), nullptr, nullptr, 0, &r)),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_result_write_time_trace(nullptr, "x")),
            KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_shard_write(nullptr, "x")), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Code(kiln_emitter_plan_write(nullptr, "x")), KILN_ERR_INVALID_ARGUMENT);
}

// ---- Threads ---------------------------------------------------------------------------

const char *EnvThree(void *, const char *name) {
  return strcmp(name, KILN_EMITTER_ENV_THREADS) == 0 ? "3" : nullptr;
}
const char *EnvBad(void *, const char *name) {
  return strcmp(name, KILN_EMITTER_ENV_THREADS) == 0 ? "many" : nullptr;
}

TEST(EmitterThreadsTest, EnvOverridesAndBudgetLowers) {
  Options o = MakeOptions(1);
  kiln_emitter_options_set_env(o.get(), EnvThree, nullptr);
  Result r;
  BuildArchive(o.get(), &r);
  EXPECT_EQ(kiln_emitter_result_threads_used(r.get()), 3u);

  Options b = MakeOptions(4);
  kiln_emitter_options_set_memory_budget(b.get(), 1);  // fits nothing: one worker
  Result rb;
  BuildArchive(b.get(), &rb);
  EXPECT_EQ(kiln_emitter_result_threads_used(rb.get()), 1u);

  Options auto_threads = MakeOptions(0);
  Result ra;
  BuildArchive(auto_threads.get(), &ra);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned want = cores >= 2 ? static_cast<unsigned>(cores / 2) : 1;
  if (want > 4) want = 4;
  EXPECT_EQ(kiln_emitter_result_threads_used(ra.get()), want);

  Options bad = MakeOptions(1);
  kiln_emitter_options_set_env(bad.get(), EnvBad, nullptr);
  const char *inputs[] = {ProgBitcode().c_str()};
  kiln_emitter_result_t *r2 = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(bad.get(), inputs, 1, &r2);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(Take(err).find("KILN_IMAGE_THREADS='many'"), std::string::npos);
}

}  // namespace
