/*
 * tools/kiln/main.c — the `kiln` command: dispatches to one file per
 * command (build.c, steps.c, inspect.c, run.c, demo.c). The CLI is the
 * only part of kiln that prints and exits; docs/cli.md describes it.
 */
#include <stdio.h>
#include <string.h>

#include "llvm-c/Core.h"
#include "tools/kiln/cli.h"

static const struct {
  const char *name;
  int (*fn)(int argc, char **argv);
} kCommands[] = {
    {"build", kiln_cmd_build},     {"split", kiln_cmd_split},     {"emit-shard", kiln_cmd_emit_shard},
    {"link", kiln_cmd_link},       {"inspect", kiln_cmd_inspect}, {"run", kiln_cmd_run},
    {"demo", kiln_cmd_demo},
};

static int version(void) {
  unsigned major = 0, minor = 0, patch = 0;
  LLVMGetVersion(&major, &minor, &patch);
  printf("kiln %s (LLVM %u.%u.%u)\n", kiln_version_string(), major, minor, patch);
  return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    kiln_print_help("");
    return CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) return version();
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) return kiln_print_help("");
  if (strcmp(cmd, "help") == 0) {
    if (argc > 3) return cli_usage("help", "one COMMAND at most");
    if (argc == 3 && kiln_help_text(argv[2]) == NULL)
      return cli_usage("help", "unknown command '%s'", argv[2]);
    return kiln_print_help(argc == 3 ? argv[2] : "");
  }
  for (size_t i = 0; i < sizeof kCommands / sizeof kCommands[0]; i++)
    if (strcmp(cmd, kCommands[i].name) == 0) return kCommands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "kiln: unknown command '%s'; see 'kiln help'\n", cmd);
  return CLI_EXIT_USAGE;
}
