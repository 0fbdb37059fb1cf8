// third_party/llvm_c_ext/cpu.cc — CPU name and feature resolution through
// LLVM's MCSubtargetInfo, behind the C functions in llvm_c_ext.h.
//
// The builder resolves every target of a target string here, once, and
// stores the resulting full feature sets in the image; the loader then
// compares sets with components/target and never needs LLVM. Creating an
// MCSubtargetInfo is what llc and clang do for -mcpu/-mattr, so the sets are
// exactly what LLVM 22's code generator will assume.

#include "third_party/llvm_c_ext/llvm_c_ext.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

namespace {

char *CopyString(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// LLVM's registries are process-global; registering is idempotent but not
// free, so do it once.
void RegisterTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargetMCs();
  });
}

// Splits "a,b,,c" into non-empty, space-trimmed pieces.
std::vector<std::string> SplitFeatures(const char *text) {
  std::vector<std::string> out;
  if (text == nullptr) return out;
  std::string cur;
  for (const char *p = text;; ++p) {
    if (*p == ',' || *p == '\0') {
      size_t b = cur.find_first_not_of(' ');
      size_t e = cur.find_last_not_of(' ');
      if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur.push_back(*p);
    }
  }
  return out;
}

std::string HostFeatureString(bool with_disabled) {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  std::vector<std::string> items;
  for (const auto &kv : features) {
    if (!kv.second && !with_disabled) continue;
    items.push_back((kv.second ? "+" : "-") + kv.first().str());
  }
  // StringMap iterates in hash order; sort so output is deterministic.
  std::sort(items.begin(), items.end(), [](const std::string &a, const std::string &b) {
    return a.compare(1, std::string::npos, b, 1, std::string::npos) < 0;
  });
  std::string out;
  for (const std::string &s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

}  // namespace

extern "C" void kiln_llvm_string_free(char *s) { std::free(s); }

extern "C" kiln_error_t *kiln_llvm_cpu_resolve(const char *triple, const char *cpu,
                                               const char *features, char **cpu_out,
                                               char **features_out) {
  if (cpu_out != nullptr) *cpu_out = nullptr;
  if (features_out != nullptr) *features_out = nullptr;
  if (triple == nullptr || cpu == nullptr || cpu_out == nullptr || features_out == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_cpu_resolve: triple, cpu and outputs must not be NULL");
  }
  RegisterTargets();
  llvm::Triple tt(triple);
  std::string err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(tt, err);
  if (target == nullptr) {
    return kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': LLVM has no target for this triple (%s)",
                          triple, err.c_str());
  }

  std::string cpu_name = cpu;
  std::vector<std::string> requested;
  if (cpu_name == "native") {
    cpu_name = llvm::sys::getHostCPUName().str();
    // Only the enabled host features: disabling the absent ones explicitly
    // would also strip features the CPU name implies that LLVM did not
    // report, which is not what "native" means.
    requested = SplitFeatures(HostFeatureString(false).c_str());
  }
  for (std::string &f : SplitFeatures(features)) requested.push_back(f);

  // A plain probe (no features) to validate names before LLVM sees them:
  // MCSubtargetInfo warns on stderr and ignores unknown names, and library
  // code must not print.
  std::unique_ptr<llvm::MCSubtargetInfo> probe(target->createMCSubtargetInfo(tt, "", ""));
  if (probe == nullptr) {
    return kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': LLVM has no subtarget info", triple);
  }
  if (cpu_name != "generic" && !probe->isCPUStringValid(cpu_name)) {
    return kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': LLVM 22 does not know this CPU for %s",
                          cpu_name.c_str(), triple);
  }
  llvm::ArrayRef<llvm::SubtargetFeatureKV> table = probe->getAllProcessorFeatures();
  std::string fs;
  for (std::string &f : requested) {
    std::string name = f;
    char sign = '+';
    if (name[0] == '+' || name[0] == '-') {
      sign = name[0];
      name = name.substr(1);
    }
    auto it = std::lower_bound(table.begin(), table.end(), llvm::StringRef(name));
    if (it == table.end() || name != it->Key) {
      return kiln_error_new(KILN_ERR_NOT_FOUND,
                            "'%s': LLVM 22 does not know this feature for %s", name.c_str(),
                            triple);
    }
    if (!fs.empty()) fs += ',';
    fs += sign;
    fs += name;
  }

  std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(tt, cpu_name, fs));
  if (sti == nullptr) {
    return kiln_error_new(KILN_ERR_LLVM, "'%s': LLVM could not create subtarget info for '%s'",
                          triple, cpu_name.c_str());
  }
  // The table is sorted by name, so the output is too.
  std::string out;
  const llvm::FeatureBitset &bits = sti->getFeatureBits();
  for (const llvm::SubtargetFeatureKV &kv : sti->getAllProcessorFeatures()) {
    if (!bits.test(kv.Value)) continue;
    if (!out.empty()) out += ',';
    out += '+';
    out += kv.Key;
  }
  *cpu_out = CopyString(cpu_name);
  *features_out = CopyString(out);
  if (*cpu_out == nullptr || *features_out == nullptr) {
    kiln_llvm_string_free(*cpu_out);
    kiln_llvm_string_free(*features_out);
    *cpu_out = *features_out = nullptr;
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_llvm_cpu_resolve: out of memory");
  }
  return nullptr;
}

extern "C" kiln_error_t *kiln_llvm_host_cpu(char **name_out, char **features_out) {
  if (name_out != nullptr) *name_out = nullptr;
  if (features_out != nullptr) *features_out = nullptr;
  if (name_out == nullptr || features_out == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_llvm_host_cpu: outputs must not be NULL");
  }
  std::string features = HostFeatureString(true);
  std::string name = llvm::sys::getHostCPUName().str();
  if (name.empty()) {
    return kiln_error_new(KILN_ERR_UNSUPPORTED, "LLVM cannot name the host CPU");
  }
  *name_out = CopyString(name);
  *features_out = CopyString(features);
  if (*name_out == nullptr || *features_out == nullptr) {
    kiln_llvm_string_free(*name_out);
    kiln_llvm_string_free(*features_out);
    *name_out = *features_out = nullptr;
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_llvm_host_cpu: out of memory");
  }
  return nullptr;
}
