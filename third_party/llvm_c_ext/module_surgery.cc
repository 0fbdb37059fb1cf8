// third_party/llvm_c_ext/module_surgery.cc — removing pieces of a module for
// the splitter, behind the C functions in llvm_c_ext.h.
//
// The LLVM C API can delete functions and global variables, but it cannot
// turn a function definition into a declaration (llvm::Function::deleteBody),
// erase a global alias, or drop the dead constant expressions that keep a
// global "used" after the code that referenced it is gone
// (llvm::Constant::removeDeadConstantUsers). Without the last one a C caller
// cannot tell whether a global is really unused, and erasing it would leave
// dangling uses. These are the three operations here.

#include "third_party/llvm_c_ext/llvm_c_ext.h"

#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalValue.h"
#include "llvm/IR/Module.h"
#include "llvm-c/Core.h"

extern "C" kiln_error_t *kiln_llvm_function_delete_body(LLVMValueRef fn) {
  auto *f = fn == nullptr ? nullptr : llvm::dyn_cast<llvm::Function>(llvm::unwrap(fn));
  if (f == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_function_delete_body: the value is not a function");
  }
  if (!f->isDeclaration()) f->deleteBody();
  f->setComdat(nullptr);
  return nullptr;
}

extern "C" kiln_error_t *kiln_llvm_global_erase_if_unused(LLVMValueRef global, int *erased_out) {
  if (erased_out != nullptr) *erased_out = 0;
  auto *gv = global == nullptr ? nullptr : llvm::dyn_cast<llvm::GlobalValue>(llvm::unwrap(global));
  if (gv == nullptr || gv->getParent() == nullptr || erased_out == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_global_erase_if_unused: NULL output or the value is not a "
                          "global in a module");
  }
  gv->removeDeadConstantUsers();
  if (!gv->use_empty()) return nullptr;
  gv->eraseFromParent();
  *erased_out = 1;
  return nullptr;
}
