/*
 * tools/kiln/inspect.c — `kiln inspect IMAGE [--json]`: what an image holds
 * and which CPU target this host would run, read with kiln_loader_inspect
 * (validation from the file, no dlopen: no image code runs). Text mode
 * abbreviates long lists (features, methods); JSON mode prints everything,
 * with strings escaped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/loader/loader.h"
#include "components/target/target.h"
#include "tools/kiln/cli.h"

#define TEXT_FEATURES 8 /* features shown per target in text mode */
#define TEXT_METHODS 5  /* methods shown in text mode */

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)(s != NULL ? s : ""); *c; c++) {
    switch (*c) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      case '\b': fputs("\\b", f); break;
      case '\f': fputs("\\f", f); break;
      default:
        if (*c < 0x20 || *c == 0x7f)
          fprintf(f, "\\u%04x", *c);
        else
          fputc(*c, f);
    }
  }
  fputc('"', f);
}

static const char *kind_name(kiln_image_format_kind_t k) {
  return k == KILN_IMAGE_FORMAT_KIND_PACKAGE ? "package" : "system";
}

/* Target flags as names ("clone_all,opt_size"), into buf. */
static const char *flag_names(uint32_t flags, char *buf, size_t size) {
  static const struct { uint32_t bit; const char *name; } names[] = {
      {KILN_TARGET_CLONE_ALL, "clone_all"},
      {KILN_TARGET_NO_CLONE_ALL, "-clone_all"},
      {KILN_TARGET_OPT_SIZE, "opt_size"},
      {KILN_TARGET_MIN_SIZE, "min_size"},
  };
  buf[0] = '\0';
  size_t len = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (flags & names[i].bit)
      len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", len ? "," : "",
                              names[i].name);
  return buf;
}

/* Clone (override) count of target k: sum over shards. */
static size_t override_count(const kiln_image_format_t *v, size_t k) {
  if (k == 0) return 0;
  size_t total = 0;
  for (size_t s = 0; s < kiln_image_format_shard_count(v); s++) {
    size_t n = 0;
    (void)kiln_image_format_shard_override_mask(v, s, k, &n);
    total += n;
  }
  return total;
}

static size_t feature_count(const char *features) {
  if (features == NULL || features[0] == '\0') return 0;
  size_t n = 1;
  for (const char *c = features; *c; c++) n += *c == ',';
  return n;
}

static void print_text(const char *path, const kiln_loader_info_t *info) {
  const kiln_image_format_t *v = kiln_loader_info_format(info);
  printf("image:     %s\n", path);
  printf("name:      %s\n", kiln_image_format_name(v));
  printf("kind:      %s\n", kind_name(kiln_image_format_kind(v)));
  printf("producer:  %s\n", kiln_image_format_producer(v));
  printf("triple:    %s\n", kiln_image_format_triple(v));
  printf("format:    version %u, metadata %" PRIu64 " bytes\n", kiln_image_format_version(v),
         kiln_image_format_size(v));
  printf("checksum:  0x%016" PRIx64 "\n", kiln_image_format_checksum(v));
  if (kiln_image_format_kind(v) == KILN_IMAGE_FORMAT_KIND_PACKAGE)
    printf("base:      checksum 0x%016" PRIx64 "\n", kiln_image_format_base_checksum(v));
  printf("options:  ");
  for (size_t i = 0; i < kiln_image_format_option_count(v); i++)
    printf(" %s=%s", kiln_image_format_option_key(v, i), kiln_image_format_option_value(v, i));
  printf("\n");

  size_t nt = kiln_image_format_target_count(v);
  printf("targets:   %zu\n", nt);
  for (size_t k = 0; k < nt; k++) {
    char flags[96];
    const char *features = kiln_image_format_target_features(v, k);
    size_t nf = feature_count(features);
    printf("  [%zu] %s", k, kiln_image_format_target_cpu(v, k));
    if (k > 0) printf(" (base %u)", kiln_image_format_target_base(v, k));
    flag_names(kiln_image_format_target_flags(v, k), flags, sizeof flags);
    if (flags[0] != '\0') printf(" flags %s", flags);
    if (k > 0)
      printf(", %zu clones", override_count(v, k));
    else
      printf(", original code");
    printf("\n      features (%zu):", nf);
    /* the first TEXT_FEATURES names, then a count of the rest */
    const char *c = features;
    for (size_t i = 0; i < nf && i < TEXT_FEATURES; i++) {
      const char *end = strchr(c, ',');
      size_t len = end != NULL ? (size_t)(end - c) : strlen(c);
      printf(" %.*s", (int)len, c);
      c = end != NULL ? end + 1 : c + len;
    }
    if (nf > TEXT_FEATURES) printf(" ... (+%zu more; --json lists all)", nf - TEXT_FEATURES);
    printf("\n");
  }

  size_t ns = kiln_image_format_shard_count(v);
  printf("shards:    %zu\n", ns);
  for (size_t s = 0; s < ns; s++) {
    size_t f = 0, q = 0, g = 0;
    size_t f0 = kiln_image_format_shard_first_function(v, s, &f);
    (void)kiln_image_format_shard_slots(v, s, &q);
    size_t g0 = kiln_image_format_shard_first_global(v, s, &g);
    printf("  [%zu] %zu functions", s, f);
    if (f > 0) printf(" (%zu..%zu)", f0, f0 + f - 1);
    printf(", %zu slots, %zu globals", q, g);
    if (g > 0) printf(" (%zu..%zu)", g0, g0 + g - 1);
    printf("\n");
  }
  size_t nm = kiln_image_format_method_count(v);
  printf("functions: %zu\n", kiln_image_format_function_count(v));
  printf("globals:   %zu\n", kiln_image_format_global_count(v));
  printf("methods:   %zu\n", nm);
  for (size_t m = 0; m < nm && m < TEXT_METHODS; m++) {
    size_t bc = 0;
    (void)kiln_image_format_method_bitcode(v, m, &bc);
    printf("  %s  fingerprint 0x%016" PRIx64 ", %zu deps%s\n", kiln_image_format_method_key(v, m),
           kiln_image_format_method_fingerprint(v, m), kiln_image_format_method_dep_count(v, m),
           bc > 0 ? ", bitcode" : "");
  }
  if (nm > TEXT_METHODS) printf("  ... (+%zu more)\n", nm - TEXT_METHODS);

  size_t sel = kiln_loader_info_selected(info);
  printf("host:      %s\n", kiln_loader_info_host_cpu(info));
  if (sel == SIZE_MAX)
    printf("selected:  none\n");
  else
    printf("selected:  [%zu] %s\n", sel, kiln_image_format_target_cpu(v, sel));
  printf("why:       %s\n", kiln_loader_info_reason(info));
  const char *report = kiln_loader_info_report(info);
  if (report != NULL && report[0] != '\0') {
    const char *line = report;
    while (*line) {
      const char *end = strchr(line, '\n');
      size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
      if (len > 0) printf("  %.*s\n", (int)len, line);
      if (end == NULL) break;
      line = end + 1;
    }
  }
}

static void print_json(const char *path, const kiln_loader_info_t *info) {
  const kiln_image_format_t *v = kiln_loader_info_format(info);
  FILE *f = stdout;
  fputs("{\n  \"image\": ", f);
  json_string(f, path);
  fputs(",\n  \"name\": ", f);
  json_string(f, kiln_image_format_name(v));
  fprintf(f, ",\n  \"kind\": \"%s\"", kind_name(kiln_image_format_kind(v)));
  fputs(",\n  \"producer\": ", f);
  json_string(f, kiln_image_format_producer(v));
  fputs(",\n  \"triple\": ", f);
  json_string(f, kiln_image_format_triple(v));
  fprintf(f, ",\n  \"format_version\": %u", kiln_image_format_version(v));
  fprintf(f, ",\n  \"metadata_size\": %" PRIu64, kiln_image_format_size(v));
  fprintf(f, ",\n  \"checksum\": \"0x%016" PRIx64 "\"", kiln_image_format_checksum(v));
  fprintf(f, ",\n  \"base_checksum\": \"0x%016" PRIx64 "\"", kiln_image_format_base_checksum(v));
  fputs(",\n  \"options\": {", f);
  for (size_t i = 0; i < kiln_image_format_option_count(v); i++) {
    fputs(i ? ", " : "", f);
    json_string(f, kiln_image_format_option_key(v, i));
    fputs(": ", f);
    json_string(f, kiln_image_format_option_value(v, i));
  }
  fputs("}", f);

  fputs(",\n  \"targets\": [", f);
  for (size_t k = 0; k < kiln_image_format_target_count(v); k++) {
    char flags[96];
    fprintf(f, "%s\n    {\"index\": %zu, \"cpu\": ", k ? "," : "", k);
    json_string(f, kiln_image_format_target_cpu(v, k));
    fprintf(f, ", \"base\": %u, \"flags\": ", kiln_image_format_target_base(v, k));
    json_string(f, flag_names(kiln_image_format_target_flags(v, k), flags, sizeof flags));
    fprintf(f, ", \"clones\": %zu, \"features\": [", override_count(v, k));
    const char *c = kiln_image_format_target_features(v, k);
    size_t nf = feature_count(c);
    for (size_t i = 0; i < nf; i++) {
      const char *end = strchr(c, ',');
      size_t len = end != NULL ? (size_t)(end - c) : strlen(c);
      char *name = cli_xmalloc(len + 1);
      memcpy(name, c, len);
      name[len] = '\0';
      fputs(i ? ", " : "", f);
      json_string(f, name);
      free(name);
      c = end != NULL ? end + 1 : c + len;
    }
    fputs("]}", f);
  }
  fputs("\n  ]", f);

  fputs(",\n  \"shards\": [", f);
  for (size_t s = 0; s < kiln_image_format_shard_count(v); s++) {
    size_t nf = 0, q = 0, g = 0;
    size_t f0 = kiln_image_format_shard_first_function(v, s, &nf);
    (void)kiln_image_format_shard_slots(v, s, &q);
    size_t g0 = kiln_image_format_shard_first_global(v, s, &g);
    fprintf(f,
            "%s\n    {\"index\": %zu, \"first_function\": %zu, \"functions\": %zu, \"slots\": %zu, "
            "\"first_global\": %zu, \"globals\": %zu, \"overrides\": [",
            s ? "," : "", s, f0, nf, q, g0, g);
    for (size_t k = 0; k < kiln_image_format_target_count(v); k++) {
      size_t n = 0;
      if (k > 0) (void)kiln_image_format_shard_override_mask(v, s, k, &n);
      fprintf(f, "%s%zu", k ? ", " : "", n);
    }
    fputs("]}", f);
  }
  fputs("\n  ]", f);

  fprintf(f, ",\n  \"function_count\": %zu", kiln_image_format_function_count(v));
  fprintf(f, ",\n  \"global_count\": %zu", kiln_image_format_global_count(v));
  fprintf(f, ",\n  \"method_count\": %zu", kiln_image_format_method_count(v));
  fputs(",\n  \"methods\": [", f);
  for (size_t m = 0; m < kiln_image_format_method_count(v); m++) {
    size_t bc = 0;
    (void)kiln_image_format_method_bitcode(v, m, &bc);
    fprintf(f, "%s\n    {\"key\": ", m ? "," : "");
    json_string(f, kiln_image_format_method_key(v, m));
    fputs(", \"function\": ", f);
    json_string(f, kiln_image_format_function_name(v, kiln_image_format_method_function(v, m)));
    fprintf(f, ", \"fingerprint\": \"0x%016" PRIx64 "\", \"bitcode_size\": %zu, \"deps\": [",
            kiln_image_format_method_fingerprint(v, m), bc);
    for (size_t d = 0; d < kiln_image_format_method_dep_count(v, m); d++) {
      fputs(d ? ", " : "", f);
      fputs("{\"key\": ", f);
      json_string(f, kiln_image_format_method_dep_key(v, m, d));
      fprintf(f, ", \"fingerprint\": \"0x%016" PRIx64 "\"}",
              kiln_image_format_method_dep_fingerprint(v, m, d));
    }
    fputs("]}", f);
  }
  fputs("\n  ]", f);

  size_t sel = kiln_loader_info_selected(info);
  fputs(",\n  \"host\": {\"cpu\": ", f);
  json_string(f, kiln_loader_info_host_cpu(info));
  if (sel == SIZE_MAX) {
    fputs(", \"selected\": null, \"selected_cpu\": null", f);
  } else {
    fprintf(f, ", \"selected\": %zu, \"selected_cpu\": ", sel);
    json_string(f, kiln_image_format_target_cpu(v, sel));
  }
  fputs(", \"reason\": ", f);
  json_string(f, kiln_loader_info_reason(info));
  fputs(", \"report\": ", f);
  json_string(f, kiln_loader_info_report(info));
  fputs("}\n}\n", f);
}

int kiln_cmd_inspect(int argc, char **argv) {
  enum { OPT_JSON = 1 };
  static const cli_opt_t opts[] = {{"json", 0, false, OPT_JSON}};
  cli_parser_t p;
  cli_parser_init(&p, "inspect", argc, argv, opts, 1);
  const char *image = NULL;
  bool json = false;
  for (;;) {
    int id = cli_next(&p);
    if (id == CLI_END) break;
    if (id == CLI_ERROR) return CLI_EXIT_USAGE;
    if (id == CLI_OPT_HELP) return kiln_print_help("inspect");
    if (id == OPT_JSON) {
      json = true;
    } else if (id == CLI_OPERAND) {
      if (image != NULL) return cli_usage("inspect", "one IMAGE only ('%s')", p.arg);
      image = p.arg;
    }
  }
  if (image == NULL) return cli_usage("inspect", "missing IMAGE");
  kiln_loader_info_t *info = NULL;
  kiln_error_t *err = kiln_loader_inspect(image, NULL, &info);
  if (err != NULL) return cli_fail(image, err);
  if (json)
    print_json(image, info);
  else
    print_text(image, info);
  kiln_loader_info_free(info);
  return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
