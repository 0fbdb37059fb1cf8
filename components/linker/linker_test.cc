// Tests of components/linker on real inputs: C compiled by clang-22 at test
// time, archived with kiln_llvm_archive_write, linked by kiln_linker_link
// (LLD in-process and the system C compiler), then loaded with dlopen and
// inspected with llvm-readelf.
//
// Usage (from Bazel): linker_test CLANG LLVM_READELF
#include <dlfcn.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "components/linker/linker.h"
#include "gtest/gtest.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

#ifdef KILN_EXPECT_LLD_FATAL
// This binary runs only the LLD fatal-error case. When a fatal error unwinds
// out of LLD (longjmp), LLD's allocations of that link are never freed, which
// is why LLD reports canRunAgain = false. Under LeakSanitizer those leaks are
// LLD's documented behavior, not kiln's: suppress them here only (their
// stacks end in libLLVM/libstdc++ frames); the other test binaries keep full
// leak checking.
extern "C" const char *__lsan_default_suppressions(void);
extern "C" const char *__lsan_default_suppressions(void) {
  return "leak:libLLVM.so\nleak:libstdc++.so\n";
}
#endif

namespace {

const char *g_clang, *g_readelf;

std::string TmpDir() {
  const char *dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string ReadFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string RunTool(const std::string &command) {
  std::string out;
  FILE *pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

std::string Readelf(const std::string &flags, const std::string &path) {
  return RunTool(std::string(g_readelf) + " " + flags + " " + path + " 2>&1");
}

bool Contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

// Names in `dir` that contain `part` (to find leftover temporary files).
std::vector<std::string> FilesContaining(const std::string &dir, const std::string &part) {
  std::vector<std::string> out;
  DIR *d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (Contains(name, part)) out.push_back(name);
  }
  closedir(d);
  return out;
}

// Redirects fd 2 into a file while alive; Text() returns what was written.
class StderrCapture {
 public:
  StderrCapture() : path_(TmpDir() + "/stderr.capture") {
    fflush(stderr);
    saved_ = dup(2);
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() { Restore(); }
  std::string Text() {
    Restore();
    return ReadFile(path_);
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

// Compiles `source` in `dir` under a relative name (so no build path is
// recorded in the object itself) and returns the object's path.
std::string Compile(const std::string &dir, const std::string &stem, const std::string &source) {
  std::ofstream(dir + "/" + stem + ".c") << source;
  std::string command = "cd " + dir + " && " + g_clang + " -c -fPIC -O1 -o " + stem + ".o " +
                        stem + ".c";
  EXPECT_EQ(system(command.c_str()), 0) << command;
  return dir + "/" + stem + ".o";
}

const char kRootSource[] =
    "#include <string.h>\n"
    "int kiln_hidden_helper(int x);\n"
    "int kiln_from_member(int x);\n"
    "int kiln_image_root(void) { return kiln_hidden_helper(20) + (int)strlen(\"ab\"); }\n"
    "int kiln_extra(int x) { return kiln_from_member(x) + 1; }\n";
const char kMemberSource[] =
    "int kiln_hidden_helper(int x) { return x * 2; }\n"
    "int kiln_from_member(int x) { return x + 100; }\n";

class LinkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_readelf, nullptr) << "usage: linker_test CLANG LLVM_READELF";
    dir_ = TmpDir() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mkdir(dir_.c_str(), 0755);
    root_obj_ = Compile(dir_, "root", kRootSource);
    member_obj_ = Compile(dir_, "member", kMemberSource);
    archive_ = dir_ + "/shards.a";
    std::string root = ReadFile(root_obj_), member = ReadFile(member_obj_);
    kiln_llvm_archive_member_t members[] = {{"root.o", root.data(), root.size()},
                                            {"member.o", member.data(), member.size()}};
    kiln_error_t *err = kiln_llvm_archive_write(archive_.c_str(), members, 2);
    ASSERT_EQ(err, nullptr) << kiln_error_message(err);
    ASSERT_EQ(kiln_linker_options_new(&opts_), nullptr);
  }
  void TearDown() override { kiln_linker_options_free(opts_); }

  // The emitter's call: one whole archive, the root symbol exported.
  void ImageOptions(const std::string &output) {
    ASSERT_EQ(kiln_linker_options_set_output(opts_, output.c_str()), nullptr);
    ASSERT_EQ(kiln_linker_options_add_archive(opts_, archive_.c_str(), true), nullptr);
    ASSERT_EQ(kiln_linker_options_add_export(opts_, "kiln_image_root"), nullptr);
    ASSERT_EQ(kiln_linker_options_add_export(opts_, "kiln_extra"), nullptr);
  }

  // Loads `so` and checks what it exports and what it hides.
  void CheckImage(const std::string &so) {
    void *handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    auto root = reinterpret_cast<int (*)(void)>(dlsym(handle, "kiln_image_root"));
    auto extra = reinterpret_cast<int (*)(int)>(dlsym(handle, "kiln_extra"));
    ASSERT_NE(root, nullptr);
    ASSERT_NE(extra, nullptr);
    EXPECT_EQ(root(), 42);
    EXPECT_EQ(extra(1), 102);
    // Defined, global in their objects, but not asked for: not dynamic.
    EXPECT_EQ(dlsym(handle, "kiln_hidden_helper"), nullptr);
    EXPECT_EQ(dlsym(handle, "kiln_from_member"), nullptr);
    dlclose(handle);

    std::string dyn = Readelf("--dyn-syms --wide", so);
    EXPECT_TRUE(Contains(dyn, "kiln_image_root")) << dyn;
    EXPECT_FALSE(Contains(dyn, "kiln_hidden_helper")) << dyn;
    std::string dynamic = Readelf("-d", so);
    EXPECT_TRUE(Contains(dynamic, "Shared library: [libc.so.6]")) << dynamic;
    EXPECT_FALSE(Contains(dynamic, "RPATH")) << dynamic;
    EXPECT_FALSE(Contains(dynamic, "RUNPATH")) << dynamic;
    EXPECT_TRUE(Contains(dynamic, "NOW")) << dynamic;
    std::string headers = Readelf("-l --wide", so);
    EXPECT_TRUE(Contains(headers, "GNU_RELRO")) << headers;
    size_t stack = headers.find("GNU_STACK");
    ASSERT_NE(stack, std::string::npos) << headers;
    std::string stack_line = headers.substr(stack, headers.find('\n', stack) - stack);
    EXPECT_FALSE(Contains(stack_line, "E ")) << stack_line;  // flags "RW ", not "RWE"
    EXPECT_TRUE(Contains(Readelf("-S --wide", so), ".gnu.hash"));
    EXPECT_TRUE(Contains(Readelf("-n", so), "Build ID"));
    // No build path anywhere in the bytes (the test's directory is the one
    // every input and the output live in).
    EXPECT_FALSE(Contains(ReadFile(so), TmpDir()));
    EXPECT_TRUE(FilesContaining(dir_, ".kiln-").empty());
  }

  std::string BuildId(const std::string &so) {
    std::string notes = Readelf("-n", so);
    size_t at = notes.find("Build ID:");
    return at == std::string::npos ? "" : notes.substr(at, notes.find('\n', at) - at);
  }

  std::string dir_, root_obj_, member_obj_, archive_;
  kiln_linker_options_t *opts_ = nullptr;
};

TEST_F(LinkerTest, LldLinksAnImageExportingOnlyRequestedSymbols) {
  std::string so = dir_ + "/libimage.so";
  ImageOptions(so);
  kiln_linker_report_t *report = nullptr;
  kiln_error_t *err = kiln_linker_link(opts_, &report);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  ASSERT_NE(report, nullptr);
  EXPECT_EQ(kiln_linker_report_driver(report), KILN_LINKER_DRIVER_LLD);
  EXPECT_GT(kiln_linker_report_wall_ns(report), 0u);
  EXPECT_STREQ(kiln_linker_report_diagnostics(report), "");
  kiln_linker_report_free(report);
  CheckImage(so);
}

TEST_F(LinkerTest, LinkingTwiceGivesIdenticalBytes) {
  std::string a = dir_ + "/liba.so", b = dir_ + "/libb.so";
  ImageOptions(a);
  kiln_error_t *err = kiln_linker_link(opts_, nullptr);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  ASSERT_EQ(kiln_linker_options_set_output(opts_, b.c_str()), nullptr);
  err = kiln_linker_link(opts_, nullptr);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  std::string bytes = ReadFile(a);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes, ReadFile(b));
  EXPECT_NE(BuildId(a), "");
  EXPECT_EQ(BuildId(a), BuildId(b));
  EXPECT_FALSE(Contains(bytes, TmpDir()));
}

TEST_F(LinkerTest, CcDriverLinksTheSameImage) {
  std::string so = dir_ + "/libcc.so";
  ImageOptions(so);
  ASSERT_EQ(kiln_linker_options_set_driver(opts_, KILN_LINKER_DRIVER_CC), nullptr);
  kiln_linker_report_t *report = nullptr;
  kiln_error_t *err = kiln_linker_link(opts_, &report);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(kiln_linker_report_driver(report), KILN_LINKER_DRIVER_CC);
  kiln_linker_report_free(report);
  CheckImage(so);

  // Deterministic with this driver too.
  std::string again = dir_ + "/libcc2.so";
  ASSERT_EQ(kiln_linker_options_set_output(opts_, again.c_str()), nullptr);
  err = kiln_linker_link(opts_, nullptr);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(ReadFile(so), ReadFile(again));
}

TEST_F(LinkerTest, ObjectsLibrariesAndSoname) {
  // root.o as an object; member.o found as -lmember in a search directory,
  // pulled from a plain (not whole) archive because root.o needs it.
  std::string libdir = dir_ + "/libs";
  mkdir(libdir.c_str(), 0755);
  std::string member = ReadFile(member_obj_);
  kiln_llvm_archive_member_t m = {"member.o", member.data(), member.size()};
  kiln_error_t *err = kiln_llvm_archive_write((libdir + "/libmember.a").c_str(), &m, 1);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);

  std::string so = dir_ + "/libobjects.so";
  ASSERT_EQ(kiln_linker_options_set_output(opts_, so.c_str()), nullptr);
  ASSERT_EQ(kiln_linker_options_add_object(opts_, root_obj_.c_str()), nullptr);
  ASSERT_EQ(kiln_linker_options_add_library_path(opts_, libdir.c_str()), nullptr);
  ASSERT_EQ(kiln_linker_options_add_library(opts_, "member"), nullptr);
  ASSERT_EQ(kiln_linker_options_add_export(opts_, "kiln_image_root"), nullptr);
  ASSERT_EQ(kiln_linker_options_add_export(opts_, "kiln_extra"), nullptr);
  ASSERT_EQ(kiln_linker_options_set_soname(opts_, "libkiln-image.so"), nullptr);
  ASSERT_EQ(kiln_linker_options_set_no_undefined(opts_, true), nullptr);
  ASSERT_EQ(kiln_linker_options_add_arg(opts_, "--gc-sections"), nullptr);
  err = kiln_linker_link(opts_, nullptr);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  CheckImage(so);
  EXPECT_TRUE(Contains(Readelf("-d", so), "Library soname: [libkiln-image.so]"));
}

// Each failing link must leave the previous image byte for byte and no
// temporary file.
class LinkerFailureTest : public LinkerTest {
 protected:
  void SetUp() override {
    LinkerTest::SetUp();
    so_ = dir_ + "/libkeep.so";
    ImageOptions(so_);
    kiln_error_t *err = kiln_linker_link(opts_, nullptr);
    ASSERT_EQ(err, nullptr) << kiln_error_message(err);
    before_ = ReadFile(so_);
    ASSERT_FALSE(before_.empty());
  }

  // Links with `opts_` expecting `code`, a message naming the output and
  // each of `names`, nothing on stderr, and the old image in place.
  void ExpectFailure(kiln_error_code_t code, const std::vector<std::string> &names) {
    StderrCapture capture;
    kiln_linker_report_t *report = reinterpret_cast<kiln_linker_report_t *>(1);
    kiln_error_t *err = kiln_linker_link(opts_, &report);
    std::string printed = capture.Text();
    ASSERT_NE(err, nullptr);
    EXPECT_EQ(report, nullptr);
    std::string message = kiln_error_message(err);
    EXPECT_EQ(kiln_error_code(err), code) << message;
    EXPECT_TRUE(Contains(message, so_)) << message;
    for (const std::string &name : names) EXPECT_TRUE(Contains(message, name)) << message;
    kiln_error_free(err);
    EXPECT_EQ(printed, "");
    EXPECT_EQ(ReadFile(so_), before_);
    EXPECT_TRUE(FilesContaining(dir_, ".kiln-").empty());
  }

  std::string so_, before_;
};

TEST_F(LinkerFailureTest, MissingInput) {
  std::string missing = dir_ + "/missing.o";
  ASSERT_EQ(kiln_linker_options_add_object(opts_, missing.c_str()), nullptr);
  ExpectFailure(KILN_ERR_NOT_FOUND, {missing});
}

TEST_F(LinkerFailureTest, GarbageInputIsAFormatError) {
  std::string garbage = dir_ + "/garbage.o";
  std::ofstream(garbage) << "this is not an object file";
  ASSERT_EQ(kiln_linker_options_add_object(opts_, garbage.c_str()), nullptr);
  ExpectFailure(KILN_ERR_FORMAT, {garbage});
  kiln_linker_options_free(opts_);
  ASSERT_EQ(kiln_linker_options_new(&opts_), nullptr);
  ImageOptions(so_);
  ASSERT_EQ(kiln_linker_options_add_archive(opts_, garbage.c_str(), false), nullptr);
  ExpectFailure(KILN_ERR_FORMAT, {garbage});
}

TEST_F(LinkerFailureTest, CorruptObjectWithCc) {
  std::string corrupt = dir_ + "/corrupt.o";
  std::ofstream(corrupt, std::ios::binary) << ReadFile(member_obj_).substr(0, 200);
  ASSERT_EQ(kiln_linker_options_set_driver(opts_, KILN_LINKER_DRIVER_CC), nullptr);
  ASSERT_EQ(kiln_linker_options_add_object(opts_, corrupt.c_str()), nullptr);
  ExpectFailure(KILN_ERR_LINK, {"corrupt.o"});
}

// Run by its own test target (linker_corrupt_test): LLD handles a truncated
// ELF object with a fatal error, after which it cannot run again in the
// process, so this must not share a process with other LLD links.
TEST_F(LinkerFailureTest, CorruptObjectWithLldThenLldRefuses) {
  std::string corrupt = dir_ + "/corrupt.o";
  std::ofstream(corrupt, std::ios::binary) << ReadFile(member_obj_).substr(0, 200);
  ASSERT_EQ(kiln_linker_options_add_object(opts_, corrupt.c_str()), nullptr);
  ExpectFailure(KILN_ERR_LINK, {"corrupt.o"});

  // Later LLD links fail fast, saying why; the CC driver still works.
  kiln_linker_options_free(opts_);
  ASSERT_EQ(kiln_linker_options_new(&opts_), nullptr);
  ImageOptions(so_);
  ExpectFailure(KILN_ERR_UNSUPPORTED, {"cannot run again"});
  ASSERT_EQ(kiln_linker_options_set_driver(opts_, KILN_LINKER_DRIVER_CC), nullptr);
  kiln_error_t *err = kiln_linker_link(opts_, nullptr);
  EXPECT_EQ(err, nullptr) << kiln_error_message(err);
  kiln_error_free(err);
}

TEST_F(LinkerFailureTest, UndefinedSymbolWithNoUndefined) {
  std::string needs = Compile(dir_, "needs",
                              "int kiln_missing(int);\n"
                              "int kiln_needs(int x) { return kiln_missing(x); }\n");
  ASSERT_EQ(kiln_linker_options_add_object(opts_, needs.c_str()), nullptr);
  // Without --no-undefined the symbol is left to the dynamic loader...
  std::string lenient = dir_ + "/liblenient.so";
  ASSERT_EQ(kiln_linker_options_set_output(opts_, lenient.c_str()), nullptr);
  kiln_error_t *err = kiln_linker_link(opts_, nullptr);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  // ...with it, the link fails naming the symbol and the object.
  ASSERT_EQ(kiln_linker_options_set_output(opts_, so_.c_str()), nullptr);
  ASSERT_EQ(kiln_linker_options_set_no_undefined(opts_, true), nullptr);
  ExpectFailure(KILN_ERR_LINK, {"kiln_missing", "needs"});
  ASSERT_EQ(kiln_linker_options_set_driver(opts_, KILN_LINKER_DRIVER_CC), nullptr);
  ExpectFailure(KILN_ERR_LINK, {"kiln_missing"});
}

TEST_F(LinkerFailureTest, ExportNotDefined) {
  ASSERT_EQ(kiln_linker_options_add_export(opts_, "kiln_not_there"), nullptr);
  ExpectFailure(KILN_ERR_LINK, {"kiln_not_there"});
}

TEST_F(LinkerFailureTest, UnwritableOutputDirectory) {
  // A directory that cannot exist (a file stands in its place).
  std::string blocker = dir_ + "/blocker";
  std::ofstream(blocker) << "x";
  std::string bad = blocker + "/libimage.so";
  ASSERT_EQ(kiln_linker_options_set_output(opts_, bad.c_str()), nullptr);
  kiln_error_t *err = kiln_linker_link(opts_, nullptr);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_IO);
  EXPECT_TRUE(Contains(kiln_error_message(err), bad)) << kiln_error_message(err);
  kiln_error_free(err);

  // A read-only directory holding the previous image (skipped as root, who
  // may write anyway).
  ASSERT_EQ(kiln_linker_options_set_output(opts_, so_.c_str()), nullptr);
  chmod(dir_.c_str(), 0555);
  if (access(dir_.c_str(), W_OK) == 0) {
    chmod(dir_.c_str(), 0755);
    GTEST_SKIP() << "running as root: a read-only directory is still writable";
  }
  ExpectFailure(KILN_ERR_IO, {});
  chmod(dir_.c_str(), 0755);
}

TEST_F(LinkerFailureTest, CcNotFound) {
  ASSERT_EQ(kiln_linker_options_set_driver(opts_, KILN_LINKER_DRIVER_CC), nullptr);
  ASSERT_EQ(kiln_linker_options_set_cc(opts_, "/nonexistent/kiln-cc"), nullptr);
  ExpectFailure(KILN_ERR_NOT_FOUND, {"/nonexistent/kiln-cc"});
}

TEST(LinkerOptionsTest, RejectsBadArguments) {
  kiln_linker_options_t *opts = reinterpret_cast<kiln_linker_options_t *>(1);
  kiln_error_t *err = kiln_linker_options_new(nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  ASSERT_EQ(kiln_linker_options_new(&opts), nullptr);

  struct {
    kiln_error_t *err;
    const char *what;
  } cases[] = {
      {kiln_linker_options_set_output(opts, nullptr), "output NULL"},
      {kiln_linker_options_set_output(opts, "dir/"), "output dir"},
      {kiln_linker_options_add_archive(opts, "", true), "archive empty"},
      {kiln_linker_options_add_object(nullptr, "a.o"), "options NULL"},
      {kiln_linker_options_add_library(opts, "/usr/lib/libm.so"), "library path"},
      {kiln_linker_options_add_library_path(opts, nullptr), "library path NULL"},
      {kiln_linker_options_add_export(opts, "a; local: *"), "export injection"},
      {kiln_linker_options_add_export(opts, ""), "export empty"},
      {kiln_linker_options_set_no_undefined(nullptr, true), "no_undefined NULL"},
      {kiln_linker_options_set_driver(opts, static_cast<kiln_linker_driver_t>(7)), "driver"},
      {kiln_linker_options_set_cc(opts, nullptr), "cc NULL"},
      {kiln_linker_options_set_soname(opts, "/abs/libx.so"), "soname path"},
      {kiln_linker_options_set_triple(opts, ""), "triple empty"},
      {kiln_linker_options_set_link_libc(nullptr, false), "link_libc NULL"},
      {kiln_linker_options_add_arg(opts, nullptr), "arg NULL"},
  };
  for (auto &c : cases) {
    EXPECT_EQ(kiln_error_code(c.err), KILN_ERR_INVALID_ARGUMENT) << c.what;
    kiln_error_free(c.err);
  }

  // Missing output, inputs, exports.
  kiln_linker_report_t *report = reinterpret_cast<kiln_linker_report_t *>(1);
  err = kiln_linker_link(nullptr, &report);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(report, nullptr);
  kiln_error_free(err);
  err = kiln_linker_link(opts, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);
  ASSERT_EQ(kiln_linker_options_set_output(opts, "/tmp/kiln-never.so"), nullptr);
  err = kiln_linker_link(opts, nullptr);
  EXPECT_TRUE(Contains(kiln_error_message(err), "no inputs")) << kiln_error_message(err);
  kiln_error_free(err);
  ASSERT_EQ(kiln_linker_options_add_object(opts, "/tmp/kiln-never.o"), nullptr);
  err = kiln_linker_link(opts, nullptr);
  EXPECT_TRUE(Contains(kiln_error_message(err), "no exported symbols")) << kiln_error_message(err);
  kiln_error_free(err);

  // A triple whose libc kiln cannot place.
  ASSERT_EQ(kiln_linker_options_add_export(opts, "kiln_image_root"), nullptr);
  std::string obj = TmpDir() + "/empty.o";
  std::ofstream(obj) << "\x7f" "ELF";  // passes the magic check; libc is looked up first
  kiln_linker_options_free(opts);
  ASSERT_EQ(kiln_linker_options_new(&opts), nullptr);
  ASSERT_EQ(kiln_linker_options_set_output(opts, (TmpDir() + "/libx.so").c_str()), nullptr);
  ASSERT_EQ(kiln_linker_options_add_object(opts, obj.c_str()), nullptr);
  ASSERT_EQ(kiln_linker_options_add_export(opts, "kiln_image_root"), nullptr);
  ASSERT_EQ(kiln_linker_options_set_triple(opts, "mips-unknown-linux-gnu"), nullptr);
  err = kiln_linker_link(opts, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_UNSUPPORTED);
  EXPECT_TRUE(Contains(kiln_error_message(err), "mips")) << kiln_error_message(err);
  kiln_error_free(err);
  kiln_linker_options_free(opts);
  kiln_linker_options_free(nullptr);
  kiln_linker_report_free(nullptr);

  EXPECT_STREQ(kiln_linker_driver_name(KILN_LINKER_DRIVER_LLD), "lld");
  EXPECT_STREQ(kiln_linker_driver_name(KILN_LINKER_DRIVER_CC), "cc");
  EXPECT_EQ(kiln_linker_driver_name(static_cast<kiln_linker_driver_t>(9)), nullptr);
}

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Absolute tool paths: tests run the compiler from their own directories.
  static char clang[4096], readelf[4096];
  if (argc > 2 && realpath(argv[1], clang) != nullptr && realpath(argv[2], readelf) != nullptr) {
    g_clang = clang;
    g_readelf = readelf;
  }
  return RUN_ALL_TESTS();
}
