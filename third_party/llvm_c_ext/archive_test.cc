// Tests of kiln_llvm_archive_write*(): real objects compiled by clang-22 at
// test time, archives checked with llvm-ar and llvm-nm.
//
// Usage (from Bazel): archive_test CLANG LLVM_AR LLVM_NM
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

namespace {

const char *g_clang, *g_llvm_ar, *g_llvm_nm;

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

// Compiles `source` (C) into an object and returns its bytes.
std::string CompileObject(const std::string &stem, const std::string &source) {
  std::string dir = TmpDir();
  std::string src = dir + "/" + stem + ".c", obj = dir + "/" + stem + ".o";
  std::ofstream(src) << source;
  std::string command = std::string(g_clang) + " -c -fPIC -O1 -o " + obj + " " + src;
  EXPECT_EQ(system(command.c_str()), 0) << command;
  return ReadFile(obj);
}

class LlvmArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_llvm_nm, nullptr) << "usage: archive_test CLANG LLVM_AR LLVM_NM";
    alpha_ = CompileObject("alpha", "int kiln_alpha(int x) { return x + 1; }\n");
    beta_ = CompileObject("beta", "int kiln_beta(int x) { return x * 2; }\n"
                                  "int kiln_beta_data = 7;\n");
    members_[0] = {"zeta_first.o", beta_.data(), beta_.size()};
    members_[1] = {"alpha_second.o", alpha_.data(), alpha_.size()};
  }

  std::string alpha_, beta_;
  kiln_llvm_archive_member_t members_[2];
};

TEST_F(LlvmArchiveTest, WritesMembersInOrderWithSymbolTable) {
  std::string path = TmpDir() + "/order.a";
  kiln_error_t *err = kiln_llvm_archive_write(path.c_str(), members_, 2);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);

  EXPECT_EQ(RunTool(std::string(g_llvm_ar) + " t " + path), "zeta_first.o\nalpha_second.o\n");
  std::string symtab = RunTool(std::string(g_llvm_nm) + " --print-armap " + path);
  EXPECT_NE(symtab.find("Archive map"), std::string::npos) << symtab;
  EXPECT_NE(symtab.find("kiln_alpha in alpha_second.o"), std::string::npos) << symtab;
  EXPECT_NE(symtab.find("kiln_beta in zeta_first.o"), std::string::npos) << symtab;
  EXPECT_NE(symtab.find("kiln_beta_data in zeta_first.o"), std::string::npos) << symtab;

  // Deterministic member headers: "ar tv" shows mode, uid/gid and a zero date.
  std::string verbose = RunTool(std::string(g_llvm_ar) + " tv " + path);
  EXPECT_NE(verbose.find("rw-r--r-- 0/0"), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("1970"), std::string::npos) << verbose;

  // Nothing but the archive in the directory: the temporary file is gone.
  std::string listing = RunTool("ls -a " + TmpDir());
  EXPECT_EQ(listing.find(".tmp-"), std::string::npos) << listing;
}

TEST_F(LlvmArchiveTest, TwoWritesGiveIdenticalBytes) {
  std::string a = TmpDir() + "/same1.a", b = TmpDir() + "/same2.a";
  kiln_error_t *err = kiln_llvm_archive_write(a.c_str(), members_, 2);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  sleep(1);  // a timestamp would differ now
  err = kiln_llvm_archive_write(b.c_str(), members_, 2);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  std::string bytes = ReadFile(a);
  EXPECT_EQ(bytes.compare(0, 8, "!<arch>\n"), 0);
  EXPECT_EQ(bytes, ReadFile(b));

  void *data = nullptr;
  size_t size = 0;
  err = kiln_llvm_archive_write_memory(members_, 2, &data, &size);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(std::string(static_cast<const char *>(data), size), bytes);
  free(data);
}

TEST_F(LlvmArchiveTest, ReplacesAnOlderArchive) {
  std::string path = TmpDir() + "/replace.a";
  kiln_error_t *err = kiln_llvm_archive_write(path.c_str(), members_, 2);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  err = kiln_llvm_archive_write(path.c_str(), members_ + 1, 1);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(RunTool(std::string(g_llvm_ar) + " t " + path), "alpha_second.o\n");
}

TEST_F(LlvmArchiveTest, EmptyArchive) {
  void *data = nullptr;
  size_t size = 0;
  kiln_error_t *err = kiln_llvm_archive_write_memory(nullptr, 0, &data, &size);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  EXPECT_EQ(std::string(static_cast<const char *>(data), size), "!<arch>\n");
  free(data);
}

TEST_F(LlvmArchiveTest, UnwritablePathIsAnIoErrorNamingIt) {
  // A directory that does not exist (a regular file in its place).
  std::string file = TmpDir() + "/not_a_dir";
  std::ofstream(file) << "x";
  std::string path = file + "/out.a";
  kiln_error_t *err = kiln_llvm_archive_write(path.c_str(), members_, 2);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_IO);
  EXPECT_NE(std::string(kiln_error_message(err)).find(path), std::string::npos)
      << kiln_error_message(err);
  kiln_error_free(err);
}

TEST_F(LlvmArchiveTest, ReadOnlyDirectoryLeavesTheOlderArchive) {
  std::string dir = TmpDir() + "/readonly";
  mkdir(dir.c_str(), 0755);
  std::string path = dir + "/out.a";
  kiln_error_t *err = kiln_llvm_archive_write(path.c_str(), members_, 2);
  ASSERT_EQ(err, nullptr) << kiln_error_message(err);
  std::string before = ReadFile(path);
  chmod(dir.c_str(), 0555);
  if (access(dir.c_str(), W_OK) == 0) {
    chmod(dir.c_str(), 0755);
    GTEST_SKIP() << "running as root: a read-only directory is still writable";
  }
  err = kiln_llvm_archive_write(path.c_str(), members_ + 1, 1);
  chmod(dir.c_str(), 0755);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_IO);
  EXPECT_NE(std::string(kiln_error_message(err)).find(path), std::string::npos)
      << kiln_error_message(err);
  kiln_error_free(err);
  EXPECT_EQ(ReadFile(path), before);
}

TEST_F(LlvmArchiveTest, BadArgumentsAreRejected) {
  kiln_error_t *err = kiln_llvm_archive_write(nullptr, members_, 2);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  kiln_error_free(err);

  kiln_llvm_archive_member_t bad = {"dir/name.o", alpha_.data(), alpha_.size()};
  std::string path = TmpDir() + "/bad.a";
  err = kiln_llvm_archive_write(path.c_str(), &bad, 1);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_error_message(err)).find("dir/name.o"), std::string::npos);
  kiln_error_free(err);
  EXPECT_NE(access(path.c_str(), F_OK), 0);

  void *data = reinterpret_cast<void *>(1);
  size_t size = 1;
  err = kiln_llvm_archive_write_memory(members_, 2, &data, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(data, nullptr);
  kiln_error_free(err);
  err = kiln_llvm_archive_write_memory(nullptr, 3, &data, &size);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(size, 0u);
  kiln_error_free(err);
}

TEST_F(LlvmArchiveTest, CorruptObjectMemberIsAFormatError) {
  // ELF magic, then garbage: it claims to be an object, so its symbols must
  // be readable for the symbol table.
  std::string corrupt = alpha_.substr(0, 64);
  corrupt[40] = '\x7f';  // e_shoff far beyond the end
  kiln_llvm_archive_member_t member = {"broken.o", corrupt.data(), corrupt.size()};
  void *data = nullptr;
  size_t size = 0;
  kiln_error_t *err = kiln_llvm_archive_write_memory(&member, 1, &data, &size);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  EXPECT_NE(std::string(kiln_error_message(err)).find("broken.o"), std::string::npos)
      << kiln_error_message(err);
  EXPECT_EQ(data, nullptr);
  kiln_error_free(err);
}

}  // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 3) {
    g_clang = argv[1];
    g_llvm_ar = argv[2];
    g_llvm_nm = argv[3];
  }
  return RUN_ALL_TESTS();
}
