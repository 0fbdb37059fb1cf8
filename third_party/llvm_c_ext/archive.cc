// third_party/llvm_c_ext/archive.cc — static archives (".a") through LLVM's
// archive writer, behind kiln_llvm_archive_write*() in llvm_c_ext.h.
//
// The emitter packs its per-shard objects into one archive that the linker
// then pulls in with --whole-archive. llvm::writeArchiveToBuffer with Deterministic
// set writes zero timestamps, uid/gid 0 and mode 0644 in every member header,
// so equal inputs give equal bytes. The file variant builds the archive in
// memory, writes it to a temporary file beside the target and renames it into
// place, so a failed write leaves an older archive untouched. LLVM's warnings
// are collected into the error, never printed.

#include "third_party/llvm_c_ext/llvm_c_ext.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "llvm/ADT/SmallString.h"
#include "llvm/Object/Archive.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

namespace {

// Checks the members and wraps them for LLVM (the buffers borrow the
// caller's bytes). A member name must be a plain file name: GNU archives
// store it as is, and "/" is their name terminator.
kiln_error_t *MakeMembers(const char *what, const kiln_llvm_archive_member_t *members, size_t count,
                          std::vector<llvm::NewArchiveMember> *out) {
  if (count > 0 && members == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: members is NULL but count is %zu", what,
                          count);
  }
  out->reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const kiln_llvm_archive_member_t &m = members[i];
    if (m.name == nullptr || m.name[0] == '\0') {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: member %zu has no name", what, i);
    }
    if (std::strchr(m.name, '/') != nullptr) {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                            "%s: member %zu name '%s' contains '/' (a file name is expected)", what,
                            i, m.name);
    }
    if (m.size > 0 && m.data == nullptr) {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "%s: member '%s' has NULL data", what,
                            m.name);
    }
    llvm::StringRef bytes(m.size > 0 ? static_cast<const char *>(m.data) : "", m.size);
    llvm::NewArchiveMember member(llvm::MemoryBufferRef(bytes, m.name));
    member.MemberName = m.name;
    out->push_back(std::move(member));
  }
  return nullptr;
}

// LLVM's writer reports some problems through a warning callback (by default
// to stderr). kiln treats them as failures: a member whose symbols cannot be
// read would leave the symbol table incomplete.
struct WarningSink {
  std::string text;
  void operator()(llvm::Error err) {
    llvm::handleAllErrors(std::move(err), [this](const llvm::ErrorInfoBase &info) {
      if (!text.empty()) text += "; ";
      text += info.message();
    });
  }
};

// The archive's bytes: GNU format, symbol table, deterministic headers.
kiln_error_t *WriteToBuffer(const char *what, const kiln_llvm_archive_member_t *members,
                            size_t count, std::unique_ptr<llvm::MemoryBuffer> *out) {
  std::vector<llvm::NewArchiveMember> new_members;
  if (kiln_error_t *err = MakeMembers(what, members, count, &new_members)) return err;
  WarningSink warnings;
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = llvm::writeArchiveToBuffer(
      new_members, llvm::SymtabWritingMode::NormalSymtab, llvm::object::Archive::K_GNU,
      /*Deterministic=*/true, /*Thin=*/false,
      [&warnings](llvm::Error e) { warnings(std::move(e)); });
  if (!buffer) {
    std::string message = llvm::toString(buffer.takeError());
    return kiln_error_new(KILN_ERR_FORMAT, "%s: %s", what, message.c_str());
  }
  if (!warnings.text.empty()) {
    return kiln_error_new(KILN_ERR_FORMAT, "%s: %s", what, warnings.text.c_str());
  }
  *out = std::move(*buffer);
  return nullptr;
}

}  // namespace

extern "C" kiln_error_t *kiln_llvm_archive_write(const char *path,
                                                 const kiln_llvm_archive_member_t *members,
                                                 size_t count) {
  if (path == nullptr || path[0] == '\0') {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "archive write: path is NULL or empty");
  }
  // Built in memory first (writeArchiveToBuffer), so a warning turns into an
  // error before anything replaces an older archive at `path`.
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  if (kiln_error_t *err = WriteToBuffer(path, members, count, &buffer)) return err;

  // Atomic replace: a temporary file beside `path` (same file system), then
  // rename. createUniqueFile rather than TempFile: TempFile registers LLVM's
  // process-wide signal handlers, which a library must not install.
  std::string model = std::string(path) + ".tmp-%%%%%%%%";
  llvm::SmallString<256> temp_path;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, temp_path,
                                                           llvm::sys::fs::OF_None, 0644)) {
    return kiln_error_new(KILN_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                          ec.message().c_str());
  }
  std::string write_error;
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out.write(buffer->getBufferStart(), buffer->getBufferSize());
    out.close();
    if (out.has_error()) {
      write_error = out.error().message();
      out.clear_error();
    }
  }
  if (write_error.empty()) {
    if (std::error_code ec = llvm::sys::fs::rename(temp_path, path)) write_error = ec.message();
  }
  if (!write_error.empty()) {
    llvm::sys::fs::remove(temp_path);
    return kiln_error_new(KILN_ERR_IO, "%s: write failed: %s", path, write_error.c_str());
  }
  return nullptr;
}

extern "C" kiln_error_t *kiln_llvm_archive_write_memory(const kiln_llvm_archive_member_t *members,
                                                        size_t count, void **data_out,
                                                        size_t *size_out) {
  if (data_out != nullptr) *data_out = nullptr;
  if (size_out != nullptr) *size_out = 0;
  if (data_out == nullptr || size_out == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "archive write (memory): data_out or size_out is NULL");
  }
  const char *what = "archive (memory)";
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  if (kiln_error_t *err = WriteToBuffer(what, members, count, &buffer)) return err;
  size_t size = buffer->getBufferSize();
  void *copy = std::malloc(size > 0 ? size : 1);
  if (copy == nullptr) {
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", what, size);
  }
  std::memcpy(copy, buffer->getBufferStart(), size);
  *data_out = copy;
  *size_out = size;
  return nullptr;
}
