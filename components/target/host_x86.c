/*
 * components/target/host_x86.c — the x86-64 host probe: which features of
 * the table this CPU has and the OS has enabled, and the model's LLVM name.
 *
 * Google cpu_features answers for the features it knows (it already checks
 * XCR0 for AVX, AVX-512 and AMX state); the rest of LLVM 22's host features
 * (xsave*, lzcnt, the APX and AVX10 families, ...) are read from CPUID
 * directly using each table entry's leaf/subleaf/register/bit and OS state.
 * target_llvm_test compares the result with LLVM's own host detection.
 */
#include "components/target/internal.h"

#if defined(__x86_64__)

#include <cpuid.h>
#include <string.h>

#include "cpuinfo_x86.h"

/* Table names cpu_features covers, and its enum for each. */
static const struct {
  const char *name;
  X86FeaturesEnum cf;
} kCpuFeatures[] = {
    {"cx8", X86_CX8},
    {"mmx", X86_MMX},
    {"sse", X86_SSE},
    {"sse2", X86_SSE2},
    {"sse3", X86_SSE3},
    {"pclmul", X86_PCLMULQDQ},
    {"ssse3", X86_SSSE3},
    {"fma", X86_FMA3},
    {"cx16", X86_CX16},
    {"sse4.1", X86_SSE4_1},
    {"sse4.2", X86_SSE4_2},
    {"movbe", X86_MOVBE},
    {"popcnt", X86_POPCNT},
    {"aes", X86_AES},
    {"avx", X86_AVX},
    {"f16c", X86_F16C},
    {"rdrnd", X86_RDRND},
    {"sgx", X86_SGX},
    {"bmi", X86_BMI1},
    {"avx2", X86_AVX2},
    {"bmi2", X86_BMI2},
    {"rtm", X86_RTM},
    {"avx512f", X86_AVX512F},
    {"avx512dq", X86_AVX512DQ},
    {"rdseed", X86_RDSEED},
    {"adx", X86_ADX},
    {"avx512ifma", X86_AVX512IFMA},
    {"clflushopt", X86_CLFLUSHOPT},
    {"clwb", X86_CLWB},
    {"avx512cd", X86_AVX512CD},
    {"sha", X86_SHA},
    {"avx512bw", X86_AVX512BW},
    {"avx512vl", X86_AVX512VL},
    {"avx512vbmi", X86_AVX512VBMI},
    {"avx512vbmi2", X86_AVX512VBMI2},
    {"vaes", X86_VAES},
    {"vpclmulqdq", X86_VPCLMULQDQ},
    {"avx512vnni", X86_AVX512VNNI},
    {"avx512bitalg", X86_AVX512BITALG},
    {"avx512vpopcntdq", X86_AVX512VPOPCNTDQ},
    {"avx512vp2intersect", X86_AVX512_VP2INTERSECT},
    {"amx-bf16", X86_AMX_BF16},
    {"amx-tile", X86_AMX_TILE},
    {"amx-int8", X86_AMX_INT8},
    {"avx512bf16", X86_AVX512_BF16},
    {"sse4a", X86_SSE4A},
    {"fma4", X86_FMA4},
};

/* cpu_features' microarchitecture -> LLVM's CPU name (refined below). */
static const struct {
  X86Microarchitecture uarch;
  const char *name;
} kUarchNames[] = {
    {INTEL_CORE, "core2"},         {INTEL_PNR, "penryn"},
    {INTEL_NHM, "nehalem"},        {INTEL_ATOM_BNL, "bonnell"},
    {INTEL_WSM, "westmere"},       {INTEL_SNB, "sandybridge"},
    {INTEL_IVB, "ivybridge"},      {INTEL_ATOM_SMT, "silvermont"},
    {INTEL_HSW, "haswell"},        {INTEL_BDW, "broadwell"},
    {INTEL_SKL, "skylake"},        {INTEL_ATOM_GMT, "goldmont"},
    {INTEL_KBL, "skylake"},        {INTEL_CFL, "skylake"},
    {INTEL_WHL, "skylake"},        {INTEL_CNL, "cannonlake"},
    {INTEL_ICL, "icelake-client"}, {INTEL_TGL, "tigerlake"},
    {INTEL_SPR, "sapphirerapids"}, {INTEL_ADL, "alderlake"},
    {INTEL_RCL, "rocketlake"},     {INTEL_KNIGHTS_M, "knm"},
    {INTEL_KNIGHTS_L, "knl"},      {AMD_HAMMER, "k8"},
    {AMD_K10, "amdfam10"},         {AMD_BOBCAT, "btver1"},
    {AMD_BULLDOZER, "bdver1"},     {AMD_PILEDRIVER, "bdver2"},
    {AMD_STREAMROLLER, "bdver3"},  {AMD_EXCAVATOR, "bdver4"},
    {AMD_JAGUAR, "btver2"},        {AMD_PUMA, "btver2"},
    {AMD_ZEN, "znver1"},           {AMD_ZEN_PLUS, "znver1"},
    {AMD_ZEN2, "znver2"},          {AMD_ZEN3, "znver3"},
};

typedef struct cpuid_regs {
  uint32_t r[4];
} cpuid_regs;

static cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf) {
  cpuid_regs out;
  __cpuid_count(leaf, subleaf, out.r[0], out.r[1], out.r[2], out.r[3]);
  return out;
}

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static int has_feature(const kt_x86_detect *d, uint32_t max_leaf, uint32_t max_ext,
                       uint64_t xcr0) {
  uint32_t limit = d->leaf >= 0x80000000u ? max_ext : max_leaf;
  if (d->leaf > limit) return 0;
  /* Subleaf 1 of leaf 7 exists only when subleaf 0 says so. */
  if (d->leaf == 7 && d->subleaf > 0 && cpuid(7, 0).r[KT_REG_EAX] < d->subleaf) return 0;
  int present;
  if (d->kind == KT_DETECT_AVX10_VERSION) {
    int avx10 = max_leaf >= 7 && cpuid(7, 0).r[KT_REG_EAX] >= 1 &&
                ((cpuid(7, 1).r[KT_REG_EDX] >> 19) & 1u);
    present = avx10 && (cpuid(0x24, 0).r[KT_REG_EBX] & 0xffu) >= d->bit;
  } else {
    present = (cpuid(d->leaf, d->subleaf).r[d->reg] >> d->bit) & 1u;
  }
  if (!present) return 0;
  switch (d->os_state) {
    case KT_OS_AVX:
      return (xcr0 & 0x6) == 0x6;
    case KT_OS_AVX512:
      return (xcr0 & 0xe6) == 0xe6;
    case KT_OS_AMX:
      return (xcr0 & 0x60000) == 0x60000;
    case KT_OS_APX:
      return (xcr0 & 0x80000) != 0;
    default:
      return 1;
  }
}

static const char *model_name(const X86Info *info, const kt_arch *a,
                              const kiln_target_features_t *set) {
  X86Microarchitecture uarch = GetX86Microarchitecture(info);
  int amd = strcmp(info->vendor, CPU_FEATURES_VENDOR_AUTHENTIC_AMD) == 0;
  /* cpu_features 0.7 stops at Zen 3: family 19h models 10h-1fh, 60h-7fh and
   * a0h-afh are Zen 4, family 1ah is Zen 5 (AMD's revision guides). */
  if (amd && info->family == 0x19 &&
      ((info->model >= 0x10 && info->model <= 0x1f) ||
       (info->model >= 0x60 && info->model <= 0x7f) ||
       (info->model >= 0xa0 && info->model <= 0xaf))) {
    return "znver4";
  }
  if (amd && info->family == 0x1a) return "znver5";
  int f = kt_feature_find(a, "avx512f", 7);
  int vnni = kt_feature_find(a, "avx512vnni", 10);
  int bf16 = kt_feature_find(a, "avx512bf16", 10);
  /* Server parts share a microarchitecture with desktop ones. */
  if (uarch == INTEL_SKL && kt_set_has(set, (size_t)f)) {
    if (kt_set_has(set, (size_t)bf16)) return "cooperlake";
    if (kt_set_has(set, (size_t)vnni)) return "cascadelake";
    return "skylake-avx512";
  }
  if (uarch == INTEL_ICL && (info->model == 0x6a || info->model == 0x6c)) {
    return "icelake-server";
  }
  for (size_t i = 0; i < sizeof(kUarchNames) / sizeof(kUarchNames[0]); i++) {
    if (kUarchNames[i].uarch == uarch) return kUarchNames[i].name;
  }
  return NULL;
}

int kt_host_probe(kiln_target_features_t *set, const char **model) {
  const kt_arch *a = kt_arch_get(KILN_TARGET_ARCH_X86_64);
  memset(set, 0, sizeof(*set));
  X86Info info = GetX86Info();
  uint32_t max_leaf = cpuid(0, 0).r[KT_REG_EAX];
  uint32_t max_ext = cpuid(0x80000000u, 0).r[KT_REG_EAX];
  int osxsave = max_leaf >= 1 && ((cpuid(1, 0).r[KT_REG_ECX] >> 27) & 1u);
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;

  for (size_t i = 0; i < a->nfeatures; i++) {
    int present = -1;
    for (size_t k = 0; k < sizeof(kCpuFeatures) / sizeof(kCpuFeatures[0]); k++) {
      if (strcmp(kCpuFeatures[k].name, a->features[i].name) == 0) {
        /* cpu_features stores 1-bit signed bitfields: set reads as -1. */
        present = GetX86FeaturesEnumValue(&info.features, kCpuFeatures[k].cf) != 0;
        break;
      }
    }
    if (present < 0) present = has_feature(&a->features[i].x86, max_leaf, max_ext, xcr0);
    if (present) kt_set_add(set, i);
  }
  *model = model_name(&info, a, set);
  return 1;
}

#endif /* __x86_64__ */
