// Tests for components/base: errors and the version query.
#include "components/base/base.h"

#include <string.h>

#include <string>

#include "gtest/gtest.h"

namespace {

TEST(BaseErrorTest, NewCarriesCodeAndFormattedMessage) {
  kiln_error_t *err = kiln_error_new(KILN_ERR_PARSE, "'%s': unknown CPU name at target %d",
                                     "haswel", 2);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_PARSE);
  EXPECT_STREQ(kiln_error_message(err), "'haswel': unknown CPU name at target 2");
  kiln_error_free(err);
}

TEST(BaseErrorTest, NullErrorMeansSuccess) {
  EXPECT_EQ(kiln_error_code(nullptr), KILN_OK);
  EXPECT_STREQ(kiln_error_message(nullptr), "");
  EXPECT_EQ(kiln_error_prefix(nullptr, "ignored %d", 1), nullptr);
  kiln_error_free(nullptr);  // accepted, like free(NULL)
}

TEST(BaseErrorTest, EmptyAndNullFormatsGiveEmptyMessage) {
  kiln_error_t *err = kiln_error_new(KILN_ERR_INTERNAL, "%s", "");
  EXPECT_STREQ(kiln_error_message(err), "");
  kiln_error_free(err);
}

TEST(BaseErrorTest, PrefixNamesTheInput) {
  kiln_error_t *err = kiln_error_new(KILN_ERR_FORMAT, "checksum mismatch");
  err = kiln_error_prefix(err, "%s", "/tmp/libimage.so");
  EXPECT_EQ(kiln_error_code(err), KILN_ERR_FORMAT);
  EXPECT_STREQ(kiln_error_message(err), "/tmp/libimage.so: checksum mismatch");
  err = kiln_error_prefix(err, "loading %s", "pkg");
  EXPECT_STREQ(kiln_error_message(err), "loading pkg: /tmp/libimage.so: checksum mismatch");
  kiln_error_free(err);
}

TEST(BaseErrorTest, LongMessagesAreNotTruncated) {
  std::string input(10000, 'x');
  kiln_error_t *err = kiln_error_new(KILN_ERR_NOT_FOUND, "%s: no such file", input.c_str());
  EXPECT_EQ(strlen(kiln_error_message(err)), input.size() + strlen(": no such file"));
  kiln_error_free(err);
}

TEST(BaseErrorTest, CodeNamesAreStable) {
  EXPECT_STREQ(kiln_error_code_name(KILN_OK), "ok");
  EXPECT_STREQ(kiln_error_code_name(KILN_ERR_INVALID_ARGUMENT), "invalid-argument");
  EXPECT_STREQ(kiln_error_code_name(KILN_ERR_INCOMPATIBLE), "incompatible");
  EXPECT_STREQ(kiln_error_code_name(KILN_ERR_INTERNAL), "internal");
  // Numbers are ABI: pin a few.
  EXPECT_EQ(KILN_ERR_PARSE, 2);
  EXPECT_EQ(KILN_ERR_FORMAT, 5);
  EXPECT_EQ(KILN_ERR_INTERNAL, 13);
}

TEST(BaseErrorTest, UnknownCodeNameIsUnknown) {
  EXPECT_STREQ(kiln_error_code_name(static_cast<kiln_error_code_t>(999)), "unknown");
  EXPECT_STREQ(kiln_error_code_name(static_cast<kiln_error_code_t>(-1)), "unknown");
}

TEST(BaseVersionTest, RuntimeMatchesHeader) {
  EXPECT_EQ(kiln_version_number(), static_cast<unsigned>(KILN_VERSION_NUMBER));
  EXPECT_STREQ(kiln_version_string(), KILN_VERSION_STRING);
  std::string expected = std::to_string(KILN_VERSION_MAJOR) + "." +
                         std::to_string(KILN_VERSION_MINOR) + "." +
                         std::to_string(KILN_VERSION_PATCH);
  EXPECT_EQ(expected, kiln_version_string());
}

}  // namespace
