/*
 * tools/kiln/help.c — help text of every command (`kiln help [CMD]`,
 * `kiln CMD --help`), kept in one const table. docs/cli.md is the long form.
 */
#include <stdio.h>
#include <string.h>

#include "tools/kiln/cli.h"

static const struct {
  const char *cmd;
  const char *text;
} kHelp[] = {
    {"",
     "usage: kiln COMMAND [ARGS...]\n"
     "\n"
     "Builds LLVM modules into native shared-library images with several CPU\n"
     "targets, and loads, inspects and runs them.\n"
     "\n"
     "commands:\n"
     "  build        inputs (.c, .bc, .ll) -> image (.so)\n"
     "  split        inputs -> plan directory (kiln-plan.bin, shard-<i>.bc)\n"
     "  emit-shard   one shard of a plan -> PREFIX.o, PREFIX.slots\n"
     "  link         plan + shards -> image (same bytes as build)\n"
     "  inspect      what an image holds, and which target this host picks\n"
     "  run          load an image and call a function in it\n"
     "  demo         build, load and run the built-in example\n"
     "  help [CMD]   this text, or a command's\n"
     "\n"
     "  kiln --version    print the version\n"
     "  kiln CMD --help   help for CMD\n"
     "\n"
     "exit codes: 0 success; 1 the command failed (one line on stderr:\n"
     "\"kiln: <input>: <problem>\"); 2 usage error; kiln run: the called\n"
     "function's return value & 255.\n"
     "See docs/cli.md.\n"},
    {"build",
     "usage: kiln build [OPTIONS] INPUT... -o IMAGE.so\n"
     "\n"
     "Builds one image from the inputs: .bc or .ll (by content), or .c\n"
     "(compiled with clang-22 -O<level> -Xclang -disable-llvm-passes -fPIC\n"
     "-emit-llvm -c plus each --cflag; clang is $KILN_CLANG or\n"
     "/usr/lib/llvm-22/bin/clang). The image is written atomically: a failed\n"
     "build leaves a previous file intact.\n"
     "\n"
     "options:\n"
     "  -o FILE              the image to write (required)\n"
     "  --cpu-target T       CPU target string (default $KILN_CPU_TARGET, else\n"
     "                       \"generic\"), e.g. \"generic;haswell;x86-64-v4\"\n"
     "  -O0 -O1 -O2 -O3      optimization level (default -O2)\n"
     "  --threads N          emit threads (default: $KILN_IMAGE_THREADS, else half\n"
     "                       the cores; $KILN_IMAGE_THREADS overrides N too)\n"
     "  --shards N           shard count (default: from the module's weight)\n"
     "  --emit LIST          extra outputs, comma list of obj,asm,bc,unopt-bc,archive\n"
     "  --emit-dir DIR       where --emit outputs go (default: the directory of -o);\n"
     "                       per shard DIR/shard-<i>.{o,s,bc,unopt.bc}, archive\n"
     "                       DIR/<stem>.a\n"
     "  --kind K             system (default) or package\n"
     "  --base IMAGE         build a package against this base image (implies\n"
     "                       --kind=package): records its checksum, takes\n"
     "                       dependency fingerprints from it, requires its targets\n"
     "  --allow-target-mismatch  a target mismatch with --base is a warning\n"
     "  --roots FILE         keep only these roots (one method key per line, '#'\n"
     "                       comment lines, blank lines ignored; the format of\n"
     "                       `kiln run --trace`)\n"
     "  --root NAME          keep this root (repeatable)\n"
     "  --time-trace FILE    write a Chrome trace JSON of the build\n"
     "  --memory-budget SIZE bytes for the emit workers (K/M/G suffixes)\n"
     "  --name NAME          image name recorded in the header (default: the\n"
     "                       output file's stem)\n"
     "  -l LIB, -L DIR       extra libraries / search paths for the link\n"
     "  --linker lld|cc      in-process LLD (default) or the system C compiler\n"
     "  --no-vectorize       loop and SLP vectorizers off\n"
     "  --cflag FLAG         extra flag for compiling .c inputs (repeatable)\n"
     "  -q, --quiet          no progress line\n"
     "  -v, --verbose        print the build summary (shards, threads, clones per\n"
     "                       target, phase timings) on stdout\n"
     "\n"
     "A progress line \"kiln: emitting shards [3/8]\" goes to stderr when it is a\n"
     "terminal.\n"},
    {"split",
     "usage: kiln split [BUILD OPTIONS] INPUT... -o DIR\n"
     "\n"
     "Plans a build and writes DIR/kiln-plan.bin and DIR/shard-<i>.bc (DIR is\n"
     "created if missing). Takes the options of `kiln build` that change code\n"
     "(--cpu-target, -O, --no-vectorize, --shards, --kind, --base, --roots,\n"
     "--root, --name, --cflag...); --name defaults to DIR's stem. Then run\n"
     "`kiln emit-shard` per shard and `kiln link`.\n"},
    {"emit-shard",
     "usage: kiln emit-shard PLAN_DIR INDEX -o PREFIX [--emit asm,bc,unopt-bc]\n"
     "\n"
     "Compiles shard INDEX of the plan in PLAN_DIR (written by `kiln split`)\n"
     "and writes PREFIX.o and PREFIX.slots, plus PREFIX.s, PREFIX.bc and\n"
     "PREFIX.unopt.bc as asked by --emit. Options that change code come from\n"
     "the plan.\n"},
    {"link",
     "usage: kiln link PLAN_DIR SHARD_PREFIX... -o IMAGE.so [-l LIB] [-L DIR]\n"
     "                 [--linker lld|cc] [--emit archive] [--emit-dir DIR]\n"
     "\n"
     "Finishes a build from its plan and every shard's PREFIX.o/PREFIX.slots\n"
     "(one per shard, any order): metadata, archive, link. The image is\n"
     "byte-identical to `kiln build` with the same inputs and options.\n"
     "--emit archive also writes the archive to DIR/<stem>.a.\n"},
    {"inspect",
     "usage: kiln inspect IMAGE [--json]\n"
     "\n"
     "Prints what the image holds: name, kind, producer, triple, checksum,\n"
     "recorded options, CPU targets with their resolved features and clone\n"
     "counts, shards (functions/slots/globals), function/global/method counts\n"
     "and the first methods, and which target this host would pick and why (or\n"
     "why none). Validates the image from the file: no image code runs.\n"
     "Text mode abbreviates long lists; --json prints everything as JSON.\n"
     "KILN_CPU_DISABLE and KILN_CPU_TARGET_INDEX affect the selection.\n"},
    {"run",
     "usage: kiln run IMAGE SYMBOL [ARGS...] [--base BASE.so] [--trace FILE] [--report]\n"
     "\n"
     "Loads IMAGE and calls SYMBOL (a method key, else a function name) as\n"
     "int SYMBOL(int argc, char **argv) with argv = {SYMBOL, ARGS...}; exits\n"
     "with its return value & 255. Arguments after `--` all go to SYMBOL.\n"
     "\n"
     "options:\n"
     "  --base BASE.so   load BASE first and install it as the system image of a\n"
     "                   runtime; IMAGE is then installed as a package (its\n"
     "                   methods checked against the base, import slots filled)\n"
     "  --trace FILE     append the keys of methods compiled on first use to FILE\n"
     "                   (input for `kiln build --roots FILE`)\n"
     "  --report         print the runtime report (installed, invalidated with\n"
     "                   reasons, compiled) to stderr\n"
     "\n"
     "With --base, --trace, --report or a package image, SYMBOL is looked up\n"
     "through the runtime, so invalidated methods that carry bitcode are\n"
     "compiled on first use. KILN_CPU_TARGET_INDEX and KILN_CPU_DISABLE pass\n"
     "through to the loader.\n"},
    {"demo",
     "usage: kiln demo [--keep DIR] [--threads N]\n"
     "\n"
     "Builds the built-in example program into an image with three CPU targets\n"
     "(x86-64: generic;haswell;x86-64-v4, aarch64: generic;neoverse-n1;\n"
     "neoverse-v1) in a temporary directory, loads it, runs kiln_demo_main and\n"
     "prints shards, threads, clones per target, the target this host picked\n"
     "and why, timings (build/link/load) and the program's output.\n"
     "  --keep DIR    write the image to DIR/demo.so and keep it\n"
     "  --threads N   emit threads\n"},
    {"help",
     "usage: kiln help [COMMAND]\n"
     "\n"
     "Prints the overview, or the help of COMMAND.\n"},
};

const char *kiln_help_text(const char *cmd) {
  for (size_t i = 0; i < sizeof kHelp / sizeof kHelp[0]; i++)
    if (strcmp(kHelp[i].cmd, cmd != NULL ? cmd : "") == 0) return kHelp[i].text;
  return NULL;
}

int kiln_print_help(const char *cmd) {
  const char *text = kiln_help_text(cmd);
  fputs(text != NULL ? text : kiln_help_text(""), stdout);
  return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
