// components/emitter/testing/emitter_testing.h — test-only support shared by
// the emitter's tests and the integration tests that build images: tool
// paths, shell commands, scratch files under $TEST_TMPDIR, error helpers,
// real C compiled to emitter input bitcode by clang-22 at test time,
// archives linked into shared objects with ld.lld, and a check of an
// image's format-5 table numbering.
//
// Ownership: helpers that take a kiln_error_t * free it.
// Errors: command helpers return the exit status (output, stderr included,
// appended to *out/*log); the compile helper adds a GoogleTest failure.
// Thread-safety: none needed (tests call these from one thread).
#ifndef KILN_EMITTER_TESTING_EMITTER_TESTING_H
#define KILN_EMITTER_TESTING_EMITTER_TESTING_H

#include <memory>
#include <string>

#include "components/base/base.h"
#include "components/emitter/emitter.h"
#include "components/image_format/image_format.h"
#include "gtest/gtest.h"

namespace kiln_emitter_test {

inline constexpr const char *kClang = "/usr/lib/llvm-22/bin/clang";
inline constexpr const char *kLld = "/usr/lib/llvm-22/bin/ld.lld";
inline constexpr const char *kReadelf = "/usr/lib/llvm-22/bin/llvm-readelf";

// $TEST_TMPDIR, else /tmp.
std::string TmpDir();

// Runs `cmd` through the shell; returns its exit status (-1 if it did not
// run). stdout and stderr are appended to *out when out is not null.
int Shell(const std::string &cmd, std::string *out = nullptr);

// The whole file ("" when it cannot be read).
std::string ReadFile(const std::string &path);
// Writes (replaces) the file.
void WriteFile(const std::string &path, const std::string &text);

// The error's message ("" for NULL); frees the error.
std::string Take(kiln_error_t *err);
// The error's code; frees the error.
kiln_error_code_t Code(kiln_error_t *err);

// An environment lookup that finds nothing (kiln_emitter_options_set_env).
const char *NoEnv(void *user, const char *name);

// Compiles the C file `src` to `bc` as unoptimized but optimizable bitcode
// (what the emitter expects: clang -O2 without LLVM passes, -fPIC); adds a
// test failure with clang's output if it fails. Returns bc.
std::string CompileToBitcode(const std::string &src, const std::string &bc);

// ld.lld -shared -o so --whole-archive archive; returns the exit status.
int LinkArchive(const std::string &archive, const std::string &so, std::string *log);

// Format 5 (docs/image-format.md): the function and global tables of `im`
// (a full view) are numbered shard by shard. Adds a test failure unless, for
// both tables, the shards' ranges are consecutive and tile the table, names
// strictly ascend within each shard, the name index lists every entry once
// in strcmp order, and the find returns each entry's own index.
void ExpectShardMajorTables(const kiln_image_format_t *im);

struct OptionsDeleter {
  void operator()(kiln_emitter_options_t *o) const { kiln_emitter_options_free(o); }
};
using Options = std::unique_ptr<kiln_emitter_options_t, OptionsDeleter>;

struct ResultDeleter {
  void operator()(kiln_emitter_result_t *r) const { kiln_emitter_result_free(r); }
};
using Result = std::unique_ptr<kiln_emitter_result_t, ResultDeleter>;

}  // namespace kiln_emitter_test

#define ASSERT_OK(expr)                                           \
  do {                                                            \
    kiln_error_t *e_ = (expr);                                    \
    ASSERT_EQ(e_, nullptr) << ::kiln_emitter_test::Take(e_);      \
  } while (0)

#define EXPECT_OK(expr)                                           \
  do {                                                            \
    kiln_error_t *e_ = (expr);                                    \
    EXPECT_EQ(e_, nullptr) << ::kiln_emitter_test::Take(e_);      \
  } while (0)

#endif  // KILN_EMITTER_TESTING_EMITTER_TESTING_H
