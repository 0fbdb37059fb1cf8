/*
 * components/jit/jit.c — kiln_jit on LLVM's ORC LLJIT through the C API.
 *
 * Stages of one compile (all under the jit's mutex: ORC itself is
 * thread-safe, but serializing keeps the resolver's state simple and the
 * cost is only paid on first calls):
 *   1. parse the bitcode in a fresh LLVMContext (with a diagnostic handler,
 *      because LLVM's default one exits the process on an error);
 *   2. rename the requested function to a unique name and internalize the
 *      module's other definitions (import slots become declarations), so
 *      modules never clash in the main JITDylib;
 *   3. hand the module to LLJIT and look the unique name up, which compiles
 *      and links it; undefined references go to the resolver generator, then
 *      to the process's symbols.
 */
/* pthreads: a mutex ThreadSanitizer can see. */
#define _POSIX_C_SOURCE 200809L

#include "components/jit/jit.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>

#include "components/runtime/runtime.h"

/* The hook must keep the runtime's signature. */
static const kiln_runtime_compile_fn kiln_jit_hook_signature_check_ = kiln_jit_compile_hook;

struct kiln_jit {
  LLVMOrcLLJITRef lljit;
  char global_prefix;
  pthread_mutex_t mu;
  /* Guarded by mu (the generator runs inside a compile, which holds it). */
  kiln_jit_resolver_fn resolver;
  void *resolver_user;
  uint64_t counter;
  /* The current compile's first error diagnostic. It lives in the jit, not on
   * the stack, because the context (and its handler) outlives the compile. */
  char *first_error;
};

static kiln_error_t *take_llvm_error(LLVMErrorRef err, const char *context) {
  char *message = LLVMGetErrorMessage(err);
  kiln_error_t *out = kiln_error_new(KILN_ERR_LLVM, "%s: %s", context, message);
  LLVMDisposeErrorMessage(message);
  return out;
}

/* ---- Resolver generator ----------------------------------------------------- */

/* Defines, as absolute symbols, every looked-up name the resolver knows. */
static LLVMErrorRef try_to_generate(LLVMOrcDefinitionGeneratorRef generator, void *ctx,
                                    LLVMOrcLookupStateRef *lookup_state, LLVMOrcLookupKind kind,
                                    LLVMOrcJITDylibRef jd, LLVMOrcJITDylibLookupFlags jd_flags,
                                    LLVMOrcCLookupSet lookup_set, size_t lookup_set_size) {
  (void)generator;
  (void)lookup_state;
  (void)kind;
  (void)jd_flags;
  kiln_jit_t *jit = ctx;
  if (jit->resolver == NULL || lookup_set_size == 0) return NULL;
  LLVMOrcCSymbolMapPair *pairs = calloc(lookup_set_size, sizeof(*pairs));
  if (pairs == NULL) return LLVMCreateStringError("kiln jit: out of memory in resolver");
  size_t count = 0;
  const size_t import_len = strlen(KILN_RUNTIME_IMPORT_PREFIX);
  for (size_t i = 0; i < lookup_set_size; i++) {
    const char *name = LLVMOrcSymbolStringPoolEntryStr(lookup_set[i].Name);
    if (jit->global_prefix != '\0' && name[0] == jit->global_prefix) name++;
    void *addr = jit->resolver(jit->resolver_user, name);
    if (addr == NULL) continue;
    bool data = strncmp(name, KILN_RUNTIME_IMPORT_PREFIX, import_len) == 0;
    LLVMOrcRetainSymbolStringPoolEntry(lookup_set[i].Name);
    pairs[count].Name = lookup_set[i].Name;
    pairs[count].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)addr;
    pairs[count].Sym.Flags.GenericFlags =
        LLVMJITSymbolGenericFlagsExported | (data ? 0 : LLVMJITSymbolGenericFlagsCallable);
    pairs[count].Sym.Flags.TargetFlags = 0;
    count++;
  }
  LLVMErrorRef err = NULL;
  if (count > 0) err = LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(pairs, count));
  free(pairs);
  return err;
}

/* ORC reports errors of materialization (e.g. an unresolved symbol) here,
 * not in the lookup's error, and by default prints them. Keep the first one
 * for the current compile's message. Runs inside a compile (under mu). */
static void on_session_error(void *ctx, LLVMErrorRef err) {
  kiln_jit_t *jit = ctx;
  char *message = LLVMGetErrorMessage(err);
  if (jit->first_error == NULL) {
    size_t n = strlen(message) + 1;
    jit->first_error = malloc(n);
    if (jit->first_error != NULL) memcpy(jit->first_error, message, n);
  }
  LLVMDisposeErrorMessage(message);
}

/* ---- Lifetime ----------------------------------------------------------------- */

kiln_error_t *kiln_jit_new(kiln_jit_t **jit_out) {
  if (jit_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_jit_new: NULL jit_out");
  *jit_out = NULL;
  /* Idempotent process-wide registration of the host target with LLVM. */
  if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter())
    return kiln_error_new(KILN_ERR_LLVM, "kiln jit: LLVM has no native target");
  kiln_jit_t *jit = calloc(1, sizeof(*jit));
  if (jit == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "kiln_jit_new: out of memory");
  if (pthread_mutex_init(&jit->mu, NULL) != 0) {
    free(jit);
    return kiln_error_new(KILN_ERR_INTERNAL, "kiln_jit_new: pthread_mutex_init failed");
  }
  LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
  LLVMErrorRef err = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb);
  if (err != NULL) {
    pthread_mutex_destroy(&jit->mu);
    free(jit);
    return take_llvm_error(err, "kiln jit: detecting the host");
  }
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb); /* takes jtmb */
  err = LLVMOrcCreateLLJIT(&jit->lljit, builder);                /* takes builder */
  if (err != NULL) {
    pthread_mutex_destroy(&jit->mu);
    free(jit);
    return take_llvm_error(err, "kiln jit: creating LLJIT");
  }
  jit->global_prefix = LLVMOrcLLJITGetGlobalPrefix(jit->lljit);
  LLVMOrcExecutionSessionSetErrorReporter(LLVMOrcLLJITGetExecutionSession(jit->lljit),
                                          on_session_error, jit);
  LLVMOrcJITDylibRef main_jd = LLVMOrcLLJITGetMainJITDylib(jit->lljit);
  /* The resolver first: a method's current code wins over a process symbol
   * of the same name. */
  LLVMOrcJITDylibAddGenerator(main_jd,
                              LLVMOrcCreateCustomCAPIDefinitionGenerator(try_to_generate, jit,
                                                                         NULL));
  LLVMOrcDefinitionGeneratorRef process = NULL;
  err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&process, jit->global_prefix, NULL,
                                                             NULL);
  if (err != NULL) {
    kiln_error_t *out = take_llvm_error(err, "kiln jit: process symbol generator");
    kiln_jit_free(jit);
    return out;
  }
  LLVMOrcJITDylibAddGenerator(main_jd, process);
  *jit_out = jit;
  return NULL;
}

void kiln_jit_free(kiln_jit_t *jit) {
  if (jit == NULL) return;
  if (jit->lljit != NULL) {
    LLVMErrorRef err = LLVMOrcDisposeLLJIT(jit->lljit);
    if (err != NULL) LLVMConsumeError(err); /* nothing to report to at teardown */
  }
  free(jit->first_error);
  pthread_mutex_destroy(&jit->mu);
  free(jit);
}

void kiln_jit_set_resolver(kiln_jit_t *jit, kiln_jit_resolver_fn fn, void *user) {
  if (jit == NULL) return;
  pthread_mutex_lock(&jit->mu);
  jit->resolver = fn;
  jit->resolver_user = user;
  pthread_mutex_unlock(&jit->mu);
}

/* ---- Compile ------------------------------------------------------------------- */

/* Keeps the first error diagnostic of a compile (LLVM's default handler
 * would print it and exit the process). Runs under the jit's mutex. */
static void on_diagnostic(LLVMDiagnosticInfoRef info, void *ctx) {
  kiln_jit_t *jit = ctx;
  if (LLVMGetDiagInfoSeverity(info) != LLVMDSError || jit->first_error != NULL) return;
  char *text = LLVMGetDiagInfoDescription(info);
  size_t n = strlen(text) + 1;
  jit->first_error = malloc(n);
  if (jit->first_error != NULL) memcpy(jit->first_error, text, n);
  LLVMDisposeMessage(text);
}

/* Step 2: unique name for `target`, everything else defined made internal;
 * import-slot definitions become declarations the resolver fills. */
static void isolate_module(LLVMModuleRef module, LLVMValueRef target, const char *unique) {
  const size_t import_len = strlen(KILN_RUNTIME_IMPORT_PREFIX);
  for (LLVMValueRef f = LLVMGetFirstFunction(module); f != NULL; f = LLVMGetNextFunction(f)) {
    if (f == target || LLVMIsDeclaration(f)) continue;
    LLVMSetLinkage(f, LLVMInternalLinkage);
    LLVMSetVisibility(f, LLVMDefaultVisibility);
  }
  for (LLVMValueRef g = LLVMGetFirstGlobal(module); g != NULL; g = LLVMGetNextGlobal(g)) {
    if (LLVMIsDeclaration(g)) continue;
    size_t len = 0;
    const char *name = LLVMGetValueName2(g, &len);
    if (len >= import_len && strncmp(name, KILN_RUNTIME_IMPORT_PREFIX, import_len) == 0) {
      LLVMSetInitializer(g, NULL); /* now a declaration */
      LLVMSetLinkage(g, LLVMExternalLinkage);
      LLVMSetVisibility(g, LLVMDefaultVisibility);
      continue;
    }
    LLVMSetLinkage(g, LLVMInternalLinkage);
    LLVMSetVisibility(g, LLVMDefaultVisibility);
  }
  LLVMSetValueName2(target, unique, strlen(unique));
  LLVMSetLinkage(target, LLVMExternalLinkage);
  LLVMSetVisibility(target, LLVMDefaultVisibility);
}

static bool looks_like_bitcode(const unsigned char *p, size_t size) {
  static const unsigned char raw[4] = {'B', 'C', 0xC0, 0xDE};
  static const unsigned char wrapper[4] = {0xDE, 0xC0, 0x17, 0x0B};
  return size >= 4 && (memcmp(p, raw, 4) == 0 || memcmp(p, wrapper, 4) == 0);
}

kiln_error_t *kiln_jit_compile(kiln_jit_t *jit, const void *bitcode, size_t size,
                               const char *symbol, void **addr_out) {
  if (addr_out != NULL) *addr_out = NULL;
  if (jit == NULL || bitcode == NULL || symbol == NULL || addr_out == NULL)
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT, "kiln_jit_compile: NULL argument");
  if (!looks_like_bitcode(bitcode, size))
    return kiln_error_new(KILN_ERR_PARSE,
                          "'%s': not LLVM bitcode (%zu bytes, no bitcode magic)", symbol, size);

  pthread_mutex_lock(&jit->mu);
  /* 1. Parse into a context of its own. */
  free(jit->first_error);
  jit->first_error = NULL;
  LLVMContextRef context = LLVMContextCreate();
  LLVMContextSetDiagnosticHandler(context, on_diagnostic, jit);
  LLVMMemoryBufferRef buffer =
      LLVMCreateMemoryBufferWithMemoryRangeCopy(bitcode, size, symbol);
  LLVMModuleRef module = NULL;
  kiln_error_t *out = NULL;
  if (LLVMParseBitcodeInContext2(context, buffer, &module)) {
    out = kiln_error_new(KILN_ERR_PARSE, "'%s': invalid LLVM bitcode: %s", symbol,
                         jit->first_error ? jit->first_error : "parse failed");
  }
  LLVMDisposeMemoryBuffer(buffer);
  LLVMValueRef target = NULL;
  if (out == NULL) {
    target = LLVMGetNamedFunction(module, symbol);
    if (target == NULL || LLVMIsDeclaration(target))
      out = kiln_error_new(KILN_ERR_NOT_FOUND, "'%s': the bitcode does not define this function",
                           symbol);
  }
  if (out != NULL) {
    if (module != NULL) LLVMDisposeModule(module);
    LLVMContextDispose(context);
    pthread_mutex_unlock(&jit->mu);
    return out;
  }

  /* 2. Isolate: a unique name per compile. */
  char unique[64];
  snprintf(unique, sizeof(unique), "kiln.jit.%" PRIu64, jit->counter++);
  isolate_module(module, target, unique);

  /* 3. Compile and link by looking the unique name up. The context now
   * belongs to the thread-safe module (and so to LLJIT). */
  LLVMOrcThreadSafeContextRef ts_context = LLVMOrcCreateNewThreadSafeContextFromLLVMContext(context);
  LLVMOrcThreadSafeModuleRef ts_module = LLVMOrcCreateNewThreadSafeModule(module, ts_context);
  LLVMOrcDisposeThreadSafeContext(ts_context);
  LLVMErrorRef err =
      LLVMOrcLLJITAddLLVMIRModule(jit->lljit, LLVMOrcLLJITGetMainJITDylib(jit->lljit), ts_module);
  LLVMOrcExecutorAddress addr = 0;
  if (err == NULL) err = LLVMOrcLLJITLookup(jit->lljit, &addr, unique);
  if (err != NULL) {
    char context_text[256];
    snprintf(context_text, sizeof(context_text), "'%s': JIT compile failed%s%s", symbol,
             jit->first_error ? ": " : "", jit->first_error ? jit->first_error : "");
    out = take_llvm_error(err, context_text);
  } else if (addr == 0) {
    out = kiln_error_new(KILN_ERR_LLVM, "'%s': JIT returned a NULL address", symbol);
  } else {
    *addr_out = (void *)(uintptr_t)addr;
  }
  pthread_mutex_unlock(&jit->mu);
  return out;
}

kiln_error_t *kiln_jit_compile_hook(void *user, const char *key, const char *symbol,
                                    const void *bitcode, size_t size, void **code_out) {
  (void)kiln_jit_hook_signature_check_;
  kiln_error_t *err = kiln_jit_compile(user, bitcode, size, symbol ? symbol : key, code_out);
  if (err != NULL && key != NULL && symbol != NULL && strcmp(key, symbol) != 0)
    err = kiln_error_prefix(err, "method '%s'", key);
  return err;
}
