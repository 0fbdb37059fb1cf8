// components/loader/loader_test.cc — the loader on real images: built at test
// time from testdata/*.c by clang-22 and ld.lld (testing/image_builder), loaded,
// called, and compared with a native build of the same sources; every error
// class of docs/loader.md; selection by synthetic host and by environment;
// constructors of an image whose load part fails validation never run; the
// directory (names, methods) validated on first use or eagerly, corrupt or
// intact, from several threads; several images at once; close and reopen.
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "components/loader/loader.h"
#include "components/loader/testing/image_builder.h"
#include "gtest/gtest.h"

namespace {

using kiln_loader_testing::BuildImage;
using kiln_loader_testing::ImageSpec;

std::string TmpDir() {
  const char *t = getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

std::string Testdata(const char *file) { return std::string("components/loader/testdata/") + file; }

bool Exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Owns an error and shows it on failure.
struct Err {
  kiln_error_t *e;
  explicit Err(kiln_error_t *err) : e(err) {}
  ~Err() { kiln_error_free(e); }
  kiln_error_code_t code() const { return kiln_error_code(e); }
  std::string msg() const { return kiln_error_message(e); }
};

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    Err err_(expr);                                           \
    ASSERT_EQ(err_.e, nullptr) << err_.msg();                 \
  } while (0)

// Images shared by all tests, built once.
struct Images {
  std::string kernels;   // generic;haswell, slot, constructor, tamper hook
  std::string sharded;   // the same in 3 shards
  std::string gnu_hash;  // --hash-style=gnu only
  std::string sysv_hash; // --hash-style=sysv only
  std::string producer;  // producer "kiln 9.9.0"
  std::string triple;    // triple aarch64
  std::string native;    // plain clang -shared build of the same C
  std::string error;
};

Images *g_images = nullptr;

ImageSpec KernelSpec(const std::string &name) {
  ImageSpec spec;
  spec.dir = TmpDir() + "/build_" + name;
  spec.output = TmpDir() + "/" + name + ".so";
  spec.sources = {Testdata("kernels.c")};
  spec.base_sources = {Testdata("ctor.c"), Testdata("tamper.c")};
  spec.targets = kiln_loader_testing::GenericHaswell(
      {"which_target", "sum_array", "dot", "saxpy", "hash_bytes"});
  spec.slots = {{"kiln_slot_square", "square"}};
  spec.options = {{"opt_level", "2"}, {"vectorize", "1"}};
  spec.name = name;
  return spec;
}

class LoaderEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_images = new Images;
    Images &im = *g_images;
    std::vector<ImageSpec> specs;
    specs.push_back(KernelSpec("kernels"));
    specs.push_back(KernelSpec("sharded"));
    specs.back().shards = 3;
    specs.push_back(KernelSpec("gnu_hash"));
    specs.back().hash_style = "gnu";
    specs.push_back(KernelSpec("sysv_hash"));
    specs.back().hash_style = "sysv";
    specs.push_back(KernelSpec("producer"));
    specs.back().producer = "kiln 9.9.0 (LLVM 22.1.8)";
    specs.push_back(KernelSpec("triple"));
    specs.back().triple = "aarch64-unknown-linux-gnu";
    for (auto &spec : specs) {
      std::string err = BuildImage(spec);
      if (!err.empty()) {
        im.error = spec.name + ": " + err;
        return;
      }
    }
    im.kernels = specs[0].output;
    im.sharded = specs[1].output;
    im.gnu_hash = specs[2].output;
    im.sysv_hash = specs[3].output;
    im.producer = specs[4].output;
    im.triple = specs[5].output;
    im.native = TmpDir() + "/native.so";
    std::string out;
    if (kiln_loader_testing::Run(kiln_loader_testing::Tool("clang") +
                                     " -O2 -shared -fPIC -o " + im.native + " " +
                                     Testdata("kernels.c") + " " + Testdata("native_slot.c"),
                                 &out) != 0) {
      im.error = "native build: " + out;
    }
  }
};

const ::testing::Environment *const g_env =
    ::testing::AddGlobalTestEnvironment(new LoaderEnvironment);

// A copy of `src` at a new path, optionally modified.
std::string CopyImage(const std::string &src, const std::string &name,
                      void (*edit)(std::string *) = nullptr) {
  std::string data;
  EXPECT_TRUE(kiln_loader_testing::ReadFile(src, &data));
  if (edit != nullptr) edit(&data);
  std::string path = TmpDir() + "/" + name;
  EXPECT_TRUE(kiln_loader_testing::WriteFile(path, data));
  return path;
}

// The blob's offset in an image file (exactly one occurrence of the magic).
size_t BlobOffset(const std::string &data) {
  std::vector<size_t> at = kiln_loader_testing::FindMagic(data);
  EXPECT_EQ(at.size(), 1u);
  return at.empty() ? 0 : at[0];
}

// Where the metadata's parts lie in an image file, from a full view of a
// copy of its blob: the blob, its load part [blob, blob + load_size) and
// directory [blob + load_size, blob + size), and file offsets of bytes in
// each (accessors return pointers into the copy, which is 8-byte aligned so
// that the view borrows it rather than copying it again).
struct Layout {
  size_t blob = 0, size = 0, load_size = 0;
  size_t name_hash_bytes = 0;  // directory: function name "hash_bytes"
  size_t override_mask = 0;    // load part: target 1's first override mask
  size_t target1_cpu = 0;      // load part: target 1's CPU name "haswell"
  size_t add_index = SIZE_MAX; // function index of "add"
};

void GetLayout(const std::string &data, Layout *out) {
  out->blob = BlobOffset(data);
  uint64_t size = 0, checksum = 0;
  ASSERT_LE(out->blob + KILN_IMAGE_FORMAT_HEADER_SIZE, data.size());
  {
    Err err(kiln_image_format_peek(data.data() + out->blob, KILN_IMAGE_FORMAT_HEADER_SIZE,
                                   "layout", &size, &checksum));
    ASSERT_EQ(err.e, nullptr) << err.msg();
  }
  ASSERT_LE(out->blob + size, data.size());
  out->size = (size_t)size;
  std::vector<uint64_t> copy((out->size + 7) / 8);
  memcpy(copy.data(), data.data() + out->blob, out->size);
  const char *base = reinterpret_cast<const char *>(copy.data());
  kiln_image_format_t *view = nullptr;
  {
    Err err(kiln_image_format_open(base, out->size, "layout", &view));
    ASSERT_EQ(err.e, nullptr) << err.msg();
  }
  auto at = [&](const void *p) { return out->blob + (size_t)((const char *)p - base); };
  out->load_size = (size_t)kiln_image_format_load_size(view);
  size_t f = SIZE_MAX;
  kiln_error_free(kiln_image_format_function_find(view, "hash_bytes", &f));
  const char *name = kiln_image_format_function_name(view, f);
  size_t n = 0;
  const uint32_t *mask = nullptr;
  for (size_t s = 0; mask == nullptr && s < kiln_image_format_shard_count(view); s++) {
    mask = kiln_image_format_shard_override_mask(view, s, 1, &n);
  }
  const char *cpu = kiln_image_format_target_cpu(view, 1);
  kiln_error_free(kiln_image_format_function_find(view, "add", &out->add_index));
  bool ok = name != nullptr && mask != nullptr && n > 0 && cpu != nullptr &&
            strcmp(cpu, "haswell") == 0 && out->add_index != SIZE_MAX;
  if (ok) {
    out->name_hash_bytes = at(name);
    out->override_mask = at(mask);
    out->target1_cpu = at(cpu);
  }
  kiln_image_format_close(view);
  ASSERT_TRUE(ok);
  // The parts are where the format puts them.
  size_t load_end = out->blob + out->load_size;
  ASSERT_GE(out->name_hash_bytes, load_end);
  ASSERT_LT(out->name_hash_bytes, out->blob + out->size);
  ASSERT_LT(out->override_mask, load_end);
  ASSERT_LT(out->target1_cpu, load_end);
  ASSERT_GE(out->override_mask, out->blob + KILN_IMAGE_FORMAT_HEADER_SIZE);
}

// A copy of `src` at a new path with byte `offset` XORed with `mask`.
std::string CopyFlipped(const std::string &src, const std::string &name, size_t offset,
                        unsigned char mask) {
  std::string data;
  EXPECT_TRUE(kiln_loader_testing::ReadFile(src, &data));
  EXPECT_LT(offset, data.size());
  if (offset < data.size()) data[offset] = (char)(data[offset] ^ mask);
  std::string path = TmpDir() + "/" + name;
  EXPECT_TRUE(kiln_loader_testing::WriteFile(path, data));
  return path;
}

struct Options {
  kiln_loader_options_t *o = nullptr;
  Options() {
    Err err(kiln_loader_options_new(&o));
    EXPECT_EQ(err.e, nullptr);
    kiln_loader_options_set_env(o, nullptr, nullptr);  // tests inject their own
  }
  ~Options() { kiln_loader_options_free(o); }
};

struct Host {
  kiln_target_host_t *h = nullptr;
  Host(const char *cpu, const char *features) {
    Err err(kiln_target_host_new(KILN_TARGET_ARCH_X86_64, cpu, features, &h));
    EXPECT_EQ(err.e, nullptr) << err.msg();
  }
  ~Host() { kiln_target_host_free(h); }
};

std::string CpuFeatures(const char *cpu) {
  kiln_target_features_t set;
  Err err(kiln_target_cpu_features(KILN_TARGET_ARCH_X86_64, cpu, &set));
  EXPECT_EQ(err.e, nullptr);
  char buf[4096];
  kiln_target_features_print(KILN_TARGET_ARCH_X86_64, &set, buf, sizeof(buf));
  return buf;
}

struct Image {
  kiln_loader_image_t *img = nullptr;
  ~Image() { kiln_loader_close(img); }
  template <typename F>
  F fn(const char *name) {
    size_t index;
    Err err(kiln_loader_function_find(img, name, &index));
    EXPECT_EQ(err.e, nullptr) << err.msg();
    return reinterpret_cast<F>(kiln_loader_function_address(img, index));
  }
};

kiln_error_t *Open(const std::string &path, const kiln_loader_options_t *o, Image *image) {
  return kiln_loader_open(path.c_str(), o, &image->img);
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(g_images->error.empty()) << g_images->error; }
  const Images &im() { return *g_images; }
};

// Calls every kernel in the image and in the native build; results agree.
void CompareWithNative(Image *image, const std::string &native_path) {
  void *native = dlopen(native_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(native, nullptr) << dlerror();
  auto nat = [&](const char *name) { return dlsym(native, name); };
  int v[1003];
  double a[517], b[517];
  float x[333], y1[333], y2[333];
  unsigned char bytes[999];
  for (int i = 0; i < 1003; i++) v[i] = i * 7 - 3000;
  for (int i = 0; i < 517; i++) a[i] = i * 0.5, b[i] = 3.0 - i * 0.25;
  for (int i = 0; i < 333; i++) x[i] = i * 0.125f, y1[i] = y2[i] = 1.0f - i;
  for (int i = 0; i < 999; i++) bytes[i] = (unsigned char)(i * 31);
  using AddFn = int (*)(int, int);
  using IntFn = int (*)(int);
  using SumFn = long (*)(const int *, int);
  using DotFn = double (*)(const double *, const double *, int);
  using HashFn = unsigned (*)(const unsigned char *, int);
  using SaxpyFn = void (*)(float, const float *, float *, int);
  EXPECT_EQ(image->fn<AddFn>("add")(40, 2), ((AddFn)nat("add"))(40, 2));
  for (int i = -5; i < 50; i += 7) {
    EXPECT_EQ(image->fn<IntFn>("square")(i), ((IntFn)nat("square"))(i));
    EXPECT_EQ(image->fn<IntFn>("via_slot")(i), ((IntFn)nat("via_slot"))(i));
  }
  for (int n : {0, 1, 7, 64, 1003}) {
    EXPECT_EQ(image->fn<SumFn>("sum_array")(v, n), ((SumFn)nat("sum_array"))(v, n));
  }
  // Vectorized reductions may reassociate: same value within rounding.
  EXPECT_NEAR(image->fn<DotFn>("dot")(a, b, 517), ((DotFn)nat("dot"))(a, b, 517), 1e-6);
  EXPECT_EQ(image->fn<HashFn>("hash_bytes")(bytes, 999), ((HashFn)nat("hash_bytes"))(bytes, 999));
  image->fn<SaxpyFn>("saxpy")(2.5f, x, y1, 333);
  ((SaxpyFn)nat("saxpy"))(2.5f, x, y2, 333);
  for (int i = 0; i < 333; i++) EXPECT_FLOAT_EQ(y1[i], y2[i]) << i;
  dlclose(native);
}

// ---- Success paths --------------------------------------------------------

TEST_F(LoaderTest, LoadsDetectedHostAndMatchesNative) {
  Image image;
  ASSERT_OK(kiln_loader_open(im().kernels.c_str(), nullptr, &image.img));
  size_t t = kiln_loader_image_target(image.img);
  EXPECT_LT(t, 2u);
  EXPECT_EQ(image.fn<int (*)(void)>("which_target")(), (int)t);
  EXPECT_STREQ(kiln_loader_image_target_cpu(image.img), t == 0 ? "generic" : "haswell");
  EXPECT_NE(std::string(kiln_loader_image_target_reason(image.img)), "");
  EXPECT_NE(std::string(kiln_loader_image_target_report(image.img)).find("target 0"),
            std::string::npos);
  EXPECT_EQ(kiln_loader_image_path(image.img), im().kernels);
  CompareWithNative(&image, im().native);
}

TEST_F(LoaderTest, EachTargetBySyntheticHostMatchesNative) {
  // This machine runs haswell code; the synthetic host decides which runs.
  Host nehalem("nehalem", CpuFeatures("nehalem").c_str());
  Host haswell("haswell", CpuFeatures("haswell").c_str());
  int expected = 0;
  for (Host *host : {&nehalem, &haswell}) {
    Options o;
    kiln_loader_options_set_host(o.o, host->h);
    Image image;
    ASSERT_OK(Open(im().kernels, o.o, &image));
    EXPECT_EQ(kiln_loader_image_target(image.img), (size_t)expected);
    EXPECT_EQ(image.fn<int (*)(void)>("which_target")(), expected);
    // Functions that are not cloned keep target 0's code.
    size_t add;
    ASSERT_OK(kiln_loader_function_find(image.img, "add", &add));
    CompareWithNative(&image, im().native);
    expected++;
  }
}

// Three shards of three functions each, for both targets: with target 0 no
// shard has overrides, with target 1 each has some.
TEST_F(LoaderTest, ShardedImageRebuildsOneTable) {
  Host nehalem("nehalem", CpuFeatures("nehalem").c_str());
  Host haswell("haswell", CpuFeatures("haswell").c_str());
  int expected = 0;
  for (Host *host : {&nehalem, &haswell}) {
    SCOPED_TRACE(expected);
    Options o;
    kiln_loader_options_set_host(o.o, host->h);
    Image image;
    ASSERT_OK(Open(im().sharded, o.o, &image));
    EXPECT_EQ(kiln_image_format_shard_count(kiln_loader_image_format(image.img)), 3u);
    EXPECT_EQ(image.fn<int (*)(void)>("which_target")(), expected);
    CompareWithNative(&image, im().native);
    expected++;
  }
}

// Both ways of filling a shard's range: shard 0 has 3 of its 20 functions
// overridden (under a quarter: target 0's table copied whole, the overrides
// written over it), shard 1 has 12 of 20 (the mask walk). Every function
// must come from the right target: f<i>() returns 10 * i + the target it
// was compiled for.
TEST_F(LoaderTest, SparseAndDenseOverridesBothSelectTheRightVersion) {
  std::string src = TmpDir() + "/forty.c";
  std::string c;
  for (int i = 0; i < 40; i++) {
    c += "int f" + std::to_string(100 + i) + "(void) { return " + std::to_string(10 * i) +
         " + KILN_IMAGE_TARGET; }\n";
  }
  ASSERT_TRUE(kiln_loader_testing::WriteFile(src, c));
  // Round robin over the sorted names: f100, f102, ... go to shard 0 and
  // f101, f103, ... to shard 1.
  std::vector<std::string> clones = {"f100", "f120", "f138"};  // shard 0: 3
  for (int i = 1; i < 24; i += 2) clones.push_back("f" + std::to_string(100 + i));  // shard 1: 12
  ImageSpec spec;
  spec.dir = TmpDir() + "/build_forty";
  spec.output = TmpDir() + "/forty.so";
  spec.sources = {src};
  spec.targets = kiln_loader_testing::GenericHaswell(clones);
  spec.shards = 2;
  spec.name = "forty";
  std::string err = BuildImage(spec);
  ASSERT_EQ(err, "");
  Host nehalem("nehalem", CpuFeatures("nehalem").c_str());
  Host haswell("haswell", CpuFeatures("haswell").c_str());
  for (int target = 0; target < 2; target++) {
    SCOPED_TRACE(target);
    Options o;
    kiln_loader_options_set_host(o.o, target == 0 ? nehalem.h : haswell.h);
    Image image;
    ASSERT_OK(Open(spec.output, o.o, &image));
    ASSERT_EQ(kiln_loader_image_target(image.img), (size_t)target);
    const kiln_image_format_t *view = kiln_loader_image_format(image.img);
    ASSERT_NE(view, nullptr);
    size_t n0 = 0, n1 = 0;
    (void)kiln_image_format_shard_first_function(view, 0, &n0);
    (void)kiln_image_format_shard_first_function(view, 1, &n1);
    ASSERT_EQ(n0, 20u);
    ASSERT_EQ(n1, 20u);
    size_t m0 = 0, m1 = 0;
    (void)kiln_image_format_shard_override_mask(view, 0, 1, &m0);
    (void)kiln_image_format_shard_override_mask(view, 1, 1, &m1);
    EXPECT_EQ(m0, 3u);   // < 20 / 4
    EXPECT_EQ(m1, 12u);  // >= 20 / 4
    for (int i = 0; i < 40; i++) {
      std::string name = "f" + std::to_string(100 + i);
      bool cloned = std::find(clones.begin(), clones.end(), name) != clones.end();
      EXPECT_EQ(image.fn<int (*)(void)>(name.c_str())(), 10 * i + (cloned ? target : 0))
          << name;
    }
  }
}

TEST_F(LoaderTest, BothHashStylesFindTheRoot) {
  for (const std::string *path : {&im().gnu_hash, &im().sysv_hash}) {
    Image image;
    ASSERT_OK(Open(*path, nullptr, &image));
    EXPECT_EQ(image.fn<int (*)(int, int)>("add")(1, 2), 3);
  }
}

TEST_F(LoaderTest, SlotsHoldTheSelectedFunction) {
  Image image;
  ASSERT_OK(Open(im().kernels, nullptr, &image));
  size_t square, slot_global;
  ASSERT_OK(kiln_loader_function_find(image.img, "square", &square));
  // The slot word is not in the global table; read it through via_slot and
  // check the function table entry is what it calls.
  EXPECT_EQ(image.fn<int (*)(int)>("via_slot")(9), 82);
  Err missing(kiln_loader_global_find(image.img, "kiln_slot_square", &slot_global));
  EXPECT_EQ(missing.code(), KILN_ERR_NOT_FOUND);
  EXPECT_NE(kiln_loader_function_address(image.img, square), nullptr);
}

TEST_F(LoaderTest, GlobalsAndMethods) {
  Image image;
  ASSERT_OK(Open(im().kernels, nullptr, &image));
  size_t counter, greeting;
  ASSERT_OK(kiln_loader_global_find(image.img, "counter", &counter));
  ASSERT_OK(kiln_loader_global_find(image.img, "greeting", &greeting));
  EXPECT_EQ(kiln_loader_global_count(image.img), 2u);
  int *c = static_cast<int *>(kiln_loader_global_address(image.img, counter));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(*c, 42);
  EXPECT_EQ(image.fn<int (*)(int)>("bump_counter")(8), 50);
  EXPECT_EQ(*c, 50);  // the image's code and the global table agree
  EXPECT_STREQ(static_cast<const char *>(kiln_loader_global_address(image.img, greeting)),
               "hello from the image");
  EXPECT_EQ(kiln_loader_global_address(image.img, 99), nullptr);

  size_t m, f;
  ASSERT_OK(kiln_loader_method_find(image.img, "dot", &m));
  ASSERT_OK(kiln_loader_function_find(image.img, "dot", &f));
  EXPECT_STREQ(kiln_loader_method_key(image.img, m), "dot");
  EXPECT_EQ(kiln_loader_method_function(image.img, m), f);
  EXPECT_EQ(kiln_loader_method_address(image.img, m), kiln_loader_function_address(image.img, f));
  EXPECT_EQ(kiln_loader_method_count(image.img), kiln_loader_function_count(image.img));
  EXPECT_EQ(kiln_loader_function_table(image.img)[f], kiln_loader_function_address(image.img, f));
  EXPECT_EQ(kiln_loader_method_function(image.img, 1000), SIZE_MAX);
  EXPECT_EQ(kiln_loader_method_address(image.img, 1000), nullptr);
  EXPECT_EQ(kiln_loader_function_address(image.img, 1000), nullptr);
}

TEST_F(LoaderTest, LookupErrors) {
  Image image;
  ASSERT_OK(Open(im().kernels, nullptr, &image));
  size_t index = 0;
  Err e1(kiln_loader_function_find(image.img, "nope", &index));
  EXPECT_EQ(e1.code(), KILN_ERR_NOT_FOUND);
  EXPECT_NE(e1.msg().find("nope"), std::string::npos);
  EXPECT_EQ(index, SIZE_MAX);
  Err e2(kiln_loader_method_find(image.img, "nope", &index));
  EXPECT_EQ(e2.code(), KILN_ERR_NOT_FOUND);
  Err e3(kiln_loader_function_find(image.img, nullptr, &index));
  EXPECT_EQ(e3.code(), KILN_ERR_INVALID_ARGUMENT);
}

const char *EnvIndex0(void *, const char *name) {
  return strcmp(name, KILN_TARGET_ENV_CPU_TARGET_INDEX) == 0 ? "0" : nullptr;
}
const char *EnvDisableAvx2(void *, const char *name) {
  return strcmp(name, KILN_TARGET_ENV_CPU_DISABLE) == 0 ? "avx2" : nullptr;
}
const char *EnvIndexBad(void *, const char *name) {
  return strcmp(name, KILN_TARGET_ENV_CPU_TARGET_INDEX) == 0 ? "zero" : nullptr;
}

TEST_F(LoaderTest, EnvironmentForcesIndexAndMasksFeatures) {
  Host haswell("haswell", CpuFeatures("haswell").c_str());
  {
    Options o;
    kiln_loader_options_set_host(o.o, haswell.h);
    kiln_loader_options_set_env(o.o, EnvIndex0, nullptr);
    Image image;
    ASSERT_OK(Open(im().kernels, o.o, &image));
    EXPECT_EQ(kiln_loader_image_target(image.img), 0u);
    EXPECT_NE(std::string(kiln_loader_image_target_reason(image.img))
                  .find(KILN_TARGET_ENV_CPU_TARGET_INDEX),
              std::string::npos);
    EXPECT_EQ(image.fn<int (*)(void)>("which_target")(), 0);
  }
  {
    // KILN_CPU_DISABLE applies to the detected host.
    Options o;
    kiln_loader_options_set_env(o.o, EnvDisableAvx2, nullptr);
    Image image;
    ASSERT_OK(Open(im().kernels, o.o, &image));
    EXPECT_EQ(kiln_loader_image_target(image.img), 0u);
    EXPECT_EQ(image.fn<int (*)(void)>("which_target")(), 0);
  }
  {
    Options o;
    kiln_loader_options_set_host(o.o, haswell.h);
    kiln_loader_options_set_force_target(o.o, 0);
    Image image;
    ASSERT_OK(Open(im().kernels, o.o, &image));
    EXPECT_EQ(kiln_loader_image_target(image.img), 0u);
  }
  {
    Options o;
    kiln_loader_options_set_host(o.o, haswell.h);
    kiln_loader_options_set_env(o.o, EnvIndexBad, nullptr);
    Image image;
    Err err(Open(im().kernels, o.o, &image));
    EXPECT_EQ(err.code(), KILN_ERR_INVALID_ARGUMENT) << err.msg();
  }
}

TEST_F(LoaderTest, OptionsReuseDetectedHostUntilSetEnv) {
  Image plain;
  ASSERT_OK(Open(im().kernels, nullptr, &plain));
  size_t unmasked = kiln_loader_image_target(plain.img);
  Options o;
  kiln_loader_options_set_env(o.o, EnvDisableAvx2, nullptr);
  for (int round = 0; round < 2; round++) {  // second load uses the cached host
    Image image;
    ASSERT_OK(Open(im().kernels, o.o, &image));
    EXPECT_EQ(kiln_loader_image_target(image.img), 0u);
  }
  kiln_loader_options_set_env(o.o, nullptr, nullptr);  // discards the cached host
  Image image;
  ASSERT_OK(Open(im().kernels, o.o, &image));
  EXPECT_EQ(kiln_loader_image_target(image.img), unmasked);
}

TEST_F(LoaderTest, TwoImagesAtOnceAndReopen) {
  std::string second = CopyImage(im().kernels, "second.so");
  Host nehalem("nehalem", CpuFeatures("nehalem").c_str());
  Host haswell("haswell", CpuFeatures("haswell").c_str());
  Options o1, o2;
  kiln_loader_options_set_host(o1.o, nehalem.h);
  kiln_loader_options_set_host(o2.o, haswell.h);
  Image a, b;
  ASSERT_OK(Open(im().kernels, o1.o, &a));
  ASSERT_OK(Open(second, o2.o, &b));
  EXPECT_EQ(a.fn<int (*)(void)>("which_target")(), 0);
  EXPECT_EQ(b.fn<int (*)(void)>("which_target")(), 1);
  // Separate copies of the data: each image has its own counter.
  int *(*counter)(const kiln_loader_image_t *) = [](const kiln_loader_image_t *img) {
    size_t i;
    kiln_error_free(kiln_loader_global_find(img, "counter", &i));
    return static_cast<int *>(kiln_loader_global_address(img, i));
  };
  EXPECT_NE(counter(a.img), counter(b.img));
  a.fn<int (*)(int)>("bump_counter")(1);
  EXPECT_EQ(*counter(b.img), 42);
  kiln_loader_close(a.img);
  a.img = nullptr;
  EXPECT_EQ(b.fn<int (*)(int)>("via_slot")(3), 10);
  for (int round = 0; round < 3; round++) {
    ASSERT_OK(Open(im().kernels, o1.o, &a));
    EXPECT_EQ(a.fn<int (*)(int)>("via_slot")(4), 17);
    kiln_loader_close(a.img);
    a.img = nullptr;
  }
}

TEST_F(LoaderTest, InspectAndValidateBufferDoNotLoad) {
  Options o;
  Host nehalem("nehalem", CpuFeatures("nehalem").c_str());
  kiln_loader_options_set_host(o.o, nehalem.h);
  kiln_loader_info_t *info = nullptr;
  ASSERT_OK(kiln_loader_inspect(im().kernels.c_str(), o.o, &info));
  EXPECT_EQ(kiln_loader_info_selected(info), 0u);
  EXPECT_STREQ(kiln_loader_info_host_cpu(info), "nehalem");
  EXPECT_NE(std::string(kiln_loader_info_report(info)).find("target 1 (haswell)"),
            std::string::npos);
  const kiln_image_format_t *f = kiln_loader_info_format(info);
  EXPECT_EQ(kiln_image_format_target_count(f), 2u);
  EXPECT_STREQ(kiln_image_format_name(f), "kernels");
  kiln_loader_info_free(info);

  std::string data;
  ASSERT_TRUE(kiln_loader_testing::ReadFile(im().kernels, &data));
  ASSERT_OK(kiln_loader_validate_buffer(data.data(), data.size(), "buf", o.o, &info));
  EXPECT_EQ(kiln_loader_info_selected(info), 0u);
  kiln_loader_info_free(info);
  Err err(kiln_loader_validate_buffer("xyz", 3, "buf", o.o, &info));
  EXPECT_EQ(err.code(), KILN_ERR_FORMAT);
  EXPECT_EQ(err.msg(), "buf: not an ELF file");
  EXPECT_EQ(info, nullptr);
  Err null_out(kiln_loader_validate_buffer("xyz", 3, "buf", o.o, nullptr));
  EXPECT_EQ(null_out.code(), KILN_ERR_INVALID_ARGUMENT);
  Err null_path(kiln_loader_inspect(nullptr, o.o, &info));
  EXPECT_EQ(null_path.code(), KILN_ERR_INVALID_ARGUMENT);
}

// ---- Errors (item 6) --------------------------------------------------------

// Opens `path` and expects failure with `code` and `text` in the message,
// which starts with the path.
void ExpectOpenError(const std::string &path, const kiln_loader_options_t *o,
                     kiln_error_code_t code, const std::string &text) {
  kiln_loader_image_t *img = reinterpret_cast<kiln_loader_image_t *>(1);
  Err err(kiln_loader_open(path.c_str(), o, &img));
  EXPECT_EQ(img, nullptr);
  ASSERT_NE(err.e, nullptr) << path;
  EXPECT_EQ(err.code(), code) << err.msg();
  EXPECT_NE(err.msg().find(text), std::string::npos) << err.msg();
  EXPECT_EQ(err.msg().rfind(path, 0), 0u) << err.msg();
}

TEST_F(LoaderTest, ErrorNotAFile) {
  ExpectOpenError(TmpDir() + "/does-not-exist.so", nullptr, KILN_ERR_NOT_FOUND,
                  "No such file");
  ExpectOpenError(TmpDir(), nullptr, KILN_ERR_IO, "not a regular file");
  kiln_loader_image_t *img = nullptr;
  Err null_path(kiln_loader_open(nullptr, nullptr, &img));
  EXPECT_EQ(null_path.code(), KILN_ERR_INVALID_ARGUMENT);
}

TEST_F(LoaderTest, ErrorNotElf) {
  std::string path = TmpDir() + "/text.so";
  ASSERT_TRUE(kiln_loader_testing::WriteFile(path, "this is not an ELF file\n"));
  ExpectOpenError(path, nullptr, KILN_ERR_FORMAT, "not an ELF file");
  ASSERT_TRUE(kiln_loader_testing::WriteFile(TmpDir() + "/empty.so", ""));
  ExpectOpenError(TmpDir() + "/empty.so", nullptr, KILN_ERR_FORMAT, "not an ELF file");
}

TEST_F(LoaderTest, ErrorNotAKilnImage) {
  // A real shared object without the root symbol.
  ExpectOpenError(im().native, nullptr, KILN_ERR_FORMAT,
                  "not a kiln image (no dynamic symbol kiln_image_root)");
}

TEST_F(LoaderTest, ErrorTruncated) {
  std::string data;
  ASSERT_TRUE(kiln_loader_testing::ReadFile(im().kernels, &data));
  size_t blob = BlobOffset(data);
  for (size_t cut : {(size_t)40, blob + 100, data.size() / 2, data.size() - 1}) {
    std::string path = TmpDir() + "/cut" + std::to_string(cut) + ".so";
    ASSERT_TRUE(kiln_loader_testing::WriteFile(path, data.substr(0, cut)));
    ExpectOpenError(path, nullptr, KILN_ERR_FORMAT, "truncated");
  }
}

// A byte of the section table (load part): "load part checksum mismatch"
// before dlopen. Directory bytes: CorruptDirectory* below.
TEST_F(LoaderTest, ErrorChecksumMismatch) {
  std::string path = CopyImage(im().kernels, "checksum.so", [](std::string *d) {
    (*d)[BlobOffset(*d) + KILN_IMAGE_FORMAT_HEADER_SIZE + 5] ^= 0x40;
  });
  ExpectOpenError(path, nullptr, KILN_ERR_FORMAT, "checksum mismatch");
}

TEST_F(LoaderTest, ErrorFormatVersion) {
  std::string path = CopyImage(im().kernels, "version.so", [](std::string *d) {
    (*d)[BlobOffset(*d) + 8] = 7;  // the u32 format version after the magic
  });
  ExpectOpenError(path, nullptr, KILN_ERR_VERSION_MISMATCH, "version");
}

TEST_F(LoaderTest, ErrorProducerMismatch) {
  ExpectOpenError(im().producer, nullptr, KILN_ERR_VERSION_MISMATCH,
                  "producer 'kiln 9.9.0 (LLVM 22.1.8)' is not kiln 0.1");
  Options o;
  kiln_loader_options_accept_any_producer(o.o, true);
  Image image;
  ASSERT_OK(Open(im().producer, o.o, &image));
  EXPECT_EQ(image.fn<int (*)(int, int)>("add")(2, 2), 4);
}

TEST_F(LoaderTest, ErrorWrongTriple) {
  ExpectOpenError(im().triple, nullptr, KILN_ERR_INCOMPATIBLE,
                  "wrong triple 'aarch64-unknown-linux-gnu'");
  Options o;
  ASSERT_OK(kiln_loader_options_set_expected_triple(o.o, "x86_64-pc-linux-gnu"));
  ExpectOpenError(im().kernels, o.o, KILN_ERR_INCOMPATIBLE,
                  "wrong triple 'x86_64-unknown-linux-gnu' (expected 'x86_64-pc-linux-gnu')");
  // An expected triple that names another architecture than the ELF machine.
  ASSERT_OK(kiln_loader_options_set_expected_triple(o.o, "aarch64-unknown-linux-gnu"));
  ExpectOpenError(im().triple, o.o, KILN_ERR_INCOMPATIBLE, "ELF machine 62");
  ASSERT_OK(kiln_loader_options_set_expected_triple(o.o, "x86_64-unknown-linux-gnu"));
  Image image;
  ASSERT_OK(Open(im().kernels, o.o, &image));
}

TEST_F(LoaderTest, ErrorCodegenOptions) {
  Options o;
  ASSERT_OK(kiln_loader_options_require(o.o, "opt_level", "3"));
  ExpectOpenError(im().kernels, o.o, KILN_ERR_INCOMPATIBLE,
                  "codegen option 'opt_level' is '2' (required '3')");
  ASSERT_OK(kiln_loader_options_require(o.o, "opt_level", "2"));
  ASSERT_OK(kiln_loader_options_require(o.o, "sanitize", "address"));
  ExpectOpenError(im().kernels, o.o, KILN_ERR_INCOMPATIBLE,
                  "codegen option 'sanitize' is not recorded (required 'address')");
  Options ok;
  ASSERT_OK(kiln_loader_options_require(ok.o, "opt_level", "2"));
  ASSERT_OK(kiln_loader_options_require(ok.o, "vectorize", "1"));
  Image image;
  ASSERT_OK(Open(im().kernels, ok.o, &image));
  Err null_key(kiln_loader_options_require(ok.o, nullptr, "1"));
  EXPECT_EQ(null_key.code(), KILN_ERR_INVALID_ARGUMENT);
}

TEST_F(LoaderTest, ErrorNoCompatibleTarget) {
  Host old("k8", CpuFeatures("k8").c_str());  // no SSE3: x86-64 baseline only
  Host tiny("i386", "cx8");                   // not even SSE2
  Options o;
  kiln_loader_options_set_host(o.o, tiny.h);
  kiln_loader_image_t *img = nullptr;
  Err err(kiln_loader_open(im().kernels.c_str(), o.o, &img));
  ASSERT_EQ(err.code(), KILN_ERR_INCOMPATIBLE) << err.msg();
  EXPECT_NE(err.msg().find("no compatible CPU target"), std::string::npos) << err.msg();
  EXPECT_NE(err.msg().find("target 0 (generic)"), std::string::npos) << err.msg();
  EXPECT_NE(err.msg().find("target 1 (haswell)"), std::string::npos) << err.msg();
  EXPECT_NE(err.msg().find("sse2"), std::string::npos) << err.msg();
  EXPECT_NE(err.msg().find("avx2"), std::string::npos) << err.msg();
  // inspect reports the same without failing.
  kiln_loader_info_t *info = nullptr;
  ASSERT_OK(kiln_loader_inspect(im().kernels.c_str(), o.o, &info));
  EXPECT_EQ(kiln_loader_info_selected(info), SIZE_MAX);
  EXPECT_NE(std::string(kiln_loader_info_reason(info)).find("no compatible CPU target"),
            std::string::npos);
  kiln_loader_info_free(info);
  // Forcing a target the host cannot run.
  Options forced;
  kiln_loader_options_set_host(forced.o, old.h);
  kiln_loader_options_set_force_target(forced.o, 1);
  ExpectOpenError(im().kernels, forced.o, KILN_ERR_INCOMPATIBLE, "host lacks");
}

// The pre-dlopen lookup refuses a .so whose root symbol is hidden/absent, and
// after dlopen the mapped metadata must equal the validated bytes: a
// constructor that rewrites it is caught and the image is closed again.
TEST_F(LoaderTest, ErrorRootMissingOrMappedMetadataDiffers) {
  std::string renamed = CopyImage(im().kernels, "renamed.so", [](std::string *d) {
    size_t at = d->find(std::string("kiln_image_root") + '\0');
    ASSERT_NE(at, std::string::npos);
    (*d)[at] = 'K';  // the dynamic string table entry
  });
  ExpectOpenError(renamed, nullptr, KILN_ERR_FORMAT,
                  "not a kiln image (no dynamic symbol kiln_image_root)");

  setenv("KILN_LOADER_TEST_TAMPER", "1", 1);
  std::string tampered = CopyImage(im().kernels, "tampered.so");
  ExpectOpenError(tampered, nullptr, KILN_ERR_FORMAT,
                  "mapped image metadata differs from the validated file");
  unsetenv("KILN_LOADER_TEST_TAMPER");
}

// Invariant 4 in practice: an image that fails validation never runs code
// (here a section-table byte, in the load part, which every mode validates
// before dlopen; CorruptLoadPartFailsBeforeDlopen and
// CorruptDirectoryEagerFailsBeforeDlopen cover the rest).
TEST_F(LoaderTest, CorruptImageRunsNoConstructor) {
  std::string marker = TmpDir() + "/ctor_marker";
  unlink(marker.c_str());
  setenv("KILN_LOADER_TEST_MARKER", marker.c_str(), 1);
  std::string corrupt = CopyImage(im().kernels, "corrupt_ctor.so", [](std::string *d) {
    size_t blob = BlobOffset(*d);
    (*d)[blob + KILN_IMAGE_FORMAT_HEADER_SIZE + 17] ^= 0x01;
  });
  ExpectOpenError(corrupt, nullptr, KILN_ERR_FORMAT, "checksum mismatch");
  EXPECT_FALSE(Exists(marker)) << "a constructor of the corrupt image ran";
  // Sanity: the intact image's constructor does run on load.
  std::string intact = CopyImage(im().kernels, "intact_ctor.so");
  Image image;
  ASSERT_OK(Open(intact, nullptr, &image));
  EXPECT_TRUE(Exists(marker));
  EXPECT_EQ(image.fn<int (*)(void)>("ctor_probe")(), 7);
  unsetenv("KILN_LOADER_TEST_MARKER");
}

// ---- The directory: validated on first use, or eagerly -----------------------

// Sets KILN_LOADER_TEST_MARKER to a fresh path (removed) for the image
// constructor of testdata/ctor.c, and unsets it at the end of the scope.
struct Marker {
  std::string path;
  explicit Marker(const std::string &name) : path(TmpDir() + "/" + name) {
    unlink(path.c_str());
    setenv("KILN_LOADER_TEST_MARKER", path.c_str(), 1);
  }
  ~Marker() { unsetenv("KILN_LOADER_TEST_MARKER"); }
};

// A corrupt directory byte does not stop loading by default: the tables
// work, and every use of the directory reports the blob checksum mismatch.
// The blob checksum field (header offset 24) is outside the load checksum,
// so it too is only caught with the directory.
void CheckCorruptDirectory(const std::string &path, const Layout &lay);

TEST_F(LoaderTest, CorruptDirectoryLoadsLazilyAndFailsOnFirstUse) {
  std::string data;
  ASSERT_TRUE(kiln_loader_testing::ReadFile(im().kernels, &data));
  Layout lay;
  ASSERT_NO_FATAL_FAILURE(GetLayout(data, &lay));
  {
    SCOPED_TRACE("function name byte");
    CheckCorruptDirectory(CopyFlipped(im().kernels, "corrupt_dir.so", lay.name_hash_bytes, 0x20),
                          lay);
  }
  {
    SCOPED_TRACE("blob checksum field");
    CheckCorruptDirectory(CopyFlipped(im().kernels, "corrupt_blob_checksum.so", lay.blob + 24, 0x01),
                          lay);
  }
}

void CheckCorruptDirectory(const std::string &path, const Layout &lay) {
  Marker marker(path.substr(path.rfind('/') + 1) + ".marker");
  Image image;
  ASSERT_OK(Open(path, nullptr, &image));
  // The load ran the image's constructor (nothing before dlopen was wrong).
  EXPECT_TRUE(Exists(marker.path));
  // The function table is built from the load part: call through it.
  ASSERT_LT(lay.add_index, kiln_loader_function_count(image.img));
  auto add = reinterpret_cast<int (*)(int, int)>(
      kiln_loader_function_address(image.img, lay.add_index));
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add(40, 2), 42);
  EXPECT_EQ(kiln_loader_function_table(image.img)[lay.add_index], (void *)add);
  EXPECT_EQ(kiln_loader_global_count(image.img), 2u);

  Err verify(kiln_loader_image_verify(image.img));
  ASSERT_NE(verify.e, nullptr);
  EXPECT_EQ(verify.code(), KILN_ERR_FORMAT);
  EXPECT_EQ(verify.msg().rfind(path, 0), 0u) << verify.msg();
  EXPECT_NE(verify.msg().find("image directory"), std::string::npos) << verify.msg();
  EXPECT_NE(verify.msg().find("checksum mismatch"), std::string::npos) << verify.msg();
  // The blob checksum, not the load part's: the load part is intact.
  EXPECT_EQ(verify.msg().find("load part checksum"), std::string::npos) << verify.msg();
  // Not cached as a success: a second call fails the same way.
  Err again(kiln_loader_image_verify(image.img));
  EXPECT_EQ(again.code(), KILN_ERR_FORMAT);
  EXPECT_EQ(again.msg(), verify.msg());

  size_t index = 0;
  Err fn(kiln_loader_function_find(image.img, "add", &index));
  EXPECT_EQ(fn.code(), KILN_ERR_FORMAT);
  EXPECT_EQ(fn.msg(), verify.msg());
  EXPECT_EQ(index, SIZE_MAX);
  index = 0;
  Err gl(kiln_loader_global_find(image.img, "counter", &index));
  EXPECT_EQ(gl.code(), KILN_ERR_FORMAT);
  EXPECT_EQ(gl.msg(), verify.msg());
  EXPECT_EQ(index, SIZE_MAX);
  index = 0;
  Err me(kiln_loader_method_find(image.img, "dot", &index));
  EXPECT_EQ(me.code(), KILN_ERR_FORMAT);
  EXPECT_EQ(me.msg(), verify.msg());
  EXPECT_EQ(index, SIZE_MAX);
  EXPECT_EQ(kiln_loader_method_count(image.img), 0u);
  EXPECT_EQ(kiln_loader_method_key(image.img, 0), nullptr);
  EXPECT_EQ(kiln_loader_method_function(image.img, 0), SIZE_MAX);
  EXPECT_EQ(kiln_loader_method_address(image.img, 0), nullptr);
  EXPECT_EQ(kiln_loader_image_format(image.img), nullptr);
  // What needs no directory still answers.
  EXPECT_LT(kiln_loader_image_target(image.img), 2u);
  EXPECT_NE(std::string(kiln_loader_image_target_cpu(image.img)), "");

  // inspect and validate_buffer check the whole metadata.
  kiln_loader_info_t *info = reinterpret_cast<kiln_loader_info_t *>(1);
  Err inspect(kiln_loader_inspect(path.c_str(), nullptr, &info));
  EXPECT_EQ(inspect.code(), KILN_ERR_FORMAT);
  EXPECT_NE(inspect.msg().find("checksum mismatch"), std::string::npos) << inspect.msg();
  EXPECT_EQ(info, nullptr);
  std::string corrupt;
  ASSERT_TRUE(kiln_loader_testing::ReadFile(path, &corrupt));
  Err buffer(kiln_loader_validate_buffer(corrupt.data(), corrupt.size(), "buf", nullptr, &info));
  EXPECT_EQ(buffer.code(), KILN_ERR_FORMAT);
  EXPECT_NE(buffer.msg().find("checksum mismatch"), std::string::npos) << buffer.msg();
}

// With an eager directory the same corruption fails kiln_loader_open before
// dlopen: no constructor runs.
TEST_F(LoaderTest, CorruptDirectoryEagerFailsBeforeDlopen) {
  std::string data;
  ASSERT_TRUE(kiln_loader_testing::ReadFile(im().kernels, &data));
  Layout lay;
  ASSERT_NO_FATAL_FAILURE(GetLayout(data, &lay));
  std::string path = CopyFlipped(im().kernels, "corrupt_dir_eager.so", lay.name_hash_bytes, 0x20);
  Marker marker("corrupt_dir_eager_marker");
  Options o;
  kiln_loader_options_set_eager_directory(o.o, true);
  ExpectOpenError(path, o.o, KILN_ERR_FORMAT, "checksum mismatch");
  EXPECT_FALSE(Exists(marker.path)) << "a constructor of the corrupt image ran";
  // Switching it off again loads the image (and runs its constructor).
  kiln_loader_options_set_eager_directory(o.o, false);
  Image image;
  ASSERT_OK(Open(path, o.o, &image));
  EXPECT_TRUE(Exists(marker.path));
}

// A corrupt load-part byte fails kiln_loader_open before dlopen in both
// modes: the default (lazy) mode never runs constructors of such an image.
TEST_F(LoaderTest, CorruptLoadPartFailsBeforeDlopen) {
  std::string data;
  ASSERT_TRUE(kiln_loader_testing::ReadFile(im().kernels, &data));
  Layout lay;
  ASSERT_NO_FATAL_FAILURE(GetLayout(data, &lay));
  struct Case {
    const char *name;
    size_t offset;
  } cases[] = {{"corrupt_shard_index.so", lay.override_mask},
               {"corrupt_target_cpu.so", lay.target1_cpu + 2}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = CopyFlipped(im().kernels, c.name, c.offset, 0x01);
    Marker marker(std::string(c.name) + ".marker");
    ExpectOpenError(path, nullptr, KILN_ERR_FORMAT, "load part checksum mismatch");
    EXPECT_FALSE(Exists(marker.path)) << "a constructor of the corrupt image ran";
    // Eager: the blob checksum (checked first) already fails.
    Options o;
    kiln_loader_options_set_eager_directory(o.o, true);
    ExpectOpenError(path, o.o, KILN_ERR_FORMAT, "checksum mismatch");
    EXPECT_FALSE(Exists(marker.path)) << "a constructor of the corrupt image ran";
  }
}

TEST_F(LoaderTest, VerifyIntactImage) {
  for (bool eager : {false, true}) {
    SCOPED_TRACE(eager ? "eager" : "lazy");
    Options o;
    kiln_loader_options_set_eager_directory(o.o, eager);
    Image image;
    ASSERT_OK(Open(im().kernels, o.o, &image));
    ASSERT_OK(kiln_loader_image_verify(image.img));
    const kiln_image_format_t *view = kiln_loader_image_format(image.img);
    ASSERT_NE(view, nullptr);
    EXPECT_TRUE(kiln_image_format_has_directory(view));
    ASSERT_OK(kiln_loader_image_verify(image.img));  // cached
    EXPECT_EQ(kiln_loader_image_format(image.img), view);
    EXPECT_EQ(kiln_image_format_function_count(view), kiln_loader_function_count(image.img));
    EXPECT_STREQ(kiln_image_format_name(view), "kernels");
    size_t f = SIZE_MAX, m = SIZE_MAX;
    ASSERT_OK(kiln_loader_function_find(image.img, "add", &f));
    EXPECT_STREQ(kiln_image_format_function_name(view, f), "add");
    EXPECT_EQ(reinterpret_cast<int (*)(int, int)>(kiln_loader_function_address(image.img, f))(2, 3),
              5);
    ASSERT_OK(kiln_loader_method_find(image.img, "add", &m));
    EXPECT_EQ(kiln_loader_method_function(image.img, m), f);
    EXPECT_GT(kiln_loader_method_count(image.img), 0u);
  }
}

// Concurrent first uses of the directory of a fresh image agree on one view.
TEST_F(LoaderTest, VerifyFromSeveralThreads) {
  for (int round = 0; round < 4; round++) {
    Image image;
    ASSERT_OK(Open(im().kernels, nullptr, &image));
    const int kThreads = 4;
    std::atomic<int> ready{0};
    std::vector<const kiln_image_format_t *> views(kThreads, nullptr);
    std::vector<int> failures(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) {
        }
        // Each thread's first use is a different entry point.
        size_t index = SIZE_MAX;
        kiln_error_t *err = nullptr;
        switch (t % 4) {
          case 0: err = kiln_loader_image_verify(image.img); break;
          case 1: err = kiln_loader_function_find(image.img, "dot", &index); break;
          case 2: err = kiln_loader_method_find(image.img, "saxpy", &index); break;
          default: failures[t] += kiln_loader_method_count(image.img) == 0; break;
        }
        failures[t] += err != nullptr;
        kiln_error_free(err);
        err = kiln_loader_image_verify(image.img);
        failures[t] += err != nullptr;
        kiln_error_free(err);
        views[t] = kiln_loader_image_format(image.img);
      });
    }
    for (std::thread &th : threads) th.join();
    const kiln_image_format_t *view = kiln_loader_image_format(image.img);
    ASSERT_NE(view, nullptr);
    for (int t = 0; t < kThreads; t++) {
      EXPECT_EQ(failures[t], 0) << "thread " << t;
      EXPECT_EQ(views[t], view) << "thread " << t;
    }
  }
}

TEST(LoaderVerifyTest, NullArguments) {
  Err err(kiln_loader_image_verify(nullptr));
  EXPECT_EQ(err.code(), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_loader_image_format(nullptr), nullptr);
  EXPECT_EQ(kiln_loader_method_count(nullptr), 0u);
  kiln_loader_options_set_eager_directory(nullptr, true);  // a no-op
  kiln_loader_options_set_eager_directory(nullptr, false);
}

TEST(LoaderOptionsTest, NewAndSetters) {
  Err null_out(kiln_loader_options_new(nullptr));
  EXPECT_EQ(null_out.code(), KILN_ERR_INVALID_ARGUMENT);
  kiln_loader_options_t *o = nullptr;
  ASSERT_OK(kiln_loader_options_new(&o));
  ASSERT_OK(kiln_loader_options_set_expected_triple(o, "x86_64-unknown-linux-gnu"));
  ASSERT_OK(kiln_loader_options_set_expected_triple(o, nullptr));
  ASSERT_OK(kiln_loader_options_require(o, "a", "1"));
  Err null_opts(kiln_loader_options_set_expected_triple(nullptr, "x"));
  EXPECT_EQ(null_opts.code(), KILN_ERR_INVALID_ARGUMENT);
  kiln_loader_options_free(o);
  kiln_loader_options_free(nullptr);
  kiln_loader_close(nullptr);
  kiln_loader_info_free(nullptr);
}

}  // namespace
