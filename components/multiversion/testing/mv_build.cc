// components/multiversion/testing/mv_build.cc — see mv_build.h.
#include "components/multiversion/testing/mv_build.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "components/multiversion/multiversion.h"
#include "llvm-c/BitReader.h"
#include "llvm-c/Core.h"
#include "llvm-c/Target.h"
#include "llvm-c/TargetMachine.h"
#include "llvm-c/Transforms/PassBuilder.h"

namespace kiln_mv_test {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string TakeError(kiln_error_t *err) {
  std::string s = kiln_error_message(err);
  kiln_error_free(err);
  return s;
}

uint64_t CountInstructions(LLVMValueRef fn) {
  uint64_t n = 0;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) n++;
  return n;
}

}  // namespace

int Run(const std::string &cmd, std::string *out) {
  FILE *p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    if (out != nullptr) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string Build(const std::string &clang, const std::string &src, const std::string &targets,
                  const std::string &dir, const std::string &name, Built *out) {
  std::string bc = dir + "/" + name + ".bc", obj = dir + "/" + name + ".o";
  out->so_path = dir + "/" + name + ".so";
  std::string log;
  // Unoptimized but optimizable IR (no optnone): kiln optimizes after cloning.
  if (Run(clang + " -O2 -Xclang -disable-llvm-optzns -fPIC -emit-llvm -c " + src + " -o " + bc,
          &log) != 0)
    return "clang failed: " + log;

  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf = nullptr;
  char *msg = nullptr;
  LLVMModuleRef m = nullptr;
  if (LLVMCreateMemoryBufferWithContentsOfFile(bc.c_str(), &buf, &msg) != 0 ||
      LLVMParseBitcodeInContext2(ctx, buf, &m) != 0) {
    std::string e = std::string("reading bitcode: ") + (msg ? msg : "");
    LLVMDisposeMessage(msg);
    LLVMContextDispose(ctx);
    return e;
  }
  LLVMDisposeMemoryBuffer(buf);
  std::string error;
  kiln_multiversion_tables_t *tables = nullptr;
  LLVMTargetMachineRef tm = nullptr;
  do {
    double t0 = Now();
    kiln_error_t *err = kiln_multiversion_annotate(m, targets.c_str());
    if (err != nullptr) { error = TakeError(err); break; }
    for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
      if (LLVMIsDeclaration(f)) continue;
      out->defined_functions++;
      uint64_t n = CountInstructions(f);
      out->total_instructions += n;
      kiln_multiversion_function_info_t info;
      size_t len = 0;
      const char *fname = LLVMGetValueName2(f, &len);
      if (kiln_multiversion_function_info(m, fname, &info) == nullptr && info.clones != 0)
        out->cloned_instructions += n;
    }
    err = kiln_multiversion_clone(m, nullptr, &tables);
    if (err != nullptr) { error = TakeError(err); break; }
    out->times.annotate_clone_s = Now() - t0;
    out->targets = kiln_multiversion_tables_target_count(tables);
    out->slots = kiln_multiversion_tables_slot_count(tables);
    for (size_t i = 0; i < kiln_multiversion_tables_function_count(tables); i++)
      out->functions.push_back(kiln_multiversion_tables_function_name(tables, i));
    for (size_t k = 0; k < out->targets; k++)
      out->clone_counts.push_back(kiln_multiversion_tables_clone_count(tables, k));

    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMTargetRef target = nullptr;
    if (LLVMGetTargetFromTriple(LLVMGetTarget(m), &target, &msg) != 0) {
      error = msg;
      LLVMDisposeMessage(msg);
      break;
    }
    // Per-function target-cpu/target-features decide each version's code.
    tm = LLVMCreateTargetMachine(target, LLVMGetTarget(m), "generic", "", LLVMCodeGenLevelDefault,
                                 LLVMRelocPIC, LLVMCodeModelDefault);
    double t1 = Now();
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef perr = LLVMRunPasses(m, "default<O2>", tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (perr != nullptr) {
      char *e = LLVMGetErrorMessage(perr);
      error = e;
      LLVMDisposeErrorMessage(e);
      break;
    }
    out->times.optimize_s = Now() - t1;
    err = kiln_multiversion_verify(m, nullptr, 0, nullptr);
    if (err != nullptr) { error = "after O2: " + TakeError(err); break; }
    double t2 = Now();
    if (LLVMTargetMachineEmitToFile(tm, m, obj.c_str(), LLVMObjectFile, &msg) != 0) {
      error = msg;
      LLVMDisposeMessage(msg);
      break;
    }
    out->times.codegen_s = Now() - t2;
  } while (false);
  if (tm != nullptr) LLVMDisposeTargetMachine(tm);
  kiln_multiversion_tables_free(tables);
  LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  if (!error.empty()) return error;
  log.clear();
  if (Run(clang + " -shared -o " + out->so_path + " " + obj + " -lm", &log) != 0)
    return "link failed: " + log;
  return "";
}

Image::~Image() {
  if (handle_ != nullptr) dlclose(handle_);
}

std::string Image::Open(const Built &built) {
  built_ = &built;
  handle_ = dlopen(built.so_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) return dlerror();
  for (size_t k = 0; k < built.targets; k++) {
    std::string sym = "kiln_mv_fptrs_" + std::to_string(k);
    void *p = dlsym(handle_, sym.c_str());
    if (p == nullptr) return "missing " + sym;
    fptrs_.push_back(static_cast<void *const *>(p));
  }
  slot_addrs_ = static_cast<void *const *>(dlsym(handle_, "kiln_mv_slot_addrs"));
  slot_fids_ = static_cast<const uint32_t *>(dlsym(handle_, "kiln_mv_slot_fids"));
  if (built.slots > 0 && (slot_addrs_ == nullptr || slot_fids_ == nullptr))
    return "missing slot tables";
  return "";
}

void Image::Select(size_t k) {
  for (size_t j = 0; j < built_->slots; j++)
    *static_cast<void **>(slot_addrs_[j]) = fptrs_[k][slot_fids_[j]];
}

void *Image::Fn(const std::string &name, size_t k) const {
  for (size_t i = 0; i < built_->functions.size(); i++)
    if (built_->functions[i] == name) return fptrs_[k][i];
  return dlsym(handle_, name.c_str());
}

bool HostRuns(const std::string &cpu) {
  __builtin_cpu_init();
  if (cpu == "generic") return true;
  if (cpu == "haswell")
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2");
  if (cpu == "x86-64-v4")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd");
  return false;
}

}  // namespace kiln_mv_test
