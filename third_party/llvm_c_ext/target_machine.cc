// third_party/llvm_c_ext/target_machine.cc — target machine settings the
// LLVM C API does not expose. Only UseInitArray so far: kiln's images are
// shared objects linked without crtbegin.o, so their constructors must be in
// .init_array for the dynamic linker to run them.
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "third_party/llvm_c_ext/llvm_c_ext.h"

extern "C" kiln_error_t *kiln_llvm_target_machine_use_init_array(LLVMTargetMachineRef tm) {
  if (tm == nullptr)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_target_machine_use_init_array: NULL target machine");
  // LLVMTargetMachineRef is a wrapped llvm::TargetMachine (llvm-c/TargetMachine.h).
  reinterpret_cast<llvm::TargetMachine *>(tm)->Options.UseInitArray = true;
  return nullptr;
}
