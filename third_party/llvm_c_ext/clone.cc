// third_party/llvm_c_ext/clone.cc — function cloning for the multiversion
// component, behind the C functions in llvm_c_ext.h.
//
// The LLVM C API can create a function but cannot copy a body into it;
// llvm::CloneFunctionInto can. The copy is made with GlobalChanges so that
// debug-info subprograms are duplicated rather than shared (two functions
// pointing at one DISubprogram would fail the verifier). Calls and other
// references inside the copy still point at the same globals as the
// original; the caller rewires them with the plain C API afterwards.

#include "third_party/llvm_c_ext/llvm_c_ext.h"

#include "llvm/IR/Function.h"
#include "llvm/IR/Module.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/ValueMapper.h"
#include "llvm-c/Core.h"

extern "C" kiln_error_t *kiln_llvm_function_clone(LLVMValueRef fn, const char *name,
                                                  LLVMValueRef *clone_out) {
  if (clone_out != nullptr) *clone_out = nullptr;
  if (fn == nullptr || name == nullptr || clone_out == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_function_clone: NULL function, name or output");
  }
  auto *f = llvm::dyn_cast<llvm::Function>(llvm::unwrap(fn));
  if (f == nullptr || f->getParent() == nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_function_clone: the value is not a function in a module");
  }
  llvm::Module *m = f->getParent();
  if (m->getNamedValue(name) != nullptr) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_llvm_function_clone: '%s' already names a global in the module",
                          name);
  }
  llvm::Function *nf = llvm::Function::Create(f->getFunctionType(), f->getLinkage(),
                                              f->getAddressSpace(), name, m);
  if (f->isDeclaration()) {
    nf->copyAttributesFrom(f);
  } else {
    llvm::ValueToValueMapTy vmap;
    auto dest_arg = nf->arg_begin();
    for (const llvm::Argument &arg : f->args()) {
      dest_arg->setName(arg.getName());
      vmap[&arg] = &*dest_arg++;
    }
    llvm::SmallVector<llvm::ReturnInst *, 8> returns;
    llvm::CloneFunctionInto(nf, f, vmap, llvm::CloneFunctionChangeType::GlobalChanges, returns);
  }
  nf->setVisibility(f->getVisibility());
  nf->setDSOLocal(f->isDSOLocal());
  nf->setUnnamedAddr(f->getUnnamedAddr());
  // A comdat keyed on the original would make the clone vanish with it.
  if (nf->hasComdat()) nf->setComdat(nullptr);
  *clone_out = llvm::wrap(nf);
  return nullptr;
}
