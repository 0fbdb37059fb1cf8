// third_party/llvm_c_ext/lld.cc — kiln_llvm_lld_link_elf(): LLD's ELF driver
// as a library (lld::lldMain with only the ELF driver linked in).
//
// lld::lldMain runs the link with exitEarly=false (so LLD returns instead of
// calling exit) and afterwards destroys its CommonLinkerContext, which
// resets LLD's global state; the Result's canRunAgain says whether that
// worked. LLD's fatal errors unwind through llvm::CrashRecoveryContext
// (longjmp): crash recovery is enabled only for the duration of a link, so
// the process's signal handlers are LLD's just while it runs. After such an
// unwind LLD's memory may be inconsistent and lldMain reports canRunAgain =
// false: this adapter then refuses every later link in the process.

#include "third_party/llvm_c_ext/lld.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "lld/Common/Driver.h"
#include "llvm/Support/CrashRecoveryContext.h"
#include "llvm/Support/raw_ostream.h"

LLD_HAS_DRIVER(elf)

namespace {

// LLD's state is process-global, so is its guard (see lld.h). `unusable`
// is set when LLD said it cannot run again; it is only read and written
// under `mutex`.
struct LldState {
  std::mutex mutex;
  bool unusable = false;
};

LldState &State() {
  static LldState *state = new LldState();  // never destroyed: outlives static dtors
  return *state;
}

char *CopyString(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// LLD's diagnostics end with a newline; error messages read better without.
std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

extern "C" kiln_error_t *kiln_llvm_lld_link_elf(const char *const *args, size_t nargs,
                                                char **diagnostics_out) {
  if (diagnostics_out != nullptr) *diagnostics_out = nullptr;
  if (nargs > 0 && args == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "ld.lld: args is NULL but nargs is %zu",
                          nargs);
  }
  std::vector<const char *> argv;
  argv.reserve(nargs + 1);
  argv.push_back("ld.lld");  // selects LLD's GNU (ELF) flavor
  for (size_t i = 0; i < nargs; ++i) {
    if (args[i] == nullptr) {
      return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "ld.lld: argument %zu is NULL", i);
    }
    argv.push_back(args[i]);
  }

  std::string out_text, err_text;
  lld::Result result{0, true};
  {
    LldState &state = State();
    std::lock_guard<std::mutex> lock(state.mutex);
    if (state.unusable) {
      return kiln_error_new(KILN_ERR_UNSUPPORTED,
                            "ld.lld: LLD cannot run again in this process (an earlier link "
                            "ended in a fatal error or crash); link in a new process or with "
                            "the system C compiler");
    }
    llvm::raw_string_ostream out_stream(out_text), err_stream(err_text);
    // Without crash recovery enabled, an LLD fatal error would end the
    // process with _exit(); with it, the error unwinds back into lldMain.
    llvm::CrashRecoveryContext::Enable();
    result = lld::lldMain(argv, out_stream, err_stream, {{lld::Gnu, &lld::elf::link}});
    llvm::CrashRecoveryContext::Disable();
    out_stream.flush();
    err_stream.flush();
    if (!result.canRunAgain) state.unusable = true;
  }

  std::string diagnostics = out_text + err_text;
  if (diagnostics_out != nullptr) *diagnostics_out = CopyString(diagnostics);
  if (result.retCode != 0 || !result.canRunAgain) {
    std::string text = Trimmed(diagnostics);
    if (text.empty()) text = "no diagnostics";
    return kiln_error_new(KILN_ERR_LINK, "ld.lld failed (exit code %d%s): %s", result.retCode,
                          result.canRunAgain ? "" : "; LLD cannot run again in this process",
                          text.c_str());
  }
  return nullptr;
}
