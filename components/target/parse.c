/*
 * components/target/parse.c — target strings: parsing into a
 * kiln_target_list_t, the canonical printer, and accessors.
 *
 * Grammar (docs/cpu-targets.md): targets separated by ';'; each is a CPU
 * name, then ','-separated entries: a feature ("avx2", "+avx2"), a disabled
 * feature ("-rdrnd"), or a special flag (clone_all, -clone_all, base(n),
 * opt_size, min_size). Every error names the target index, the target's text
 * and the token, because a target string usually arrives through an
 * environment variable or a build file far from where it fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/target/internal.h"

typedef struct kt_target {
  char *cpu;
  char **features; /* "+name" / "-name" */
  size_t nfeatures;
  unsigned flags;
  size_t base;
} kt_target;

struct kiln_target_list {
  kiln_target_arch_t arch;
  kt_target *targets;
  size_t count;
};

/* Special flags and their spellings, also the candidates for suggestions. */
static const char *const kFlagNames[] = {"clone_all", "opt_size", "min_size", "base(", NULL};

/* Digits accepted in base(n): more cannot name a target anyway. */
enum { kMaxBaseDigits = 9 };

static char *dup_n(const char *s, size_t n) {
  char *out = malloc(n + 1);
  if (out != NULL) {
    memcpy(out, s, n);
    out[n] = '\0';
  }
  return out;
}

static void target_clear(kt_target *t) {
  free(t->cpu);
  for (size_t j = 0; j < t->nfeatures; j++) free(t->features[j]);
  free(t->features);
}

void kiln_target_list_free(kiln_target_list_t *list) {
  if (list == NULL) return;
  for (size_t i = 0; i < list->count; i++) target_clear(&list->targets[i]);
  free(list->targets);
  free(list);
}

/* The context every error message carries. */
typedef struct parse_ctx {
  const kt_arch *arch;
  size_t index;     /* target index */
  const char *text; /* the target's text */
  size_t text_len;
} parse_ctx;

static kiln_error_t *token_error(const parse_ctx *c, kiln_error_code_t code, const char *tok,
                                 size_t tok_len, const char *what, const char *hint) {
  return kiln_error_new(code, "target %zu ('%.*s'): '%.*s': %s%s", c->index, (int)c->text_len,
                        c->text, (int)tok_len, tok, what, hint != NULL ? hint : "");
}

static int is_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '.' || ch == '_';
}

static int valid_name(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!is_name_char(s[i])) return 0;
  }
  return 1;
}

static int token_is(const char *s, size_t n, const char *word) {
  return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Adds "+name"/"-name" unless already present; conflicts are errors. */
static kiln_error_t *add_feature(const parse_ctx *c, kt_target *t, char sign, const char *name,
                                 size_t len, const char *tok, size_t tok_len) {
  for (size_t j = 0; j < t->nfeatures; j++) {
    const char *f = t->features[j];
    if (strlen(f + 1) != len || memcmp(f + 1, name, len) != 0) continue;
    if (f[0] == sign) return NULL; /* repeated: harmless, keep the first */
    return token_error(c, KILN_ERR_PARSE, tok, tok_len, "feature is both added and removed",
                       NULL);
  }
  char **grown = realloc(t->features, (t->nfeatures + 1) * sizeof(char *));
  if (grown == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target string: out of memory");
  t->features = grown;
  char *f = malloc(len + 2);
  if (f == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target string: out of memory");
  f[0] = sign;
  memcpy(f + 1, name, len);
  f[len + 1] = '\0';
  t->features[t->nfeatures++] = f;
  return NULL;
}

/* base(n): the exact form, digits only, ')' ending the token. */
static kiln_error_t *parse_base(const parse_ctx *c, const kiln_target_list_t *list, kt_target *t,
                                int has_base, const char *tok, size_t tok_len, const char *body,
                                size_t body_len) {
  const char *digits = body + 5;
  size_t n = body_len - 5;
  size_t nd = 0;
  while (nd < n && digits[nd] >= '0' && digits[nd] <= '9') nd++;
  if (nd == 0 || nd + 1 != n || digits[nd] != ')') {
    return token_error(c, KILN_ERR_PARSE, tok, tok_len,
                       "malformed base index: expected base(n) with n a decimal number", NULL);
  }
  if (has_base) {
    return token_error(c, KILN_ERR_PARSE, tok, tok_len, "base index given twice", NULL);
  }
  size_t value = 0;
  if (nd > kMaxBaseDigits) {
    value = SIZE_MAX;
  } else {
    for (size_t i = 0; i < nd; i++) value = value * 10 + (size_t)(digits[i] - '0');
  }
  if (value >= c->index) {
    char what[128];
    if (c->index == 0) {
      snprintf(what, sizeof(what), "base index out of range: target 0 has no earlier target");
    } else {
      snprintf(what, sizeof(what),
               "base index out of range: must refer to an earlier target (0..%zu)",
               c->index - 1);
    }
    return token_error(c, KILN_ERR_PARSE, tok, tok_len, what, NULL);
  }
  if (value != 0 && (list->targets[value].flags & KILN_TARGET_CLONE_ALL) == 0) {
    char what[128];
    snprintf(what, sizeof(what),
             "base target %zu is not clone_all (only target 0 or a clone_all target can be a "
             "base)",
             value);
    return token_error(c, KILN_ERR_PARSE, tok, tok_len, what, NULL);
  }
  t->base = value;
  return NULL;
}

/* One entry after the CPU name. */
static kiln_error_t *parse_entry(const parse_ctx *c, const kiln_target_list_t *list,
                                 kt_target *t, int *has_base, const char *tok, size_t len) {
  if (len == 0) {
    return token_error(c, KILN_ERR_PARSE, tok, 0, "empty feature (two commas in a row?)", NULL);
  }
  char sign = '+';
  const char *body = tok;
  size_t body_len = len;
  if (tok[0] == '+' || tok[0] == '-') {
    sign = tok[0];
    body++;
    body_len--;
  }
  if (body_len == 0) {
    return token_error(c, KILN_ERR_PARSE, tok, len, "empty feature name after the sign", NULL);
  }
  if (token_is(body, body_len, "clone_all")) {
    unsigned mine = sign == '-' ? KILN_TARGET_NO_CLONE_ALL : KILN_TARGET_CLONE_ALL;
    unsigned other = sign == '-' ? KILN_TARGET_CLONE_ALL : KILN_TARGET_NO_CLONE_ALL;
    if (t->flags & other) {
      return token_error(c, KILN_ERR_PARSE, tok, len, "clone_all is both added and removed",
                         NULL);
    }
    t->flags |= mine;
    return NULL;
  }
  if (token_is(body, body_len, "opt_size") || token_is(body, body_len, "min_size")) {
    if (sign == '-') {
      return token_error(c, KILN_ERR_PARSE, tok, len, "this flag cannot be disabled", NULL);
    }
    t->flags |= body[0] == 'o' ? KILN_TARGET_OPT_SIZE : KILN_TARGET_MIN_SIZE;
    if ((t->flags & KILN_TARGET_OPT_SIZE) && (t->flags & KILN_TARGET_MIN_SIZE)) {
      return token_error(c, KILN_ERR_PARSE, tok, len,
                         "opt_size and min_size are both given; choose one", NULL);
    }
    return NULL;
  }
  if (body_len >= 5 && memcmp(body, "base(", 5) == 0) {
    if (sign == '-') {
      return token_error(c, KILN_ERR_PARSE, tok, len, "a base index cannot be disabled", NULL);
    }
    kiln_error_t *err = parse_base(c, list, t, *has_base, tok, len, body, body_len);
    if (err == NULL) *has_base = 1;
    return err;
  }
  /* LLVM feature names never contain '_' or parentheses: such a token is a
   * misspelled special flag, not a feature. */
  if (memchr(body, '_', body_len) != NULL || memchr(body, '(', body_len) != NULL ||
      memchr(body, ')', body_len) != NULL) {
    char hint[96];
    kt_names names = {kFlagNames, NULL, NULL};
    kt_suggest(&names, body, body_len, hint, sizeof(hint));
    return token_error(c, KILN_ERR_PARSE, tok, len, "unknown special flag", hint);
  }
  /* A name starting with a sign ("+-x") would print as a different token. */
  if (!valid_name(body, body_len) || body[0] == '-' || body[0] == '.') {
    return token_error(c, KILN_ERR_PARSE, tok, len,
                       "invalid character in feature name (letters, digits, '.', '-' only, "
                       "starting with a letter or digit)",
                       NULL);
  }
  if (c->arch != NULL && kt_feature_find(c->arch, body, body_len) < 0) {
    char hint[96], what[64];
    kt_names names = {NULL, c->arch, NULL};
    kt_suggest(&names, body, body_len, hint, sizeof(hint));
    snprintf(what, sizeof(what), "unknown %s feature", c->arch->name);
    return token_error(c, KILN_ERR_NOT_FOUND, tok, len, what, hint);
  }
  return add_feature(c, t, sign, body, body_len, tok, len);
}

static kiln_error_t *parse_target(const parse_ctx *c, const kiln_target_list_t *list,
                                  kt_target *t) {
  const char *p = c->text;
  const char *end = c->text + c->text_len;
  const char *comma = memchr(p, ',', c->text_len);
  size_t cpu_len = comma != NULL ? (size_t)(comma - p) : c->text_len;
  if (cpu_len == 0) {
    return token_error(c, KILN_ERR_PARSE, p, 0, "empty CPU name", NULL);
  }
  if (!valid_name(p, cpu_len)) {
    return token_error(c, KILN_ERR_PARSE, p, cpu_len,
                       "invalid character in CPU name (letters, digits, '.', '-', '_' only)",
                       NULL);
  }
  const char *canon = kt_cpu_canonical(c->arch, p, cpu_len);
  if (canon == NULL && c->arch != NULL) {
    char hint[96], what[64];
    kt_names names = {NULL, NULL, c->arch};
    kt_suggest(&names, p, cpu_len, hint, sizeof(hint));
    snprintf(what, sizeof(what), "unknown %s CPU", c->arch->name);
    return token_error(c, KILN_ERR_NOT_FOUND, p, cpu_len, what, hint);
  }
  t->cpu = canon != NULL ? dup_n(canon, strlen(canon)) : dup_n(p, cpu_len);
  if (t->cpu == NULL) return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target string: out of memory");

  int has_base = 0;
  p += cpu_len;
  while (p < end) {
    p++; /* the comma */
    const char *next = memchr(p, ',', (size_t)(end - p));
    size_t len = next != NULL ? (size_t)(next - p) : (size_t)(end - p);
    kiln_error_t *err = parse_entry(c, list, t, &has_base, p, len);
    if (err != NULL) return err;
    p += len;
  }
  return NULL;
}

kiln_error_t *kiln_target_list_parse(kiln_target_arch_t arch, const char *text,
                                     kiln_target_list_t **list_out) {
  if (list_out != NULL) *list_out = NULL;
  if (text == NULL || list_out == NULL) {
    return kiln_error_new(KILN_ERR_INVALID_ARGUMENT,
                          "kiln_target_list_parse: text and list_out must not be NULL");
  }
  if (text[0] == '\0') {
    return kiln_error_new(KILN_ERR_PARSE, "target string is empty: give at least one CPU name");
  }
  kiln_target_list_t *list = calloc(1, sizeof(*list));
  size_t ntargets = 1;
  for (const char *s = text; *s != '\0'; s++) ntargets += *s == ';';
  if (list != NULL) list->targets = calloc(ntargets, sizeof(kt_target));
  if (list == NULL || list->targets == NULL) {
    kiln_target_list_free(list);
    return kiln_error_new(KILN_ERR_OUT_OF_MEMORY, "target string: out of memory");
  }
  list->arch = arch;

  const char *p = text;
  for (size_t i = 0; i < ntargets; i++) {
    const char *semi = strchr(p, ';');
    size_t len = semi != NULL ? (size_t)(semi - p) : strlen(p);
    parse_ctx c = {kt_arch_get(arch), i, p, len};
    kiln_error_t *err = NULL;
    if (len == 0) {
      err = kiln_error_new(KILN_ERR_PARSE, "target %zu is empty (two ';' in a row, or a ';' at "
                           "the start or end)", i);
    } else {
      err = parse_target(&c, list, &list->targets[i]);
    }
    list->count = i + 1;
    if (err != NULL) {
      kiln_target_list_free(list);
      return err;
    }
    p += len + 1;
  }
  *list_out = list;
  return NULL;
}

/* ---- Accessors ---------------------------------------------------------- */

size_t kiln_target_list_count(const kiln_target_list_t *list) {
  return list != NULL ? list->count : 0;
}

static const kt_target *target_at(const kiln_target_list_t *list, size_t i) {
  return list != NULL && i < list->count ? &list->targets[i] : NULL;
}

const char *kiln_target_list_cpu(const kiln_target_list_t *list, size_t i) {
  const kt_target *t = target_at(list, i);
  return t != NULL ? t->cpu : NULL;
}

unsigned kiln_target_list_flags(const kiln_target_list_t *list, size_t i) {
  const kt_target *t = target_at(list, i);
  return t != NULL ? t->flags : 0;
}

size_t kiln_target_list_base(const kiln_target_list_t *list, size_t i) {
  const kt_target *t = target_at(list, i);
  return t != NULL ? t->base : 0;
}

size_t kiln_target_list_feature_count(const kiln_target_list_t *list, size_t i) {
  const kt_target *t = target_at(list, i);
  return t != NULL ? t->nfeatures : 0;
}

const char *kiln_target_list_feature(const kiln_target_list_t *list, size_t i, size_t j) {
  const kt_target *t = target_at(list, i);
  return t != NULL && j < t->nfeatures ? t->features[j] : NULL;
}

/* ---- Printing ------------------------------------------------------------ */

size_t kiln_target_list_llvm_features(const kiln_target_list_t *list, size_t i, char *buf,
                                      size_t size) {
  kt_out o;
  kt_out_init(&o, buf, size);
  const kt_target *t = target_at(list, i);
  for (size_t j = 0; t != NULL && j < t->nfeatures; j++) {
    if (j > 0) kt_out_add(&o, ",");
    kt_out_add(&o, t->features[j]);
  }
  return o.total;
}

size_t kiln_target_list_print(const kiln_target_list_t *list, char *buf, size_t size) {
  kt_out o;
  kt_out_init(&o, buf, size);
  for (size_t i = 0; list != NULL && i < list->count; i++) {
    const kt_target *t = &list->targets[i];
    if (i > 0) kt_out_add(&o, ";");
    kt_out_add(&o, t->cpu);
    for (size_t j = 0; j < t->nfeatures; j++) {
      kt_out_add(&o, ",");
      /* '+' is the default: the canonical form leaves it out. */
      kt_out_add(&o, t->features[j][0] == '+' ? t->features[j] + 1 : t->features[j]);
    }
    if (t->flags & KILN_TARGET_CLONE_ALL) kt_out_add(&o, ",clone_all");
    if (t->flags & KILN_TARGET_NO_CLONE_ALL) kt_out_add(&o, ",-clone_all");
    if (t->flags & KILN_TARGET_OPT_SIZE) kt_out_add(&o, ",opt_size");
    if (t->flags & KILN_TARGET_MIN_SIZE) kt_out_add(&o, ",min_size");
    if (t->base > 0) {
      char tmp[32];
      snprintf(tmp, sizeof(tmp), ",base(%zu)", t->base);
      kt_out_add(&o, tmp);
    }
  }
  return o.total;
}
