// integration/package_image_test.cc — package images end to end, through
// the components' C APIs (no CLI): C sources (testdata/package) compiled by
// clang-22 at test time -> kiln_emitter_build_files -> kiln_linker_link ->
// kiln_loader_open -> kiln_loader_image_verify (the directory: names and
// methods) -> kiln_runtime install (system base, package pkg), with compile
// on first use wired to kiln_jit.
//
//   (a) base + a package built against it: both load, every package method
//       is installed, import slots are filled, results equal a native build;
//   (b) base_v2 (base_add changed) + the package built against v1: pkg_sum
//       is DEP_CHANGED (base_add, v1 vs v2 fingerprints), pkg_top
//       CALLS_INVALID via pkg_sum, pkg_other and pkg_leaf installed; calling
//       pkg_top compiles on first use and gives v2's behaviour;
//   (c) the trace of (b) lists exactly the compiled keys; a package built
//       with those keys as roots against base_v2 holds exactly them and what
//       they reach, and installing it compiles and traces nothing;
//   (d) a package whose CPU targets do not fit the base's is reported.
// Every image loaded is also checked for format 5's numbering: functions and
// globals numbered shard by shard, with a name index for the finds.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "components/base/base.h"
#include "components/emitter/emitter.h"
#include "components/emitter/testing/emitter_testing.h"
#include "components/image_format/image_format.h"
#include "components/jit/jit.h"
#include "components/linker/linker.h"
#include "components/loader/loader.h"
#include "components/runtime/runtime.h"
#include "gtest/gtest.h"

namespace {

using kiln_emitter_test::CompileToBitcode;
using kiln_emitter_test::kClang;
using kiln_emitter_test::kReadelf;
using kiln_emitter_test::NoEnv;
using kiln_emitter_test::ReadFile;
using kiln_emitter_test::Shell;
using kiln_emitter_test::Take;
using kiln_emitter_test::TmpDir;

const char *kData = "integration/testdata/package/";

// testdata/package/<name>.c -> $TEST_TMPDIR/<name>.bc (unoptimized but
// optimizable, as the emitter expects), once per process.
std::string Bitcode(const std::string &name) {
  std::string bc = TmpDir() + "/" + name + ".bc";
  if (access(bc.c_str(), R_OK) == 0) return bc;
  return CompileToBitcode(kData + name + ".c", bc);
}

// A native shared object of the given sources (for expected results).
void *Native(const std::string &name, const std::vector<std::string> &sources) {
  std::string so = TmpDir() + "/native_" + name + ".so", cmd = std::string(kClang) + " -O2 -fPIC -shared";
  for (const auto &s : sources) cmd += " " + std::string(kData) + s + ".c";
  std::string log;
  EXPECT_EQ(Shell(cmd + " -o " + so, &log), 0) << log;
  void *h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(h, nullptr) << dlerror();
  return h;
}

typedef int (*fn1_t)(int);
typedef int (*fn2_t)(int, int);

// The emitter's dependency resolver over a base image's methods.
bool BaseResolver(const char *key, uint64_t *fp_out, void *user) {
  const auto *base = static_cast<const kiln_image_format_t *>(user);
  size_t m = SIZE_MAX;
  kiln_error_t *err = kiln_image_format_method_find(base, key, &m);
  if (err != nullptr) {
    kiln_error_free(err);
    return false;
  }
  *fp_out = kiln_image_format_method_fingerprint(base, m);
  return true;
}

struct ImageSpec {
  std::string name;
  std::vector<std::string> sources;
  unsigned kind = KILN_EMITTER_IMAGE_SYSTEM;
  const kiln_image_format_t *base = nullptr;  // package: built against it
  std::string targets = "generic";
  std::vector<std::string> roots;
};

// Builds the archive, then the image .so; returns the .so path (or "" after
// a failed assertion). With blob_out, also a copy of the metadata blob.
std::string BuildImage(const ImageSpec &spec, std::string *blob_out = nullptr) {
  kiln_emitter_options_t *o = nullptr;
  std::string archive = TmpDir() + "/" + spec.name + ".a", so = TmpDir() + "/" + spec.name + ".so";
  EXPECT_OK(kiln_emitter_options_new(&o));
  if (o == nullptr) return "";
  EXPECT_OK(kiln_emitter_options_set_target(o, spec.targets.c_str()));
  EXPECT_OK(kiln_emitter_options_set_image_kind(o, spec.kind));
  EXPECT_OK(kiln_emitter_options_set_image_name(o, spec.name.c_str()));
  EXPECT_OK(kiln_emitter_options_set_archive_path(o, archive.c_str()));
  kiln_emitter_options_set_env(o, NoEnv, nullptr);
  kiln_emitter_options_set_threads(o, 2);
  if (spec.base != nullptr) {
    kiln_emitter_options_set_dep_resolver(o, BaseResolver, const_cast<kiln_image_format_t *>(spec.base));
    kiln_emitter_options_set_base_checksum(o, kiln_image_format_checksum(spec.base));
  }
  for (const auto &r : spec.roots) EXPECT_OK(kiln_emitter_options_add_root(o, r.c_str()));
  std::vector<std::string> bcs;
  for (const auto &s : spec.sources) bcs.push_back(Bitcode(s));
  std::vector<const char *> inputs;
  for (const auto &b : bcs) inputs.push_back(b.c_str());
  kiln_emitter_result_t *r = nullptr;
  kiln_error_t *err = kiln_emitter_build_files(o, inputs.data(), inputs.size(), &r);
  kiln_emitter_options_free(o);
  EXPECT_EQ(err, nullptr) << spec.name << ": " << Take(err);
  if (r == nullptr) return "";
  if (blob_out != nullptr) {
    size_t size = 0;
    const void *blob = kiln_emitter_result_blob(r, &size);
    blob_out->assign(static_cast<const char *>(blob), size);
  }
  kiln_emitter_result_free(r);

  kiln_linker_options_t *lo = nullptr;
  EXPECT_OK(kiln_linker_options_new(&lo));
  EXPECT_OK(kiln_linker_options_set_output(lo, so.c_str()));
  EXPECT_OK(kiln_linker_options_add_archive(lo, archive.c_str(), true));
  EXPECT_OK(kiln_linker_options_add_export(lo, KILN_IMAGE_FORMAT_ROOT_SYMBOL));
  err = kiln_linker_link(lo, nullptr);
  kiln_linker_options_free(lo);
  EXPECT_EQ(err, nullptr) << spec.name << ": " << Take(err);
  return err == nullptr ? so : "";
}

// A loaded image plus the global table the runtime wants.
struct Loaded {
  kiln_loader_image_t *image = nullptr;
  std::vector<void *> globals;
  ~Loaded() { kiln_loader_close(image); }
  const kiln_image_format_t *view() const { return kiln_loader_image_format(image); }
};

// Format 5's numbering, on a real image: the shards number the functions
// and globals in order (each shard's are the range after the previous
// shard's), index order need not be name order, and the name index lists
// every index once in strictly ascending name order, which the finds use.
void ExpectShardByShardNumbering(const kiln_image_format_t *v) {
  size_t next_function = 0, next_global = 0;
  for (size_t s = 0; s < kiln_image_format_shard_count(v); s++) {
    size_t nf = 0, ng = 0;
    EXPECT_EQ(kiln_image_format_shard_first_function(v, s, &nf), next_function) << "shard " << s;
    EXPECT_EQ(kiln_image_format_shard_first_global(v, s, &ng), next_global) << "shard " << s;
    next_function += nf;
    next_global += ng;
  }
  EXPECT_EQ(next_function, kiln_image_format_function_count(v));
  EXPECT_EQ(next_global, kiln_image_format_global_count(v));
  struct Table {
    size_t count;
    const char *(*name)(const kiln_image_format_t *, size_t);
    size_t (*by_name)(const kiln_image_format_t *, size_t);
    kiln_error_t *(*find)(const kiln_image_format_t *, const char *, size_t *);
  };
  for (const Table &t :
       {Table{kiln_image_format_function_count(v), kiln_image_format_function_name,
              kiln_image_format_function_by_name, kiln_image_format_function_find},
        Table{kiln_image_format_global_count(v), kiln_image_format_global_name,
              kiln_image_format_global_by_name, kiln_image_format_global_find}}) {
    std::set<size_t> listed;
    std::string prev;
    for (size_t j = 0; j < t.count; j++) {
      size_t i = t.by_name(v, j);
      ASSERT_LT(i, t.count);
      EXPECT_TRUE(listed.insert(i).second) << "index " << i << " listed twice";
      std::string name = t.name(v, i);
      if (j > 0) EXPECT_LT(prev, name);
      prev = name;
      size_t found = SIZE_MAX;
      ASSERT_OK(t.find(v, name.c_str(), &found));
      EXPECT_EQ(found, i) << name;
    }
  }
}

void Load(const std::string &so, Loaded *out) {
  kiln_loader_options_t *lo = nullptr;
  ASSERT_OK(kiln_loader_options_new(&lo));
  kiln_loader_options_set_env(lo, nullptr, nullptr);
  kiln_error_t *err = kiln_loader_open(so.c_str(), lo, &out->image);
  kiln_loader_options_free(lo);
  ASSERT_EQ(err, nullptr) << Take(err);
  // The directory (names, methods: what the runtime installs) is validated
  // on first use; verify it here so that view() is never NULL below.
  err = kiln_loader_image_verify(out->image);
  ASSERT_EQ(err, nullptr) << Take(err);
  ASSERT_NE(out->view(), nullptr);
  ASSERT_TRUE(kiln_image_format_has_directory(out->view()));
  ExpectShardByShardNumbering(out->view());
  for (size_t i = 0; i < kiln_loader_global_count(out->image); i++)
    out->globals.push_back(kiln_loader_global_address(out->image, i));
}

// A runtime with compile on first use through a jit, and optionally a trace.
struct Runtime {
  kiln_jit_t *jit = nullptr;
  kiln_runtime_t *rt = nullptr;
  void Init(const std::string &trace) {
    ASSERT_OK(kiln_jit_new(&jit));
    kiln_runtime_options_t *ro = nullptr;
    ASSERT_OK(kiln_runtime_options_new(&ro));
    kiln_runtime_options_set_compile(ro, kiln_jit_compile_hook, jit);
    if (!trace.empty()) ASSERT_OK(kiln_runtime_options_set_trace_file(ro, trace.c_str()));
    kiln_error_t *err = kiln_runtime_new(ro, &rt);
    kiln_runtime_options_free(ro);
    ASSERT_EQ(err, nullptr) << Take(err);
    kiln_jit_set_resolver(jit, kiln_runtime_resolve, rt);
  }
  ~Runtime() {
    kiln_runtime_free(rt);
    kiln_jit_free(jit);
  }
  void InstallSystem(const Loaded &img, const char *name) {
    kiln_runtime_report_t *rep = nullptr;
    ASSERT_NE(img.view(), nullptr);
    ASSERT_OK(kiln_runtime_install_system(rt, img.view(), kiln_loader_function_table(img.image),
                                          img.globals.empty() ? nullptr : img.globals.data(), name,
                                          &rep));
    kiln_runtime_report_free(rep);
  }
  // Installs a package; the caller frees *rep.
  void InstallPackage(const Loaded &img, const char *name, kiln_runtime_report_t **rep) {
    ASSERT_NE(img.view(), nullptr);
    ASSERT_OK(kiln_runtime_install_package(rt, img.view(), kiln_loader_function_table(img.image),
                                           img.globals.empty() ? nullptr : img.globals.data(),
                                           name, rep));
  }
  void *Lookup(const char *key) {
    void *code = nullptr;
    kiln_error_t *err = kiln_runtime_lookup(rt, key, &code);
    EXPECT_EQ(err, nullptr) << key << ": " << Take(err);
    return code;
  }
  size_t CompiledCount() {
    kiln_runtime_report_t *rep = nullptr;
    EXPECT_OK(kiln_runtime_report(rt, &rep));
    size_t n = kiln_runtime_report_compiled_count(rep);
    kiln_runtime_report_free(rep);
    return n;
  }
};

std::set<std::string> Keys(const kiln_image_format_t *im) {
  std::set<std::string> keys;
  for (size_t m = 0; m < kiln_image_format_method_count(im); m++)
    keys.insert(kiln_image_format_method_key(im, m));
  return keys;
}

uint64_t Fingerprint(const kiln_image_format_t *im, const char *key) {
  size_t m = SIZE_MAX;
  kiln_error_t *err = kiln_image_format_method_find(im, key, &m);
  EXPECT_EQ(err, nullptr) << Take(err);
  return m == SIZE_MAX ? 0 : kiln_image_format_method_fingerprint(im, m);
}

std::vector<std::string> Lines(const std::string &text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

const int kArgs[] = {-7, 0, 1, 5, 1000};

// Calls the package's four methods through the runtime and compares them
// with the native build `native`.
void ExpectPackageMatches(Runtime *rt, void *native) {
  for (const char *key : {"pkg_top", "pkg_other", "pkg_leaf"}) {
    auto f = reinterpret_cast<fn1_t>(rt->Lookup(key));
    auto n = reinterpret_cast<fn1_t>(dlsym(native, key));
    ASSERT_NE(f, nullptr) << key;
    ASSERT_NE(n, nullptr) << key;
    for (int a : kArgs) EXPECT_EQ(f(a), n(a)) << key << "(" << a << ")";
  }
  auto f = reinterpret_cast<fn2_t>(rt->Lookup("pkg_sum"));
  auto n = reinterpret_cast<fn2_t>(dlsym(native, "pkg_sum"));
  ASSERT_NE(f, nullptr);
  ASSERT_NE(n, nullptr);
  for (int a : kArgs) EXPECT_EQ(f(a, 3), n(a, 3)) << "pkg_sum(" << a << ", 3)";
}

// Images shared by the tests (built once per process).
struct Images {
  std::string base, base_v2, pkg;
  Loaded base_img, base_v2_img;  // views for the package builds
};

Images &Shared() {
  static Images *images = [] {
    auto *im = new Images;
    im->base = BuildImage({"base", {"base"}});
    im->base_v2 = BuildImage({"base_v2", {"base_v2"}});
    if (!im->base.empty()) Load(im->base, &im->base_img);
    if (!im->base_v2.empty()) Load(im->base_v2, &im->base_v2_img);
    if (im->base_img.image != nullptr) {
      ImageSpec pkg{"pkg", {"pkg"}, KILN_EMITTER_IMAGE_PACKAGE, im->base_img.view()};
      im->pkg = BuildImage(pkg);
    }
    return im;
  }();
  return *images;
}

// ---- (a) -------------------------------------------------------------------------

TEST(PackageImageTest, PackageBuiltAgainstItsBaseLoadsAndMatchesNative) {
  Images &im = Shared();
  ASSERT_FALSE(im.pkg.empty());
  void *native = Native("v1", {"base", "pkg"});
  ASSERT_NE(native, nullptr);

  // The package's .so has no undefined reference to the base.
  std::string syms;
  ASSERT_EQ(Shell(std::string(kReadelf) + " --dyn-syms -W " + im.pkg, &syms), 0) << syms;
  EXPECT_EQ(syms.find("base_"), std::string::npos) << syms;

  Loaded pkg;
  Load(im.pkg, &pkg);
  ASSERT_NE(pkg.image, nullptr);
  EXPECT_EQ(kiln_image_format_kind(pkg.view()), KILN_IMAGE_FORMAT_KIND_PACKAGE);
  EXPECT_EQ(kiln_image_format_base_checksum(pkg.view()),
            kiln_image_format_checksum(im.base_img.view()));
  EXPECT_EQ(Keys(pkg.view()),
            (std::set<std::string>{"pkg_leaf", "pkg_other", "pkg_sum", "pkg_top"}));

  Runtime rt;
  rt.Init("");
  rt.InstallSystem(im.base_img, "base");
  kiln_runtime_report_t *rep = nullptr;
  rt.InstallPackage(pkg, "pkg", &rep);
  ASSERT_NE(rep, nullptr);
  EXPECT_EQ(kiln_runtime_report_installed_count(rep), 4u);
  EXPECT_EQ(kiln_runtime_report_invalidated_count(rep), 0u);
  ASSERT_EQ(kiln_runtime_report_import_count(rep), 2u);
  std::set<std::string> imports;
  for (size_t i = 0; i < 2; i++) {
    const kiln_runtime_import_t *imp = kiln_runtime_report_import(rep, i);
    EXPECT_TRUE(imp->filled) << imp->key;
    imports.insert(imp->key);
  }
  EXPECT_EQ(imports, (std::set<std::string>{"base_add", "base_scale"}));
  kiln_runtime_report_free(rep);

  ExpectPackageMatches(&rt, native);
  EXPECT_EQ(rt.CompiledCount(), 0u);
  // The package's code is the image's (no compile happened).
  void *code = nullptr;
  ASSERT_OK(kiln_runtime_find(rt.rt, "pkg_top", &code, nullptr));
  size_t fi = SIZE_MAX;
  ASSERT_OK(kiln_loader_function_find(pkg.image, "pkg_top", &fi));
  EXPECT_EQ(code, kiln_loader_function_address(pkg.image, fi));
  dlclose(native);
}

// ---- (b) and (c) -------------------------------------------------------------------

TEST(PackageImageTest, ChangedBaseInvalidatesCompilesOnFirstUseAndTheTraceRebuildsThePackage) {
  Images &im = Shared();
  ASSERT_FALSE(im.pkg.empty());
  ASSERT_NE(im.base_v2_img.image, nullptr);
  void *native_v2 = Native("v2", {"base_v2", "pkg"});
  ASSERT_NE(native_v2, nullptr);
  const uint64_t fp_v1 = Fingerprint(im.base_img.view(), "base_add");
  const uint64_t fp_v2 = Fingerprint(im.base_v2_img.view(), "base_add");
  ASSERT_NE(fp_v1, fp_v2);
  EXPECT_EQ(Fingerprint(im.base_img.view(), "base_scale"),
            Fingerprint(im.base_v2_img.view(), "base_scale"));

  std::string trace = TmpDir() + "/trace.txt";
  unlink(trace.c_str());
  {
    Loaded pkg;
    Load(im.pkg, &pkg);
    ASSERT_NE(pkg.image, nullptr);
    Runtime rt;
    rt.Init(trace);
    rt.InstallSystem(im.base_v2_img, "base_v2");
    kiln_runtime_report_t *rep = nullptr;
    rt.InstallPackage(pkg, "pkg", &rep);
    ASSERT_NE(rep, nullptr);

    const kiln_runtime_invalidated_t *sum = kiln_runtime_report_find_invalidated(rep, "pkg_sum");
    ASSERT_NE(sum, nullptr);
    EXPECT_EQ(sum->reason, KILN_RUNTIME_DEP_CHANGED);
    EXPECT_STREQ(sum->dep_key, "base_add");
    EXPECT_EQ(sum->expected, fp_v1);
    EXPECT_EQ(sum->found, fp_v2);
    EXPECT_TRUE(sum->has_bitcode);
    const kiln_runtime_invalidated_t *top = kiln_runtime_report_find_invalidated(rep, "pkg_top");
    ASSERT_NE(top, nullptr);
    EXPECT_EQ(top->reason, KILN_RUNTIME_CALLS_INVALID);
    EXPECT_STREQ(top->callee, "pkg_sum");
    EXPECT_EQ(top->root_reason, KILN_RUNTIME_DEP_CHANGED);
    EXPECT_STREQ(top->dep_key, "base_add");
    EXPECT_TRUE(top->has_bitcode);
    EXPECT_EQ(kiln_runtime_report_invalidated_count(rep), 2u);
    std::set<std::string> installed;
    for (size_t i = 0; i < kiln_runtime_report_installed_count(rep); i++)
      installed.insert(kiln_runtime_report_installed(rep, i)->key);
    EXPECT_EQ(installed, (std::set<std::string>{"pkg_leaf", "pkg_other"}));
    char *text = nullptr;
    ASSERT_OK(kiln_runtime_report_format(rep, &text));
    printf("%s\n", text);
    free(text);
    kiln_runtime_report_free(rep);

    // pkg_top compiles on first use (pkg_sum first) and runs v2's base_add.
    auto top_fn = reinterpret_cast<fn1_t>(rt.Lookup("pkg_top"));
    ASSERT_NE(top_fn, nullptr);
    auto native_top = reinterpret_cast<fn1_t>(dlsym(native_v2, "pkg_top"));
    EXPECT_EQ(top_fn(1), native_top(1));
    EXPECT_EQ(top_fn(1), (1 + 5 + 100) * 2 + 1);
    ExpectPackageMatches(&rt, native_v2);

    kiln_runtime_report_t *all = nullptr;
    ASSERT_OK(kiln_runtime_report(rt.rt, &all));
    std::set<std::string> compiled;
    for (size_t i = 0; i < kiln_runtime_report_compiled_count(all); i++) {
      const kiln_runtime_compiled_t *c = kiln_runtime_report_compiled(all, i);
      compiled.insert(c->key);
      printf("compiled on first use: %s in %.3f ms\n", c->key, c->compile_ns / 1e6);
    }
    kiln_runtime_report_free(all);
    EXPECT_EQ(compiled, (std::set<std::string>{"pkg_sum", "pkg_top"}));
  }

  // (c) The trace lists exactly the keys compiled on first use.
  std::vector<std::string> lines = Lines(ReadFile(trace));
  std::vector<std::string> sorted = lines;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"pkg_sum", "pkg_top"}));

  // A package with those keys as roots, against base_v2.
  ImageSpec next{"pkg_next", {"pkg"}, KILN_EMITTER_IMAGE_PACKAGE, im.base_v2_img.view()};
  next.roots = lines;
  std::string next_so = BuildImage(next);
  ASSERT_FALSE(next_so.empty());
  Loaded pkg2;
  Load(next_so, &pkg2);
  ASSERT_NE(pkg2.image, nullptr);
  EXPECT_EQ(Keys(pkg2.view()), (std::set<std::string>{"pkg_sum", "pkg_top"}));
  std::set<std::string> functions;
  for (size_t i = 0; i < kiln_image_format_function_count(pkg2.view()); i++)
    functions.insert(kiln_image_format_function_name(pkg2.view(), i));
  EXPECT_EQ(functions, (std::set<std::string>{"pkg_sum", "pkg_top"}));
  std::set<std::string> globals;
  for (size_t i = 0; i < kiln_image_format_global_count(pkg2.view()); i++)
    globals.insert(kiln_image_format_global_name(pkg2.view(), i));
  EXPECT_EQ(globals, (std::set<std::string>{"kiln.import.base_add"}));

  {
    Runtime rt;
    rt.Init(trace);
    rt.InstallSystem(im.base_v2_img, "base_v2");
    kiln_runtime_report_t *rep = nullptr;
    rt.InstallPackage(pkg2, "pkg_next", &rep);
    ASSERT_NE(rep, nullptr);
    EXPECT_EQ(kiln_runtime_report_invalidated_count(rep), 0u);
    EXPECT_EQ(kiln_runtime_report_installed_count(rep), 2u);
    kiln_runtime_report_free(rep);
    auto top_fn = reinterpret_cast<fn1_t>(rt.Lookup("pkg_top"));
    auto sum_fn = reinterpret_cast<fn2_t>(rt.Lookup("pkg_sum"));
    ASSERT_NE(top_fn, nullptr);
    ASSERT_NE(sum_fn, nullptr);
    auto native_top = reinterpret_cast<fn1_t>(dlsym(native_v2, "pkg_top"));
    auto native_sum = reinterpret_cast<fn2_t>(dlsym(native_v2, "pkg_sum"));
    for (int a : kArgs) {
      EXPECT_EQ(top_fn(a), native_top(a));
      EXPECT_EQ(sum_fn(a, 2), native_sum(a, 2));
    }
    EXPECT_EQ(rt.CompiledCount(), 0u);
  }
  EXPECT_EQ(Lines(ReadFile(trace)), lines);  // nothing new
  dlclose(native_v2);
}

// (b) the other way: the base's method replaced in place with v2's code.
TEST(PackageImageTest, ReplacingTheBaseMethodInstallsThePackageAsInvalid) {
  Images &im = Shared();
  ASSERT_FALSE(im.pkg.empty());
  Loaded pkg;
  Load(im.pkg, &pkg);
  ASSERT_NE(pkg.image, nullptr);
  Runtime rt;
  rt.Init("");
  rt.InstallSystem(im.base_img, "base");
  size_t m = SIZE_MAX;
  ASSERT_OK(kiln_loader_method_find(im.base_v2_img.image, "base_add", &m));
  ASSERT_OK(kiln_runtime_install_method(rt.rt, "base_add",
                                        kiln_loader_method_address(im.base_v2_img.image, m),
                                        Fingerprint(im.base_v2_img.view(), "base_add")));
  kiln_runtime_report_t *rep = nullptr;
  rt.InstallPackage(pkg, "pkg", &rep);
  ASSERT_NE(rep, nullptr);
  const kiln_runtime_invalidated_t *sum = kiln_runtime_report_find_invalidated(rep, "pkg_sum");
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->reason, KILN_RUNTIME_DEP_CHANGED);
  EXPECT_EQ(sum->expected, Fingerprint(im.base_img.view(), "base_add"));
  EXPECT_EQ(sum->found, Fingerprint(im.base_v2_img.view(), "base_add"));
  const kiln_runtime_invalidated_t *top = kiln_runtime_report_find_invalidated(rep, "pkg_top");
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->reason, KILN_RUNTIME_CALLS_INVALID);
  EXPECT_EQ(kiln_runtime_report_find_invalidated(rep, "pkg_other"), nullptr);
  EXPECT_EQ(kiln_runtime_report_find_invalidated(rep, "pkg_leaf"), nullptr);
  kiln_runtime_report_free(rep);
  auto top_fn = reinterpret_cast<fn1_t>(rt.Lookup("pkg_top"));
  ASSERT_NE(top_fn, nullptr);
  EXPECT_EQ(top_fn(2), (2 + 5 + 100) * 2 + 1);
  EXPECT_EQ(rt.CompiledCount(), 2u);
}

// ---- (d) --------------------------------------------------------------------------

TEST(PackageImageTest, PackageTargetsThatDoNotFitTheBaseAreReported) {
  std::string base_blob, fit_blob, misfit_blob;
  ASSERT_FALSE(BuildImage({"base_hw", {"base"}, KILN_EMITTER_IMAGE_SYSTEM, nullptr,
                           "generic;haswell"},
                          &base_blob)
                   .empty());
  kiln_image_format_t *base = nullptr;
  ASSERT_OK(kiln_image_format_open(base_blob.data(), base_blob.size(), "base_hw", &base));
  ASSERT_FALSE(BuildImage({"pkg_fit", {"pkg"}, KILN_EMITTER_IMAGE_PACKAGE, base,
                           "generic;haswell"},
                          &fit_blob)
                   .empty());
  ASSERT_FALSE(
      BuildImage({"pkg_misfit", {"pkg"}, KILN_EMITTER_IMAGE_PACKAGE, base, "generic"},
                 &misfit_blob)
          .empty());
  kiln_image_format_t *fit = nullptr, *misfit = nullptr;
  ASSERT_OK(kiln_image_format_open(fit_blob.data(), fit_blob.size(), "pkg_fit", &fit));
  ASSERT_OK(kiln_image_format_open(misfit_blob.data(), misfit_blob.size(), "pkg_misfit", &misfit));

  EXPECT_OK(kiln_runtime_check_package_targets(base, fit));
  kiln_error_t *err = kiln_runtime_check_package_targets(base, misfit);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  std::string msg = Take(err);
  EXPECT_NE(msg.find("1 in package"), std::string::npos) << msg;
  printf("%s\n", msg.c_str());

  // The same through kiln_runtime_check_targets with the package's list.
  std::vector<kiln_image_format_target_t> targets;
  for (size_t k = 0; k < kiln_image_format_target_count(misfit); k++)
    targets.push_back({kiln_image_format_target_cpu(misfit, k),
                       kiln_image_format_target_features(misfit, k),
                       kiln_image_format_target_flags(misfit, k),
                       kiln_image_format_target_base(misfit, k)});
  err = kiln_runtime_check_targets(base, targets.data(), targets.size());
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INCOMPATIBLE);
  Take(err);
  kiln_image_format_close(fit);
  kiln_image_format_close(misfit);
  kiln_image_format_close(base);
}

}  // namespace
